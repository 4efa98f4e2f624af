"""The lab's experiments on tiny settings: what is certain, never how long it took.

Certain: lost updates without a lock (the sleep inside the critical section
forces the switch), exactly none with a Lock or an owner thread, none for a
plain ``x += 1`` loop on 3.10+ with the GIL; every queue item consumed exactly
once; every answer exact; the release verdicts of calls whose GIL behaviour is
known; the arithmetic of the statistics.
"""

from __future__ import annotations

import json
import sys

import pytest

from fastfib import gil, measure, registry, report
from fastfib.lab import amdahl, blocking_io, granularity, interleave, latency, queues, race, release
from fastfib.measure.amdahl import speedup as amdahl_speedup
from helpers import needs_gil

pytestmark = pytest.mark.timeout(120)
needs_extension = pytest.mark.skipif("cython-nogil" not in registry.KERNELS, reason="extension not built")


# --- race -----------------------------------------------------------------------------------

def test_without_a_lock_updates_are_lost():
    outcome = race.unsafe(threads=4, increments=10, pause_s=0.0005)
    assert outcome["expected"] == 40 and outcome["lost_updates"] > 0


@pytest.mark.parametrize("fix", [race.locked, race.owner_thread])
def test_a_lock_or_an_owner_thread_loses_none(fix):
    outcome = fix(threads=4, increments=10, pause_s=0.0005)
    assert (outcome["counted"], outcome["lost_updates"]) == (40, 0)


@needs_gil  # 3.10+ checks for a GIL hand-over only at calls and backward jumps; without a GIL, anything goes
def test_plain_increment_loses_nothing_on_this_interpreter():
    outcome = race.plain_loop(sys.executable, threads=4, increments=100_000)
    assert outcome["counted"] == 400_000 and outcome["lost_updates"] == 0


def test_the_snippet_needs_no_fastfib_and_runs_on_3_9_when_present():
    assert "fastfib" not in race.PLAIN_LOOP_SNIPPET
    python39 = race.find_python39()
    if python39 is None:
        pytest.skip("CPython 3.9 is not installed here")
    outcome = race.plain_loop(python39, threads=2, increments=1000)
    assert outcome["python"].startswith("3.9") and outcome["expected"] == 2000


def test_race_run_reports_a_finding():
    result = race.run(threads=3, increments=5, pause_s=0.0005, loop_threads=2, loop_increments=1000, interpreters=[])
    assert [row["method"] for row in result["rows"]] == ["no lock", "threading.Lock", "owner thread + Queue"]
    assert result["rows"][0]["lost_updates"] > 0 and result["rows"][1]["lost_updates"] == 0
    assert "lost" in result["finding"] and result["finding"].endswith(".")
    json.dumps(result, allow_nan=False)


def test_a_free_threaded_build_runs_the_plain_loop_with_the_gil_too():
    result = race.run(threads=2, increments=2, pause_s=0.0005, loop_threads=4, loop_increments=20_000, interpreters=[])
    loops = result["plain_loop"]
    if not gil.free_threaded_build():
        assert len(loops) == 1
        return
    # The same binary with -X gil=1: what 3.10+ with a GIL makes certain holds there too.
    assert [loop["gil_enabled"] for loop in loops] == [gil.gil_enabled(), True]
    assert loops[1]["lost_updates"] == 0 and "(free-threaded, -X gil=1)" in result["finding"]


# --- queue ----------------------------------------------------------------------------------

@pytest.mark.parametrize("workers", [1, 3])
def test_thread_workers_consume_every_item_exactly_once(workers):
    outcome = queues.thread_workers(500, workers, kernel="python")
    assert outcome["exactly_once"] and outcome["received"] == 500


@needs_extension
@pytest.mark.parametrize("start_method", ["fork", "forkserver"])
def test_producer_consumer_processes_consume_every_item_exactly_once(start_method):
    outcome = queues.processes(400, consumers=2, kernel="cython-nogil", start_method=start_method)
    assert outcome["exactly_once"] and outcome["received"] == 400


def test_verify_catches_lost_repeated_and_wrong_items():
    check = queues.verify([(0, 0), (1, 1), (1, 1), (3, 99)], items=4)
    assert (check["missing"], check["duplicated"], check["wrong"]) == (1, 1, 1)


# --- interleave -----------------------------------------------------------------------------

def test_interleave_statistics_count_runs_and_switches():
    steps = [("_", 0.000, 0.001), ("_", 0.001, 0.002), ("*", 0.002, 0.003), ("_", 0.003, 0.004)]
    stats = interleave.statistics_of(steps, cpu_s=0.004, wall_s=0.004)
    assert stats["switches"] == 2 and stats["longest_run_steps"] == 2
    assert stats["longest_run_ms"] == pytest.approx(2.0) and stats["parallelism"] == pytest.approx(1.0)
    assert stats["sample"] == "__*_"


