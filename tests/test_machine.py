"""The control for the machine (fastfib.measure.machine) and the verdicts judged against it
(fastfib.measure.verdicts): the quota read from fake cgroup trees, what a reading says and how
it travels, the verdict of rows lent too few or enough cores, a real machine made short of a
core (a hog, a cgroup quota), and benchmark summaries recorded before and after.

No timing asserts: a machine short of a core must say "cannot tell", never "flat", and that
is what is asserted; the real measurements are short (about a second each) and skip, with
the reason, where the machine cannot be made short here.
"""

from __future__ import annotations

import contextlib
import doctest
import json
from pathlib import Path
from typing import Any

import pytest

from fastfib import environment, registry
from fastfib.benchmarks import _summary
from fastfib.measure import machine, verdicts
from fastfib.measure.machine import Lent, cpu_quota, quota_of, short_of
from fastfib.measure.paired import Alternation, Spread

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "machine"

needs_nogil_kernel = pytest.mark.skipif("cython-nogil" not in registry.KERNELS,
                                        reason=registry.UNAVAILABLE.get("cython-nogil", ""))


def test_the_doctests_of_the_machine_and_verdicts_modules_hold():
    assert doctest.testmod(machine).failed == 0
    assert doctest.testmod(verdicts).failed == 0


# --- the quota, from fake cgroup trees ---------------------------------------------------------------

def _write(folder: Path, **files: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name.replace("__", ".")).write_text(text + "\n")


@pytest.mark.parametrize(("leaf", "parent", "cores"), [
    ("max 100000", None, None),  # no quota anywhere
    ("100000 100000", None, 1.0),
    ("50000 100000", None, 0.5),
    ("200000 100000", "50000 100000", 0.5),  # the tightest on the way up decides
    ("max 100000", "150000 100000", 1.5),
    ("100000 100000", "300000 100000", 1.0),
])
def test_a_cgroup_v2_quota_is_the_least_from_the_process_cgroup_up(tmp_path, leaf, parent, cores):
    _write(tmp_path / "a" / "b", cpu__max=leaf)
    if parent is not None:
        _write(tmp_path / "a", cpu__max=parent)
    assert quota_of(["0::/a/b"], tmp_path) == cores


def test_a_cgroup_v2_quota_is_found_beside_v1_and_from_a_root_reached_through_a_link(tmp_path):
    _write(tmp_path / "tree" / "unified" / "job", cpu__max="100000 100000")
    (tmp_path / "link").symlink_to(tmp_path / "tree")
    assert quota_of(["1:cpu:/job", "0::/job"], tmp_path / "tree") == 1.0
    assert quota_of(["1:cpu:/job", "0::/job"], tmp_path / "link") == 1.0


def test_a_cgroup_v2_path_the_namespace_hides_falls_back_to_the_root(tmp_path):
    _write(tmp_path, cpu__max="200000 100000")  # in a container, the root is the container's cgroup
    assert quota_of(["0::/host/side/path"], tmp_path) == 2.0


@pytest.mark.parametrize(("mount", "controllers"), [("cpu,cpuacct", "cpu,cpuacct"), ("cpu", "cpu")])
@pytest.mark.parametrize(("quota", "cores"), [("-1", None), ("50000", 0.5), ("100000", 1.0), ("0", None)])
def test_a_cgroup_v1_quota_over_its_period(tmp_path, mount, controllers, quota, cores):
    _write(tmp_path / mount / "job", cpu__cfs_quota_us=quota, cpu__cfs_period_us="100000")
    lines = ["3:cpuset:/", f"2:{controllers}:/job", "1:name=systemd:/job", "0::/job"]
    assert quota_of(lines, tmp_path) == cores


def test_a_cgroup_v1_path_the_namespace_hides_falls_back_to_the_mount(tmp_path):
    _write(tmp_path / "cpu", cpu__cfs_quota_us="150000", cpu__cfs_period_us="100000")
    assert quota_of(["1:cpu:/not/here"], tmp_path) == 1.5


