"""Per-thread timelines (fastfib trace, scale --timeline): the sampler, the slices it gives, the
trace document, and what the GIL makes certain about them. No test asserts a time."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

from fastfib import environment, registry, runners, tasks
from fastfib.measure import timeline
from helpers import ended_thread_id, needs_sampler, sampler_rows

needs_gil = pytest.mark.skipif(not environment.gil_enabled(), reason="needs the GIL")
FASTFIB = [sys.executable, "-m", "fastfib"]



def test_slices_overlap_and_parallelism_from_known_samples():
    taking_turns = [1, 1, 0, 0, 1, 1, 0, 0]
    other_turn = [0, 0, 1, 1, 0, 0, 1, 1]
    watched = [("a", "thread", 1), ("b", "thread", 2), ("idle", "thread", 3)]
    built = timeline.build("turns", sampler_rows(taking_turns, other_turn, [0] * 8), watched, 0.0, 0.008)
    assert [track.name for track in built.tracks] == ["a", "b"] and built.hidden_tracks == 1
    assert built.tracks[0].slices == [[0.0, 2.0], [4.0, 6.0]]
    assert built.tracks[1].slices == [[2.0, 4.0], [6.0, 8.0]]
    assert built.overlap == 0.0 and built.parallelism == pytest.approx(1.0)
    together = timeline.build("together", sampler_rows([1] * 8, [0.3, 1, 1, 1, 1, 1, 1, 0.4]), watched[:2], 0.0, 0.008)
    assert together.overlap == pytest.approx(6 / 8)
    assert together.parallelism == pytest.approx((8 + 6.7) / 8)
    assert together.tracks[1].slices == [[1.0, 7.0]]


def test_a_process_clock_that_moves_at_the_tick_reads_as_busy_throughout():
    ticking = [0, 0, 0, 4] * 4  # a busy process read from outside: 4 ms of CPU every 4th sample
    built = timeline.build("process", sampler_rows(ticking), [("worker", "process", 9)], 0.0, 0.016)
    assert built.tracks[0].slices == [[0.0, 16.0]] and built.parallelism == pytest.approx(1.0)


def test_only_the_batchs_window_counts():
    built = timeline.build("window", sampler_rows([1] * 10), [("a", "thread", 1)], 0.002, 0.006)
    assert built.wall_s == pytest.approx(0.004)
    assert built.tracks[0].slices == [[0.0, 4.0]] and built.parallelism == pytest.approx(1.0)


def test_the_trace_document_is_chrome_trace_event_json():
    built = timeline.build("turns", sampler_rows([1, 1, 0, 0], [0, 0, 1, 1]), [("a", "thread", 1), ("b", "thread", 2)],
                           0.0, 0.004)
    document = json.loads(json.dumps(timeline.document([built], {"fastfib_version": "x"})))
    assert document["schema"] == timeline.SCHEMA and document["displayTimeUnit"] == "ms"
    slices = [event for event in document["traceEvents"] if event["ph"] == "X"]
    assert [(event["tid"], event["ts"], event["dur"]) for event in slices] == [(1, 0.0, 2000.0), (2, 2000.0, 2000.0)]
    names = {event["args"]["name"] for event in document["traceEvents"] if event["name"] == "thread_name"}
    assert names == {"a", "b"}
    assert timeline.Timeline.from_dict(document["configurations"][0]) == built


def test_strips_draw_each_track():
    built = timeline.build("turns", sampler_rows([1, 1, 0, 0], [0, 0.3, 1, 1]),
                           [("a", "thread", 1), ("b", "thread", 2)], 0.0, 0.004)
    assert timeline.strips(built, width=4) == [("a", "██··"), ("b", "··██")]


@needs_sampler
def test_the_sampler_rejects_bad_settings_and_starts_once():
    from fastfib._sampler import Sampler

    with pytest.raises(ValueError):
        Sampler([], 0.0)
    sampler = Sampler([(threading.get_native_id(), False)], 0.001, 1.0)
    sampler.start()
    with pytest.raises(RuntimeError):
        sampler.start()
    time.sleep(0.01)
    sampler.stop()
    sampler.stop()  # a second stop does nothing
    rows = sampler.rows()
    assert len(rows) >= 2
    assert all(b[0] > a[0] and b[1] >= a[1] >= 0 for a, b in zip(rows, rows[1:], strict=False))


@needs_sampler
def test_a_thread_that_has_ended_reads_as_minus_one():
    ended = ended_thread_id()
    from fastfib._sampler import Sampler

    sampler = Sampler([(ended, False)], 0.001, 1.0)
    sampler.start()
    time.sleep(0.005)
    sampler.stop()
    assert {row[1] for row in sampler.rows()} == {-1}


@needs_sampler
@needs_gil
@pytest.mark.skipif("cython-gil" not in registry.KERNELS, reason="extension not built")
def test_threads_that_hold_the_gil_never_use_more_than_one_cpu_together():
    # What the GIL makes certain: threads that need it for all their work take turns,
    # so their CPU time together cannot exceed the wall (plus the sampler's few µs).
    task = tasks.calibrate("cython-gil", 0.02)
    with runners.make_runner("threads").open(2) as pool:
        batch, traced = timeline.record(pool, tasks.burn_task, [("cython-gil", task.n)] * 4, label="gil")
    assert batch.results == [tasks.oracle(task.n)] * 4
    workers = [track for track in traced.tracks if track.name.startswith("fastfib-worker")]
    assert len(workers) == 2 and all(track.slices for track in workers)
    assert traced.parallelism <= 1.1


@needs_sampler
@pytest.mark.skipif("cython-nogil" not in registry.KERNELS, reason="extension not built")
def test_worker_processes_are_tracks_of_their_own():
    with runners.make_runner("processes", start_method="fork").open(2) as pool:
        # A worker's clock, read from outside it, moves only at the scheduler tick (4 ms here):
        # each worker gets tens of milliseconds of work, so that it is seen however loaded the machine.
        batch, traced = timeline.record(pool, tasks.burn_task, [("cython-nogil", 34)] * 8, label="processes")
        pids = pool.pids
    assert batch.results == [tasks.oracle(34)] * 8
    processes = {track.id for track in traced.tracks if track.kind == "process"}
    assert processes <= set(pids) and processes  # at least one worker was seen working


@needs_sampler
@pytest.mark.skipif("cython-nogil" not in registry.KERNELS, reason="extension not built")
def test_fastfib_trace_prints_strips_and_writes_its_file(tmp_path):
    out, png = tmp_path / "trace.json", tmp_path / "trace.png"
    done = subprocess.run([*FASTFIB, "trace", "-k", "cython-nogil", "--task-ms", "5", "--cost-pairs", "2",
                           "-o", str(out), "--plot", str(png), "--no-progress"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "cython-nogil threads x2: wall" in done.stdout and "fastfib-worker" in done.stdout
    assert "traced runs took" in done.stdout
    document = json.loads(out.read_text())
    (configuration,) = document["configurations"]
    assert configuration["extra"]["kernel"] == "cython-nogil" and 0 <= configuration["overlap"] <= 1
    assert all("waiting" in track and "waited_s" in track for track in configuration["tracks"])  # schema 2
    assert any(event["ph"] == "X" for event in document["traceEvents"])
    assert png.read_bytes().startswith(b"\x89PNG")
    page = tmp_path / "page.html"
    shown = subprocess.run([*FASTFIB, "report", str(out), "-o", str(page)], capture_output=True, text=True,
                           timeout=120, check=False)
    assert shown.returncode == 0, shown.stderr
    assert "fastfib trace: which thread was on a CPU when" in page.read_text() and "<svg" in page.read_text()


@pytest.mark.parametrize(("argv", "says"), [
    (["-k", "nope"], "unknown kernel 'nope'"),
    (["-r", "dask-threads"], "unknown runner 'dask-threads'"),
    (["--cost-pairs", "-1"], "--cost-pairs must be >= 0"),
    (["-w", "0"], "--workers must all be > 0"),
    (["-o", "/nonexistent-folder/trace.json"], "nonexistent-folder"),
])
def test_bad_arguments_are_one_line_and_exit_2(argv, says, tmp_path):
    done = subprocess.run([*FASTFIB, "trace", *argv], capture_output=True, text=True, timeout=60, check=False,
                          cwd=tmp_path)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and says in done.stderr
    assert list(tmp_path.iterdir()) == []


@needs_sampler
@pytest.mark.skipif("cython-nogil" not in registry.KERNELS, reason="extension not built")
@pytest.mark.parametrize("argv", [
    ["scale", "--quick", "-k", "cython-nogil", "-r", "sequential,threads", "-w", "2", "--target-ms", "2",
     "--repeats", "1", "--no-progress"],
    ["probe", "--quick", "--runners", "threads", "--workers", "2", "--no-progress", "-s", "import fastfib",
     'fastfib.burn(20, kernel="cython-nogil")'],
])
def test_scale_and_probe_write_a_timeline_of_each_configuration(argv, tmp_path):
    out = tmp_path / "timeline.json"
    done = subprocess.run([*FASTFIB, *argv, "--timeline", str(out)], capture_output=True, text=True, timeout=180,
                          check=False)
    assert done.returncode == 0, done.stderr
    document = json.loads(out.read_text())
    assert document["schema"] == timeline.SCHEMA
    labels = [configuration["label"] for configuration in document["configurations"]]
    assert labels and all(0 <= c["overlap"] <= 1 for c in document["configurations"])
    assert "overlap" in done.stdout and str(out) in done.stdout
    if argv[0] == "probe":  # the strips in the terminal too, one per worker thread
        assert "strips: █ on a CPU" in done.stdout
        assert sum(line.lstrip().startswith("fastfib-worker") for line in done.stdout.splitlines()) >= 2
