"""A machine short of a core, made on purpose (tests/test_machine.py): a CPU hog at nice -20
pinned to one CPU, a cgroup with a CPU quota, and the short real paired measurement that
both must turn into "cannot tell".

Everything started here is ended in a ``finally``: the hog is killed by its pid, the cgroup
emptied and removed. The measurement runs in a child process (``python machine_hogs.py
CPUS``) pinned to two CPUs, so that one hog takes half of what it may use on a machine of any
size: the child calibrates its task, says "ready", waits for a line on stdin while the test
makes the machine short (a hog on one of its CPUs, or the child moved into a cgroup), then
measures and prints the row as JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from fastfib import environment, runners, tasks
from fastfib.measure import paired, verdicts
from fastfib.measure.instruments import cpu_seconds
from fastfib.measure.machine import MachineWatch

KERNEL = "cython-nogil"
TASK_S = 0.002  # one task; 4 per worker: a run of ~16 ms alone, so ten pairs and their controls take ~0.5 s
HOG = "while True: pass"


class Unavailable(Exception):
    """What this machine cannot do for the test (the test skips with the message)."""


def usable_cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


@contextlib.contextmanager
def hog(cpu: int, niceness: int = -20) -> Iterator[subprocess.Popen[bytes]]:
    """A busy loop in its own process at ``niceness``, pinned to ``cpu``: the CPU it takes is
    lost to everything else there (nice -20 weighs ~87 times a nice 0 thread). Unavailable
    where it cannot be reniced (not root) or pinned."""
    process = subprocess.Popen([sys.executable, "-c", HOG], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        try:
            os.sched_setaffinity(process.pid, {cpu})
            os.setpriority(os.PRIO_PROCESS, process.pid, niceness)
        except (OSError, AttributeError) as exc:
            raise Unavailable(f"cannot pin the hog to CPU {cpu} at nice {niceness}: {exc}") from exc
        yield process
    finally:
        process.kill()
        process.wait(timeout=10)


def _cpu_cgroup_mount() -> tuple[str, Path] | None:
    """("v1" or "v2", where) a cgroup with the cpu controller can be made, or None."""
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return None
    for line in mounts:
        fields = line.split()
        if len(fields) >= 4 and fields[2] == "cgroup" and "cpu" in fields[3].split(","):
            return "v1", Path(fields[1])
    for line in mounts:
        fields = line.split()
        if len(fields) >= 3 and fields[2] == "cgroup2":
            where = Path(fields[1])
            try:  # children of the root get cpu.max only where the root hands them the cpu controller
                if "cpu" in (where / "cgroup.subtree_control").read_text().split():
                    return "v2", where
            except OSError:
                continue
    return None


@contextlib.contextmanager
def cpu_limited_cgroup(cores: float) -> Iterator[Callable[[int], None]]:
    """A new cgroup whose CPU quota is ``cores`` cores; yields ``add(pid)``, which moves a process
    into it. On the way out its processes go back to the root cgroup and it is removed.
    Unavailable where no cgroup with the cpu controller can be made (not root, no cgroup fs)."""
    found = _cpu_cgroup_mount()
    if found is None:
        raise Unavailable("no cgroup file system with the cpu controller is mounted here")
    kind, mount = found
    group = mount / f"fastfib-test-{uuid.uuid4().hex[:12]}"
    period = 100_000
    try:
        group.mkdir()
    except OSError as exc:
        raise Unavailable(f"cannot make a cgroup under {mount}: {exc}") from exc
    try:
        try:
            if kind == "v1":
                (group / "cpu.cfs_period_us").write_text(str(period))
                (group / "cpu.cfs_quota_us").write_text(str(int(cores * period)))
            else:
                (group / "cpu.max").write_text(f"{int(cores * period)} {period}")
        except OSError as exc:
            raise Unavailable(f"cannot set a CPU quota on {group}: {exc}") from exc

        def add(pid: int) -> None:
            (group / "cgroup.procs").write_text(str(pid))

        yield add
    finally:
        with contextlib.suppress(OSError):
            for pid in (group / "cgroup.procs").read_text().split():
                with contextlib.suppress(OSError):  # gone meanwhile
                    (mount / "cgroup.procs").write_text(pid)
        group.rmdir()


def nogil_row(n: int, workers: int = 2, budget_s: float = 0.5, max_pairs: int = 30) -> dict[str, Any]:
    """A short real paired measurement of the nogil burn on ``workers`` threads against one
    sequential worker, with the machine's control beside it, as the benchmark suite's row:
    :meth:`PairedRatio.to_dict`, ``ideal``, and the verdict with what decided it."""
    args = [(KERNEL, n)] * (4 * workers)
    expected = [tasks.oracle(n)] * len(args)

    def timed(pool: Any) -> tuple[float, float]:
        before = cpu_seconds(pool.pids)
        batch = pool.run(tasks.burn_task, args)
        cpu_s = cpu_seconds(pool.pids) - before
        if batch.results != expected:
            raise AssertionError(f"wrong result on {pool.workers} worker(s): {batch.results!r}")
        return batch.wall_s, cpu_s

    with runners.make_runner("sequential").open(1) as baseline, runners.make_runner("threads").open(workers) as on:
        timed(baseline)  # warm both, untimed
        timed(on)
        watch = MachineWatch(min(workers, environment.usable_cores()))
        found = paired.measure(lambda: timed(baseline), lambda: timed(on), budget_s=budget_s,
                               max_pairs=max_pairs, watch=watch)
    row = {**found.to_dict(), "ideal": min(workers, environment.usable_cores())}
    row["verdict"], row["verdict_by"] = verdicts.verdict_and_basis(row)
    return row


def task_n() -> int:
    """The n of one task of about ``TASK_S`` here (calibrate before the machine is made short)."""
    return tasks.calibrate(KERNEL, TASK_S).n


def measured_in_a_child(cpus: Sequence[int], short: Callable[[int], contextlib.AbstractContextManager[Any]],
                        timeout_s: float = 45.0) -> dict[str, Any]:
    """The row of :func:`nogil_row` measured in a child pinned to ``cpus``, while ``short(pid)``
    (entered once the child has calibrated, left once it has measured) keeps the machine short."""
    here = str(Path(__file__).resolve().parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))}
    # `with`: Popen's exit closes the three pipes (and waits). Without it, a child killed after a
    # timeout left them open, and their ResourceWarnings fired in whatever test the garbage collector
    # happened to run in next (once the setup of test_report's report_of_samples, on 3.13t).
    with subprocess.Popen([sys.executable, __file__, ",".join(map(str, cpus))], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as process:
        assert process.stdin is not None and process.stdout is not None
        try:
            said = process.stdout.readline()
            if said != "ready\n":
                _, err = process.communicate(timeout=timeout_s)
                raise AssertionError(f"the child did not start: {said!r}\n{err[-3000:]}")
            with short(process.pid):
                time.sleep(0.05)  # the scheduler gives a newcomer (the hog) a burst first: let it settle
                out, err = process.communicate("go\n", timeout=timeout_s)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
    if process.returncode != 0:
        raise AssertionError(f"the child failed ({process.returncode}):\n{err[-3000:]}")
    return json.loads(out.splitlines()[-1])


def _child(cpus: str) -> None:
    os.sched_setaffinity(0, {int(cpu) for cpu in cpus.split(",")})  # before any thread: they all inherit it
    n = task_n()  # calibrated while the machine has both cores
    print("ready", flush=True)
    sys.stdin.readline()
    print(json.dumps(nogil_row(n)), flush=True)


if __name__ == "__main__":
    _child(sys.argv[1])
