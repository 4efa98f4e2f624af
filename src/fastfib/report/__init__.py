"""Reports of measured rows: the terminal table, the versioned JSON, the PNG plot,
and the side-by-side comparison of two JSON files.

Files are written atomically (:mod:`fastfib.files`): a reader, or a Ctrl-C,
never sees half a file.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastfib import measure
from fastfib.files import FileError, envelope, write_atomic, write_document
from fastfib.measure import Row, amdahl
from fastfib.tables import grid, ms, num, times

__all__ = [
    "SCHEMA", "SCHEMA_VERSION", "TABLE_HEADER", "ReportError", "describe", "document", "dress_panel",
    "format_compare", "format_headline", "format_table", "gil_label", "legend", "load", "pair_rows",
    "ratio", "table_cells", "write_json", "write_plot",
]

SCHEMA = "fastfib.scale"
# Schema history (bump SCHEMA_VERSION on any change a reader would notice):
#   1 -- {"schema", "schema_version", "meta": {...}, "rows": [Row.to_dict(), ...]}; wall_s is
#        {"median", "min", "max"} in seconds; a row with "error" has null figures.
#      (additive, still 1: meta gained gil_enabled_at_end, skipped_runners and unavailable_runners;
#      a row's extra may hold "backend" (interpreters) and "unavailable": true, an error row for a
#      kernel that cannot load on that runner, shown as n/a and not counted as a failed run)
#      (additive, still 1: meta gained "dask", an existing cluster's scheduler and workers (threads,
#      cores, interpreter) or null; a dask row's extra holds "dask", its cluster and chosen workers)
SCHEMA_VERSION = 1


class ReportError(FileError):
    """A scale report that cannot be read; the message says which file and why."""


# --- the JSON document ----------------------------------------------------------------------

def document(meta: dict[str, Any], rows: Sequence[Row]) -> dict[str, Any]:
    """The JSON document: schema name and version, run metadata, rows."""
    return envelope(SCHEMA, SCHEMA_VERSION, meta, {"rows": [row.to_dict() for row in rows]})


def write_json(path: str | os.PathLike[str], meta: dict[str, Any], rows: Sequence[Row]) -> None:
    """Write the rows and metadata to ``path`` atomically."""
    write_document(path, document(meta, rows))


def load(path: str | os.PathLike[str]) -> tuple[dict[str, Any], list[Row]]:
    """Read a file written by :func:`write_json`: (meta, rows). ReportError if it cannot."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ReportError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ReportError(f"{path} is not a fastfib scale report (no \"schema\": \"{SCHEMA}\")")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        writer = (data.get("meta") or {}).get("fastfib_version", "an unknown version")
        raise ReportError(
            f"{path} uses schema version {version} (written by fastfib {writer}); this fastfib "
            f"reads version {SCHEMA_VERSION} only: re-run `fastfib scale --json` to compare"
        )
    try:
        return dict(data["meta"]), [Row.from_dict(row) for row in data["rows"]]
    except (KeyError, TypeError) as exc:
        raise ReportError(f"{path} is malformed ({type(exc).__name__}: {exc})") from None


# --- the table ------------------------------------------------------------------------------

TABLE_HEADER = ("kernel", "runner", "workers", "n", "task ms", "wall ms (min-max)", "speedup",
                "efficiency", "parallelism", "stall ms", "serial", "start-up ms", "note")


def table_cells(rows: Sequence[Row]) -> list[list[str]]:
    """The cells of the table of ``rows`` under TABLE_HEADER (the terminal's and the HTML report's)."""
    body = []
    for row in rows:
        lead = [row.kernel, row.runner, str(row.workers), str(row.n), num(row.task_ms, 2)]
        if row.error:
            label = "n/a" if row.extra.get("unavailable") else "ERROR"  # n/a: the kernel cannot load there
            body.append(lead + ["-"] * 7 + [f"{label}: {row.error}"])
            continue
        wall = row.wall_s or {}
        body.append(lead + [
            f"{ms(wall.get('median'))} ({ms(wall.get('min'))}-{ms(wall.get('max'))})",
            times(row.speedup), num(row.efficiency), _parallelism(row),
            num(row.heartbeat_max_stall_ms, 1), num(row.serial_fraction),
            "-" if row.runner == "sequential" else ms(row.startup_s),
            "noisy" if row.noisy else "",
        ])
    return body


def _parallelism(row: Row) -> str:
    """ "1.97 (1.95-1.99)": the median repeat's CPU / wall, and its range over the repeats."""
    spread = row.extra.get("parallelism_range")
    if row.parallelism is None or not spread:
        return num(row.parallelism)
    return f"{row.parallelism:.2f} ({spread[0]:.2f}-{spread[1]:.2f})"


