"""What the machine lent: a control measured at the same moments as every paired figure.

A workload's own parallelism (CPU / wall) cannot tell "the code took turns"
from "the machine had one core to give": a process hogging a core, a CPU quota
below the visible CPUs (cgroup ``cpu.max``) or a host that withdraws a vCPU for
a while all look like a lock. So every paired measurement carries a
:class:`MachineWatch`, which reads three things, and takes the least:

* the **control**, sampled between the pairs: the spin of csrc/spin.c (xorshift
  and a small call tree of the burn's shape: no memory traffic, no lock, no fastfib
  kernel, the GIL released -- the call tree because this VM can run two busy CPUs
  of deep recursion at half speed each, which a loop in registers never felt)
  on one thread per CPU at once, each pinned to its CPU, for a common 2 ms
  window; each thread's progress over one core's is the share of its CPU it was
  lent, their sum the cores lent then. It measures progress, not CPU time, so
  it sees a vCPU the host takes away (the guest's accounting does not: this
  VM's ``/proc/stat`` shows no steal);
* **others**, during the parallel runs themselves: the busy time ``/proc/stat``
  gives the CPUs this process may use, less this process's and its workers'
  CPU time -- the cores other processes took while the workload wanted them all
  (a short window cannot see a hog fairly: the scheduler gives a newcomer a
  burst first);
* the **quota**, in cores (cgroup v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``).

Each sample costs about ``LEAD_S + 2 x window_s`` of wall time (7 ms; the lead
busy on every CPU). A verdict is then judged against the lent cores, not the
listed ones (:mod:`fastfib.measure.verdicts`).

>>> watch = MachineWatch(1)
>>> 0 <= watch.sample() <= 1  # one thread: the share of its window it ran (0 on a machine that ran it not at all)
True
>>> watch.reading().threads
1
"""

from __future__ import annotations

import functools
import math
import os
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from fastfib.measure.instruments import cpu_seconds
from fastfib.measure.paired import SCALES_AT, Spread

__all__ = ["Lent", "MachineWatch", "cpu_quota", "describe_over", "now", "quota_of", "short_of", "short_reading"]

OTHERS_AT = 0.3  # other processes took this many cores or more: they, not the host, took what was missing
WINDOW_S = 0.002  # the control's common window (and its lone run's)
T = TypeVar("T")


# --- the facts the kernel keeps ---------------------------------------------------------------

def _cgroup_v2_quota(root: Path, relative: str) -> float | None:
    """The smallest ``cpu.max`` quota from the process's cgroup up to the root, in cores."""
    found: float | None = None
    root = root.resolve()  # as the path below: a root reached through a link is still the root
    path = (root / relative.lstrip("/")).resolve()
    for folder in [path, *path.parents]:
        if folder != root and root not in folder.parents:
            break
        try:
            quota, period = (folder / "cpu.max").read_text().split()[:2]
            cores = None if quota == "max" or float(period) <= 0 else float(quota) / float(period)
        except (OSError, ValueError):  # no file here, or not "QUOTA PERIOD": no quota read
            continue
        if cores is not None:
            found = cores if found is None else min(found, cores)
    return found


def _cgroup_v1_quota(root: Path, relative: str) -> float | None:
    for mount in ("cpu,cpuacct", "cpu", "cpuacct,cpu"):
        base = root / mount
        for folder in (base / relative.lstrip("/"), base):  # in a container the path is often its root
            try:
                quota = int((folder / "cpu.cfs_quota_us").read_text())
                period = int((folder / "cpu.cfs_period_us").read_text())
            except (OSError, ValueError):
                continue
            return quota / period if quota > 0 and period > 0 else None
    return None


