"""The benchmark suite's summary: paired speedups with their intervals, and time ratios.

Each benchmark names in ``extra_info`` its ``question`` (which table it
belongs to), its ``case`` (what stays fixed within a comparison) and its
``kernel``. Two kinds of figure come out:

* speedup, for parallel benchmarks: each carries ``paired``, the speedup the
  ``paired`` fixture measured against the sequential baseline timed in
  alternation with it (:class:`fastfib.measure.paired.PairedRatio`: median of the
  per-pair ratios, its 95 % interval, the ratios' interquartile range);
* time ratio, for questions listed in ``REFERENCE``: its median divided by the
  median of the reference kernel's benchmark in the same case (e.g. gmp's time
  over gmpy2's), with the range its and the reference's interquartile ranges
  allow. These are single-thread timings of separate benchmarks, not pairs:
  the summary says so.

Each paired row also carries ``parallelism`` (CPU / wall of the parallel runs,
with its interval) and, when the sequential baseline's own times moved by 25 %
or more during the benchmark, ``speed_change``. A row's verdict is decided by
what the data can carry (:mod:`fastfib.measure.verdicts`): "cannot tell" when
the machine lent too few cores, else by the speedup when its interval is narrow
or decisive, by parallelism when it is wide and straddles a bar, each against
the cores lent; ``verdict_by`` says which.

The summary (``"fastfib"`` in ``--benchmark-json``) is versioned: schema
``fastfib.bench-summary``; version 3 added parallelism, ``verdict``,
``verdict_by`` and ``speed_change`` to each row and the ``machine`` line to the
story; version 4 added ``machine`` to each row (the cores the machine lent meanwhile:
:mod:`fastfib.measure.machine`), the verdict "cannot tell" (``verdict_by``
"machine") and the lent-cores line to the story -- a version 3 row has no
``machine`` and is judged as before; version 2 (paired speedups with intervals) replaced version 1, whose
speedups divided the medians of separate benchmarks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastfib import environment, measure, tables
from fastfib.measure import amdahl, verdicts
from fastfib.measure.machine import Lent, describe_over
from fastfib.measure.paired import BUSY_AT, FLAT_BELOW, TOO_WIDE, PairedRatio, describe_speed_change
from fastfib.measure.verdicts import verdict, verdict_and_basis  # the summary's rows are judged there

SCHEMA = "fastfib.bench-summary"
SCHEMA_VERSION = 4
REFERENCE = {"price": "cython-gil", "call overhead": "cython-gil",  # question -> reference kernel
             "exact": "python", "big-n": "gmpy2", "start-up": "python -c pass"}

Stats = dict[str, float]  # pytest-benchmark's "median", "q1", "q3" of one benchmark


def _stats_of(fixture: Any) -> Stats | None:
    stats = getattr(fixture, "stats", None)  # None when timing is disabled
    if stats is None:
        return None
    return {"median": stats.stats.median, "q1": stats.stats.q1, "q3": stats.stats.q3}


def from_recorded(recorded: Iterable[tuple[Any, dict[str, Any]]]) -> dict[str, Any]:
    return summarise((info, _stats_of(fixture)) for fixture, info in recorded)


def from_json(benchmarks: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return summarise((b.get("extra_info") or {}, b.get("stats")) for b in benchmarks)


def summarise(entries: Iterable[tuple[dict[str, Any], Stats | None]]) -> dict[str, Any]:
    """The summary document: ``rows`` (paired speedups), ``ratios`` (time ratios), ``story``."""
    cores = environment.usable_cores()
    measured = [(info, stats) for info, stats in entries if "question" in info and stats and stats.get("median")]
    rows = _speedups(measured, cores)
    return {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "usable_cores": cores, "rows": rows,
            "ratios": _ratios(measured), "story": story(rows, cores)}


def _speedups(measured: list[tuple[dict[str, Any], Stats]], cores: int) -> list[dict[str, Any]]:
    rows = []
    for info, stats in measured:
        if "paired" not in info:
            continue
        paired = PairedRatio.from_dict(info["paired"])
        ideal = min(info["workers"], cores)
        rows.append({
            "question": info["question"], "case": info.get("case", ""), "kernel": info["kernel"],
            "runner": info["runner"], "workers": info["workers"], "tasks": info.get("tasks"),
            "n": info.get("n"), "median_s": stats["median"], "pool_startup_s": info.get("pool_startup_s"),
            **paired.to_dict(), "ideal": ideal, "efficiency": paired.speedup / ideal,
            "serial_fraction": amdahl.karp_flatt(paired.speedup, ideal),
        })
        rows[-1]["verdict"], rows[-1]["verdict_by"] = verdict_and_basis(rows[-1])
    return rows


def _ratios(measured: list[tuple[dict[str, Any], Stats]]) -> list[dict[str, Any]]:
    # Interleaved time ratios (the two kernels called alternately in one benchmark) first;
    # the separate benchmarks' medians give the rest.
    found = [{"question": info["question"], "case": info.get("case", ""), "kernel": info["kernel"],
              "reference": info["interleaved_with"], "median_s": stats["median"],
              "time_ratio": info["time_ratio"]["speedup"], "low": info["time_ratio"]["low"],
              "high": info["time_ratio"]["high"], "paired": True}
             for info, stats in measured if "time_ratio" in info]
    by_case = {(info["question"], info.get("case", ""), info["kernel"]): stats for info, stats in measured
               if "time_ratio" not in info}
    for (question, case, kernel), stats in by_case.items():
        reference = REFERENCE.get(question)
        base = by_case.get((question, case, reference)) if reference else None
        if base and kernel != reference:
            found.append({
                "question": question, "case": case, "kernel": kernel, "reference": reference,
                "median_s": stats["median"], "time_ratio": stats["median"] / base["median"],
                "low": stats["q1"] / base["q3"], "high": stats["q3"] / base["q1"], "paired": False,
            })
    return found


def _label(row: dict[str, Any]) -> str:
    """ "cython-nogil threads x2", with its question and case where that is not scaling."""
    said = f"{row['kernel']} {row['runner']} x{row['workers']}"
    if row["question"] == "scaling":
        return said
    return f"{said} ({' '.join(part for part in (row['question'], row['case']) if part)})"


def lent_lines(rows: list[dict[str, Any]]) -> list[str]:
    """What the machine lent over the paired benchmarks, and those judged while it was short."""
    found = [(_label(row), row["ideal"], Lent.from_dict(row.get("machine"))) for row in rows if row["ideal"] >= 2]
    return describe_over([(label, ideal, lent) for label, ideal, lent in found if lent is not None],
                         "the paired benchmarks")


def machine_line(rows: list[dict[str, Any]]) -> str:
    """One line on whether the machine changed speed during the paired benchmarks (or "")."""
    moved = [row for row in rows if row.get("speed_change")]
    if not moved:
        return ""
    worst = max(moved, key=lambda row: row["speed_change"]["ratio"])
    two = sum(1 for row in moved if row["speed_change"]["kind"] == "two speeds")
    return (f"the machine changed speed during {len(moved)} of {len(rows)} paired benchmarks ({two} of them "
            f"with two distinct speeds): the same sequential baseline ran up to {worst['speed_change']['ratio']:.2f}x "
            f"slower at times (worst: {worst['kernel']} {worst['question']} vs {worst['runner']} "
            f"x{worst['workers']}, {describe_speed_change(worst['speed_change'])}); speedups swing with it, "
            f"parallelism does not")


def story(rows: list[dict[str, Any]], cores: int) -> list[str]:
    """The scaling question answered in a sentence per kernel and runner, at the worker
    count nearest the cores; each figure with its interval, each verdict with what decided it."""
    scaling = [row for row in rows if row["question"] == "scaling"]
    counts = sorted({row["workers"] for row in scaling})
    if not counts:
        return []
    at = min(counts, key=lambda count: (abs(count - cores), count))
    lines = []
    for row in scaling:
        if row["workers"] != at:
            continue
        said = verdicts.said(row)
        if said == "too noisy to tell":
            said = ""  # describe() already says it
        lines.append(f"{row['kernel']} on {at} {row['runner']}: {PairedRatio.from_dict(row).describe()}"
                     + (f" - {said}" if said else ""))
    startups = [row["pool_startup_s"] for row in scaling if row["runner"] == "processes" and row["workers"] == at
                and row.get("pool_startup_s")]
    if startups:
        lines.append(f"processes pay start-up ({1000 * max(startups):.0f} ms for a pool of {at}, outside these "
                     f"figures) and hand-over per task (see processes x1)")
    moved = machine_line(rows)
    if moved:
        lines.append(moved)
    return lines + lent_lines(rows)


def _key(info: dict[str, Any]) -> tuple:
    return (info.get("question"), info.get("case", ""), info.get("kernel"), info.get("runner"), info.get("workers"))


def annotate(benchmarks: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    """Copy each benchmark's speedup, interval and efficiency into its own extra_info (JSON output)."""
    by_key = {_key(row): row for row in summary["rows"]}
    for bench in benchmarks:
        info = bench.get("extra_info") or {}
        row = by_key.get(_key(info))
        if row is not None:
            busy = row.get("parallelism") or {}
            info.update(speedup=row["speedup"], speedup_low=row["low"], speedup_high=row["high"],
                        efficiency=row["efficiency"], too_noisy=row["too_noisy"],
                        parallelism=busy.get("median"), parallelism_low=busy.get("low"),
                        parallelism_high=busy.get("high"), verdict=row["verdict"], verdict_by=row["verdict_by"],
                        speed_change=row.get("speed_change"), lent_cores=(row.get("machine") or {}).get("cores"))


