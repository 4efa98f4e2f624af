# The C contract of csrc/fib.h, mirrored for Cython and nothing else.
#
# `nogil` on this block declares that these functions are *safe* to call
# without the GIL (they touch no Python object). It does not release the GIL:
# only a `with nogil:` block at the call site does that.
# Cython 3 treats extern functions as `noexcept`: they cannot raise, which is
# why each returns a status code for the caller to check.

from libc.stdint cimport uint64_t

cdef extern from "fib.h" nogil:
    ctypedef enum fib_status:  # what every kernel returns
        FIB_OK              # success: the result was written to *out
        FIB_ERR_OVERFLOW    # F(n) does not fit in uint64_t: nothing written
        FIB_ERR_CANCELLED   # the cancel flag was set: stopped early, nothing written

    int FIB_U64_MAX_N       # 93: the largest n whose F(n) fits in uint64_t

    ctypedef struct fib_cancel:
        int requested       # (volatile in C) set non-zero by another thread to stop a burn

    # naive recursion, ~phi**n calls; polls *cancel unless it is NULL
    fib_status fib_burn(unsigned int n, uint64_t *out, const fib_cancel *cancel)
    fib_status fib_exact_u64(unsigned int n, uint64_t *out)  # fast doubling, O(log n)

    # batches: the same for ns[0..count-1] into out[0..count-1], in one call
    fib_status fib_burn_many(const unsigned int *ns, size_t count, uint64_t *out)
    fib_status fib_exact_many(const unsigned int *ns, size_t count, uint64_t *out)

