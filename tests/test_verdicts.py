"""Parallelism beside every paired speedup, the verdict it can carry, and the machine's speed changes."""

from __future__ import annotations

import doctest

import pytest

from fastfib.benchmarks import _summary
from fastfib.measure import paired as pairing
from fastfib.measure.paired import Alternation, PairedRatio, Spread, speed_change


def _paired(ratios: list[float], busy: list[float] | None = None, baseline: list[float] | None = None) -> PairedRatio:
    """Pairs whose B runs have these speedups and parallelisms, over baseline walls ``baseline``."""
    walls = baseline or [1.0] * (len(ratios) + 1)
    alternation = Alternation()
    alternation.add_a(walls[0], walls[0])
    for index, ratio in enumerate(ratios):
        b = (walls[index] + walls[index + 1]) / 2 / ratio
        alternation.add_b(b, None if busy is None else busy[index] * b)
        alternation.add_a(walls[index + 1], walls[index + 1])
    return alternation.ratio()


NOISY = [1.1, 1.9, 1.2, 1.8, 1.3, 1.7, 1.15, 1.85, 1.25, 1.6]
NOISY_FLAT = [0.7, 1.1, 0.75, 1.05, 0.8, 1.0, 0.72, 1.08, 0.9, 0.95]


def _row(kernel: str, paired: PairedRatio, runner: str = "threads") -> tuple[dict, dict]:
    info = {"question": "scaling", "kernel": kernel, "runner": runner, "workers": 2, "tasks": 4, "n": 25,
            "paired": paired.to_dict()}
    return info, {"median": 0.05, "q1": 0.049, "q3": 0.051}


def test_the_doctests_of_the_paired_module_hold():
    assert doctest.testmod(pairing).failed == 0


def test_parallelism_comes_with_its_interval_and_survives_a_round_trip():
    found = _paired([1.9] * 10, busy=[1.97, 1.98, 1.99, 1.96, 1.98, 1.97, 1.99, 1.98, 1.97, 1.98])
    assert found.parallelism is not None and found.parallelism.median == pytest.approx(1.98)
    assert found.parallelism.low <= found.parallelism.median <= found.parallelism.high
    assert found.baseline_parallelism is not None and found.baseline_parallelism.median == pytest.approx(1.0)
    assert "parallelism 1.98 (" in found.describe()
    assert PairedRatio.from_dict(found.to_dict()) == found


def test_runs_without_cpu_times_give_no_parallelism():
    alternation = Alternation()
    for _ in range(3):
        alternation.add_a(1.0)
        alternation.add_b(0.5)
    alternation.add_a(1.0)
    assert alternation.ratio().parallelism is None


def test_a_noisy_speedup_takes_its_verdict_from_parallelism_and_says_so():
    summary = _summary.summarise([
        _row("cython-nogil", _paired(NOISY, busy=[1.97] * 10)),
        _row("cython-gil", _paired(NOISY_FLAT, busy=[1.01] * 10)),
        _row("numpy", _paired(NOISY, busy=[1.5] * 10)),
        _row("python", _paired(NOISY, busy=[1.0, 1.9] * 5)),  # parallelism as noisy as the speedup
        _row("cython-nogil", _paired([1.9] * 10, busy=[1.97] * 10), runner="processes"),
    ])
    said = {(row["kernel"], row["runner"]): (row["verdict"], row["verdict_by"]) for row in summary["rows"]}
    assert said == {("cython-nogil", "threads"): ("scales", "parallelism"),
                    ("cython-gil", "threads"): ("flat", "speedup"),  # wide, but all of it flat
                    ("numpy", "threads"): ("partly", "parallelism"),
                    ("python", "threads"): ("too noisy to tell", ""),
                    ("cython-nogil", "processes"): ("scales", "speedup")}
    text = _summary.format_summary(summary)
    assert "cython-nogil on 2 threads: too noisy to tell: " in text and "- scales (by parallelism)" in text
    assert "python on 2 threads: too noisy to tell" in text