def test_no_cgroup_file_system_or_unreadable_lines_give_no_quota(tmp_path):
    assert quota_of([], tmp_path) is None
    assert quota_of(["garbage", "0::/"], tmp_path) is None
    _write(tmp_path / "a", cpu__max="not a quota")
    assert quota_of(["0::/a"], tmp_path) is None
    try:
        assert cpu_quota(str(tmp_path)) is None  # this process's own lines, under an empty tree
    finally:
        cpu_quota.cache_clear()


# --- what a reading says, and how it travels --------------------------------------------------------

def _lent(control: list[float] | None = None, others: float | None = None, quota: float | None = None,
          threads: int = 2, cpus: int = 2) -> Lent:
    return Lent(threads, None if control is None else Spread.of(control), others, quota, cpus, 0.07)


def test_the_cores_lent_are_the_least_of_control_quota_and_what_others_left():
    assert _lent([1.98, 1.99, 2.0]).cores == 1.99
    assert _lent([1.98, 1.99, 2.0], quota=1.0).cores == 1.0
    assert _lent([1.98, 1.99, 2.0], others=0.9).cores == pytest.approx(1.1)
    assert _lent(others=0.9, cpus=0).cores is None  # others without the CPUs they were taken from
    assert _lent().cores is None


def test_short_of_is_half_way_from_one_core_to_the_ideal():
    assert short_of(1.0, 2) and short_of(1.49, 2) and not short_of(1.5, 2) and not short_of(1.6, 2)
    assert not short_of(0.5, 1) and not short_of(0.0, 0)  # one worker needs no second core
    assert short_of(2.4, 4) and not short_of(2.5, 4)
    assert _lent([1.0] * 5).short(2) and not _lent([1.0] * 5).short(1) and not _lent().short(2)


def test_why_names_what_took_the_cores():
    assert _lent([1.0] * 3, quota=1.0).why() == "a CPU quota of 1 cores (cgroup)"
    assert _lent([1.0] * 3, others=1.0).why() == "other processes kept 1.0 cores busy meanwhile"
    assert _lent([1.0] * 3, others=0.1).why().startswith("no process here took it: the host withdrew a core, or ran")
    assert _lent([1.0] * 3).why() == "the reason is not visible here"
    assert _lent([2.0] * 3, quota=2.0, others=0.0).why().startswith("no process here")  # a quota of all is none


def test_describe_says_the_cores_lent_and_each_reading():
    said = _lent([1.0, 1.01, 1.02], others=0.97, quota=1.0).describe()
    assert said.startswith("1.00 cores lent of 2 (control 1.01 (")
    assert "; other processes 1.0; quota 1)" in said
    assert _lent().describe() == "not measured"


def test_a_reading_survives_to_dict_and_json():
    for lent in (_lent([1.9, 1.95, 2.0], others=0.05, quota=1.5), _lent(others=0.3), _lent()):
        data = json.loads(json.dumps(lent.to_dict()))
        assert data["cores"] == lent.cores
        assert Lent.from_dict(data) == lent
    assert Lent.from_dict(None) is None and Lent.from_dict({}) is None
    assert Lent.from_dict({"threads": 2, "control": None, "others": 1.0, "quota": None}) == Lent(2, None, 1.0, None)


# --- verdicts judged against the cores lent ---------------------------------------------------------

SCALING = [1.9, 1.92, 1.88, 1.91, 1.9, 1.89, 1.93, 1.9, 1.91, 1.9]
FLAT = [1.0, 1.01, 0.99, 1.0, 1.02, 0.98, 1.0, 1.01, 1.0, 0.99]
PARTLY = [1.38, 1.40, 1.36, 1.42, 1.39, 1.41, 1.37, 1.40, 1.39, 1.38]  # reaches 1 + 0.5 x (1.6 - 1) = 1.3
LOWER = [1.2, 1.22, 1.18, 1.21, 1.2, 1.19, 1.23, 1.2, 1.21, 1.2]  # ... and this does not
SHORT = _lent([1.0, 1.01, 1.02], others=0.97)
ENOUGH = _lent([1.96, 1.98, 1.99], others=0.02)
SIXTEEN = _lent([1.6, 1.6, 1.61], others=0.1)


