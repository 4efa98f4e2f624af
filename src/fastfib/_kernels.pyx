# The Cython surface of fastfib: each C kernel of csrc/fib.c exposed twice,
# once called while holding the GIL and once inside `with nogil:`. The two
# variants of each pair are identical except for that one block, so a diff of
# them is the whole lesson in releasing the GIL.
#
# The pattern, in three steps:
#   1. validate in Python-object space, with the GIL: arguments are typed
#      `object`, because a `def f(unsigned int n)` signature would convert
#      3.9 to 3 and True to 1 before our code ever saw them;
#   2. call C: only the C call goes inside `with nogil:`. No Python object may
#      be touched there, and no exception can be raised there;
#   3. back under the GIL, turn the C status code into a Python exception.
#
# The burns also take an optional CancelToken: its flag lives in C memory that
# the C loop polls, so another thread can stop a long nogil burn. (A Ctrl-C
# alone cannot: CPython runs signal handlers in the main thread, between
# bytecodes -- never while that thread is inside a C call.)

from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport uint64_t

from fastfib cimport _cfib as cfib
from fastfib._args import check_n

# Largest n each kernel accepts: F(93) is the last Fibonacci number in uint64.
MAX_N = cfib.FIB_U64_MAX_N


cdef unsigned int _c_n(object n, str kernel) except? 0:
    # Step 1. check_n raises TypeError/ValueError/OverflowError *before* any
    # work starts; once it returns, the value is known to fit, so the
    # conversion to a C integer below cannot fail or truncate.
    return check_n(n, kernel, MAX_N)


cdef class CancelToken:
    """Asks a running burn to stop: call set() from any thread.

    The C loop polls the token's flag about every 0.1 ms of work; the burn then
    raises ``reason`` (KeyboardInterrupt unless set() was given another).
    """
    cdef cfib.fib_cancel _flag  # read by C without the GIL; written only by set()
    cdef readonly object reason

    def set(self, reason=None):
        """Ask the burn using this token to stop and raise ``reason``. The first
        reason stays: of two cancellers (a deadline, Ctrl-C) the first one wins."""
        if self._flag.requested:
            return
        self.reason = KeyboardInterrupt() if reason is None else reason
        self._flag.requested = 1  # last: a reader that sees the flag finds the reason

    @property
    def is_set(self):
        return self._flag.requested != 0


cdef const cfib.fib_cancel *_flag_of(CancelToken cancel):
    return NULL if cancel is None else &cancel._flag


cdef object _result(cfib.fib_status status, uint64_t value, object n, CancelToken cancel=None):
    # Step 3. The C kernels report failure by a status code rather than by
    # raising: code running without the GIL cannot create an exception.
    # (_c_n already range-checked n, so overflow is the kernel's own safety net.)
    if status == cfib.FIB_OK:
        return value
    if status == cfib.FIB_ERR_CANCELLED:
        # A token may stop many calls: drop the last raise's traceback, or
        # each raise of the same exception object would lengthen it.
        raise cancel.reason.with_traceback(None)
    if status == cfib.FIB_ERR_OVERFLOW:
        raise OverflowError(f"F({n}) does not fit in 64 bits")
    raise SystemError(f"fastfib's C kernel returned an unknown status {<int>status} for F({n})")


def fib_gil(object n):
    """F(n) exactly, by fast doubling in C, holding the GIL (n <= 93)."""
    cdef unsigned int cn = _c_n(n, "cython-gil")
    cdef uint64_t value = 0
    cdef cfib.fib_status status
    status = cfib.fib_exact_u64(cn, &value)
    return _result(status, value, n)


def fib_nogil(object n):
    """F(n) exactly, by fast doubling in C, with the GIL released (n <= 93)."""
    cdef unsigned int cn = _c_n(n, "cython-nogil")
    cdef uint64_t value = 0
    cdef cfib.fib_status status
    with nogil:  # Step 2: other Python threads run while C works.
        status = cfib.fib_exact_u64(cn, &value)
    return _result(status, value, n)


def burn_gil(object n, CancelToken cancel=None):
    """F(n) by naive recursion in C, holding the GIL: no other thread runs.

    A ``cancel`` token is polled too, but no other Python thread can run to
    set it while this call holds the GIL: the lesson, not a bug.
    """
    cdef unsigned int cn = _c_n(n, "cython-gil")
    cdef const cfib.fib_cancel *flag = _flag_of(cancel)
    cdef uint64_t value = 0
    cdef cfib.fib_status status
    status = cfib.fib_burn(cn, &value, flag)
    return _result(status, value, n, cancel)


