/* fastfib's C kernels: plain C99, no Python.h, safe to call without the GIL.
 *
 * Every kernel reports failure through its return value (a fib_status) and
 * writes its result through an out-pointer. It never raises, never prints and
 * never wraps around: a caller that holds no GIL cannot raise a Python
 * exception, so the Cython wrapper turns the status into one afterwards.
 */
#ifndef FASTFIB_FIB_H
#define FASTFIB_FIB_H

#include <stddef.h>
#include <stdint.h>

/* What every kernel returns. */
typedef enum fib_status {
    FIB_OK = 0,           /* success: the result was written to *out */
    FIB_ERR_OVERFLOW = 1, /* F(n) does not fit in uint64_t: nothing written */
    FIB_ERR_CANCELLED = 2 /* the caller's cancel flag was set: stopped early, nothing written */
} fib_status;

/* F(93) = 12200160415121876738 is the largest Fibonacci number in a uint64_t. */
#define FIB_U64_MAX_N 93

/* A request to stop, set by another thread while a kernel runs. One per call,
 * owned by the caller: the kernels keep no state of their own between calls.
 * volatile makes the kernel re-read it from memory at each poll, so a write
 * from another thread is seen (C11's atomic_int would be the strictly
 * portable choice; this C is C99, and an aligned int read is atomic on every
 * platform CPython supports). */
typedef struct {
    volatile int requested; /* 0 = keep going; non-zero = stop */
} fib_cancel;

/* F(n) by naive double recursion: about phi**n calls, the lab's CPU workload.
 * If cancel is not NULL, it is polled about every FIB_POLL_N-sized subtree
 * (~0.1 ms of work) and FIB_ERR_CANCELLED returned once it is set. */
#define FIB_POLL_N 25
fib_status fib_burn(unsigned int n, uint64_t *out, const fib_cancel *cancel);

/* F(n) exactly by fast doubling: O(log n) multiplications. */
fib_status fib_exact_u64(unsigned int n, uint64_t *out);

/* Batches: fib_burn (no cancel) or fib_exact_u64 of ns[0 .. count-1] into
 * out[0 .. count-1], in one call, so a caller releases the GIL once for the
 * whole batch instead of once per item. Stops at the first failure and
 * returns its status (out[] then holds only the items before it). */
fib_status fib_burn_many(const unsigned int *ns, size_t count, uint64_t *out);
fib_status fib_exact_many(const unsigned int *ns, size_t count, uint64_t *out);

#endif /* FASTFIB_FIB_H */