def speed_changes(rows: Sequence[Row]) -> list[str]:
    """A line per kernel whose sequential runs took very different times (the machine changed speed)."""
    from fastfib.measure.paired import describe_speed_change

    return [f"the machine changed speed while {row.kernel} was measured: its sequential runs "
            f"{describe_speed_change(row.extra['speed_change'])}; speedups swing with it, parallelism does not"
            for row in rows if row.extra.get("speed_change")]


def format_table(rows: Sequence[Row]) -> str:
    """The terminal table: one line per row, errors and noisy rows marked."""
    return grid(TABLE_HEADER, table_cells(rows), left=2)


LEGEND = (
    "speedup = sequential wall / wall (same kernel, same tasks); efficiency = speedup / "
    "min(workers, cores);\nparallelism = CPU / wall (median, range over the repeats); stall = longest gap of a 1 ms "
    "heartbeat\nthread in this process (the GIL made visible); serial = Karp-Flatt serial fraction;\n"
    f"noisy = wall spread (max - min) / median > {measure.NOISY_SPREAD:.0%}; start-up = starting "
    "and warming the pool, not in the wall times."
)


def legend(gil_enabled: bool = True) -> str:
    """LEGEND, worded for the interpreter measured: with no GIL, what stalls the heartbeat is not a GIL."""
    if gil_enabled:
        return LEGEND
    return LEGEND.replace("(the GIL made visible)", "(no GIL here: only the OS scheduler and the work delay it)")


def gil_label(meta: dict[str, Any]) -> str:
    """The interpreter, its build (GIL or free-threaded), whether the GIL was on while measuring,
    and, without one, what that means for the kernels that hold it elsewhere."""
    build = "free-threaded build" if meta.get("free_threaded_build") else "GIL build"
    label = (f"{meta['python_implementation']} {meta['python_version']} ({build}), "
             f"GIL {'enabled' if meta['gil_enabled'] else 'disabled'} at runtime")
    if meta.get("gil_enabled_at_end", meta["gil_enabled"]) != meta["gil_enabled"]:
        label += " -- re-enabled during the run: an imported extension lacks the free-threading declaration"
    elif not meta["gil_enabled"]:
        label += (" -- no GIL, so nothing keeps the kernels that would hold one (python, numpy's glue, "
                  "cython-gil) from running in parallel on threads")
    return label


def _speedup_or_why(row: Row) -> str:
    if row.speedup is not None:
        return times(row.speedup)
    return "n/a" if row.extra.get("unavailable") else "ERROR"


def format_headline(rows: Sequence[Row], cores: int) -> str:
    """The answer in a few lines: each runner's speedup per kernel at the worker count
    that matches the cores (or the nearest one measured)."""
    counts = sorted({row.workers for row in rows if row.runner != "sequential"})
    if not counts:
        return ""
    at = min(counts, key=lambda count: (abs(count - cores), count))
    lines = [f"At {at} worker(s) on {cores} usable core(s), speedup over sequential:"]
    for runner in dict.fromkeys(row.runner for row in rows if row.runner != "sequential"):
        found = [f"{row.kernel} {_speedup_or_why(row)}" for row in rows if row.runner == runner and row.workers == at]
        lines.append(f"  {runner + ':':<11} " + ", ".join(found))
    return "\n".join(lines)


# --- the plot -------------------------------------------------------------------------------

def _series(rows: Sequence[Row]) -> dict[tuple[str, str], list[tuple[int, float]]]:
    """(kernel, runner) -> [(workers, speedup)], each sorted, errors left out."""
    found: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for row in rows:
        if row.speedup is not None and row.runner != "sequential":
            found.setdefault((row.kernel, row.runner), []).append((row.workers, row.speedup))
    return {key: sorted(points) for key, points in found.items()}


def dress_panel(ax: Any, kernel: str, top: float) -> None:
    """One kernel's panel of a speedup-vs-workers plot: its title, axes, grid and legend."""
    ax.set_title(kernel)
    ax.set_xlabel("workers")
    ax.set_ylabel("speedup vs sequential")
    ax.set_ylim(0, top)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")


