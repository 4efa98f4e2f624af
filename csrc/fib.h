/* fastfib's C kernels: plain C99, no Python.h, safe to call without the GIL.
 *
 * Every kernel reports failure through its return value (a fib_status) and
 * writes its result through an out-pointer. It never raises, never prints and
 * never wraps around: a caller that holds no GIL cannot raise a Python
 * exception, so the Cython wrapper turns the status into one afterwards.
 */
#ifndef FASTFIB_FIB_H
#define FASTFIB_FIB_H

#include <stdint.h>

/* Status codes returned by every kernel. */
#define FIB_OK 0
#define FIB_ERR_OVERFLOW 1 /* F(n) does not fit in uint64_t: nothing written */

/* F(93) = 12200160415121876738 is the largest Fibonacci number in a uint64_t. */
#define FIB_U64_MAX_N 93

/* F(n) by naive double recursion: about phi**n calls, the lab's CPU workload. */
int fib_burn(unsigned int n, uint64_t *out);

/* F(n) exactly by fast doubling: O(log n) multiplications. */
int fib_exact_u64(unsigned int n, uint64_t *out);

#endif /* FASTFIB_FIB_H */