@functools.lru_cache(maxsize=1)
def cpu_quota(root: str = "/sys/fs/cgroup") -> float | None:
    """The CPU quota of this process's cgroup in cores (e.g. 1.0 for ``cpu.max`` "100000 100000"),
    or None where there is none or it cannot be read (not Linux, no cgroup file system).
    cgroup v2 (mounted at the root, or at ``unified/`` beside v1's controllers), then v1."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    return quota_of(lines, Path(root))


def quota_of(lines: Sequence[str], root: Path) -> float | None:
    """The CPU quota in cores of the cgroup that ``lines`` (as ``/proc/<pid>/cgroup`` gives them)
    name, under the cgroup file system mounted at ``root``; None where there is none.

    >>> quota_of(["0::/"], Path("/nonexistent")) is None
    True
    """
    entries = [line.split(":", 2) for line in lines if line.count(":") >= 2]
    for number, controllers, relative in entries:
        if number == "0" and controllers == "":  # cgroup v2
            for mount in (root, root / "unified"):
                for path in dict.fromkeys((relative, "/")):  # in a namespaced container the path is its root
                    found = _cgroup_v2_quota(mount, path)
                    if found is not None:
                        return found
    for _number, controllers, relative in entries:
        if "cpu" in controllers.split(","):
            return _cgroup_v1_quota(root, relative)
    return None


def _busy_s(cpus: Sequence[int]) -> float | None:
    """Seconds the given CPUs together spent busy since boot (``/proc/stat``), None where unknown."""
    wanted = {f"cpu{cpu}" for cpu in cpus}
    total, seen = 0, 0
    try:
        with open("/proc/stat") as stat:
            for line in stat:
                fields = line.split()
                if fields and fields[0] in wanted:
                    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
                    total += user + nice + system + irq + softirq + steal
                    seen += 1
    except (OSError, ValueError):
        return None
    return total / os.sysconf("SC_CLK_TCK") if seen == len(wanted) else None


def _our_cpus() -> list[int]:
    """The CPUs this process may run on (all of them where affinity is unknown)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


# --- one reading of a measurement ------------------------------------------------------------

def short_of(lent: float, ideal: int) -> bool:
    """Whether ``lent`` cores are too few to judge ``ideal`` workers: under the speedup a
    perfectly parallel workload needs to "scale" (1.5 of 2, half way from 1 to the ideal).

    >>> short_of(1.0, 2), short_of(1.6, 2), short_of(1.0, 1)
    (True, False, False)
    """
    return ideal >= 2 and lent < 1 + SCALES_AT * (ideal - 1)


@dataclass
class Lent:
    """What the machine lent during one measurement, by its control and its accounting."""

    threads: int  # the control's k: the cores a workload of that many workers could use
    control: Spread | None  # per sample, the CPUs' progress over one core's, summed (at most k): median, CI, IQR
    others: float | None  # cores of this process's CPUs that other processes used during the parallel runs
    quota: float | None  # the cgroup's CPU quota, in cores
    cpus: int = 0  # the CPUs this process may run on
    cost_s: float = 0.0  # what the control's samples took, in all

    @property
    def cores(self) -> float | None:
        """The cores lent: the least of what the control got, the quota, and the CPUs other
        processes left free during the parallel runs (None: nothing measured)."""
        found = [value for value in (
            None if self.control is None else self.control.median,
            self.quota,
            None if self.others is None or not self.cpus else self.cpus - self.others,
        ) if value is not None]
        return min(found) if found else None

    def short(self, ideal: int | None = None) -> bool:
        """Too few cores lent to judge ``ideal`` workers (:func:`short_of`; by default the
        control's k, the workers it was measured for)."""
        cores = self.cores
        return cores is not None and short_of(cores, self.threads if ideal is None else ideal)

    def why(self) -> str:
        """What took the cores, as far as the readings say."""
        if self.quota is not None and self.quota < self.threads - 0.05:
            return f"a CPU quota of {self.quota:.2g} cores (cgroup)"
        if self.others is not None and self.others >= OTHERS_AT:
            return f"other processes kept {self.others:.1f} cores busy meanwhile"
        if self.others is not None:
            return ("no process here took it: the host withdrew a core, or ran both at a lower speed while both "
                    "were busy (the guest sees no steal)")
        return "the reason is not visible here"

    def describe(self) -> str:
        """ "1.98 cores lent of 2 (control 1.98, 95% CI 1.95-2.00; others 0.0)" """
        cores = self.cores
        if cores is None:
            return "not measured"
        parts = []
        if self.control is not None:
            parts.append(f"control {self.control.describe()}")
        if self.others is not None:
            parts.append(f"other processes {self.others:.1f}")
        if self.quota is not None:
            parts.append(f"quota {self.quota:.2g}")
        return f"{cores:.2f} cores lent of {self.threads} ({'; '.join(parts)})"

    def to_dict(self) -> dict[str, Any]:
        return {"threads": self.threads, "cores": self.cores,
                "control": None if self.control is None else self.control.to_dict(),
                "others": self.others, "quota": self.quota, "cpus": self.cpus, "cost_s": self.cost_s}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Lent | None:
        if not data:
            return None
        return cls(data["threads"], Spread.from_dict(data.get("control")), data.get("others"),
                   data.get("quota"), data.get("cpus", 0), data.get("cost_s", 0.0))