def test_parallelism_cannot_overrule_a_speedup_that_contradicts_it():
    # Both cores busy, but the speedup's interval lies wholly below "scales": busy is not enough.
    row = _summary.summarise([_row("x", _paired([1.05, 1.3, 1.1, 1.25, 1.0, 1.3, 1.1, 1.2, 1.05, 1.28],
                                                 busy=[1.98] * 10))])["rows"][0]
    assert row["too_noisy"] and (row["verdict"], row["verdict_by"]) == ("too noisy to tell", "")


# Wide (not narrow, not too noisy) and straddling the 1.5x bar,
# as "python on 2 processes" read once from a wheel: 1.76x (1.50-1.80x), parallelism 1.89.
STRADDLING = [1.74, 1.85, 1.3, 1.76, 1.7, 1.72, 1.6, 1.8, 1.65, 1.4, 1.78, 1.45]  # 1.71x (1.45-1.78x)


def test_a_wide_speedup_that_straddles_the_bar_lets_parallelism_decide():
    assert not _paired(STRADDLING).too_noisy and not _paired(STRADDLING).precise
    summary = _summary.summarise([
        _row("python", _paired(STRADDLING, busy=[1.9] * 12), runner="processes"),
        _row("numpy", _paired(STRADDLING, busy=[1.4] * 12), runner="processes"),  # cores idle: partly
        _row("python", _paired(STRADDLING, busy=[1.0, 1.9] * 6)),  # parallelism cannot tell
    ])
    said = {(row["kernel"], row["runner"]): (row["verdict"], row["verdict_by"]) for row in summary["rows"]}
    assert said == {("python", "processes"): ("scales", "parallelism"),
                    ("numpy", "processes"): ("partly", "parallelism"),
                    ("python", "threads"): ("partly", "speedup")}  # the speedup's own verdict stands


def test_two_speeds_of_the_baseline_are_found_and_said_in_one_line():
    walls = [0.040, 0.041, 0.070, 0.071, 0.040, 0.072, 0.041, 0.040, 0.070, 0.041, 0.040]
    found = _paired([1.9] * 10, busy=[1.97] * 10, baseline=walls)
    assert found.speed_change is not None and found.speed_change["kind"] == "two speeds"
    summary = _summary.summarise([_row("cython-nogil", found), _row("cython-gil", _paired([1.0] * 10))])
    (line,) = [line for line in summary["story"] if line.startswith("the machine changed speed")]
    assert "1 of 2 paired benchmarks" in line and "40.0-41.0 ms (7 runs) and 70.0-72.0 ms (4 runs)" in line


def test_a_steady_or_drifting_baseline():
    assert speed_change([0.05, 0.051, 0.0505, 0.052]) is None
    drift = speed_change([0.040, 0.044, 0.048, 0.052, 0.056])
    assert drift is not None and drift["kind"] == "drift" and drift["ratio"] == pytest.approx(1.4)


def test_a_spread_of_one_value():
    spread = Spread.of([2.0])
    assert (spread.median, spread.low, spread.high, spread.n) == (2.0, 2.0, 2.0, 1)


def test_a_spread_around_zero_is_written_as_json():
    # A machine control that got no core at all has median 0: no relative width, and no inf in JSON.
    import json

    document = Spread.of([0.0, 0.0, 0.0]).to_dict()
    assert document["width"] is None
    json.dumps(document, allow_nan=False)


def _probed(ratios: list[float], busy: list[float]):
    from fastfib.measure.probe_result import ProbeResult, ScalePoint

    return ProbeResult("f()", "released", 1.0, 0.1, 0.002, 0.002, 0.002, 10, 10,
                       points=[ScalePoint("threads", 2, speedup=_paired(ratios, busy=busy))])


def test_probes_advice_leans_on_parallelism_when_the_speedup_is_too_noisy():
    from fastfib.measure import probe_advice

    ran_at_once = probe_advice.advice(_probed(NOISY, [1.96] * 10), cores=2)
    assert "did run at once (parallelism 1.96" in ran_at_once and "threads pay here" in ran_at_once
    took_turns = probe_advice.advice(_probed(NOISY_FLAT, [1.02] * 10), cores=2)
    assert "took turns (parallelism 1.02" in took_turns
    unclear = probe_advice.advice(_probed(NOISY, [1.0, 1.9] * 5), cores=2)
    assert "too noisy to tell whether threads pay" in unclear
