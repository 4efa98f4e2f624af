# The gmp kernel: exact F(n) for huge n with GMP's mpz_fib_ui, the GIL
# released while GMP computes. The same three steps as _kernels.pyx:
# validate with the GIL, compute in C without it, convert with it again.
#
# Unlike the uint64 kernels, GMP cannot fail by overflow; it can only run out
# of memory, and then it aborts the whole process. So step 1 also checks that
# the result (and GMP's scratch space) fits in the memory available now.

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize

from fastfib cimport _cgmp as gmp
from fastfib._args import check_n
from fastfib._memory import available_bytes

# 2**32 - 1 fits an `unsigned long` everywhere, Windows' 32-bit long included.
# F(MAX_N) has about 3 * 10**9 bits (372 MB).
MAX_N = 2**32 - 1
# The release of the GMP library this kernel runs on (its speed depends on it
# and on how it was built: docs/gmp.md); the benchmarks record it.
GMP_VERSION = gmp.gmp_version.decode("ascii")

# F(n) has about n * log2(golden ratio) = 0.6942 n bits. At the peak GMP's
# result and scratch, the exported bytes and the Python int are alive at once.
_BYTES_PER_N = 0.6942 / 8
_PEAK_COPIES = 5
# Below this, asking the OS how much memory is free costs more than the work.
_CHECK_MEMORY_FROM = 64 << 20


cdef unsigned long _c_n(object n) except? 0:
    value = check_n(n, "gmp", MAX_N)
    needed = int(value * _BYTES_PER_N * _PEAK_COPIES)
    if needed < _CHECK_MEMORY_FROM:
        return value
    available = available_bytes()
    if available is not None and needed > available:
        raise MemoryError(
            f"kernel 'gmp': F({value}) needs about {needed >> 20} MiB while computing, "
            f"but only {available >> 20} MiB is available"
        )
    return value


cdef object _to_int(gmp.mpz_t value):
    # Export GMP's limbs, least significant first, as little-endian bytes into
    # a new bytes object, and let int.from_bytes build the Python int from it:
    # linear time, where a decimal string would be quadratic. Whole limbs in
    # the host's byte order make mpz_export a plain copy; one-byte words (its
    # general path) went a byte at a time, 4x slower than the whole conversion
    # is now. A bytes object, not a bytearray: int.from_bytes copies anything
    # else into bytes first.
    cdef size_t count = 0
    cdef bytes buffer = PyBytes_FromStringAndSize(NULL, gmp.mpz_size(value) * sizeof(gmp.mp_limb_t))
    gmp.mpz_export(PyBytes_AS_STRING(buffer), &count, -1, sizeof(gmp.mp_limb_t), -1, 0, value)
    return int.from_bytes(buffer, "little")


def fib_nogil(object n):
    """F(n) exactly for n < 2**32, by GMP's mpz_fib_ui with the GIL released."""
    cdef unsigned long cn = _c_n(n)
    cdef gmp.mpz_t value
    gmp.mpz_init(value)
    try:
        with nogil:  # GMP allocates with malloc: no Python object is touched
            gmp.mpz_fib_ui(value, cn)
        return _to_int(value)
    finally:
        gmp.mpz_clear(value)
