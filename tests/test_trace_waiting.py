"""The third state of ``fastfib trace``: *runnable, waiting for a CPU*, beside on a CPU and not running.

A thread waiting for the GIL or a lock sleeps: its run delay (schedstat's second field) stands
still. A thread whose CPU the machine gave to something else is runnable: its run delay grows.
No test asserts a time: the live tests assert what the scheduler makes certain (a sleeping
thread gains no run delay at all; a thread pinned to one CPU with a busy process gains some).
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import threading
import time

import pytest

from fastfib import environment, registry, runners, tasks
from fastfib.measure import timeline
from fastfib.report import ReportError, report_documents, timeline_plot
from helpers import MS, ended_thread_id, needs_sampler, sampler_rows

needs_schedstat = pytest.mark.skipif(
    not os.path.exists(f"/proc/self/task/{threading.get_native_id()}/schedstat"),
    reason="no /proc/self/task/*/schedstat (not Linux, or a kernel without CONFIG_SCHED_INFO)")



# Thread a runs 2 ms, is runnable but not run for 4 ms (b has the CPU), runs 2 ms and ends; the
# kernel adds its 4 ms wait to the run delay only when it gets the CPU back, at 7 ms.
TAKEN = sampler_rows([1, 1, 0, 0, 0, 0, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1, 0, 0, 1, 1])
TAKEN_WAITS = [(0, 0)] * 7 + [(4 * MS, 0)] * 4
WATCHED = [("a", "thread", 1), ("b", "thread", 2)]


def test_a_wait_that_shows_late_is_drawn_where_it_happened():
    built = timeline.build("taken", TAKEN, WATCHED, 0.0, 0.010, waits=TAKEN_WAITS)
    a, b = built.tracks
    assert a.slices == [[0.0, 2.0], [6.0, 8.0]] and a.waiting == [[2.0, 6.0]]
    assert a.waited_s == pytest.approx(0.004) and a.waiting_ms == pytest.approx(4.0)
    assert b.waiting == [] and b.waited_s == 0.0
    assert built.waited_s == pytest.approx(0.004)
    assert timeline.strips(built, width=10) == [("a", "██░░░░██··"), ("b", "··████··██")]


def test_a_wait_is_never_drawn_over_the_time_its_thread_was_on_a_cpu():
    # 3 ms of waiting shows in an interval where the thread ran all along: it goes back to the
    # three intervals before, past the one it ran in.
    rows = sampler_rows([0, 0, 0, 1, 1])
    built = timeline.build("back", rows, [("a", "thread", 1)], 0.0, 0.005,
                           waits=[(0,)] * 5 + [(3 * MS,)])
    assert built.tracks[0].waiting == [[0.0, 3.0]] and built.tracks[0].slices == [[3.0, 5.0]]


def test_only_the_part_of_a_wait_inside_the_window_counts():
    built = timeline.build("window", TAKEN, WATCHED, 0.003, 0.010, waits=TAKEN_WAITS)
    assert built.tracks[0].waiting == [[0.0, 3.0]] and built.tracks[0].waited_s == pytest.approx(0.003)


def test_an_unread_run_delay_is_no_state_at_all():
    no_file = timeline.build("unread", TAKEN, WATCHED, 0.0, 0.010, waits=[(-1, -1)] * len(TAKEN))
    not_sampled = timeline.build("old", TAKEN, WATCHED, 0.0, 0.010)
    for built in (no_file, not_sampled):
        assert all(track.waiting == [] and track.waited_s is None for track in built.tracks)
        assert built.waited_s is None


def test_the_trace_document_has_waiting_slices_and_version_1_files_still_read(tmp_path):
    built = timeline.build("taken", TAKEN, WATCHED, 0.0, 0.010, waits=TAKEN_WAITS)
    document = json.loads(json.dumps(timeline.document([built], {"fastfib_version": "x"})))
    assert document["schema_version"] == timeline.SCHEMA_VERSION == 2
    assert timeline.Timeline.from_dict(document["configurations"][0]) == built
    slices = [(event["name"], event["tid"], event["ts"], event["dur"], event["cname"])
              for event in document["traceEvents"] if event["ph"] == "X" and event["tid"] == 1]
    assert ("waiting for a CPU", 1, 2000.0, 4000.0, "thread_state_runnable") in slices
    assert ("on CPU", 1, 0.0, 2000.0, "thread_state_running") in slices

    # A version-1 file: tracks without "waiting" nor "waited_s", no waiting events.
    old = json.loads(json.dumps(document))
    old["schema_version"] = 1
    for track in old["configurations"][0]["tracks"]:
        del track["waiting"], track["waited_s"]
    old["traceEvents"] = [event for event in old["traceEvents"] if event["name"] != "waiting for a CPU"]
    (tmp_path / "v1.json").write_text(json.dumps(old))
    run = report_documents.load_run(str(tmp_path / "v1.json"))
    assert run.kind == "trace" and run.draw is not None
    run.draw(str(tmp_path / "v1.svg"))
    assert "<svg" in (tmp_path / "v1.svg").read_text()

    old["schema_version"] = 99
    (tmp_path / "v99.json").write_text(json.dumps(old))
    with pytest.raises(ReportError, match="reads versions 1, 2"):
        report_documents.load_run(str(tmp_path / "v99.json"))


def test_the_picture_draws_the_third_state(tmp_path):
    built = timeline.build("taken", TAKEN, WATCHED, 0.0, 0.010, waits=TAKEN_WAITS)
    timeline_plot.write_timeline_plot(str(tmp_path / "t.svg"), [built])
    svg = (tmp_path / "t.svg").read_text()
    assert "runnable, waiting for a CPU" in svg and "on a CPU (thread)" in svg


@needs_sampler
@needs_schedstat
def test_the_sampler_reads_each_threads_run_delay_and_no_process_one():
    from fastfib._sampler import Sampler

    ended = ended_thread_id()
    sampler = Sampler([(threading.get_native_id(), False), (os.getpid(), True), (ended, False)], 0.001, 1.0)
    sampler.start()
    time.sleep(0.01)
    sampler.stop()
    rows, waits = sampler.rows(), sampler.waits()
    assert len(waits) == len(rows) >= 2 and all(len(row) == 3 for row in waits)
    mine = [row[0] for row in waits]
    assert mine[0] >= 0 and mine == sorted(mine)  # a total since the thread started: never falls
    assert {row[1] for row in waits} == {-1} and {row[2] for row in waits} == {-1}


def _pinned_burn(cpu: int, kernel: str, n: int) -> int:
    os.sched_setaffinity(0, {cpu})  # 0: the calling thread only
    return tasks.burn_task(kernel, n)


@needs_sampler
@needs_schedstat
@pytest.mark.skipif("cython-nogil" not in registry.KERNELS, reason="extension not built")
@pytest.mark.timeout(120)
def test_a_thread_whose_cpu_another_process_has_waits_for_a_cpu():
    # The worker thread and a busy process pinned to the same CPU: the scheduler shares it, so
    # the thread is runnable but not run for part of the batch. Nothing here holds the GIL.
    cpu = min(os.sched_getaffinity(0))
    task = tasks.calibrate("cython-nogil", 0.02)
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        os.sched_setaffinity(hog.pid, {cpu})
        with runners.make_runner("threads").open(1) as pool:
            arglist = [(cpu, "cython-nogil", task.n)] * 4
            pool.run(_pinned_burn, arglist)  # warm, and pins the pool's one worker
            batch, traced = timeline.record(pool, _pinned_burn, arglist, label="shared CPU")
    finally:
        hog.kill()
        hog.wait()
    assert batch.results == [tasks.oracle(task.n)] * 4
    (worker,) = [track for track in traced.tracks if track.name.startswith("fastfib-worker")]
    assert worker.waited_s is not None and worker.waited_s > 0


def _proc(tid: int, name: str) -> str:
    """/proc/self/task/<tid>/<name>, read without letting go of the GIL (ctypes.PyDLL's calls
    keep it, where open() and os.read release it)."""
    libc = ctypes.PyDLL(None)
    fd = libc.open(f"/proc/self/task/{tid}/{name}".encode(), os.O_RDONLY)
    assert fd >= 0, f"cannot open /proc/self/task/{tid}/{name}"
    try:
        text = ctypes.create_string_buffer(1024)
        got = libc.read(fd, text, 1023)
    finally:
        libc.close(fd)
    return text.raw[:max(0, got)].decode()


def _asleep_after(tid: int, timeslices: int) -> None:
    """Return once thread ``tid`` is asleep (state S) having run more than ``timeslices`` times
    (schedstat's third field), keeping the GIL all along; fail after 30 s."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = _proc(tid, "stat").rsplit(")", 1)[1].split()[0]
        if state == "S" and int(_proc(tid, "schedstat").split()[2]) > timeslices:
            return
        ctypes.PyDLL(None).usleep(100)
    pytest.fail(f"thread {tid} never went to sleep")


@needs_sampler
@needs_schedstat
@pytest.mark.skipif(not environment.gil_enabled(), reason="needs the GIL")
@pytest.mark.skipif("cython-gil" not in registry.KERNELS, reason="extension not built")
@pytest.mark.timeout(120)
def test_threads_waiting_for_the_gil_or_a_lock_never_wait_for_a_cpu():
    # One thread waits for the GIL through a long GIL-holding call, another for a lock. With
    # the switch interval at 100 s the GIL waiter is never woken to ask for the GIL: both
    # sleep, so neither gains any run delay, however busy the machine -- not "only a little".
    from fastfib._sampler import Sampler

    task = tasks.calibrate("cython-gil", 0.05)
    burn = registry.get("cython-gil").burn
    assert burn is not None
    ready, go, held = threading.Event(), threading.Event(), threading.Lock()
    held.acquire()

    def wants_the_gil() -> None:
        ready.set()
        go.wait()  # woken by go.set(), it needs the GIL back to return: the main thread has it

    def wants_the_lock() -> None:
        with held:
            pass

    gil_waiter = threading.Thread(target=wants_the_gil)
    lock_waiter = threading.Thread(target=wants_the_lock)
    previous = sys.getswitchinterval()
    sys.setswitchinterval(100.0)
    try:
        gil_waiter.start()
        lock_waiter.start()
        ready.wait()
        assert gil_waiter.native_id is not None and lock_waiter.native_id is not None
        _asleep_after(lock_waiter.native_id, 0)
        _asleep_after(gil_waiter.native_id, 0)  # in go.wait()
        timeslices = int(_proc(gil_waiter.native_id, "schedstat").split()[2])
        go.set()
        # From here until sampler.stop() this thread never lets go of the GIL.
        _asleep_after(gil_waiter.native_id, timeslices)  # woke, found the GIL taken, sleeps for it
        watched = [("waits for the GIL", "thread", gil_waiter.native_id),
                   ("waits for a lock", "thread", lock_waiter.native_id)]
        sampler = Sampler([(ident, False) for _, _, ident in watched], 0.001, 10.0)
        sampler.start()
        assert burn(task.n) == tasks.oracle(task.n)  # holds the GIL throughout
        finished_ns = time.perf_counter_ns()
        sampler.stop()  # lets go of the GIL: from here on the GIL waiter runs
    finally:
        sys.setswitchinterval(previous)
        go.set()
        held.release()
        gil_waiter.join()
        lock_waiter.join()
    rows, waits = sampler.rows(), sampler.waits()
    kept = sum(1 for row in rows if row[0] <= finished_ns)  # the samples taken while the GIL was held
    assert kept >= 2
    assert len({row[0] for row in waits[:kept]}) == 1 and len({row[1] for row in waits[:kept]}) == 1
    assert waits[0][0] >= 0 and waits[0][1] >= 0
    built = timeline.build("asleep", rows[:kept], watched, rows[0][0] / 1e9, rows[kept - 1][0] / 1e9,
                           waits=waits[:kept])
    assert built.tracks == [] and built.hidden_tracks == 2  # neither ran nor waited: nothing to draw
