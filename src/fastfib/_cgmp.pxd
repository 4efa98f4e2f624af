# The few declarations of GMP's gmp.h that fastfib's gmp kernel uses.
#
# As in _cfib.pxd, `nogil` declares these functions safe to call without the
# GIL (they touch no Python object); it does not release the GIL.

cdef extern from "gmp.h" nogil:
    ctypedef struct __mpz_struct:
        pass
    ctypedef __mpz_struct mpz_t[1]   # GMP's integer: an array of one struct
    ctypedef __mpz_struct *mpz_ptr
    ctypedef const __mpz_struct *mpz_srcptr
    ctypedef unsigned long mp_limb_t  # one word of an mpz; C uses gmp.h's own type

    const char *gmp_version  # the loaded library's release, e.g. "6.3.0"

    void mpz_init(mpz_ptr x)
    void mpz_clear(mpz_ptr x)
    void mpz_fib_ui(mpz_ptr rop, unsigned long n)        # rop = F(n)
    size_t mpz_size(mpz_srcptr op)                       # limbs in |op|, 0 for 0
    # Write |op| into rop as `count` words of `size` bytes; order -1 = least
    # significant word first, endian -1 = little-endian words (1 big, 0 the
    # host's), nails 0 = every bit used.
    void *mpz_export(void *rop, size_t *count, int order, size_t size,
                     int endian, size_t nails, mpz_srcptr op)
