"""What several test modules share: the kernel lists, an oracle, a heartbeat thread, the build tools."""

from __future__ import annotations

import glob
import importlib.util
import itertools
import os
import shlex
import shutil
import socket
import subprocess
import sysconfig
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import fastfib
from fastfib import gil
from fastfib.measure import timeline

KERNEL_NAMES = [k.name for k in fastfib.kernels()]
BURN_KERNEL_NAMES = [k.name for k in fastfib.kernels() if k.burn is not None]


def missing_build_tools() -> str | None:
    """Why ``setup.py build_ext`` cannot run in this venv, or None where it can.

    The tests that rebuild a copy of the checkout need what pyproject's
    ``[build-system]`` names plus a C compiler. pip installs those build
    requirements only into an isolated build environment, never into the venv,
    and the ``test`` extra does not bring them: it is also what tests an
    installed wheel, where no compiler is wanted. ``make test``'s venvs have them.
    """
    missing = [name for name in ("setuptools", "Cython") if importlib.util.find_spec(name) is None]
    if missing:
        return (f"needs {' and '.join(missing)} in this venv to build the extension "
                "(pip install 'setuptools>=77' 'Cython>=3.1'; make test's venvs have them)")
    compiler = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")[0]
    if shutil.which(compiler) is None:
        return f"needs a C compiler to build the extension ({compiler} not found; set CC=...)"
    return None

# The two sides of the GIL: a test whose assertion is what the GIL makes certain
# (a heartbeat that cannot tick, a loop that loses no update) skips where the GIL
# is disabled (free-threaded build), and one that proves its absence skips where
# it is enabled. Read once, at collection: the session guard in conftest.py fails
# the run if the GIL came back on during it.
needs_gil = pytest.mark.skipif(
    not gil.gil_enabled(),
    reason="asserts what the GIL makes certain, and the GIL is disabled here (free-threaded build)")
needs_no_gil = pytest.mark.skipif(
    gil.gil_enabled(),
    reason="asserts what the absence of the GIL makes certain: needs a free-threaded build with the GIL "
           "disabled (python3.13t / 3.14t; make test runs one when it finds it)")

# For the tests that check the fork start method itself. Since 3.12 CPython warns when it forks a
# process that has other OS threads, and a test process has some: numpy's OpenBLAS starts its worker
# threads when it loads, and a finished test's pool threads may not have exited yet. The children
# here only run burn tasks (no lock another thread could hold is taken), so the warning is expected.
forks_beside_threads = pytest.mark.filterwarnings(
    r"ignore:This process \(pid=\d+\) is multi-threaded, use of fork\(\) may lead to deadlocks:DeprecationWarning")


def rss_bytes(pid: int | str = "self") -> int:
    """Resident memory of a process (default: this one), from Linux's /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def processes_marked(mark: str) -> list[str]:
    """Process ids whose environment holds ``mark``: a test's descendants, found through /proc."""
    found = []
    for environ in glob.glob("/proc/[0-9]*/environ"):
        try:
            with open(environ, "rb") as handle:
                if mark.encode() in handle.read():
                    found.append(environ.split("/")[2])
        except OSError:
            pass
    return found


@dataclass
class Interrupted:
    """What :func:`interrupt_when` saw: the exit status, stderr before and after the signal."""

    status: int
    before: str
    rest: str
    mark: str  # in the environment of the command and of every process it started

    def survivors(self, seconds: float = 15) -> list[str]:
        """Process ids of the command's descendants still alive after up to ``seconds``."""
        deadline = time.monotonic() + seconds
        while processes_marked(self.mark) and time.monotonic() < deadline:
            time.sleep(0.1)
        return processes_marked(self.mark)