def _row(ratios: list[float], lent: Lent | None = None, busy: float | None = None) -> dict[str, Any]:
    """A paired row as the benchmark summary keeps it, its pairs' speedups ``ratios``."""
    alternation = Alternation()
    alternation.add_a(1.0, 1.0)
    for ratio in ratios:
        alternation.add_b(1.0 / ratio, None if busy is None else busy / ratio)
        alternation.add_a(1.0, 1.0)
    row = {**alternation.ratio().to_dict(), "ideal": 2}
    if lent is None:
        del row["machine"]  # as a schema v3 row: no reading at all
    else:
        row["machine"] = lent.to_dict()
    return row


@pytest.mark.parametrize("ratios", [FLAT, SCALING, PARTLY], ids=["flat", "scaling", "partly"])
def test_a_machine_short_of_a_core_cannot_tell_whatever_the_speedup(ratios):
    row = _row(ratios, SHORT, busy=1.0)
    assert verdicts.verdict_and_basis(row) == ("cannot tell", "machine")
    assert verdicts.said(row) == ("cannot tell: the machine lent 1.0 cores of 2 "
                                  "(other processes kept 1.0 cores busy meanwhile)")
    quota = _row(ratios, _lent([1.9] * 3, others=0.0, quota=1.0))
    assert verdicts.verdict_and_basis(quota) == ("cannot tell", "machine")
    assert "a CPU quota of 1 cores (cgroup)" in verdicts.said(quota)


@pytest.mark.parametrize(("ratios", "expected"), [(SCALING, "scales"), (FLAT, "flat"), (PARTLY, "partly")])
def test_enough_cores_lent_and_rows_without_a_machine_are_judged_as_before(ratios, expected):
    for row in (_row(ratios, ENOUGH), _row(ratios)):  # schema v4, and a v3 row: no "machine"
        assert verdicts.verdict_and_basis(row) == (expected, "speedup")
        assert verdicts.said(row) == expected
        assert verdicts.room(row) == (2.0 if "machine" not in row else ENOUGH.cores)


def test_a_partly_speedup_scales_of_the_cores_lent():
    assert verdicts.verdict_and_basis(_row(PARTLY)) == ("partly", "speedup")
    row = _row(PARTLY, SIXTEEN)
    assert row["low"] >= 1 + 0.5 * (1.6 - 1)
    assert verdicts.verdict_and_basis(row) == ("scales", "speedup")
    assert verdicts.said(row) == "scales (of 1.6 lent cores)"
    assert verdicts.verdict_and_basis(_row(LOWER, SIXTEEN)) == ("partly", "speedup")


def test_one_worker_has_no_verdict_whatever_the_machine():
    row = {**_row(FLAT, SHORT), "ideal": 1}
    assert verdicts.verdict_and_basis(row) == ("", "")


# --- a real machine short of a core -----------------------------------------------------------------

def _two_cpus() -> list[int]:
    from machine_hogs import usable_cpus

    cpus = usable_cpus()
    if len(cpus) < 2 or environment.usable_cores() < 2:
        pytest.skip(f"needs 2 usable CPUs to take one away; this process may use {len(cpus)}")
    return cpus


def _assert_cannot_tell(row: dict[str, Any]) -> Lent:
    lent = Lent.from_dict(row["machine"])
    assert lent is not None and lent.cores is not None, row["machine"]
    assert lent.short(2), f"the machine was short of a core, yet the control read {lent.describe()}"
    assert row["verdict"] != "flat"
    assert (row["verdict"], row["verdict_by"]) == ("cannot tell", "machine"), (
        f"{row['verdict']!r} by {row['verdict_by']!r}: speedup {row['speedup']:.2f} "
        f"({row['low']:.2f}-{row['high']:.2f}), {lent.describe()}")
    return lent


@needs_nogil_kernel
@pytest.mark.timeout(60)
def test_a_hog_on_one_of_two_cpus_makes_the_verdict_cannot_tell():
    from machine_hogs import Unavailable, hog, measured_in_a_child

    cpus = _two_cpus()
    try:
        row = measured_in_a_child(cpus[:2], lambda pid: hog(cpus[1]))
    except Unavailable as exc:
        pytest.skip(str(exc))
    lent = _assert_cannot_tell(row)
    assert lent.cpus == 2
    assert lent.others is not None and lent.others >= machine.OTHERS_AT, lent.describe()
    assert "other processes kept" in verdicts.said(row)


