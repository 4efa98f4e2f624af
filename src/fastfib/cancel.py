"""Stopping a long burn from outside: deadlines and Ctrl-C.

The C burns poll a :class:`CancelToken` (see ``_kernels.pyx``); this module
sets one from a timer thread (:func:`deadline`) or from the main thread's
KeyboardInterrupt (:func:`run_interruptibly`).

Why a thread is needed at all: CPython's signal handler only records a
Ctrl-C; the Python-level handler runs later, in the main thread, between
bytecodes. While the main thread is inside one C call -- with or without the
GIL -- that never happens. So the work runs in a worker thread, the main
thread waits in Python (where Ctrl-C lands), and it sets the token. A burn
that holds the GIL still cannot be stopped: the waiting thread needs the GIL
to run its handler, and the burn does not give it back until it ends. On a
free-threaded build with the GIL disabled there is nothing to hold, and the
same burn stops like the nogil one.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from fastfib.gil import gil_enabled

__all__ = ["CancelToken", "check_timeout", "deadline", "run_interruptibly"]

try:
    from fastfib._kernels import CancelToken
except ImportError as exc:  # extension not built: no kernel could poll a token anyway
    _MISSING = (f"fastfib.CancelToken needs the compiled extension, which is missing ({exc}); "
                "rebuild with `make` or `pip install -e .`")

    class CancelToken:  # type: ignore[no-redef]
        """Stands in for the compiled CancelToken, which is missing here: making one says so."""

        def __init__(self) -> None:
            raise ImportError(_MISSING)

T = TypeVar("T")


def check_timeout(timeout: object) -> float:
    """``timeout`` as a positive finite float; TypeError/ValueError otherwise."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number of seconds, not {type(timeout).__name__}")
    if not (math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return float(timeout)


@contextmanager
def deadline(seconds: float, what: str = "the call", token: CancelToken | None = None) -> Iterator[CancelToken]:
    """A token that a timer sets after ``seconds``; TimeoutError if the block overran.

    >>> import fastfib
    >>> with fastfib.deadline(0.2) as token:                     # doctest: +SKIP
    ...     fastfib.burn(60, kernel="cython-nogil", cancel=token)
    Traceback (most recent call last):
    TimeoutError: the call did not finish within 0.2 s

    A block that ends late but without noticing the token (a burn holding the
    GIL, whose timer thread could not run) raises TimeoutError too, saying so.
    Pass ``token`` to share one token with another canceller (Ctrl-C).
    """
    seconds = check_timeout(seconds)
    token = CancelToken() if token is None else token
    late = TimeoutError(f"{what} did not finish within {seconds:g} s")
    timer = threading.Timer(seconds, token.set, args=(late,))
    timer.daemon = True
    start = time.monotonic()
    timer.start()
    try:
        yield token
    finally:
        timer.cancel()
    took = time.monotonic() - start
    if took > seconds:
        why = ("no other thread could run to set its cancel flag (it held the GIL)" if gil_enabled() else
               "it did not notice its cancel flag (there is no GIL here, so the timer could set it)")
        raise TimeoutError(f"{what} finished {took - seconds:.3f} s past its {seconds:g} s deadline and could not be "
                           f"stopped: {why}")


def run_interruptibly(work: Callable[[CancelToken], T], *, poll_s: float = 0.05) -> T:
    """Run ``work(token)`` in a worker thread so that Ctrl-C in the main thread stops it.

    On KeyboardInterrupt the token is set, the worker is joined (a polling C
    loop returns within about 0.1 ms), and KeyboardInterrupt propagates.
    """
    token = CancelToken()
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["value"] = work(token)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            outcome["error"] = exc

    worker = threading.Thread(target=target, name="fastfib-burn", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(poll_s)
    except KeyboardInterrupt:
        token.set(KeyboardInterrupt())
        worker.join()
        raise
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]
