"""fastfib: the GIL made visible, with the same exact Fibonacci work in pure
Python, numpy, and C called holding the GIL or inside ``with nogil:``.

>>> import fastfib
>>> fastfib.fib(100)
354224848179261915075
>>> fastfib.burn(20, kernel="cython-nogil")
6765
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from fastfib import registry as _registry
from fastfib._args import check_n as _check_n
from fastfib._version import __version__
from fastfib.cancel import CancelToken, deadline
from fastfib.registry import Kernel

if TYPE_CHECKING:
    from fastfib.measure.probe_result import ProbeResult

__all__ = ["CancelToken", "Kernel", "__version__", "burn", "burn_many", "deadline", "fib", "fib_many", "kernels",
           "load_ipython_extension", "probe"]

# auto takes the first of these whose range covers n: C in uint64 up to 93,
# then GMP, then Python's own integers (always there, unbounded).
_AUTO_ORDER = ("cython-gil", "gmp", "python")
# The kernels whose batch splits across a team of threads of their own: they alone take num_threads=.
_TEAM_KERNELS = ("cython-prange",)


def kernels() -> list[Kernel]:
    """The kernels available here: ``.name``, ``.releases_gil``, ``.gil`` and ``.description`` (both true on
    the running interpreter), ``.max_n``."""
    return list(_registry.KERNELS.values())


def fib(n: object, *, kernel: str = "auto") -> int:
    """F(n), exactly. ``kernel="auto"`` picks the fastest exact path for this n.

    Raises TypeError if n is not an integer (bools included), ValueError if
    n < 0 or the kernel is unknown, OverflowError if n is past the kernel's
    ``max_n``.
    """
    if kernel == "auto":
        value = _check_n(n, "auto", None)
        for name in _AUTO_ORDER:
            chosen = _registry.KERNELS.get(name)
            if chosen is not None and (chosen.max_n is None or value <= chosen.max_n):
                return chosen.fib(value)
    return _registry.get(kernel).fib(n)


def burn(n: object, *, kernel: str, timeout: float | None = None, cancel: CancelToken | None = None) -> int:
    """F(n) by naive double recursion on ``kernel``: the lab's CPU workload (~phi**n calls).

    ``timeout`` (seconds) raises TimeoutError when the burn does not finish in
    time; ``cancel`` lets another thread stop it (``token.set()``); given both,
    the deadline sets that token, and whichever comes first stops the burn.
    Both need a kernel whose C loop polls a flag (cython-gil, cython-nogil) --
    and only the nogil one can actually be stopped early: while the
    GIL-holding burn runs, no thread can run to set the flag.
    """
    work = _registry.burn_of(kernel)
    chosen = _registry.get(kernel)
    if timeout is None and cancel is None:
        return work(n)
    if not chosen.cancellable:
        raise ValueError(
            f"kernel {kernel!r} cannot be stopped from outside (timeout=, cancel=); kernels that can: "
            f"{', '.join(_registry.cancellable_names()) or 'none (the extension is not built)'}"
        )
    if timeout is None:
        return work(n, cancel=cancel)
    _check_n(n, kernel, chosen.max_n)  # bad n: the usual error, not a timeout
    with deadline(timeout, f"burn({n}) on {kernel}", token=cancel) as token:
        return work(n, cancel=token)


def burn_many(ns: Iterable[object], *, kernel: str, num_threads: object = None) -> list[int]:
    """[burn(n, kernel=kernel) for n in ns], in one call where the kernel has a batch
    (cython-gil, cython-nogil: one C call, the nogil one releasing the GIL once for
    the whole batch; cython-prange: one C call whose items are split across an OpenMP
    team); elsewhere a loop of single calls. Every n is checked first.

    ``num_threads``: the OpenMP team, cython-prange only (an int from 1 to 1024; None:
    OpenMP's default, at most the usable cores). Given to any other kernel it raises
    TypeError, as an unexpected keyword does: they run on the calling thread.

    >>> burn_many([10, 20], kernel="cython-nogil")
    [55, 6765]
    """
    chosen = _registry.get(kernel)
    return _each(_registry.burn_of(kernel), _team(chosen, num_threads, chosen.burn_many), ns, kernel, chosen.max_n)


def fib_many(ns: Iterable[object], *, kernel: str = "python", num_threads: object = None) -> list[int]:
    """[fib(n, kernel=kernel) for n in ns], in one C call where the kernel has a batch;
    ``num_threads`` as for :func:`burn_many` (cython-prange only)."""
    chosen = _registry.get(kernel)
    return _each(chosen.fib, _team(chosen, num_threads, chosen.fib_many), ns, kernel, chosen.max_n)


def _team(chosen: Kernel, num_threads: object, batch: Callable[..., list[int]] | None,
          ) -> Callable[[object], list[int]] | None:
    """The kernel's batch call with ``num_threads`` passed on, where the kernel takes a team;
    TypeError, before any work, where it does not and one was given."""
    if chosen.name in _TEAM_KERNELS and batch is not None:
        return lambda ns: batch(ns, num_threads=num_threads)
    if num_threads is not None:
        raise TypeError(f"num_threads= is taken only by kernel {' or '.join(map(repr, _TEAM_KERNELS))} "
                        f"(an OpenMP team within one call); kernel {chosen.name!r} runs on the calling thread")
    return batch


def _each(single: Callable[[object], int], batch: Callable[[object], list[int]] | None, ns: Iterable[object],
          kernel: str, max_n: int | None) -> list[int]:
    """The batch call where there is one; else every n checked first, then one call each."""
    if batch is not None:
        return batch(ns)
    items = list(ns)
    for n in items:
        _check_n(n, kernel, max_n)
    return [single(n) for n in items]


def probe(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> ProbeResult:
    """``probe(fn, args=(...), kwargs={...}, quick=False, budget=None, ...)``: does the call release
    the GIL, and does that pay? See :func:`fastfib.measure.probing.probe` (imported on first use:
    ``import fastfib`` stays light); the call's own arguments go in ``args`` and ``kwargs``."""
    from fastfib.measure.probing import probe as run_probe

    return run_probe(fn, *args, **kwargs)


def load_ipython_extension(shell: Any) -> None:
    """``%load_ext fastfib``: the ``%probe`` / ``%%probe`` magics (:mod:`fastfib.notebook`)."""
    from fastfib.notebook import load_ipython_extension as load

    load(shell)