def short_reading(data: dict[str, Any] | None) -> Lent | None:
    """A stored reading (:meth:`Lent.to_dict`, or None) where it was too short to judge its
    workers; None otherwise: the one test every report of a parallel figure applies."""
    lent = Lent.from_dict(data)
    return lent if lent is not None and lent.short() else None


def describe_over(readings: Sequence[tuple[str, int, Lent]], during: str) -> list[str]:
    """Lines on what the machine lent over several measurements -- ``readings`` are (label,
    ideal workers, Lent) -- and which were measured while it was short (none: one line).

    >>> short = Lent(2, None, 1.0, None, 2)
    >>> describe_over([("nogil threads x2", 2, short)], "the benchmarks")[1].split(": ", 1)[1]
    'nogil threads x2 (1.0) -- other processes kept 1.0 cores busy meanwhile'
    """
    measured = [(label, ideal, lent, lent.cores) for label, ideal, lent in readings if lent.cores is not None]
    values = sorted(cores for *_, cores in measured if cores is not None)
    if not values:
        return []
    lines = [f"the machine lent {statistics.median(values):.2f} cores (median; {values[0]:.2f}-{values[-1]:.2f}) "
             f"of {max(ideal for _, ideal, _, _ in measured)} during {during} (a control spun on every CPU beside "
             f"them, the CPU other processes took, the quota)"]
    shorted = [(label, lent, cores) for label, ideal, lent, cores in measured if lent.short(ideal)]
    if shorted:
        lines.append(f"{len(shorted)} measured while it lent too few to tell who scales (verdict 'cannot tell'): "
                     + ", ".join(f"{label} ({cores:.1f})" for label, _, cores in shorted)
                     + f" -- {shorted[0][1].why()}")
    quota = next((lent.quota for _, _, lent, _ in measured if lent.quota is not None), None)
    if quota is not None:
        lines.append(f"this process runs under a CPU quota of {quota:.2g} cores (cgroup)")
    return lines


# --- the control -----------------------------------------------------------------------------

CHUNK_S = 20e-6  # one chunk of the spin, between two looks at the clock
LEAD_S = 0.003  # from starting the control's threads to their common start: to start, pin and spin up
GRACE_S = 0.001  # after the deadline, before the counters are read


@functools.lru_cache(maxsize=1)
def _chunk() -> int:
    """Rounds of the spin that take about ``CHUNK_S``."""
    from fastfib._sampler import Control, now_ns

    control, rounds = Control(1), 1000
    start = now_ns()
    control.run(0, -1, start, start + 2_000_000, rounds)
    return max(100, int(rounds * CHUNK_S / (0.002 / max(1, control.chunks()[0]))))