def write_plot(path: str | os.PathLike[str], rows: Sequence[Row], cores: int, title: str = "") -> None:
    """PNG (SVG for a path ending in .svg): speedup vs workers, one panel per kernel, one line per runner, with
    the ideal min(workers, cores), each line's fitted Amdahl curve (dashed) and, for rows whose ``extra``
    carries ``speedup_low``/``speedup_high``, that interval as error bars."""
    import matplotlib

    matplotlib.use("Agg", force=True)  # files only: never needs a display
    from matplotlib import pyplot as plt

    series = _series(rows)
    intervals: dict[tuple[str, str], list[tuple[int, float, float]]] = {}
    for row in rows:
        if row.speedup is not None and "speedup_low" in row.extra:
            intervals.setdefault((row.kernel, row.runner), []).append(
                (row.workers, row.extra["speedup_low"], row.extra["speedup_high"]))
    kernels = list(dict.fromkeys(row.kernel for row in rows))
    columns = min(2, max(1, len(kernels)))
    lines = max(1, math.ceil(len(kernels) / columns))
    figure, axes = plt.subplots(lines, columns, figsize=(5.2 * columns, 3.8 * lines),
                                squeeze=False, sharey=True)
    top = max([cores] + [s for points in series.values() for _, s in points]
              + [hi for bars in intervals.values() for _, _, hi in bars]) * 1.15
    for index, kernel in enumerate(kernels):
        ax = axes[index // columns][index % columns]
        most = max([w for (k, _), pts in series.items() if k == kernel for w, _ in pts] or [cores])
        amdahl.draw_ideal(ax, most, cores)
        for (name, runner), points in series.items():
            if name != kernel:
                continue
            drawn = ax.plot([w for w, _ in points], [s for _, s in points], marker="o", label=runner)
            bars = intervals.get((name, runner))
            if bars:  # paired speedups carry their 95 % interval
                ax.errorbar([w for w, _, _ in bars], [(lo + hi) / 2 for _, lo, hi in bars],
                            yerr=[(hi - lo) / 2 for _, lo, hi in bars], fmt="none", capsize=3,
                            color=drawn[0].get_color(), lw=1)
            serial = amdahl.fit([(min(w, cores), s) for w, s in points])
            if serial is not None:
                amdahl.draw_curve(ax, serial, most, cores, drawn[0].get_color(),
                                  label=f"{runner}: Amdahl, serial {serial:.2f}")
        ax.set_xticks(sorted({w for (k, _), pts in series.items() if k == kernel for w, _ in pts} | {1}))
        dress_panel(ax, kernel, top)
    for index in range(len(kernels), lines * columns):
        axes[index // columns][index % columns].set_visible(False)
    if title:
        figure.suptitle(title, fontsize=9)
    figure.tight_layout()

    def write(temporary: str) -> None:  # SVG when the name ends in .svg (the HTML report's), else PNG
        figure.savefig(temporary, format="svg" if str(path).endswith(".svg") else "png", dpi=110)

    try:
        write_atomic(path, write)
    finally:
        plt.close(figure)


# --- comparing two runs ---------------------------------------------------------------------

def describe(meta: dict[str, Any]) -> str:
    """Where a run ran, in one line: interpreter, build, GIL, cores, CPU, fastfib version, time."""
    return (f"{meta.get('python_implementation', '?')} {meta.get('python_version', '?')}"
            f"{' (free-threaded)' if meta.get('free_threaded_build') else ''}, "
            f"GIL {'on' if meta.get('gil_enabled', True) else 'off'}, "
            f"{meta.get('usable_cores', '?')} cores, {meta.get('cpu_model', '?')}, "
            f"fastfib {meta.get('fastfib_version', '?')}, {meta.get('timestamp', '?')}")


def ratio(a: float | None, b: float | None) -> float | None:
    """b / a, None when either is unknown (or a is 0)."""
    return None if a is None or b is None or a == 0 else b / a


def pair_rows(rows_a: Sequence[Row], rows_b: Sequence[Row]) -> tuple[list[tuple[Row, Row]], int, int]:
    """The (kernel, runner, workers) rows two runs share, in A's order: (pairs, only in A, only in B)."""
    index_b = {(r.kernel, r.runner, r.workers): r for r in rows_b}
    pairs, only_a = [], 0
    for row in rows_a:
        other = index_b.pop((row.kernel, row.runner, row.workers), None)
        if other is None:
            only_a += 1
        else:
            pairs.append((row, other))
    return pairs, only_a, len(index_b)


def format_compare(a: tuple[dict[str, Any], list[Row]], b: tuple[dict[str, Any], list[Row]],
                   names: tuple[str, str] = ("A", "B")) -> str:
    """The two runs side by side: wall times and speedups, with B/A ratios."""
    (meta_a, rows_a), (meta_b, rows_b) = a, b
    first, second = names
    header = ["kernel", "runner", "workers", f"wall ms {first}", f"wall ms {second}", "wall B/A",
              f"speedup {first}", f"speedup {second}", "speedup B/A"]
    pairs, missing, extra = pair_rows(rows_a, rows_b)
    body = []
    for row, other in pairs:
        wa = (row.wall_s or {}).get("median")
        wb = (other.wall_s or {}).get("median")
        body.append([row.kernel, row.runner, str(row.workers), ms(wa), ms(wb), times(ratio(wa, wb)),
                     times(row.speedup), times(other.speedup), times(ratio(row.speedup, other.speedup))])
    lines = [f"A = {first}: {describe(meta_a)}", f"B = {second}: {describe(meta_b)}", ""]
    lines.append(grid(header, body, left=2) if body else "no (kernel, runner, workers) row in common")
    if missing or extra:
        lines.append(f"\n{missing} row(s) only in {first}, {extra} only in {second} (not shown)")
    lines.append("\nwall B/A < 1: B is faster; speedup B/A > 1: B scales better.")
    return "\n".join(lines)
