# The prange kernel: one call, many cores. The GIL is released once, as in
# _kernels.pyx's batches, and then the C code runs its *own* threads: the
# batch is split across an OpenMP team by `cython.parallel.prange`. One Python
# thread, one call, all the cores -- the way numpy's BLAS and scikit-learn's
# Cython code use them.
#
# The same three steps as every kernel (validate with the GIL, compute in C
# without it, raise from the status with it again); only step 2 changes:
#   with nogil: for i in prange(count, num_threads=t, schedule="dynamic"):
#       status[i] = C kernel(ns[i])
# Each item writes only its own out[i] and status[i], so the threads share
# nothing that needs a lock. schedule="dynamic" hands items out one at a time
# as threads come free: burns of different n cost very different times, and a
# static split would leave one thread with the long tail.
#
# Built only where the compiler has OpenMP (gcc -fopenmp links libgomp); the
# registry lists the kernel as unavailable elsewhere (setup.py: FASTFIB_OPENMP).

from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cython.parallel cimport parallel, prange
from libc.stdint cimport uint64_t

cimport openmp

from fastfib cimport _cfib as cfib
from fastfib._args import check_n
from fastfib._cores import usable_cores

MAX_N = cfib.FIB_U64_MAX_N
KERNEL = "cython-prange"
# More OpenMP threads than this is a typo, not a plan (libgomp would try to start them all).
MAX_THREADS = 1024


def max_threads():
    """omp_get_max_threads(): the team size OpenMP would use by default here (OMP_NUM_THREADS)."""
    return openmp.omp_get_max_threads()


cdef int _c_threads(object num_threads) except 0:
    # Step 1 for the team size: an int from 1 to MAX_THREADS, bools refused
    # (as for n). None: OpenMP's own default (omp_get_max_threads(), which
    # OMP_NUM_THREADS and threadpoolctl.threadpool_limits set), at most the
    # usable cores (not os.cpu_count(): affinity counts) -- scikit-learn's rule
    # for its OpenMP loops, so a user limits both the same way.
    if num_threads is None:
        return max(1, min(openmp.omp_get_max_threads(), usable_cores()))
    if isinstance(num_threads, bool) or not hasattr(type(num_threads), "__index__"):
        raise TypeError(f"kernel {KERNEL!r}: num_threads must be an integer or None, "
                        f"not {type(num_threads).__name__}")
    value = num_threads.__index__()
    if not 1 <= value <= MAX_THREADS:
        raise ValueError(f"kernel {KERNEL!r}: num_threads must be from 1 to {MAX_THREADS}, got {value}")
    return value


cdef object _many(object ns, bint burn, object num_threads):
    cdef int threads = _c_threads(num_threads)
    cdef list items = list(ns)
    cdef Py_ssize_t count = len(items), i
    cdef Py_ssize_t failed = 0
    # C arrays: no Python object may be touched by the OpenMP threads.
    cdef unsigned int *cns = <unsigned int *>PyMem_Malloc((count or 1) * sizeof(unsigned int))
    cdef uint64_t *out = <uint64_t *>PyMem_Malloc((count or 1) * sizeof(uint64_t))
    cdef cfib.fib_status *status = <cfib.fib_status *>PyMem_Malloc((count or 1) * sizeof(cfib.fib_status))
    try:
        if cns == NULL or out == NULL or status == NULL:
            raise MemoryError()
        for i in range(count):  # step 1, for every item before any work
            cns[i] = check_n(items[i], KERNEL, MAX_N)
        # Step 2: the GIL released once, then the batch split across `threads`
        # OpenMP threads. `failed +=` makes `failed` a reduction: each thread
        # counts its own, OpenMP adds them up at the end.
        for i in prange(count, nogil=True, num_threads=threads, schedule="dynamic"):
            if burn:
                status[i] = cfib.fib_burn(cns[i], &out[i], NULL)
            else:
                status[i] = cfib.fib_exact_u64(cns[i], &out[i])
            if status[i] != cfib.FIB_OK:
                failed += 1
        if failed:  # step 3: cannot happen for checked n; the C kernel's own safety net
            for i in range(count):
                if status[i] != cfib.FIB_OK:
                    raise OverflowError(f"F({items[i]}) does not fit in 64 bits")
        return [out[i] for i in range(count)]
    finally:
        PyMem_Free(cns)  # NULL is fine
        PyMem_Free(out)
        PyMem_Free(status)


def burn_many(object ns, num_threads=None):
    """[burn(n) for n in ns] in one call: the GIL released once, the items split across
    ``num_threads`` OpenMP threads (default: OpenMP's default team, at most the usable cores)."""
    return _many(ns, True, num_threads)


def fib_many(object ns, num_threads=None):
    """[fib(n) for n in ns] in one call: the GIL released once, the items split across
    ``num_threads`` OpenMP threads (default: OpenMP's default team, at most the usable cores)."""
    return _many(ns, False, num_threads)


def burn(object n):
    """burn(n) alone: a batch of one, so one OpenMP thread works (the kernel's parallelism
    is across a batch's items: use burn_many)."""
    return _many((n,), True, 1)[0]


def fib(object n):
    """F(n) exactly, by fast doubling in C, the GIL released (a batch of one: see fib_many)."""
    return _many((n,), False, 1)[0]


# --- For the tests: the team OpenMP grants for a num_threads -----------------------
# What num_threads makes certain: the size of the team of a parallel region (how
# the items are spread over it depends on timing, and is not certain).
def _team_size(num_threads=None):
    """omp_get_num_threads() inside a parallel region opened as _many opens it."""
    cdef int threads = _c_threads(num_threads)
    cdef int size[1]
    size[0] = 0
    with nogil, parallel(num_threads=threads):
        size[0] = openmp.omp_get_num_threads()  # every thread writes the same value
    return size[0]
