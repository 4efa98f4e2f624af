"""The dask runners on real dask.distributed clusters: local ones that fastfib starts,
and a scheduler with workers that these tests start themselves on loopback (``dask
scheduler`` / ``dask worker`` processes). Behaviour only, never speed.

Where dask is not installed (``pip install 'fastfib[dask]'``) the cluster tests skip;
the tests of how the runners are listed as unavailable run everywhere.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import dask_tasks
from fastfib import report, runners
from fastfib.runners import dask_runners
from helpers import interrupt_when

pytestmark = pytest.mark.timeout(120)

WHY = dask_runners.unavailable_reason()
needs_dask = pytest.mark.skipif(WHY is not None, reason=f"{WHY}")
TESTS = Path(__file__).resolve().parent
FASTFIB = [sys.executable, "-m", "fastfib"]
BLOCK_DASK = "import sys; sys.modules['distributed'] = None; from fastfib.cli import main; sys.exit(main(sys.argv[1:]))"


def _fastfib(*argv: str, block_dask: bool = False, **kwargs) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", BLOCK_DASK, *argv] if block_dask else [*FASTFIB, *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=100, **kwargs)


# --- without dask -------------------------------------------------------------------------------

def test_layouts_choose_the_fewest_threads_and_park_the_surplus():
    nthreads = {"tcp://a": 1, "tcp://b": 2, "tcp://c": 4}
    assert dask_runners.choose_layout("threads", 1, nthreads) == {"tcp://a": (1, 0)}
    assert dask_runners.choose_layout("threads", 3, nthreads) == {"tcp://c": (3, 1)}
    assert dask_runners.choose_layout("processes", 2, nthreads) == {"tcp://a": (1, 0), "tcp://b": (1, 1)}
    with pytest.raises(dask_runners.LayoutError, match="no worker of the cluster has 5 threads"):
        dask_runners.choose_layout("threads", 5, nthreads)
    with pytest.raises(dask_runners.LayoutError, match="needs 4 workers; the cluster has 3"):
        dask_runners.choose_layout("processes", 4, nthreads)


def test_runners_are_known_names():
    assert {"dask-threads", "dask-processes"} <= set(runners.RUNNER_NAMES)


def test_without_dask_info_and_help_say_why_and_how_to_install():
    info = _fastfib("info", block_dask=True)
    assert info.returncode == 0, info.stderr
    for name in dask_runners.DASK_RUNNERS:
        assert f"runner {name}" in info.stdout
    assert "dask.distributed is not installed (pip install 'fastfib[dask]')" in info.stdout
    helped = _fastfib("scale", "--help", block_dask=True)
    assert "unavailable here: dask-threads: dask.distributed is not installed" in helped.stdout


def test_without_dask_scale_skips_the_runners_with_the_reason(tmp_path):
    done = _fastfib("scale", "-r", "sequential,dask-threads", "-k", "python", "-w", "2", "--target-ms", "1",
                    "--repeats", "1", "--no-progress", "--json", str(tmp_path / "x.json"), block_dask=True)
    assert done.returncode == 0, done.stderr
    assert "skipping runner 'dask-threads': dask.distributed is not installed" in done.stderr
    meta, rows = report.load(tmp_path / "x.json")
    assert [row.runner for row in rows] == ["sequential"]
    assert "dask-threads" in meta["skipped_runners"]
    refused = _fastfib("scale", "-r", "sequential,dask-threads", "--dask-scheduler", "tcp://127.0.0.1:8786",
                       block_dask=True)
    assert refused.returncode == 2 and "pip install 'fastfib[dask]'" in refused.stderr


def test_fastfib_never_imports_dask_unasked():
    probe = ("import sys; import fastfib; from fastfib.cli import main; main(['fib', '10']); main(['info']); "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


# --- local clusters -------------------------------------------------------------------------

@needs_dask
def test_scale_on_local_clusters_checks_every_result_and_announces_the_dashboard(tmp_path):
    path = tmp_path / "dask.json"
    done = _fastfib("scale", "-r", "sequential,dask-threads,dask-processes", "-k", "python,cython-nogil",
                    "-w", "2", "--target-ms", "1", "--repeats", "1", "--json", str(path))
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("dashboard http://") == 2, done.stderr
    meta, rows = report.load(path)
    assert meta["complete"] is True
    assert [(r.kernel, r.runner, r.workers) for r in rows] == [
        (kernel, runner, workers) for kernel in ("python", "cython-nogil")
        for runner, workers in (("sequential", 1), ("dask-threads", 2), ("dask-processes", 2))]
    for row in rows:
        assert row.error is None and row.speedup is not None, row
    threads, processes = rows[1], rows[2]
    assert threads.extra["dask"]["local_cluster"] and threads.extra["dask"]["threads_used"] == [2]
    assert processes.extra["dask"]["threads_used"] == [1, 1]
    assert threads.startup_s > 0 and processes.startup_s > 0
    assert "dask-threads" in done.stdout and "dask-processes" in done.stdout


@needs_dask
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the child's processes through /proc")
@pytest.mark.parametrize(("signum", "status", "said"), [(signal.SIGINT, 130, "fastfib: interrupted"),
                                                       (signal.SIGTERM, 143, "fastfib: terminated")])
def test_interrupt_tears_the_clusters_down_and_keeps_the_rows(tmp_path, signum, status, said):
    path = tmp_path / "partial.json"
    got = interrupt_when([*FASTFIB, "scale", "-k", "python,cython-gil", "-r", "dask-threads,dask-processes", "-w",
                          "2", "--target-ms", "10", "--tasks", "4", "--repeats", "4", "--json", str(path),
                          "--no-dashboard"], "cython-gil: repeat 1/", signum)
    assert got.status == status, got.rest
    assert said in got.rest
    assert "no dashboard" in got.before
    assert got.survivors(15) == [], "dask worker processes outlived fastfib scale"
    meta, rows = report.load(path)
    assert meta["interrupted"] is True and meta["complete"] is False
    assert [(r.kernel, r.runner) for r in rows] == [
        ("python", "sequential"), ("python", "dask-threads"), ("python", "dask-processes")]


# --- an existing cluster, started here on loopback ------------------------------------------------

def _dask_command(*argv: str) -> list[str]:
    script = Path(sys.executable).with_name("dask")
    return [str(script), *argv] if script.exists() else [sys.executable, "-m", "dask", *argv]


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """A scheduler, a worker of 2 threads and a worker of 1 thread, all on 127.0.0.1."""
    if WHY is not None:
        pytest.skip(WHY)
    scheduler_file = tmp_path_factory.mktemp("dask") / "scheduler.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])))
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    started = [subprocess.Popen(_dask_command("scheduler", "--host", "127.0.0.1", "--port", "0",
                                              "--no-dashboard", "--scheduler-file", str(scheduler_file)), **quiet)]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() or not scheduler_file.read_text().strip():
            assert time.monotonic() < deadline, "dask scheduler did not start"
            assert started[0].poll() is None, "dask scheduler exited"
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        for threads in ("2", "1"):
            started.append(subprocess.Popen(_dask_command(
                "worker", address, "--nthreads", threads, "--host", "127.0.0.1", "--no-dashboard", "--no-nanny"),
                **quiet))
        client = dask_runners.connect(address, timeout_s=30)
        try:
            client.wait_for_workers(2, timeout=60)
        finally:
            client.close()
        yield address
    finally:
        for process in reversed(started):  # workers first, then the scheduler
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_scale_on_an_existing_cluster_records_its_workers(scheduler, tmp_path):
    path = tmp_path / "remote.json"
    done = _fastfib("scale", "-r", "sequential,dask-threads,dask-processes", "-k", "python", "-w", "1,2",
                    "--target-ms", "1", "--repeats", "1", "--json", str(path), "--dask-scheduler", scheduler)
    assert done.returncode == 0, done.stderr
    assert "dashboard" not in done.stderr  # the user's cluster: nothing started here
    meta, rows = report.load(path)
    workers = meta["dask"]["workers"]
    assert sorted(info["nthreads"] for info in workers.values()) == [1, 2]
    for info in workers.values():
        assert info["usable_cores"] >= 1 and info["python_version"] and info["pid"] > 0
    assert meta["dask"]["scheduler"] == scheduler
    for row in rows:
        assert row.error is None, row
    layout = {(r.runner, r.workers): r.extra["dask"] for r in rows if r.runner != "sequential"}
    assert layout["dask-threads", 2]["threads_used"] == [2] and layout["dask-threads", 2]["threads_parked"] == 0
    # Two single-thread slots: the 1-thread worker and the 2-thread one, whose other thread is parked.
    assert layout["dask-processes", 2]["threads_used"] == [1, 1]
    assert layout["dask-processes", 2]["threads_parked"] == 1
    assert all(not extra["local_cluster"] for extra in layout.values())


def test_parked_threads_keep_exactly_w_tasks_at_once(scheduler):
    options = dask_runners.DaskOptions(scheduler=scheduler)
    with runners.make_runner("dask-threads", dask=options).open(1) as pool:  # the 1-thread worker
        assert pool.row_extra["dask"]["threads_parked"] == 0
    with runners.make_runner("dask-processes", dask=options, preload=("dask_tasks",)).open(2) as pool:
        for _ in range(2):  # a second batch: the first one's parked threads went free
            spans = pool.run(dask_tasks.span, [(0.05,)] * 6).results
            assert len({(pid, thread) for pid, thread, _, _ in spans}) <= 2
            events = sorted([(start, 1) for *_, start, _ in spans] + [(end, -1) for *_, end in spans])
            running = peak = 0
            for _, step in events:
                running += step
                peak = max(peak, running)
            assert peak <= 2  # never more than W, though a worker has a thread more


def test_a_layout_the_cluster_lacks_is_refused_before_any_work(scheduler, capsys):
    done = _fastfib("scale", "-r", "sequential,dask-threads", "-w", "4", "--dask-scheduler", scheduler)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no worker of the cluster has 4 threads" in lines[0], done.stderr


@needs_dask
@pytest.mark.parametrize("address", ["tcp://127.0.0.1:1", "not-an-address"])
def test_an_unreachable_scheduler_is_one_line_and_exit_2_within_seconds(address):
    done = _fastfib("scale", "-r", "sequential,dask-processes", "--dask-scheduler", address)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastfib: error: cannot reach the dask scheduler"), done.stderr


def test_without_a_dask_runner_the_scheduler_option_is_refused(capsys):
    from fastfib.cli import main

    assert main(["scale", "--dask-scheduler", "tcp://127.0.0.1:8786"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--dask-scheduler runs the dask runners" in err[0]
