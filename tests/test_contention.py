"""The took-turns / ran-at-once diagnosis, the contention lab, and probe's free-threading lines.

The diagnosis is checked on figures given to it (what it must say for each shape of
measurement); the lab and the probe run for real but only what is certain is asserted: every
result exact, the lost updates counted, a lock's threads never "ran at once", and where the GIL
is on every case "took turns".
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fastfib import gil
from fastfib.lab import contention as lab
from fastfib.measure import contention
from tiny_extensions import build, missing_compiler

pytestmark = pytest.mark.timeout(240)
MACHINE_FULL = {"threads": 2, "control": None, "others": 0.0, "quota": None, "cpus": 2}
MACHINE_SHORT = {"threads": 2, "control": None, "others": 1.0, "quota": None, "cpus": 2}


def row(speedup, busy, machine=MACHINE_FULL, width=0.04):
    spread = {"median": busy, "low": busy - 0.02, "high": busy + 0.02, "coverage": 0.96, "q1": busy - 0.01,
              "q3": busy + 0.01, "n": 12}
    return {"ideal": 2, "speedup": speedup, "low": speedup * (1 - width), "high": speedup * (1 + width),
            "q1": speedup, "q3": speedup, "pairs": 12, "coverage": 0.96, "too_noisy": False,
            "machine": machine, "parallelism": spread}


@pytest.mark.parametrize(("speedup", "busy", "kind"), [
    (1.95, 1.97, contention.SCALES),
    (1.01, 1.01, contention.TOOK_TURNS),  # a lock: one ran, the other waited
    (0.97, 1.96, contention.RAN_SLOWER),  # both on a CPU, each at half speed
    (1.20, 1.90, contention.RAN_SLOWER),
    (1.10, 1.42, contention.MIXED),
])
def test_the_diagnosis_reads_the_two_figures(speedup, busy, kind):
    found = contention.diagnose(row(speedup, busy), gil_enabled=False)
    assert found.kind == kind
    assert (found.advice != "") == (kind != contention.SCALES)


def test_a_short_machine_cannot_tell_and_the_gil_always_takes_turns():
    assert contention.diagnose(row(1.0, 1.0, MACHINE_SHORT), gil_enabled=False).kind == contention.CANNOT_TELL
    found = contention.diagnose(row(1.0, 1.0, MACHINE_SHORT), gil_enabled=True)
    assert (found.kind, found.cause) == (contention.TOOK_TURNS, "gil")


def test_each_slower_is_cores_busy_over_speedup():
    assert contention.diagnose(row(1.0, 2.0), gil_enabled=False).each_slower == pytest.approx(2.0)


@pytest.fixture(scope="module")
def measured():
    return lab.run(cases=list(lab.CASES), threads=2, target_s=0.004, budget_s=0.3)


def test_the_lab_runs_every_case_and_counts_lost_updates(measured):
    assert [r["case"] for r in measured["rows"]] == list(lab.CASES)
    attribute = next(r for r in measured["rows"] if r["case"] == "shared-attribute")
    assert 0 <= attribute["lost_updates"] <= attribute["updates"]
    assert all(r["diagnosis"]["kind"] for r in measured["rows"])
    assert "Finding" not in measured["finding"] and measured["finding"]
    json.dumps(measured)  # JSON-ready


def test_what_is_certain_about_the_diagnoses(measured):
    kinds = {r["case"]: r["diagnosis"]["kind"] for r in measured["rows"]}
    if gil.gil_enabled():  # one thread runs Python at a time: every case took turns, in one line
        assert set(kinds.values()) == {contention.TOOK_TURNS}
        assert "GIL is enabled" in measured["finding"] and "\n" not in measured["finding"]
    else:  # a lock's threads cannot both be on a CPU doing the work
        assert kinds["lock"] in (contention.TOOK_TURNS, contention.CANNOT_TELL, contention.MIXED)


def test_the_table_and_the_plot(measured, tmp_path):
    text = lab.format_text(measured)
    assert "shared-random" in text and "diagnosis" in text
    lab.plot(measured, str(tmp_path / "contention.png"))
    assert (tmp_path / "contention.png").stat().st_size > 1000


@pytest.mark.skipif(missing_compiler() is not None, reason=missing_compiler() or "")
@pytest.mark.skipif(not gil.free_threaded_build(), reason="needs a free-threaded build: probe names the module that "
                    "re-enabled the GIL only where there is one to re-enable")
def test_probe_names_the_module_and_its_chain_and_says_the_figures_had_the_gil(tmp_path):
    folder = build(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "fastfib", "probe", "-s", "import thirdparty", "thirdparty.core.tiny_gil.answer()",
         "--runners", "threads", "--quick", "--no-progress", "--json", str(tmp_path / "p.json")],
        capture_output=True, text=True, timeout=200, cwd=folder, check=False)
    assert done.returncode == 0, done.stderr
    assert "re-enabled by importing tiny_gil (import chain: <setup> -> thirdparty -> thirdparty.core -> tiny_gil" \
        in done.stdout
    assert "taken WITH the GIL" in done.stdout and "took turns: the GIL is enabled" in done.stdout
    record = json.loads((tmp_path / "p.json").read_text())["meta"]["free_threading"]
    assert [r["name"] for r in record["imports"]["reenablers"]] == ["tiny_gil"]