def burn_nogil(object n, CancelToken cancel=None):
    """F(n) by naive recursion in C, with the GIL released: threads scale.

    Another thread may stop it early through ``cancel`` (see CancelToken).
    """
    cdef unsigned int cn = _c_n(n, "cython-nogil")
    cdef const cfib.fib_cancel *flag = _flag_of(cancel)  # `cancel` keeps it alive
    cdef uint64_t value = 0
    cdef cfib.fib_status status
    with nogil:  # `cn`, `flag`, `value` and `status` are C variables: allowed here.
        status = cfib.fib_burn(cn, &value, flag)
    return _result(status, value, n, cancel)


# --- Batches: one release of the GIL for many items ----------------------------
# Releasing and re-taking the GIL costs about a microsecond, and a thread that
# gives it up may wait a switch interval to get it back. For ~1 µs of work per
# item, per-item calls spend more on that hand-over than on the work; a batch
# pays it once. The same three steps, over arrays.

cdef unsigned int _c_item(object n, str kernel) except? 0:
    # Step 1 for one item of a batch, cheaply in the common case: an exact int
    # (`type(n) is int` already excludes bool, a subclass) within range needs
    # no more checking. Anything else takes check_n, for its exact error.
    # (At ~1 µs of work per item, check_n's Python call per item would cost
    # as much as the work, and it runs holding the GIL.)
    if type(n) is int and 0 <= n <= MAX_N:
        return n
    return _c_n(n, kernel)


cdef object _many(object ns, str kernel, bint burn, bint release):
    cdef list items = list(ns)
    cdef size_t count = len(items), i
    cdef cfib.fib_status status
    # C arrays: no Python object may be touched inside `with nogil:`.
    cdef unsigned int *cns = <unsigned int *>PyMem_Malloc((count or 1) * sizeof(unsigned int))
    cdef uint64_t *out = <uint64_t *>PyMem_Malloc((count or 1) * sizeof(uint64_t))
    try:
        if cns == NULL or out == NULL:
            raise MemoryError()
        for i in range(count):
            cns[i] = _c_item(items[i], kernel)  # step 1, for every item before any work
        if release:
            with nogil:  # step 2, once for the whole batch
                status = cfib.fib_burn_many(cns, count, out) if burn else cfib.fib_exact_many(cns, count, out)
        else:
            status = cfib.fib_burn_many(cns, count, out) if burn else cfib.fib_exact_many(cns, count, out)
        _result(status, 0, ns)  # step 3
        return [out[i] for i in range(count)]
    finally:
        PyMem_Free(cns)  # NULL is fine
        PyMem_Free(out)


def burn_many_gil(object ns):
    """[burn(n) for n in ns] in one C call, holding the GIL throughout."""
    return _many(ns, "cython-gil", True, False)


def burn_many_nogil(object ns):
    """[burn(n) for n in ns] in one C call, the GIL released once for the whole batch."""
    return _many(ns, "cython-nogil", True, True)


def fib_many_gil(object ns):
    """[fib(n) for n in ns] in one C call, holding the GIL throughout."""
    return _many(ns, "cython-gil", False, False)


def fib_many_nogil(object ns):
    """[fib(n) for n in ns] in one C call, the GIL released once for the whole batch."""
    return _many(ns, "cython-nogil", False, True)


# Build facts for `fastfib info`; setup.py defines them on the command line.
cdef extern from "build_info.h":
    const char *FASTFIB_CYTHON_VERSION
    const char *FASTFIB_CFLAGS

BUILD_INFO = {
    "cython_version": FASTFIB_CYTHON_VERSION.decode(),
    "cflags": FASTFIB_CFLAGS.decode(),
}


# --- For the tests: proof that `with nogil:` detaches this thread ----------------
# A thread holds the GIL exactly while its thread state is attached, so reading
# the current thread state (without the check that would abort on NULL) inside
# the block shows the release directly. Before 3.12 the "current" state is
# process-wide, so the answer is only certain while no other thread runs.
cdef extern from *:
    """
    #if PY_VERSION_HEX >= 0x030D0000
    #define fastfib_current_thread_state() ((void *)PyThreadState_GetUnchecked())
    #else
    #define fastfib_current_thread_state() ((void *)_PyThreadState_UncheckedGet())
    #endif
    """
    void *fastfib_current_thread_state() nogil


def _thread_state_attached():
    """(outside, inside) a `with nogil:` block: is a thread state attached?"""
    cdef bint outside = fastfib_current_thread_state() != NULL
    cdef bint inside
    with nogil:
        inside = fastfib_current_thread_state() != NULL
    return outside, inside
