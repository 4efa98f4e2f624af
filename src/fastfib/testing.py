"""Assertions for other projects' test suites: does this call release the GIL, and do threads pay?

    from fastfib.testing import assert_holds_gil, assert_releases_gil, assert_scales

    def test_compress_releases_the_gil():
        assert_releases_gil(mylib.compress, args=(big_buffer,))

    def test_tiny_call_holds_it():
        assert_holds_gil(mylib.checksum, args=(b"abc",))

    def test_compress_scales_on_threads():
        assert_scales(mylib.compress, args=(big_buffer,), workers=2)

Plain functions: they work under pytest, unittest or none. The call's own arguments go in
``args=`` and ``kwargs=``, so that no keyword of the function is ever taken for an option of
fastfib's (``assert_releases_gil(fn, data)`` is refused with a TypeError that says so).

They decide by what the GIL makes certain, with the same method as ``fastfib probe``
(:mod:`fastfib.measure.gil_verdict`): calls run in batches of a few milliseconds beside a
heartbeat thread, the switch interval raised far past a batch, so the heartbeat can run only
while the call has released the GIL; a control that releases the GIL throughout, taken in
alternation, says how often it would run if the call did. A tick inside a call proves a
release; no tick proves the GIL held only once the control promised enough of them. Short of
evidence within ``budget`` seconds, and on a machine that lends too few cores to tell whether
threads scale, they **skip** with the reason (``unittest.SkipTest``, a skip under pytest) rather
than fail: a failure always means evidence against the call. On a free-threaded build with the
GIL disabled there is nothing to hold: ``assert_releases_gil`` passes and ``assert_holds_gil``
skips. No timing threshold decides the GIL assertions, so they pass on a loaded machine.
"""

from __future__ import annotations

import time
import unittest
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastfib import environment, runners
from fastfib.gil_imports_testing import assert_gil_stays_disabled, gil_reenabling_modules
from fastfib.measure import paired, verdicts
from fastfib.measure.gil_verdict import BATCH_S, Judged, judge, number_for
from fastfib.measure.probe_spec import Spec, loop_of, spec_of

__all__ = ["assert_gil_stays_disabled", "assert_holds_gil", "assert_releases_gil", "assert_scales",
           "gil_reenabling_modules", "scaling_outcome"]


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


def _judged(spec: Spec, budget: float, *, stop_at_first_tick: bool) -> Judged:
    """The verdict on ``spec`` within ``budget`` seconds, calls batched to BATCH_S."""
    loop = loop_of(spec)
    deadline = time.perf_counter() + budget
    start = time.perf_counter()
    loop(1)  # a first call, timed: how many make a batch
    number = number_for(time.perf_counter() - start, loop, BATCH_S)
    return judge(loop, number, min_s=0.05, budget_s=max(0.0, deadline - time.perf_counter()),
                 stop_at_first_tick=stop_at_first_tick)


def assert_releases_gil(fn: Callable[..., Any], *positional: Any, args: Sequence[Any] = (),
                        kwargs: Mapping[str, Any] | None = None, budget: float = 10.0, **unknown: Any) -> None:
    """Fail unless ``fn(*args, **kwargs)`` lets another Python thread run while it is called.

    Passes at the first heartbeat tick inside a batch of calls; fails when the heartbeat
    never ran inside them although the control promised it would have; skips when
    ``budget`` seconds gave no evidence either way."""
    spec = spec_of("assert_releases_gil", fn, args, kwargs, positional, unknown)
    if not environment.gil_enabled():
        return  # free-threaded, GIL disabled: no call holds other threads back
    judged = _judged(spec, budget, stop_at_first_tick=True)
    if judged.verdict == "held":
        raise AssertionError(f"{_name(fn)} held the GIL: {judged.why()} (its longest stall "
                             f"{judged.longest_stall_ms:.1f} ms)")
    if judged.verdict == "cannot tell":
        raise unittest.SkipTest(f"cannot tell whether {_name(fn)} releases the GIL within {budget:g} s: "
                                f"{judged.why()}")


