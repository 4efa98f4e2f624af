"""fastfib pointed at another project's code, as its author would: a small C extension built in
the test (the same loop holding the GIL, releasing it, releasing it for half the work), the
``fastfib.testing`` assertions at three call sizes, probe's advice for bytecode and for C, the
call's arguments kept apart from fastfib's options, ``--fail-if`` and ``--budget``.

No test asserts a time or a speedup: the GIL verdicts rest on what the GIL makes certain, and
a scaling assertion may only pass, fail on evidence, or skip with the reason.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import unittest
from pathlib import Path

import pytest

import fastfib
from fastfib import environment
from fastfib.measure import bytecode, gil_verdict
from fastfib.measure.probe_spec import Spec, loop_of
from fastfib.testing import assert_holds_gil, assert_releases_gil, assert_scales
from helpers import build_extension, compiler_missing, needs_gil

FASTFIB = [sys.executable, "-m", "fastfib"]
SIZES = {"1us": 1_000, "100us": 100_000, "10ms": 10_000_000, "100ms": 100_000_000}  # xorshift steps: ~1 ns each


@pytest.fixture(scope="module")
def spin_dir(tmp_path_factory):
    why = compiler_missing()
    if why:
        pytest.skip(why)
    return build_extension(Path(__file__).parent / "data" / "spin" / "spin.c", tmp_path_factory.mktemp("spin"))


@pytest.fixture(scope="module")
def spin(spin_dir):
    sys.path.insert(0, str(spin_dir))
    try:
        import spin as module
    finally:
        sys.path.remove(str(spin_dir))
    return module


def run_fastfib(spin_dir, *argv, timeout=240):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(spin_dir), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([*FASTFIB, *argv], capture_output=True, text=True, timeout=timeout, env=env)


@needs_gil
@pytest.mark.parametrize("size", SIZES)
def test_the_assertions_are_right_on_every_call_size(spin, size):
    n = SIZES[size]
    assert_releases_gil(spin.spin_nogil, args=(n,))
    assert_releases_gil(spin.spin_half, args=(n,))
    assert_holds_gil(spin.spin_gil, args=(n,))
    with pytest.raises(AssertionError, match="spin_gil held the GIL: 0 heartbeat tick"):
        assert_releases_gil(spin.spin_gil, args=(n,))
    for releasing in (spin.spin_nogil, spin.spin_half):
        with pytest.raises(AssertionError, match="released the GIL"):
            assert_holds_gil(releasing, args=(n,))


@needs_gil
def test_sub_microsecond_calls_are_told_both_ways(spin):
    assert_releases_gil(spin.spin_nogil, args=(10,))
    assert_holds_gil(spin.spin_gil, args=(10,))
    with pytest.raises(AssertionError, match="held the GIL"):
        assert_releases_gil(spin.spin_gil, args=(10,))
    assert_releases_gil(fastfib.burn, args=(12,), kwargs={"kernel": "cython-nogil"})
    assert_holds_gil(fastfib.burn, args=(12,), kwargs={"kernel": "cython-gil"})


def test_the_old_call_form_is_refused_with_what_to_write(spin):
    for check in (assert_releases_gil, assert_holds_gil, assert_scales):
        with pytest.raises(TypeError, match=r"pass the call's arguments as args=\(\.\.\.\) and kwargs="):
            check(spin.spin_gil, 10)
    with pytest.raises(TypeError, match=r"fastfib.probe\(fn, level=...\): pass the call's arguments"):
        fastfib.probe(spin.spin_gil, level=9)
    with pytest.raises(TypeError, match="args= must be a tuple or list"):
        assert_holds_gil(spin.spin_gil, args=10)


def test_keywords_named_like_fastfibs_options_reach_the_call():
    seen = []

    def call(quick, budget, workers, runners, timeout):
        seen.append((quick, budget, workers, runners, timeout))

    options = {"quick": "q", "budget": "b", "workers": "w", "runners": "r", "timeout": "t"}
    result = fastfib.probe(call, kwargs=options, workers=(), runners=(), quick=True)
    assert result.verdict in ("held", "no GIL", "cannot tell")
    assert set(seen) == {("q", "b", "w", "r", "t")}
    if environment.gil_enabled():
        assert_holds_gil(call, kwargs=options)


@needs_gil
def test_held_is_never_said_without_evidence(spin):
    """One batch of one tiny call: the control beside it promises no tick, so no tick proves nothing."""
    judged = gil_verdict.judge(loop_of(Spec(fn=spin.spin_gil, args=(1,))), 1, budget_s=0.0)
    assert judged.verdict == "cannot tell" and judged.ticks == 0
    assert judged.expected_ticks < gil_verdict.HELD_EVIDENCE and "would have let about" in judged.why()


def test_assert_scales_passes_on_evidence_or_skips_with_the_reason(spin):
    try:
        figure = assert_scales(spin.spin_nogil, args=(SIZES["10ms"],), workers=2, budget=8)
    except unittest.SkipTest as exc:
        assert "cannot tell" in str(exc)
    else:
        assert figure.low >= 1.0 and figure.machine is not None


@needs_gil
def test_assert_scales_fails_a_gil_holding_call_or_skips_with_the_reason(spin):
    try:
        assert_scales(spin.spin_gil, args=(SIZES["10ms"],), workers=2, budget=8)
    except AssertionError as exc:
        assert "does not scale on 2 threads" in str(exc)
    except unittest.SkipTest as exc:
        assert "cannot tell" in str(exc)
    else:
        pytest.fail("a call holding the GIL passed assert_scales")


def test_opcodes_are_counted_in_the_call_and_its_callbacks():
    data = list(range(2000))
    ops, _ = bytecode.count_opcodes(lambda: sorted(data, key=lambda v: -v))
    assert ops >= 2000 * 2  # each callback runs a few opcodes (3 on 3.13t, 4 on 3.11)
    c_only, _ = bytecode.count_opcodes(lambda: sorted(data))
    assert c_only < 20
    capped, stopped = bytecode.count_opcodes(lambda: sum(i for i in range(100_000)), cap=1000)
    assert stopped and capped == 1000


def python_loop(count: int) -> int:
    total = 0
    for i in range(count):
        total += i
    return total


@needs_gil
@pytest.mark.parametrize(("fn", "args"), [
    (python_loop, (300_000,)),  # ~10 ms of bytecode: hands the GIL over at the switch interval
    (python_loop, (300,)),  # ~10 µs: shorter than any switch interval, told by its opcodes
    (functools.reduce, (lambda a, b: a + b, list(range(200_000)))),  # C calling back into Python for every item
], ids=["python loop 10 ms", "python loop 10 us", "reduce with a lambda"])
def test_probe_advice_for_python_code_speaks_of_bytecode_not_c(fn, args):
    result = fastfib.probe(fn, args=args, workers=(), runners=(), quick=True)
    assert result.verdict == "held" and result.is_bytecode, result
    assert "Python bytecode" in result.advice and "around the C work" not in result.advice
    assert result.stall_ms > 0 and result.switch_interval_s == sys.getswitchinterval()


@needs_gil
def test_probe_advice_for_a_c_call_holding_the_gil_says_release_it(spin):
    result = fastfib.probe(spin.spin_gil, args=(SIZES["10ms"],), workers=(), runners=(), quick=True)
    assert result.verdict == "held" and not result.is_bytecode and result.yields is False
    assert "release the GIL around the C work" in result.advice


@needs_gil
def test_fail_if_gives_ci_an_exit_status(spin_dir):
    argv = ["probe", "--quick", "--runners", "threads", "--workers", "1", "--no-progress", "-s", "import spin"]
    held = run_fastfib(spin_dir, *argv, "--fail-if", "held", "spin.spin_gil(100_000)")
    assert held.returncode == 3, held.stderr
    assert held.stderr.strip().splitlines()[-1] == "fastfib: --fail-if held: the call holds the GIL"
    released = run_fastfib(spin_dir, *argv, "--fail-if", "held", "spin.spin_nogil(100_000)")
    assert released.returncode == 0, released.stderr
    bad = run_fastfib(spin_dir, *argv, "--fail-if", "slow", "spin.spin_gil(10)")
    assert bad.returncode == 2 and "unknown --fail-if check 'slow'" in bad.stderr


def test_workers_past_twice_the_cores_are_refused(spin_dir):
    too_many = str(2 * environment.usable_cores() + 1)
    done = run_fastfib(spin_dir, "probe", "--workers", too_many, "pass")
    assert done.returncode == 2 and f"--workers {too_many}: at most" in done.stderr


def test_the_budget_gives_up_what_it_cannot_afford_and_says_so(spin_dir, tmp_path):
    out = tmp_path / "probe.json"
    done = run_fastfib(spin_dir, "probe", "--budget", "0.5", "--runners", "threads", "--workers", "2",
                       "--no-progress", "--json", str(out), "-s", "import spin", "spin.spin_nogil(50_000_000)")
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())["result"]
    assert result["budget_s"] == 0.5 and result["points"] == []
    assert result["gave_up"] and result["gave_up"][0].startswith("threads x2 (3 pairs take about")
    assert "could not afford threads x2" in done.stdout


USER_SUITE = '''
import time

import pytest


def wait():
    time.sleep(0.004)  # releases the GIL: 2 threads wait at once


@pytest.mark.parametrize("runner", ["threads"])
def test_wait_scales(scaling, runner):
    found = scaling(wait, workers=2, runner=runner, budget=2)
    assert found.figure.pairs >= 10 and found.verdict  # recorded; a skip would keep it out of the JSON


def test_wait_asserted(scaling):
    scaling(wait, workers=2, budget=2).assert_scales()  # passes, or skips when the machine lent too little


def test_the_old_form_is_refused(scaling):
    with pytest.raises(TypeError, match="args="):
        scaling(wait, 1)
'''


def test_the_scaling_plugin_measures_the_users_call_into_pytest_benchmarks_json(tmp_path):
    (tmp_path / "test_user_suite.py").write_text(USER_SUITE)
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "fastfib.scaling", "-p", "no:cacheprovider",
                           "test_user_suite.py", f"--benchmark-json={out}", "-rs"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "fastfib scaling (paired" in done.stdout and "test_wait_scales[threads]" in done.stdout
    (bench,) = [b for b in json.loads(out.read_text())["benchmarks"] if b["name"] == "test_wait_scales[threads]"]
    found = bench["extra_info"]["fastfib_scaling"]
    assert found["runner"] == "threads" and found["workers"] == 2 and found["call"] == "wait(...)"
    assert found["low"] <= found["speedup"] <= found["high"] and found["machine"]["threads"] == 2
    assert found["verdict"] in ("scales", "partly", "too noisy to tell", "cannot tell")
    assert bench["group"] == "fastfib scaling"


@pytest.mark.skipif(sys.platform != "linux", reason="the sampler reads Linux thread clocks")
def test_trace_draws_the_users_own_statement_and_the_report_names_it(spin_dir, tmp_path):
    out, page = tmp_path / "half.json", tmp_path / "half.html"
    done = run_fastfib(spin_dir, "trace", "-s", "import spin", "spin.spin_half(10**6)", "--cost-pairs", "0",
                       "--no-progress", "-o", str(out), "--plot", str(tmp_path / "half.png"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("spin.spin_half(10**6) threads x2: wall")
    data = json.loads(out.read_text())
    assert data["meta"]["stmt"] == "spin.spin_half(10**6)" and data["meta"]["setup"] == ["import spin"]
    (config,) = data["configurations"]
    assert config["extra"]["calls_per_task"] >= 1 and config["extra"]["tasks"] == 4
    assert sum(track["name"].startswith("fastfib-worker") for track in config["tracks"]) == 2
    assert (tmp_path / "half.png").stat().st_size > 0
    report = run_fastfib(spin_dir, "report", str(out), "-o", str(page))
    assert report.returncode == 0, report.stderr
    assert "fastfib trace: spin.spin_half(10**6) -- which thread was on a CPU when" in page.read_text()


@pytest.mark.parametrize(("argv", "message"), [
    (["-k", "python", "pass"], "give STMT or --kernels, not both"),
    (["-s", "import os"], "-s SETUP needs a STMT"),
    (["1 +"], "SETUP or STMT does not compile"),
])
def test_trace_usage_errors_for_a_statement_are_one_line(spin_dir, argv, message):
    done = run_fastfib(spin_dir, "trace", *argv)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1 and message in done.stderr


def test_trace_of_a_statement_that_raises_exits_1_with_its_traceback(spin_dir):
    done = run_fastfib(spin_dir, "trace", "1 / 0", "--no-progress")
    assert done.returncode == 1 and "Traceback" in done.stderr
    assert done.stderr.strip().splitlines()[-1] == "fastfib: error: the probed code raised ZeroDivisionError: " \
                                                   "division by zero"


def test_compare_with_gives_the_single_thread_tax_against_another_interpreter(spin_dir, tmp_path):
    out = tmp_path / "tax.json"
    done = run_fastfib(spin_dir, "probe", "--quick", "--runners", "threads", "--workers", "1", "--no-progress",
                       "--compare-with", sys.executable, "--json", str(out), "sum(range(1000))")
    assert done.returncode == 0, done.stderr
    assert "single-thread tax of this call" in done.stdout and f"against {sys.executable}:" in done.stdout
    taxes = json.loads(out.read_text())["meta"]["free_threading"]["tax"]
    (other,) = [tax for tax in taxes if tax["against"] == sys.executable]
    assert other["ratio"]["low"] <= other["ratio"]["speedup"] <= other["ratio"]["high"]
