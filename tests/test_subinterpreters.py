"""The ``interpreters`` runner: own-GIL subinterpreters, or a clear "unavailable".

Where an interpreter pool exists (CPython 3.14, or 3.13 with the
interpreters-pep-734 backport: ``make test-313``) these run the runner for
real; elsewhere they check that it is listed as unavailable with the reason,
and that ``fastfib scale`` skips it rather than failing. No timing is asserted.
"""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from fastfib import measure, pure, registry, runners, tasks, technologies
from fastfib.cli import main
from fastfib.runners import executors, subinterpreters

pytestmark = pytest.mark.timeout(120)

WHY = subinterpreters.unavailable_reason()
needs_pool = pytest.mark.skipif(WHY is not None, reason=f"no interpreter pool here: {WHY}")
FIBS = [pure.fib(i) for i in range(30)]


def _interp_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("fastfib-interp")]


@pytest.fixture
def clean():
    """No worker thread (each one hosts an interpreter) outlives its pool."""
    yield
    deadline = time.monotonic() + 10
    while _interp_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _interp_threads(), f"interpreter workers left running: {_interp_threads()}"


def test_runner_is_listed_and_either_runs_a_task_or_scale_says_why_not(capsys, clean):
    assert "interpreters" in runners.RUNNER_NAMES
    if WHY is None:
        with runners.make_runner("interpreters").open(1) as pool:
            assert pool.run(pure.fib, [(20,)]).results == [6765]
        return
    with pytest.raises(SystemExit):
        main(["scale", "--help"])
    assert f"unavailable here: interpreters: {WHY}" in capsys.readouterr().out


@pytest.mark.skipif(WHY is None, reason="an interpreter pool exists here")
def test_unavailable_runner_says_why():
    assert "3.13" in WHY  # names what would make it available
    with pytest.raises(executors.RunnerUnavailable, match="'interpreters' is unavailable here: .*3.13"):
        runners.make_runner("interpreters")
    assert issubclass(executors.RunnerUnavailable, ValueError)


