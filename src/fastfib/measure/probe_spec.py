"""What ``fastfib probe`` (and :mod:`fastfib.testing`) calls, in a form every runner can take.

A :class:`Spec` is ``fn(*args, **kwargs)`` or ``stmt`` after ``setup`` (source,
timeit-style). :func:`loop_of` turns it into ``loop(number)``: that many calls,
back to back; :func:`run_spec` is the task a pool runs. :func:`spec_of` builds
one from the public form ``probe(fn, args=(...), kwargs={...})``, which keeps
fastfib's own options out of the probed function's keywords.
"""

from __future__ import annotations

import textwrap
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["ProbeError", "Spec", "compile_source", "empty_loop_of", "loop_of", "on_a_fresh_thread", "run_spec",
           "spec_of"]


class ProbeError(Exception):
    """The probed code failed (it raised, or did not return in time): exit status 1."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details  # the probed code's traceback, when it raised


@dataclass(frozen=True)
class Spec:
    """The call: ``fn(*args, **kwargs)``, or ``stmt`` after ``setup`` (source, timeit-style).
    Picklable whenever ``fn`` and its arguments are, so process workers can run it."""

    fn: Callable[..., Any] | None = None
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()
    setup: tuple[str, ...] = ()
    stmt: str = ""

    def label(self) -> str:
        if self.fn is None:
            return self.stmt if len(self.stmt) <= 60 else self.stmt[:57] + "..."
        return f"{getattr(self.fn, '__qualname__', repr(self.fn))}(...)"


def spec_of(who: str, fn: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any] | None,
            positional: tuple[Any, ...], unknown: Mapping[str, Any]) -> Spec:
    """The Spec of ``fn(*args, **kwargs)``; TypeError for the old form ``who(fn, *args, **kwargs)``
    (``positional`` / ``unknown``: what was passed that way), which let fastfib's options take a
    keyword meant for ``fn``."""
    if not callable(fn):
        raise TypeError(f"{who}: the first argument must be the function to call, not {type(fn).__name__}")
    if positional or unknown:
        given = ", ".join([*(repr(a)[:20] for a in positional), *(f"{k}=..." for k in unknown)])
        raise TypeError(f"{who}(fn, {given}): pass the call's arguments as args=(...) and kwargs={{...}}, "
                        f"e.g. {who}(fn, args=(data,), kwargs={{'level': 9}}), so that no keyword of your function "
                        "is taken for one of fastfib's options")
    if isinstance(args, (str, bytes)) or not isinstance(args, Sequence):
        raise TypeError(f"{who}: args= must be a tuple or list of the call's positional arguments, "
                        f"not {type(args).__name__}")
    if kwargs is not None and not isinstance(kwargs, Mapping):
        raise TypeError(f"{who}: kwargs= must be a dict of the call's keyword arguments, not {type(kwargs).__name__}")
    return Spec(fn=fn, args=tuple(args), kwargs=tuple(sorted((kwargs or {}).items())))


_LOOP = "def __fastfib_loop(__fastfib_number):\n    for __fastfib_i in range(__fastfib_number):\n{body}\n"
_local = threading.local()  # per worker thread (and per process, per interpreter): its own SETUP namespace


def compile_source(setup: Sequence[str], stmt: str) -> None:
    """SyntaxError for source that cannot compile (a usage error, before anything runs)."""
    for text in setup:
        compile(text, "<setup>", "exec")
    compile(_LOOP.format(body=textwrap.indent(stmt, " " * 8)), "<stmt>", "exec")


def loop_of(spec: Spec) -> Callable[[int], None]:
    """``loop(number)`` making ``number`` calls: ``fn`` bound, or ``stmt`` compiled into a
    function over this worker's own SETUP namespace (SETUP runs on a worker's first call)."""
    if spec.fn is not None:
        fn, args, kwargs = spec.fn, spec.args, dict(spec.kwargs)

        def loop(number: int) -> None:
            for _ in range(number):
                fn(*args, **kwargs)

        return loop
    loops = getattr(_local, "loops", None)
    if loops is None:
        loops = _local.loops = {}
    key = (spec.setup, spec.stmt)
    if key not in loops:
        namespace: dict[str, Any] = {"__name__": "__fastfib_probe__"}
        for text in spec.setup:
            exec(compile(text, "<setup>", "exec"), namespace)  # noqa: S102 - the user's own code, by design
        exec(compile(_LOOP.format(body=textwrap.indent(spec.stmt, " " * 8)), "<stmt>", "exec"), namespace)
        loops[key] = namespace["__fastfib_loop"]
    return loops[key]


def empty_loop_of(spec: Spec) -> Callable[[int], None]:
    """The same harness calling nothing of the user's (what counting the call's bytecode subtracts)."""
    return loop_of(Spec(fn=int) if spec.fn is not None else Spec(stmt="pass"))


def run_spec(spec: Spec, number: int) -> int:
    """A task for any pool: ``number`` calls of ``spec``; returns ``number`` (the check)."""
    loop_of(spec)(number)
    return number


def on_a_fresh_thread(work: Callable[[], Any], timeout_s: float | None = None) -> Any:
    """``work()`` on a thread of its own, so that a call that never returns is noticed, and
    so that the probed code runs on a fresh, shallow stack: on CPython 3.11 Python code started
    deep in a caller's stack can run several times slower (see executors.SequentialRunner)."""
    outcome: dict[str, Any] = {}

    def attempt() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - reported to the caller with its traceback
            outcome["error"] = exc
            outcome["traceback"] = traceback.format_exc()

    worker = threading.Thread(target=attempt, name="fastfib-probe", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise ProbeError(f"the call did not return within {timeout_s:g} s (--timeout)")
    if "error" in outcome:
        exc = outcome["error"]
        if isinstance(exc, ProbeError):
            raise exc
        raise ProbeError(f"the probed code raised {type(exc).__name__}: {exc}", outcome["traceback"])
    return outcome["value"]