class MachineWatch:
    """The control for one measurement: :meth:`sample` between the pairs, each parallel run
    through :meth:`around`, and :meth:`reading` at the end.

    ``threads``: k, the workers whose speedup is being judged (at most the usable cores);
    ``pids``: the worker processes whose CPU is the measurement's own, not other processes'.

    One sample runs the spin for ``window_s`` on one thread per CPU this process may use, at
    once, each pinned to its CPU, then on this thread alone. Each CPU's
    share is how far its thread got over how far the lone thread gets in the same time, and
    their sum (at most k) the cores lent then. Pinned, since woken threads start on one CPU:
    unpinned, 2 ms windows read 1.1 cores of 2 on an idle machine. All waiting happens in C
    with the GIL released, and the counters are read at the deadline without waiting for the
    threads, so a thread whose CPU is taken costs the sample nothing more than its window.
    """

    def __init__(self, threads: int, pids: Callable[[], Sequence[int]] = tuple, window_s: float = WINDOW_S) -> None:
        self.threads = max(1, threads)
        self.pids = pids
        self.window_ns = int(window_s * 1e9)
        self.chunk = _chunk()
        self.cpus = _our_cpus()
        self.samples: list[float] = []
        self.cost_s = 0.0
        self.others_s = 0.0  # CPU seconds others used on our CPUs during the parallel runs
        self.parallel_s = 0.0  # ... and those runs' wall seconds (0: not accounted)
        self.accounted = 0  # ... and how many runs

    def around(self, run: Callable[[], T]) -> Callable[[], T]:
        """``run``, with the CPU time other processes took on this process's CPUs meanwhile
        accounted (the parallel runs: when the workload wants every core)."""
        cpus, pids = self.cpus, self.pids

        def accounted() -> T:
            busy, own, start = _busy_s(cpus), cpu_seconds(pids()), time.perf_counter()
            got = run()
            wall, after = time.perf_counter() - start, _busy_s(cpus)
            if busy is not None and after is not None:
                self.others_s += (after - busy) - (cpu_seconds(pids()) - own)
                self.parallel_s += wall
                self.accounted += 1
            return got

        return accounted

    def _alone(self) -> int:
        from fastfib._sampler import Control, now_ns

        control, start = Control(1), now_ns()
        control.run(0, -1, start, start + self.window_ns, self.chunk)
        return control.chunks()[0]

    def _each_cpu(self) -> list[int]:
        """Chunks done by one pinned thread per CPU in one common window."""
        from fastfib._sampler import Control, now_ns

        pinned = self.cpus if hasattr(os, "sched_setaffinity") else [-1] * len(self.cpus)
        control = Control(len(pinned))
        start = now_ns() + int((LEAD_S + 50e-6 * len(pinned)) * 1e9)
        deadline = start + self.window_ns
        team = [threading.Thread(target=control.run, args=(index, cpu, start, deadline, self.chunk),
                                 name="fastfib-control", daemon=True) for index, cpu in enumerate(pinned)]
        for thread in team:
            thread.start()
        time.sleep(max(0.0, (deadline - now_ns()) / 1e9 + GRACE_S))
        return control.chunks()  # a thread not done yet is not waited for: its count so far is its answer

    def sample(self) -> float:
        """One control: one thread per CPU at once, then alone; returns the cores it found
        lent, at most k (and keeps it)."""
        begun = time.perf_counter()
        chunks = self._each_cpu()
        # One core's progress: the lone run's, or the best pinned thread's where the lone run was
        # itself slowed (this thread shared its CPU with whatever took one).
        alone = max(self._alone(), *chunks)
        lent = min(float(self.threads), sum(min(1.0, done / alone) for done in chunks)) if alone > 0 else 0.0
        self.samples.append(lent)
        self.cost_s += time.perf_counter() - begun
        return lent

    def reading(self) -> Lent:
        """What the machine lent over the samples and parallel runs so far."""
        others = None
        if self.parallel_s > 0:
            # /proc/stat counts in ticks of 1/SC_CLK_TCK s (10 ms): each read of each CPU is up to a tick
            # off, so over a few short runs the figure is noisy (10 runs of 10 ms read 0.2-0.6 cores on an
            # idle machine). Taken less twice that error, it is a lower bound: it never makes a machine short.
            tick = 1 / os.sysconf("SC_CLK_TCK")  # parallel_s > 0: /proc/stat was read, so this is Linux
            error = 2 * tick * math.sqrt(self.accounted * len(self.cpus)) / self.parallel_s
            others = max(0.0, self.others_s / self.parallel_s - error)
        return Lent(self.threads, Spread.of(self.samples) if self.samples else None, others, cpu_quota(),
                    len(self.cpus), self.cost_s)


def now(threads: int, samples: int = 10) -> Lent:
    """What the machine lends right now: ``samples`` controls of ``threads`` back to back, and
    the cores other processes kept busy meanwhile (``fastfib info``)."""
    watch = MachineWatch(threads)

    def controls() -> None:
        for _ in range(samples):
            watch.sample()

    watch.around(controls)()
    return watch.reading()