def _interval(low: float, high: float) -> str:
    return f"{low:.2f}-{high:.2f}×"


def _parallelism_cells(busy: dict[str, Any] | None) -> list[str]:
    if not busy:
        return ["-", "-"]
    return [f"{busy['median']:.2f}", f"{busy['low']:.2f}-{busy['high']:.2f}"]


def format_summary(summary: dict[str, Any]) -> str:
    """One table of paired speedups, the story in a few lines, then the time ratios."""
    header = ["question", "case", "kernel", "runner", "workers", "median ms", "speedup", "95% CI", "IQR",
              "pairs", "parallelism", "95% CI", "ideal", "lent", "efficiency", "verdict"]
    body = [
        [row["question"], row["case"], row["kernel"], row["runner"], str(row["workers"]),
         f"{1000 * row['median_s']:.2f}", "-" if row["too_noisy"] else tables.times(row["speedup"]),
         _interval(row["low"], row["high"]), _interval(row["q1"], row["q3"]), str(row["pairs"]),
         *_parallelism_cells(row.get("parallelism")),
         tables.times(row["ideal"]), tables.num((row.get("machine") or {}).get("cores")),
         "-" if row["too_noisy"] else f"{row['efficiency']:.2f}",
         verdicts.CANNOT_TELL if verdict(row) == verdicts.CANNOT_TELL else verdicts.said(row)]
        for row in summary["rows"]
    ]
    parts = []
    if body:
        parts += [tables.grid(header, body, left=4),
                  "speedup = median over pairs of sequential / parallel wall, the two timed in alternation in one "
                  "benchmark (A B A B ... A;",
                  "  each parallel run against the mean of the sequential runs on either side); 95% CI = "
                  "distribution-free interval of that median",
                  "  (order statistics of the pairs: its exact coverage is at least 95%, 96-98% for these pair "
                  "counts, and the In short lines give it);",
                  "  IQR = middle half of the pairs; pairs are added until the CI is within 10% of the median or "
                  "the budget is spent;",
                  f"  too noisy = CI still wider than {TOO_WIDE:.0%} of the median (no figure given); "
                  f"ideal = min(workers, {summary['usable_cores']} usable cores);",
                  "  parallelism = CPU / wall of the parallel runs (cores busy at once), median over the runs; "
                  "the verdict comes from the speedup",
                  f"  when its CI is narrow or wholly past a bar, else from parallelism (scales: CI low end >= "
                  f"{1 + BUSY_AT:.1f} of 2 cores; flat: high end <= {FLAT_BELOW});",
                  "  lent = cores the machine lent meanwhile (the least of a control spun on every CPU between the "
                  "pairs, the CPUs other processes left free",
                  "  during the parallel runs, and the CPU quota); every bar is drawn from the lent cores, and "
                  "under 1.5 of 2 the verdict is 'cannot tell'", ""]
    if summary.get("story"):
        parts += ["In short:", *(f"  {line}" for line in summary["story"]), ""]
    ratios = [[r["question"], r["case"], r["kernel"], r["reference"],
               "interleaved" if r.get("paired") else f"{1000 * r['median_s']:.4g}",
               f"{r['time_ratio']:.2f}", f"{r['low']:.2f}-{r['high']:.2f}"] for r in summary["ratios"]]
    if ratios:
        parts += [tables.grid(["question", "case", "kernel", "vs", "median ms", "time ratio", "range"],
                              ratios, left=4),
                  "time ratio = this kernel's time / the reference's in the same case (< 1: faster), single thread;",
                  "  interleaved: the two called alternately in one benchmark, median of the per-pair ratios, "
                  "range = its 95% CI;",
                  "  otherwise medians of separate benchmarks, not paired, range = from this one's lower quartile "
                  "over the reference's upper, to the reverse"]
    return "\n".join(parts).rstrip() if parts else "no benchmarks were timed"


def rows(summary: dict[str, Any]) -> list[measure.Row]:
    """The "scaling" question as fastfib.measure rows, for fastfib.report.write_plot (with intervals)."""
    return [
        measure.Row(row["kernel"], row["runner"], row["workers"], row["tasks"] or 0, row["n"] or 0, 0.0,
                    wall_s={"median": row["median_s"]}, speedup=row["speedup"], efficiency=row["efficiency"],
                    noisy=row["too_noisy"], extra={"speedup_low": row["low"], "speedup_high": row["high"]})
        for row in summary["rows"] if row["question"] == "scaling"
    ]