def assert_holds_gil(fn: Callable[..., Any], *positional: Any, args: Sequence[Any] = (),
                     kwargs: Mapping[str, Any] | None = None, budget: float = 10.0, **unknown: Any) -> None:
    """Fail if ``fn(*args, **kwargs)`` lets another Python thread run while it is called.

    Passes once batches of calls, at least 50 ms of them, let no heartbeat tick through where
    the control promised enough; skips when ``budget`` seconds gave no such evidence."""
    spec = spec_of("assert_holds_gil", fn, args, kwargs, positional, unknown)
    if not environment.gil_enabled():
        raise unittest.SkipTest("no GIL on this interpreter (free-threaded build, GIL disabled): nothing to hold")
    judged = _judged(spec, budget, stop_at_first_tick=True)
    if judged.ticks:
        raise AssertionError(f"{_name(fn)} released the GIL: {judged.why()}, which only a release allows with the "
                             f"switch interval raised to {judged.switch_interval_s:g} s")
    if judged.verdict == "cannot tell":
        raise unittest.SkipTest(f"cannot tell whether {_name(fn)} holds the GIL within {budget:g} s: {judged.why()}")


def assert_scales(fn: Callable[..., Any], *positional: Any, args: Sequence[Any] = (),
                  kwargs: Mapping[str, Any] | None = None, workers: int = 2, runner: str = "threads",
                  at_least: float | None = None, budget: float = 30.0, start_method: str = "forkserver",
                  **unknown: Any) -> paired.PairedRatio:
    """Fail unless ``workers`` threads (``runner="processes"``: processes) run calls of ``fn``
    faster than one thread runs the same calls -- paired as fastfib's own suite pairs them, each
    parallel run between two sequential ones. Returns the paired speedup (with its interval,
    parallelism and the machine's reading).

    The bar: ``at_least`` when given, else half way from 1x to the cores the machine lent
    (1.5x of 2). Fails only on evidence: the speedup's whole 95 % interval below the bar, on a
    machine that lent the cores. A figure too noisy to decide, or a machine that lent too few
    cores, is measured again while ``budget`` lasts, then skipped with the reason."""
    from fastfib.measure.probing import scale_point  # the probe's own scaling point: one method for both

    spec = spec_of("assert_scales", fn, args, kwargs, positional, unknown)
    if workers < 2:
        raise ValueError(f"assert_scales: workers={workers}: scaling needs at least 2")
    cores = environment.usable_cores()
    if cores < 2:
        raise unittest.SkipTest(f"only {cores} usable core here: nothing can scale")
    loop = loop_of(spec)
    deadline = time.perf_counter() + budget
    start = time.perf_counter()
    loop(1)
    number = number_for(time.perf_counter() - start, loop, 0.02)
    reason = ""
    with runners.make_runner("sequential").open(1) as baseline:
        while True:
            round_start = time.perf_counter()
            more_s = max(0.0, min(5.0, (deadline - round_start) / 2))
            point = scale_point(runner, workers, spec, number, start_method=start_method, budget_s=more_s,
                                min_pairs=paired.MIN_PAIRS, baseline=baseline)
            if point.error or point.speedup is None:
                raise AssertionError(f"assert_scales: {_name(fn)} on {workers} {runner}: {point.error}")
            outcome, reason = scaling_outcome(point.speedup, workers, runner, cores, at_least, _name(fn))
            if outcome == "scales":
                return point.speedup
            if outcome == "fails":
                raise AssertionError(reason)
            now = time.perf_counter()
            if deadline - now < now - round_start:  # no time for another round like this one
                break
    raise unittest.SkipTest(f"cannot tell whether {_name(fn)} scales on {workers} {runner} within {budget:g} s: "
                            f"{reason}")


def scaling_outcome(figure: paired.PairedRatio, workers: int, runner: str, cores: int, at_least: float | None,
                    name: str) -> tuple[str, str]:
    """("scales" | "fails" | "unsure", the reason in words) for a paired speedup: the bar is
    ``at_least``, else half way from 1x to the cores the machine lent; "fails" only when the
    whole interval lies below it on a machine that lent the cores."""
    row = {**figure.to_dict(), "ideal": min(workers, cores)}
    bar = at_least if at_least is not None else 1 + paired.SCALES_AT * (verdicts.room(row) - 1)
    found = verdicts.verdict(row)
    if found == verdicts.CANNOT_TELL:
        return "unsure", verdicts.said(row)
    if figure.low >= bar:
        return "scales", f"{name} scales on {workers} {runner}: {figure.describe()} (bar {bar:.2f}x)"
    if figure.high < bar:
        return "fails", (f"{name} does not scale on {workers} {runner}: {figure.describe()} (bar {bar:.2f}x); "
                         f"{verdicts.said(row)}")
    return "unsure", f"{figure.describe()} straddles the bar {bar:.2f}x"

