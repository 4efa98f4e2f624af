"""A scale run in the terminal: its table, legend and headline, and two runs compared."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastfib import measure
from fastfib.measure import Row
from fastfib.measure.machine import Lent, describe_over, short_reading
from fastfib.tables import grid, ms, num, times

__all__ = ["LEGEND", "TABLE_HEADER", "describe", "format_compare", "format_headline", "format_table", "gil_label",
           "legend", "lent_cores", "lent_lines", "pair_rows", "ratio", "short", "speed_changes", "table_cells"]

TABLE_HEADER = ("kernel", "runner", "workers", "n", "task ms", "wall ms (min-max)", "speedup",
                "efficiency", "parallelism", "lent", "stall ms", "serial", "start-up ms", "note")


def table_cells(rows: Sequence[Row]) -> list[list[str]]:
    """The cells of the table of ``rows`` under TABLE_HEADER (the terminal's and the HTML report's)."""
    body = []
    for row in rows:
        lead = [row.kernel, row.runner, str(row.workers), str(row.n), num(row.task_ms, 2)]
        if row.error:
            label = "n/a" if row.extra.get("unavailable") else "ERROR"  # n/a: the kernel cannot load there
            body.append(lead + ["-"] * 8 + [f"{label}: {row.error}"])
            continue
        wall = row.wall_s or {}
        body.append(lead + [
            f"{ms(wall.get('median'))} ({ms(wall.get('min'))}-{ms(wall.get('max'))})",
            times(row.speedup), num(row.efficiency), _parallelism(row), num(lent_cores(row)),
            num(row.heartbeat_max_stall_ms, 1), num(row.serial_fraction),
            "-" if row.runner == "sequential" else ms(row.startup_s),
            ", ".join(note for note in ("noisy" if row.noisy else "", "short" if short(row) else "") if note),
        ])
    return body


def _lent(row: Row) -> Lent | None:
    return Lent.from_dict(row.extra.get("machine"))


def lent_cores(row: Row) -> float | None:
    """The cores the machine lent while a parallel row ran (None: not measured)."""
    lent = _lent(row)
    return None if lent is None else lent.cores


def short(row: Row) -> bool:
    """Whether the machine lent too few cores while the row ran to tell whether it scales."""
    return row.runner != "sequential" and short_reading(row.extra.get("machine")) is not None


def lent_lines(rows: Sequence[Row]) -> list[str]:
    """What the machine lent over the parallel rows, and the rows measured while it was short."""
    found = [(f"{row.kernel} {row.runner} x{row.workers}", _lent(row)) for row in rows if row.error is None]
    return describe_over([(label, lent.threads, lent) for label, lent in found if lent is not None],
                         "the parallel rows")


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
    "lent = cores the machine lent while the row ran (a control on every CPU, other processes' CPU, the quota);\n"
    "short = under 1.5 of 2 lent (half way to the ideal): that speedup cannot tell who scales;\n"
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
    if row.speedup is not None and short(row):
        return f"{times(row.speedup)} (cannot tell: the machine lent {lent_cores(row):.1f} cores)"
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