@needs_nogil_kernel
@pytest.mark.timeout(60)
def test_a_cpu_quota_of_one_core_makes_the_verdict_cannot_tell():
    from machine_hogs import Unavailable, cpu_limited_cgroup, measured_in_a_child

    cpus = _two_cpus()
    try:
        with cpu_limited_cgroup(1.0) as add:
            row = measured_in_a_child(cpus[:2], lambda pid: contextlib.nullcontext(add(pid)))
    except Unavailable as exc:
        pytest.skip(str(exc))
    lent = _assert_cannot_tell(row)
    assert lent.quota == 1.0
    assert lent.why() == "a CPU quota of 1 cores (cgroup)"


# --- benchmark summaries recorded here --------------------------------------------------------------

def _recorded(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


@pytest.fixture
def two_cores(monkeypatch):
    """The recorded runs' machine: 2 usable cores, whatever this one has (ideal = min(workers, cores))."""
    monkeypatch.setattr(environment, "usable_cores", lambda: 2)


def test_a_benchmark_recorded_under_a_hog_reads_cannot_tell(two_cores):
    recorded = _recorded("bench-hog-v4.json")
    summary = _summary.from_json(recorded["benchmarks"])  # judged again from the benchmark's own record
    assert summary["schema_version"] == 4
    for kept in (summary, recorded["fastfib"]):
        (row,) = [row for row in kept["rows"] if row["workers"] == 2]
        assert (row["verdict"], row["verdict_by"]) == ("cannot tell", "machine")
        assert verdicts.verdict_and_basis(row) == ("cannot tell", "machine")
        lent = Lent.from_dict(row["machine"])
        assert lent is not None and lent.short(2) and lent.others is not None and lent.others >= machine.OTHERS_AT
        # The lent line(s): one line as written at 68eeb35 (the recorded summary), two since (describe_over).
        lent_said = " ".join(line for line in kept["story"] if "lent" in line or "cannot tell" in line)
        assert "the machine lent 0.98 cores (median; 0.98-0.98) of 2 during " in lent_said
        assert "'cannot tell'" in lent_said
        assert "cython-nogil threads x2 (1.0) -- other processes kept 1.0 cores busy meanwhile" in lent_said
        assert any(said.startswith("cython-nogil on 2 threads: ") and "cannot tell: the machine lent" in said
                   for said in kept["story"])
    header, *body = _summary.format_summary(summary).splitlines()
    assert header.split()[-3:] == ["lent", "efficiency", "verdict"]
    assert body[1].split()[-4:] == ["0.98", "0.50", "cannot", "tell"]  # lent cores, efficiency, verdict


def test_a_version_3_summary_from_a_quiet_machine_still_reads(two_cores):
    recorded = _recorded("bench-quiet-v3.json")
    assert recorded["schema_version"] == 3
    rows = recorded["rows"]
    assert rows and not any("machine" in row for row in rows)
    for row in rows:  # judged as v3 judged them
        assert verdicts.verdict_and_basis(row) == (row["verdict"], row["verdict_by"]), row
        assert verdicts.room(row) == row["ideal"]
    assert {(row["question"], row["kernel"], row["runner"], row["workers"]): verdicts.said(row) for row in rows} == {
        ("granularity", "cython-nogil", "threads", 2): "scales",
        ("batching", "cython-nogil", "threads", 2): "partly (by parallelism)",
        ("scaling", "cython-nogil", "threads", 1): "",
        ("scaling", "python", "threads", 2): "flat",
        ("scaling", "numpy", "threads", 2): "flat",
        ("scaling", "cython-gil", "threads", 2): "flat",
        ("scaling", "cython-nogil", "threads", 2): "scales",
        ("scaling", "cython-nogil", "processes", 2): "scales",
    }
    assert _summary.lent_lines(rows) == []  # no reading: no lent line, and the story as v3 told it
    assert _summary.story(rows, 2) == recorded["story"]
    table = _summary.format_summary(recorded)
    assert "partly (by parallelism)" in table and "cannot tell" not in table.split("speedup = ")[0]
    assert [row.kernel for row in _summary.rows(recorded)] == [row["kernel"] for row in rows
                                                               if row["question"] == "scaling"]
