"""Speedup and efficiency from pytest-benchmark's medians: the columns it lacks.

Each benchmark names in ``extra_info`` its ``question`` (which table it
belongs to), its ``case`` (what stays fixed within a comparison) and its
``kernel``. Two kinds of figure come out:

* speedup, for benchmarks that also name a ``runner`` and ``workers``: the
  median of the ``runner == "sequential"`` benchmark with the same question,
  case and kernel, divided by its own median;
* time ratio, for questions listed in ``REFERENCE``: its median divided by the
  median of the reference kernel's benchmark in the same case (e.g. gmp's time
  over gmpy2's).
"""

from __future__ import annotations

from typing import Any, Iterable

from fastfib import environment, measure, report

REFERENCE = {"price": "cython-gil", "exact": "python", "big-n": "gmpy2"}  # question -> reference kernel

RECORDED: list[tuple[Any, dict[str, Any]]] = []  # (benchmark fixture, extra_info), filled by conftest


def _median_of(fixture: Any) -> float | None:
    stats = getattr(fixture, "stats", None)  # None when timing is disabled
    return None if stats is None else stats.stats.median


def from_recorded(recorded: Iterable[tuple[Any, dict[str, Any]]]) -> dict[str, Any]:
    return summarise((info, _median_of(fixture)) for fixture, info in recorded)


def from_json(benchmarks: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return summarise((b.get("extra_info", {}), (b.get("stats") or {}).get("median")) for b in benchmarks)


def summarise(entries: Iterable[tuple[dict[str, Any], float | None]]) -> dict[str, Any]:
    """{"usable_cores", "rows": [speedups], "ratios": [time ratios]} (see the module notes)."""
    cores = environment.usable_cores()
    measured = [(info, median) for info, median in entries if "question" in info and median]
    return {"usable_cores": cores, "rows": _speedups(measured, cores), "ratios": _ratios(measured)}


def _ratios(measured: list[tuple[dict[str, Any], float]]) -> list[dict[str, Any]]:
    by_case = {(info["question"], info.get("case", ""), info["kernel"]): median for info, median in measured}
    found = []
    for (question, case, kernel), median in by_case.items():
        reference = REFERENCE.get(question)
        base = by_case.get((question, case, reference))
        if reference and base and kernel != reference:
            found.append({"question": question, "case": case, "kernel": kernel, "reference": reference,
                          "median_s": median, "time_ratio": median / base})
    return found


def _speedups(measured: list[tuple[dict[str, Any], float]], cores: int) -> list[dict[str, Any]]:
    measured = [(info, median) for info, median in measured if "runner" in info]
    baseline = {
        (info["question"], info.get("case", ""), info["kernel"]): median
        for info, median in measured if info["runner"] == "sequential"
    }
    rows = []
    for info, median in measured:
        base = baseline.get((info["question"], info.get("case", ""), info["kernel"]))
        ideal = min(info["workers"], cores)
        speedup = None if base is None else base / median
        rows.append({
            "question": info["question"], "case": info.get("case", ""), "kernel": info["kernel"],
            "runner": info["runner"], "workers": info["workers"], "tasks": info.get("tasks"),
            "n": info.get("n"), "median_s": median, "speedup": speedup, "ideal": ideal,
            "efficiency": None if speedup is None else speedup / ideal,
            "serial_fraction": None if speedup is None else measure.karp_flatt(speedup, ideal),
        })
    return rows


def _key(info: dict[str, Any]) -> tuple:
    return (info.get("question"), info.get("case", ""), info.get("kernel"), info.get("runner"), info.get("workers"))


def annotate(benchmarks: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    """Copy each benchmark's speedup and efficiency into its own extra_info (JSON output)."""
    by_key = {_key(row): row for row in summary["rows"]}
    for bench in benchmarks:
        info = bench.get("extra_info", {})
        row = by_key.get(_key(info))
        if row is not None:
            info["speedup"] = row["speedup"]
            info["efficiency"] = row["efficiency"]


def format_summary(summary: dict[str, Any]) -> str:
    """One table per question, parallel rows only (sequential is 1.00x by definition)."""
    header = ["question", "case", "kernel", "runner", "workers", "median ms", "speedup", "ideal", "efficiency"]
    body = [
        [row["question"], row["case"], row["kernel"], row["runner"], str(row["workers"]),
         f"{1000 * row['median_s']:.2f}", report.times(row["speedup"]), report.times(row["ideal"]),
         "-" if row["efficiency"] is None else f"{row['efficiency']:.2f}"]
        for row in summary["rows"] if row["runner"] != "sequential"
    ]
    parts = []
    if body:
        parts += [report.grid(header, body, left=4),
                  f"speedup = median of the sequential benchmark (same question, case, kernel) / median; "
                  f"ideal = min(workers, {summary['usable_cores']} usable cores)", ""]
    ratios = [[r["question"], r["case"], r["kernel"], r["reference"], f"{1000 * r['median_s']:.4g}",
               f"{r['time_ratio']:.2f}"] for r in summary["ratios"]]
    if ratios:
        parts += [report.grid(["question", "case", "kernel", "vs", "median ms", "time ratio"], ratios, left=4),
                  "time ratio = median / the reference kernel's median in the same case (< 1: faster)"]
    return "\n".join(parts) if parts else "no benchmarks were timed"


def rows(summary: dict[str, Any]) -> list[measure.Row]:
    """The "scaling" question as fastfib.measure rows, for fastfib.report.write_plot."""
    return [
        measure.Row(row["kernel"], row["runner"], row["workers"], row["tasks"] or 0, row["n"] or 0, 0.0,
                    wall_s={"median": row["median_s"]}, speedup=row["speedup"], efficiency=row["efficiency"])
        for row in summary["rows"] if row["question"] == "scaling"
    ]
