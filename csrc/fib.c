/* fastfib's C kernels; see fib.h for the contract. */
#include "fib.h"

/* The recursion itself. No range check here: fib_burn checks once, up front. */
static uint64_t burn(unsigned int n)
{
    return n < 2 ? n : burn(n - 1) + burn(n - 2);
}

/* The same recursion, looking at the cancel flag before each subtree of size
 * FIB_POLL_N or more. Below that it calls the plain burn, so the hot path
 * carries no check: polls are about phi**(n - FIB_POLL_N) of all calls. */
static uint64_t burn_polled(unsigned int n, const fib_cancel *cancel, int *stopped)
{
    if (n < FIB_POLL_N)
        return burn(n);
    if (*stopped || cancel->requested) {
        *stopped = 1;
        return 0;
    }
    return burn_polled(n - 1, cancel, stopped) + burn_polled(n - 2, cancel, stopped);
}

fib_status fib_burn(unsigned int n, uint64_t *out, const fib_cancel *cancel)
{
    uint64_t value;
    int stopped = 0;

    if (n > FIB_U64_MAX_N)
        return FIB_ERR_OVERFLOW;
    value = cancel ? burn_polled(n, cancel, &stopped) : burn(n);
    if (stopped)
        return FIB_ERR_CANCELLED;
    *out = value;
    return FIB_OK;
}

fib_status fib_exact_u64(unsigned int n, uint64_t *out)
{
    uint64_t a = 0, b = 1; /* (F(k), F(k+1)), starting at k = 0 */
    unsigned int k = n >> 1;
    int bit;

    if (n > FIB_U64_MAX_N)
        return FIB_ERR_OVERFLOW;

    /* Walk the bits of k = n / 2 from the top, doubling k at each step:
     *   F(2k)   = F(k) * (2 F(k+1) - F(k))
     *   F(2k+1) = F(k)^2 + F(k+1)^2
     * Stopping at n / 2 and taking the last step below by hand means no
     * intermediate value exceeds F(n): computing the pair (F(n), F(n+1))
     * would overflow at n = 93, where F(94) needs 65 bits. */
    for (bit = 31; bit >= 0; bit--) {
        uint64_t f2k = a * (2 * b - a);
        uint64_t f2k1 = a * a + b * b;
        if ((k >> bit) & 1u) {
            a = f2k1;
            b = f2k + f2k1;
        } else {
            a = f2k;
            b = f2k1;
        }
    }
    *out = (n & 1u) ? a * a + b * b : a * (2 * b - a);
    return FIB_OK;
}

fib_status fib_burn_many(const unsigned int *ns, size_t count, uint64_t *out)
{
    size_t i;
    fib_status status;

    for (i = 0; i < count; i++)
        if ((status = fib_burn(ns[i], &out[i], NULL)) != FIB_OK)
            return status;
    return FIB_OK;
}

fib_status fib_exact_many(const unsigned int *ns, size_t count, uint64_t *out)
{
    size_t i;
    fib_status status;

    for (i = 0; i < count; i++)
        if ((status = fib_exact_u64(ns[i], &out[i])) != FIB_OK)
            return status;
    return FIB_OK;
}