@pytest.mark.skipif(WHY is None, reason="an interpreter pool exists here")
def test_scale_skips_an_unavailable_runner(capsys):
    argv = ["scale", "-k", "python", "-r", "sequential,interpreters", "-w", "1",
            "--target-ms", "0.5", "--repeats", "1", "--tasks", "2", "--no-progress"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "skipping runner 'interpreters'" in err
    assert "runner interpreters not run: " + WHY in out
    assert "GIL build" in out or "free-threaded build" in out


@needs_pool
def test_results_in_order_errors_propagate_and_pool_cleaned_up(clean):
    with runners.make_runner("interpreters").open(2) as pool:
        assert pool.pids == []  # one process: every worker is a thread hosting an interpreter
        assert pool.startup_s > 0
        assert pool.run(pure.fib, [(i,) for i in range(30)]).results == FIBS
        assert pool.run(pure.fib, [(i,) for i in reversed(range(30))], gate=False).results == FIBS[::-1]
        with pytest.raises(ValueError, match="n must be >= 0"):
            pool.run(pure.fib, [(5,), (-1,)])
        assert pool.run(pure.fib, [(10,)]).results == [55]  # the pool survives a failed task


@needs_pool
def test_the_extension_loads_in_an_own_gil_subinterpreter(clean):
    # setup.py builds it with subinterpreters_compatible=own_gil and module state.
    compiled = [name for name in ("cython-gil", "cython-nogil", "gmp") if name in registry.KERNELS]
    with runners.make_runner("interpreters", preload=measure.PRELOAD).open(2) as pool:
        assert measure.unavailable_on(pool, compiled) == {}
        kernels = [name for name in ("python", "cython-gil", "cython-nogil") if name in registry.KERNELS]
        batch = pool.run(tasks.burn_task, [(name, 20) for name in kernels])
    assert batch.results == [6765] * len(kernels)


OWN_GIL = [t for t in technologies.BINDINGS if t.own_gil and f"{t.family}-gil" in registry.KERNELS]
SHARED_ONLY = [t for t in technologies.BINDINGS if not t.own_gil and f"{t.family}-gil" in registry.KERNELS]


@needs_pool
@pytest.mark.skipif(not OWN_GIL, reason="no binding module that declares own-GIL subinterpreters is built")
def test_the_bindings_that_declare_an_own_gil_run_in_subinterpreters(clean):
    # The C API module (Py_MOD_PER_INTERPRETER_GIL_SUPPORTED) and pybind11's
    # (py::multiple_interpreters::per_interpreter_gil()) load and compute there.
    kernels = [f"{t.family}-{suffix}" for t in OWN_GIL for suffix in ("gil", "nogil")]
    with runners.make_runner("interpreters", preload=measure.PRELOAD).open(2) as pool:
        assert measure.unavailable_on(pool, kernels) == {}
        batch = pool.run(tasks.burn_task, [(name, 20) for name in kernels])
    assert batch.results == [6765] * len(kernels)


@needs_pool
@pytest.mark.skipif(not SHARED_ONLY, reason="nanobind and pyo3 are not built here")
def test_the_bindings_that_cannot_declare_it_are_unavailable_there_with_the_reason(clean):
    # nanobind and PyO3 cannot load in a subinterpreter: there, not a crash but a reason.
    kernels = [f"{t.family}-nogil" for t in SHARED_ONLY]
    with runners.make_runner("interpreters", preload=measure.PRELOAD).open(1) as pool:
        missing = measure.unavailable_on(pool, kernels)
    assert set(missing) == set(kernels)
    for tech in SHARED_ONLY:
        assert f"{tech.module} cannot be loaded here" in missing[f"{tech.family}-nogil"]


@needs_pool
@pytest.mark.skipif("numpy" not in registry.KERNELS, reason="numpy is not installed")
def test_a_kernel_that_cannot_load_is_a_row_error_not_a_crash(clean):
    calibrations = {name: tasks.Calibration(name, 12, 0.0001) for name in ("numpy", "python")}
    rows = list(measure.run_suite(["numpy", "python"], ["sequential", "interpreters"], [2], target_s=0.0001,
                                  tasks=2, repeats=1, calibrations=calibrations))
    by = {(row.kernel, row.runner): row for row in rows}
    assert "does not support loading in subinterpreters" in by["numpy", "interpreters"].error
    assert by["numpy", "interpreters"].extra["unavailable"]  # n/a in the table; the run does not fail
    assert by["numpy", "sequential"].error is None
    assert by["python", "interpreters"].error is None and by["python", "interpreters"].speedup > 0
    assert by["python", "interpreters"].extra["backend"] == runners.make_runner("interpreters").backend


@needs_pool
def test_queue_gate_counts_arrivals_and_releases_them_all(clean):
    runner = subinterpreters.InterpreterRunner()
    with runner.open(3) as pool:
        gate, (gate_fn, gate_args) = runner._make_gate(3, pool.executor)
        held = [pool.executor.submit(gate_fn, *gate_args) for _ in range(3)]
        deadline = time.monotonic() + 60
        while gate.n_waiting < 3 and time.monotonic() < deadline:
            time.sleep(0.001)
        assert gate.n_waiting == 3 and not any(f.done() for f in held)
        assert gate.wait() == 3 and gate.n_waiting == 0
        assert [f.result(60) for f in held] == [os.getpid()] * 3  # same process, other interpreters


@needs_pool
def test_scale_puts_interpreters_in_the_same_table(capsys, tmp_path, clean):
    out_json = tmp_path / "scale.json"
    argv = ["scale", "-k", "python,cython-nogil", "-r", "sequential,threads,interpreters", "-w", "1,2",
            "--target-ms", "1", "--repeats", "1", "--no-progress", "--json", str(out_json)]
    assert main(argv) == 0
    out, _ = capsys.readouterr()
    assert "  interpreters: python " in out  # the closing answer has an interpreters line
    assert "start-up per worker" in out and "interpreters " in out.split("start-up per worker")[1]
    document = json.loads(out_json.read_text())
    rows = [row for row in document["rows"] if row["runner"] == "interpreters"]
    assert len(rows) == 4 and all(row["error"] is None and row["speedup"] > 0 for row in rows)
    assert {"free_threaded_build", "gil_enabled", "gil_enabled_at_end"} <= set(document["meta"])  # the labels