def interrupt_when(argv: list[str], waiting_for: str, signum: int, *, wait_s: float = 60) -> Interrupted:
    """Start ``argv`` with a fresh mark in its environment (inherited by every descendant) and
    send ``signum`` shortly after a line of its stderr contains ``waiting_for``; the test fails
    if the command ended first."""
    mark = f"FASTFIB_TEST_{uuid.uuid4().hex}"
    child = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env=dict(os.environ, FASTFIB_TEST_MARK=mark))
    assert child.stderr is not None
    seen = []
    try:
        for line in child.stderr:
            seen.append(line)
            if waiting_for in line:
                break
        else:
            pytest.fail(f"{' '.join(argv[:4])} ended before {waiting_for!r}: " + "".join(seen))
        time.sleep(0.3)  # at work, not only starting
        child.send_signal(signum)
        rest = child.stderr.read()
        status = child.wait(wait_s)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stderr.close()
    return Interrupted(status, "".join(seen), rest, mark)


def oracle(count: int) -> list[int]:
    """F(0) .. F(count - 1) by plain addition: independent of every kernel."""
    values = [0, 1]
    while len(values) < count:
        values.append(values[-1] + values[-2])
    return values[:count]


class Heartbeat:
    """A Python thread that records a timestamp, then sleeps ~1 ms, until stopped."""

    def __init__(self) -> None:
        self.ticks: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while not self._stop.is_set():
            self.ticks.append(time.perf_counter())
            time.sleep(0.001)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        while len(self.ticks) < 3:  # make sure it is really running
            time.sleep(0.001)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def ticks_between(self, start: float, end: float) -> int:
        return sum(start < t < end for t in self.ticks)

    def longest_gap(self, start: float, end: float) -> float:
        """The longest stretch of [start, end] with no tick in it, in seconds."""
        points = [start, *(t for t in self.ticks if start < t < end), end]
        return max(b - a for a, b in itertools.pairwise(points))


def run_together(count: int, work: Callable[[int, list[str]], None]) -> list[str]:
    """Run ``work(index, failures)`` on ``count`` threads released together behind a
    barrier; return the failures they reported (an exception counts as one)."""
    barrier = threading.Barrier(count)
    failures: list[str] = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            work(index, failures)
        except BaseException as exc:  # noqa: BLE001 - reported, not lost in a thread
            failures.append(f"thread {index}: {exc!r}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port any more (a connection is refused)."""
    with socket.socket() as probe:
        probe.settimeout(1.0)
        return probe.connect_ex((host, port)) != 0


def ended_thread_id() -> int:
    """The kernel thread id of a thread of this process that has ended, and is gone from /proc."""
    done = threading.Thread(target=lambda: None)
    done.start()
    ended = done.native_id
    done.join()  # returns before the OS thread is quite gone: wait until the kernel says so
    deadline = time.monotonic() + 30
    while os.path.exists(f"/proc/self/task/{ended}") and time.monotonic() < deadline:
        time.sleep(0.001)
    assert ended is not None
    return ended


needs_sampler = pytest.mark.skipif(timeline.unavailable() is not None, reason=str(timeline.unavailable()))
MS = 1_000_000  # ns


def sampler_rows(*tracks: list[float]) -> list[tuple[int, ...]]:
    """Rows as the trace's sampler writes them, every 1 ms: each track given as its busy
    fraction per interval."""
    rows, cpu = [(0, *([0] * len(tracks)))], [0] * len(tracks)
    for step in range(len(tracks[0])):
        cpu = [total + int(track[step] * MS) for total, track in zip(cpu, tracks, strict=True)]
        rows.append(((step + 1) * MS, *cpu))
    return rows


def compiler_missing() -> str | None:
    """Why a one-file C extension cannot be compiled here, or None where it can."""
    compiler = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")[0]
    if shutil.which(compiler) is None:
        return f"needs a C compiler ({compiler} not found; set CC=...)"
    if not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")):
        return f"needs Python.h (not in {sysconfig.get_paths()['include']})"
    return None


def build_extension(source: Path, into: Path) -> Path:
    """Compile one C file into an extension module for the running interpreter, in ``into``
    (the module's name is the file's stem); returns ``into``, to put on sys.path or PYTHONPATH."""
    compiler = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
    target = into / (source.stem + sysconfig.get_config_var("EXT_SUFFIX"))
    subprocess.run([*compiler, "-shared", "-fPIC", "-O2", f"-I{sysconfig.get_paths()['include']}", str(source),
                    "-o", str(target)], check=True, capture_output=True, text=True)
    return into
