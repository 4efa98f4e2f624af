"""Runner semantics: results in order, exceptions propagate, nothing left running; and the
runner modules import one another without a circle.

No timing is asserted: these pass on a loaded machine. The task functions are
fastfib's own (importable, so process workers can unpickle them).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import subprocess
import sys
import threading
import time
import types

import pytest

from fastfib import pure, runners
from fastfib.runners import executors
from fastfib.runners.processes import ProcessRunner

pytestmark = pytest.mark.timeout(60)

WORKERS = 2
FIBS = [pure.fib(i) for i in range(40)]


def _make(kind: str) -> executors.Runner:
    if kind.startswith("processes-"):
        return ProcessRunner(kind.split("-", 1)[1], preload=["fastfib.pure"])
    return runners.make_runner(kind)


KINDS = ["sequential", "threads", "asyncio"] + [f"processes-{m}" for m in executors.START_METHODS]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as status:
            return "State:\tZ" not in status.read()
    except FileNotFoundError:
        return False
    except OSError:  # not Linux: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def _worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(("fastfib-worker", "fastfib-asyncio"))]


@pytest.fixture
def clean():
    """Every test must leave no worker thread and no child process behind."""
    yield
    deadline = time.monotonic() + 10
    while (_worker_threads() or multiprocessing.active_children()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _worker_threads(), f"worker threads left running: {_worker_threads()}"
    assert not multiprocessing.active_children(), "child processes left running"


@pytest.mark.parametrize("kind", KINDS)
def test_results_in_order_and_pool_cleaned_up(kind, clean):
    runner = _make(kind)
    workers = 1 if kind == "sequential" else WORKERS
    with runner.open(workers) as pool:
        assert pool.startup_s >= 0
        first = pool.run(pure.fib, [(i,) for i in range(40)])
        again = pool.run(pure.fib, [(i,) for i in reversed(range(40))], gate=False)
        pids = list(pool.pids)
    assert first.results == FIBS
    assert again.results == FIBS[::-1]
    assert first.wall_s >= 0 and first.finished >= first.started
    if kind.startswith("processes"):
        # The warm-up gate reached every worker: each one is a distinct, live process.
        assert len(pids) == workers and os.getpid() not in pids
    else:
        assert pids == []
    for pid in pids:
        assert not _alive(pid), f"worker {pid} outlived its pool"


@pytest.mark.parametrize("kind", KINDS)
def test_a_worker_exception_propagates(kind, clean):
    runner = _make(kind)
    with runner.open(1 if kind == "sequential" else WORKERS) as pool:
        with pytest.raises(ValueError, match="n must be >= 0"):
            pool.run(pure.fib, [(5,), (-1,), (7,)])
        # The pool survives a task's failure.
        assert pool.run(pure.fib, [(10,)]).results == [55]


def test_threads_run_together_after_the_gate(clean):
    # Each task waits for all the others: it completes only if all W workers run at once.
    with runners.make_runner("threads").open(4) as pool:
        meeting = threading.Barrier(4)
        batch = pool.run(meeting.wait, [(10,)] * 4)
    assert sorted(batch.results) == [0, 1, 2, 3]


@pytest.mark.parametrize("method", executors.START_METHODS)
def test_terminate_kills_busy_process_workers(method, clean):
    # On 3.14 close(terminate=True) goes through ProcessPoolExecutor.terminate_workers(), which does
    # not wait: the futures must still be settled when close returns, as on 3.11-3.13.
    pool = ProcessRunner(method).open(WORKERS)
    pids = list(pool.pids)
    busy = [pool.executor.submit(time.sleep, 60) for _ in range(WORKERS)]
    time.sleep(0.2)
    pool.close(terminate=True)  # what Ctrl-C does: no waiting for the 60 s tasks
    assert all(f.done() for f in busy)
    for future in busy:  # failed as its worker died (or, on a machine too busy to have started it, cancelled)
        assert future.cancelled() or isinstance(future.exception(0), cf.process.BrokenProcessPool)
    for pid in pids:
        assert not _alive(pid)


def test_a_closed_pool_refuses_work(clean):
    pool = runners.make_runner("threads").open(2)
    pool.close()
    pool.close()  # twice is harmless
    with pytest.raises(RuntimeError, match="closed"):
        pool.run(pure.fib, [(1,)])


def test_any_executor_plugs_in(clean):
    # A plain executor without a start gate: warmed by one trivial task per worker.
    runner = executors.Runner("plain-threads", lambda w: cf.ThreadPoolExecutor(w, thread_name_prefix="fastfib-worker"))
    with runner.open(3) as pool:
        assert pool.run(pure.fib, [(i,) for i in range(10)]).results == FIBS[:10]


@pytest.mark.parametrize("bad, message", [
    (lambda: runners.make_runner("fibers"), "unknown runner 'fibers'; valid runners: sequential"),
    (lambda: ProcessRunner("vfork"), "unknown start method 'vfork'"),
    (lambda: runners.make_runner("threads").open(0), "workers must be >= 1"),
    (lambda: runners.make_runner("sequential").open(2), "at most 1 worker"),
])
def test_bad_arguments_raise_value_error(bad, message, clean):
    with pytest.raises(ValueError, match=message):
        bad()


def _thread_and_order(index: int) -> tuple[int, int]:
    return threading.get_ident(), index


def test_the_sequential_baseline_runs_every_task_in_order_on_one_fresh_thread_of_its_own():
    # Not the caller's thread, whose deep stack can make Python slower there (see SequentialRunner).
    with runners.make_runner("sequential").open(1) as pool:
        batch = pool.run(_thread_and_order, [(i,) for i in range(5)])
    threads = {ident for ident, _ in batch.results}
    assert [index for _, index in batch.results] == list(range(5))
    assert len(threads) == 1 and threading.get_ident() not in threads


RUNNER_MODULES = ("fastfib.runners.executors", "fastfib.runners.subinterpreters", "fastfib.runners.dask_runners")


@pytest.mark.parametrize("module", RUNNER_MODULES)
def test_each_runner_module_imports_first_in_a_fresh_interpreter(module):
    # An import circle shows as a partially initialized module when one side is imported first.
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_the_machinery_knows_no_runner_and_no_runner_knows_the_registry():
    # The package (fastfib.runners: the names) binds every runner module; they bind the
    # machinery (executors), which binds none of them.
    import fastfib.runners as registry
    from fastfib.runners import dask_runners, executors, subinterpreters

    def bound(module: types.ModuleType) -> set[str]:
        return {value.__name__ for value in vars(module).values() if isinstance(value, types.ModuleType)}

    assert {"fastfib.runners.executors", "fastfib.runners.subinterpreters", "fastfib.runners.dask_runners"} \
        <= bound(registry)
    assert not bound(executors) & {"fastfib.runners", *RUNNER_MODULES}
    for module in (subinterpreters, dask_runners):
        assert "fastfib.runners.executors" in bound(module) and "fastfib.runners" not in bound(module)


def test_no_runner_module_imports_the_kernels():
    # Runners run tasks; what a task computes (the registry, the kernels, fastfib.tasks) is their
    # callers' to know -- even inside a function body, as the interpreters runner once did.
    import ast
    import pathlib

    kernel_layer = {"fastfib.registry", "fastfib.tasks", "fastfib.pure", "fastfib._kernels", "fastfib.measure"}
    for path in pathlib.Path(runners.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
            else:
                continue
            assert not names & kernel_layer, f"{path.name}:{node.lineno} imports {sorted(names & kernel_layer)}"
