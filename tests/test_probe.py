"""fastfib probe, fastfib.probe() and fastfib.testing: verdicts for calls whose behaviour
CPython documents, the batch kernels, and every way the probed code can fail.

Verdicts come from what the GIL makes certain (a heartbeat that can only run while the
call has released it); no test asserts a time or a speedup.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import zlib

import pytest

import fastfib
from fastfib import environment, registry
from fastfib.measure import probe_spec
from fastfib.testing import assert_holds_gil, assert_releases_gil
from helpers import interrupt_when

needs_gil = pytest.mark.skipif(not environment.gil_enabled(),
                               reason="needs the GIL: on a free-threaded build with it disabled, nothing holds it")
needs_extension = pytest.mark.skipif("cython-nogil" not in registry.KERNELS, reason="extension not built")
FASTFIB = [sys.executable, "-m", "fastfib"]
BIG = bytes(8_000_000)
NOISE = os.urandom(1 << 22)


def python_loop(count: int = 200_000) -> int:
    total = 0
    for i in range(count):
        total += i
    return total


def sleep_then_loop() -> None:
    time.sleep(0.004)  # releases the GIL for 4 ms ...
    python_loop(300_000)  # ... then holds it for ~10 ms


def verdict_of(fn, *args, **kwargs) -> str:
    return fastfib.probe(fn, args=args, kwargs=kwargs, runners=(), workers=(), quick=True).verdict


@needs_gil
@pytest.mark.parametrize(("call", "args", "expected"), [
    (time.sleep, (0.002,), "released"),
    (hashlib.sha256, (BIG,), "released"),
    (zlib.compress, (NOISE,), "released"),
    (sum, (range(300_000),), "held"),
    (python_loop, (), "held"),
    (sleep_then_loop, (), "partly released"),
], ids=["time.sleep", "hashlib", "zlib", "sum(range)", "python loop", "sleep then loop"])
def test_verdicts_for_calls_whose_behaviour_is_known(call, args, expected):
    assert verdict_of(call, *args) == expected


@needs_gil
@pytest.mark.parametrize("name", [k.name for k in fastfib.kernels()
                                  if k.burn is not None and k.with_gil != "partly released"])
def test_the_verdict_on_each_burn_kernel_is_what_the_registry_says(name):
    n = 25 if registry.get(name).max_n else 22
    result = fastfib.probe(fastfib.burn, args=(n,), kwargs={"kernel": name}, runners=(), workers=(), quick=True)
    assert result.verdict == registry.get(name).with_gil, result


@pytest.mark.skipif(environment.gil_enabled(), reason="needs a free-threaded build with the GIL disabled")
def test_without_a_gil_the_verdict_says_so():
    assert verdict_of(python_loop) == "no GIL"


def test_a_probe_reports_cost_scaling_and_advice_and_says_why_a_runner_could_not_run():
    result = fastfib.probe(lambda: time.sleep(0.002), workers=(2,), runners=("threads", "processes"), quick=True)
    threads, processes = result.points
    assert threads.runner == "threads" and threads.error is None
    assert threads.speedup.low <= threads.speedup.speedup <= threads.speedup.high
    assert threads.speedup.pairs >= 10 and threads.startup_s is not None and threads.handover_s is not None
    assert processes.speedup is None and "cannot be sent to processes" in processes.error  # a lambda
    assert result.per_call_q1_s <= result.per_call_s <= result.per_call_q3_s
    assert result.advice and json.dumps(result.to_json())
    assert set(result.speedup) == {"threads", "processes"} and result.speedup["processes"] == {2: None}


# --- fastfib.testing ---------------------------------------------------------------------------

@needs_extension
def test_the_assertions_pass_for_what_is_true():
    assert_releases_gil(time.sleep, args=(0.001,))
    assert_releases_gil(hashlib.sha256, args=(BIG,))
    # ~50 µs a call: batched, a woken heartbeat takes the GIL inside the batch (alone, each call
    # ended before the heartbeat was scheduled: 687 calls in 10 s without one tick)
    assert_releases_gil(fastfib.burn, args=(22,), kwargs={"kernel": "cython-nogil"})
    if environment.gil_enabled():
        assert_holds_gil(sum, args=(range(100_000),))
        assert_holds_gil(fastfib.burn, args=(22,), kwargs={"kernel": "cython-gil"})


@needs_gil
def test_the_assertions_fail_with_what_they_saw():
    with pytest.raises(AssertionError, match=r"sleep released the GIL: [1-9]\d* heartbeat tick\(s\) inside"):
        assert_holds_gil(time.sleep, args=(0.002,))
    with pytest.raises(AssertionError, match=r"python_loop held the GIL: 0 heartbeat tick\(s\) inside \d+ call"):
        assert_releases_gil(python_loop, args=(50_000,), budget=2)


@pytest.mark.skipif(environment.gil_enabled(), reason="needs a free-threaded build with the GIL disabled")
def test_without_a_gil_holding_cannot_be_asserted():
    import unittest

    with pytest.raises(unittest.SkipTest):
        assert_holds_gil(python_loop)
    assert_releases_gil(python_loop)


# --- the batch kernels -------------------------------------------------------------------------

@needs_extension
@pytest.mark.parametrize("name", ["cython-gil", "cython-nogil", "python"])
def test_burn_many_and_fib_many_are_exact_and_check_every_item_first(name):
    kernel = name
    ns = [0, 1, 2, 10, 20, 25]
    assert fastfib.burn_many(ns, kernel=kernel) == [fastfib.fib(n) for n in ns]
    assert fastfib.fib_many([93, 0, 50], kernel=kernel) == [fastfib.fib(93), 0, fastfib.fib(50)]
    assert fastfib.burn_many([], kernel=kernel) == []
    for bad, error in (([5, True], TypeError), ([5, -1], ValueError), ([5, 2.0], TypeError)):
        with pytest.raises(error):
            fastfib.burn_many(bad, kernel=kernel)
    if kernel != "python":
        with pytest.raises(OverflowError):
            fastfib.fib_many([5, 94], kernel=kernel)


@needs_extension
def test_a_nogil_batch_releases_the_gil_once_for_all_and_the_gil_batch_holds_it():
    assert_releases_gil(fastfib.burn_many, args=([22] * 20,), kwargs={"kernel": "cython-nogil"})
    if environment.gil_enabled():
        assert_holds_gil(fastfib.burn_many, args=([22] * 20,), kwargs={"kernel": "cython-gil"})


# --- the command -------------------------------------------------------------------------------

def _probe(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*FASTFIB, "probe", "--no-progress", *argv], capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_fastfib_probe_measures_and_writes_json(tmp_path):
    out = tmp_path / "probe.json"
    done = _probe("-s", "import time", "time.sleep(0.002)", "--runners", "threads", "--workers", "2", "--quick",
                  "--json", str(out), "--plot", str(tmp_path / "probe.png"))
    assert done.returncode == 0, done.stderr
    assert "verdict:" in done.stdout and "advice:" in done.stdout and "95% CI" in done.stdout
    data = json.loads(out.read_text())
    assert data["schema"] == "fastfib.probe" and data["schema_version"] == 3
    assert data["result"]["verdict"] in ("released", "no GIL")
    assert data["meta"]["stmt"] == "time.sleep(0.002)" and data["meta"]["setup"] == ["import time"]
    assert (tmp_path / "probe.png").stat().st_size > 0


@pytest.mark.parametrize(("argv", "message"), [
    (["-s", "1 / 0", "pass"], "the probed code raised ZeroDivisionError: division by zero"),
    (["no_such_name()"], "the probed code raised NameError: name 'no_such_name' is not defined"),
])
def test_probed_code_that_raises_shows_its_traceback_and_exits_1(argv, message):
    done = _probe(*argv, "--quick")
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr
    assert done.stderr.rstrip().splitlines()[-1] == f"fastfib: error: {message}"


def test_a_statement_that_never_returns_is_given_up_after_the_timeout():
    done = _probe("while True: pass", "--timeout", "0.5", "--quick")
    assert done.returncode == 1
    assert done.stderr.strip() == "fastfib: error: the call did not return within 0.5 s (--timeout)"


@pytest.mark.parametrize(("argv", "message"), [
    (["1 +"], "SETUP or STMT does not compile"),
    (["pass", "--runners", "gpus"], "unknown runner 'gpus'"),
    (["pass", "--workers", "0"], "--workers must all be > 0"),
    (["pass", "--timeout", "-1"], "--timeout must be > 0"),
])
def test_usage_errors_are_one_line_and_exit_2(argv, message):
    done = _probe(*argv)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr


def test_the_source_of_a_stmt_compiles_into_a_loop_with_its_own_setup_per_worker():
    spec = probe_spec.Spec(setup=("calls = []",), stmt="calls.append(1)")
    assert probe_spec.run_spec(spec, 3) == 3
    assert probe_spec.run_spec(spec, 2) == 2  # the same worker: SETUP ran once, its list kept
    namespace = probe_spec.loop_of(spec).__globals__
    assert namespace["calls"] == [1] * 5


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the child's processes through /proc")
def test_ctrl_c_stops_a_probe_cleanly_and_leaves_no_process(tmp_path):
    out = tmp_path / "probe.json"
    got = interrupt_when([*FASTFIB, "probe", "-s", "import time", "time.sleep(0.005)", "--runners", "processes",
                          "--workers", "1,2", "--json", str(out)], "processes x1", signal.SIGINT, wait_s=30)
    assert got.status == 130, got.rest
    assert "fastfib: interrupted" in got.rest
    assert got.survivors(10) == [], "processes outlived fastfib probe"
    assert not out.exists()  # nothing half-written


# --- inner parallelism: a call that runs threads of its own -------------------------------------

def test_the_probe_reads_the_native_thread_pools_after_setup():
    # threadpoolctl reads what is loaded, no timing: numpy's BLAS once numpy is imported, and
    # libgomp once the cython-prange kernel (which links it) has been called.
    import numpy as np

    if "cython-prange" in registry.KERNELS:
        fastfib.burn_many([5, 6], kernel="cython-prange")
    result = fastfib.probe(np.dot, args=(np.ones((50, 50)), np.ones((50, 50))), runners=(), workers=(), quick=True)
    apis = {pool["user_api"] for pool in result.thread_pools}
    assert "blas" in apis, result.thread_pools
    if "cython-prange" in registry.KERNELS:
        assert "openmp" in apis, result.thread_pools
    assert all(pool["num_threads"] >= 1 and pool["prefix"] for pool in result.thread_pools)
    shown = result.to_json()
    assert result.parallelism > 0 and shown["thread_pools"] == result.thread_pools and json.dumps(shown)


def _result_of_a_call_on_two_cores(**changes):
    from fastfib.measure import paired
    from fastfib.measure.probe_result import ProbeResult, ScalePoint

    blas = {"user_api": "blas", "internal_api": "openblas", "prefix": "libscipy_openblas", "num_threads": 2,
            "version": "0.3"}
    openmp = {"user_api": "openmp", "internal_api": "openmp", "prefix": "libgomp", "num_threads": 2, "version": None}
    threads = ScalePoint("threads", 2, paired.PairedRatio(0.99, 0.97, 1.01, 0.96, 0.98, 1.0, 20),
                         startup_s=1e-3, handover_s=1e-4)
    fields = dict(label="a @ a", verdict="released", released_fraction=0.97, longest_stall_ms=1.0, per_call_s=3e-3,
                  per_call_q1_s=3e-3, per_call_q3_s=3e-3, calls_per_batch=4, task_calls=4, points=[threads],
                  parallelism=2.02, thread_pools=[blas, openmp], inner_pool=blas, limited_slowdown=1.9)
    fields.update(changes)
    return ProbeResult(**fields)


def test_when_one_call_uses_the_cores_the_verdict_and_advice_name_the_pool_and_its_limit():
    from fastfib.cli.probe_cli import format_result
    from fastfib.measure import probe_advice

    result = _result_of_a_call_on_two_cores()
    result.advice = probe_advice.advice(result, cores=2)
    assert "keeps 2.02 of the 2 cores busy" in result.advice
    assert "libscipy_openblas (BLAS, openblas, 2 threads)" in result.advice
    assert "threadpoolctl.threadpool_limits(limits=1, user_api='blas')" in result.advice
    assert "something else serialises" not in result.advice
    verdict = format_result(result).splitlines()[1]
    assert verdict.startswith("verdict: released") and "one call alone ran on 2.02 cores" in verdict
    assert "libscipy_openblas" in verdict


def test_a_call_on_one_core_gets_the_usual_advice():
    from fastfib.cli.probe_cli import format_result
    from fastfib.measure import probe_advice

    result = _result_of_a_call_on_two_cores(parallelism=1.0, inner_pool=None, limited_slowdown=None)
    result.points[0].parallelism = 1.9  # the two threads had two cores, yet no speedup
    result.advice = probe_advice.advice(result, cores=2)
    assert "something else serialises" in result.advice
    assert "cores (CPU / wall)" not in format_result(result)


def test_thread_rows_carry_their_parallelism_in_the_json():
    result = fastfib.probe(time.sleep, args=(0.002,), workers=(2,), runners=("threads",), quick=True)
    (threads,) = result.to_json()["points"]
    assert threads["parallelism"] is not None and threads["parallelism"] >= 0  # CPU ÷ wall of sleeping threads


def test_threads_that_kept_one_core_busy_mean_a_busy_machine():
    from fastfib.measure import probe_advice

    result = _result_of_a_call_on_two_cores(parallelism=1.0, inner_pool=None, limited_slowdown=None)
    result.points[0].parallelism = 1.01
    assert "kept only 1.01 cores busy" in probe_advice.advice(result, cores=2)
    waiting = _result_of_a_call_on_two_cores(parallelism=0.01, inner_pool=None, limited_slowdown=None)
    waiting.points[0].parallelism = 0.02  # a call that waits (a lock held across a sleep): not the machine
    assert "something else serialises" in probe_advice.advice(waiting, cores=2)