def test_interleave_trims_to_where_both_threads_run():
    steps = [("_", 0.0, 0.1), ("_", 0.1, 0.2), ("*", 0.15, 0.25), ("_", 0.25, 0.3), ("*", 0.3, 0.4)]
    assert interleave.both_running(steps) == [("*", 0.15, 0.25), ("_", 0.25, 0.3)]


def test_interleave_records_both_threads():
    steps, cpu = interleave.record("python", 8, 0.05)
    assert {mark for mark, _, _ in steps} == {"_", "*"} and set(cpu) == {"_", "*"}
    assert sys.getswitchinterval() == pytest.approx(0.005)


# --- release --------------------------------------------------------------------------------

def test_classify():
    assert release.classify(0.05, 0.05, 5)[0] is True
    assert release.classify(0.9, 0.9, 5) == (False, "no: held for the whole call")
    assert release.classify(0.9, 0.1, 5)[1].startswith("no: bytecode")
    # with the control-relative fraction, it decides: a starved heartbeat (long stall) still reads released
    assert release.classify(0.9, 0.9, 5, released_fraction=0.7)[0] is True
    assert release.classify(0.05, 0.05, 5, released_fraction=0.1)[0] is False


@needs_extension
def test_release_verdicts_for_calls_whose_behaviour_is_known():
    result = release.run(target_ms=40, repeats=3, only=["time.sleep", "fastfib cython-gil", "fastfib cython-nogil"])
    verdicts = {row["operation"]: row["releases_gil"] for row in result["rows"]}
    # Without a GIL (free-threaded build) the GIL kernel lets the heartbeat run too: nothing holds it back.
    assert verdicts == {"time.sleep": True, "fastfib cython-gil": not gil.gil_enabled(), "fastfib cython-nogil": True}


# --- latency, granularity, io ---------------------------------------------------------------

def test_latency_rows_per_kernel():
    result = latency.run(kernels=["python"], seconds=0.05, call_ms=2)
    assert [row["beside"] for row in result["rows"]] == ["idle", "python"]
    assert all(row["wakeups"] > 0 for row in result["rows"])


@needs_extension
def test_granularity_sweep_checks_results():
    task = granularity.task_for("cython-nogil", 10, share_s=0.002)
    assert granularity.repeat_burn(*task.args) == task.expected()
    result = granularity.run(kernels=["cython-nogil"], work_us=[10], share_s=0.002, repeats=1)
    (point,) = result["points"]
    assert point["kernel"] == "cython-nogil" and point["speedup"] > 0


def test_percentile():
    assert blocking_io.percentile([1, 2, 3, 4], 50) == pytest.approx(2.5)
    assert blocking_io.percentile([5], 99) == 5


@pytest.mark.timeout(120)
def test_io_run_checks_every_answer_and_reports_each_client():
    result = blocking_io.run(latency_s=0.01, requests=4, concurrency=2, sweep=[1, 2], capacity=4,
                             start_method="fork", cpu=False)
    assert [row["client"] for row in result["rows"]] == list(blocking_io.CLIENTS)
    assert all(row["requests"] == 4 for row in result["rows"])
    assert [row["concurrency"] for row in result["sweep"]] == [1, 2]
    assert "req/s" in result["finding"]
    json.dumps(result, allow_nan=False)


# --- amdahl ---------------------------------------------------------------------------------

def test_amdahl_fits_a_saved_scale_run(tmp_path):
    rows = [measure.Row("cython-nogil", "sequential", 1, 4, 20, 1.0, speedup=1.0),
            measure.Row("cython-nogil", "threads", 2, 4, 20, 1.0, speedup=amdahl_speedup(0.1, 2)),
            measure.Row("python", "sequential", 1, 4, 20, 1.0, speedup=1.0),
            measure.Row("python", "threads", 2, 4, 20, 1.0, speedup=1.0)]
    path = tmp_path / "scale.json"
    report.write_json(path, {"usable_cores": 2}, rows)
    result = amdahl.run(source=str(path), kernels=[], runner_names=[], workers=[], target_s=0, tasks=0, repeats=0)
    fits = {(f["kernel"], f["runner"]): f for f in result["fits"]}
    assert fits["cython-nogil", "threads"]["serial_fraction"] == pytest.approx(0.1, abs=0.001)
    assert fits["python", "threads"]["serial_fraction"] == pytest.approx(1.0)
    amdahl.plot(result, str(tmp_path / "amdahl.png"))
    assert (tmp_path / "amdahl.png").read_bytes().startswith(b"\x89PNG")


def test_busy_spans_merge_back_to_back_steps_per_thread():
    steps = [("_", 0.0, 1e-3), ("*", 0.5e-3, 1.5e-3), ("_", 1.002e-3, 2e-3), ("_", 3e-3, 4e-3),
             ("*", 1.5e-3, 9e-3)]  # the last one waited for the GIL: left out
    assert interleave.busy_spans(steps) == [("_", 0.0, 2e-3), ("*", 0.5e-3, 1.5e-3), ("_", 3e-3, 4e-3)]
