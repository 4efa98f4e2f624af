"""``fastfib report``: any mix of fastfib's JSON documents as one self-contained HTML page.

Each document becomes a section (:mod:`fastfib.report.report_documents` reads it): what
was run, where, the table with errors and noisy rows marked, the plot as inline
SVG, and the finding. Several runs of one kind get an overlay first: their
curves on one plot, and the rows they share side by side with the ratios
``fastfib compare`` prints (:func:`fastfib.report.pair_rows`), the largest
differences said in words. The page comes from a Jinja2 template shipped in
the package (``templates/report.html.j2``), needs no network to view (styles
and plots inline, no script), and reads on a phone and in print.

Every input is read and every plot drawn before anything is written, and the
page is written atomically: a bad input leaves no file, and no half of one.
"""

from __future__ import annotations

import math
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import fastfib
from fastfib import files, measure, report, tables
from fastfib.report import html_plots
from fastfib.report.record_tables import Table, TableRow
from fastfib.report.report_documents import Run, load_run

__all__ = ["Overlay", "Page", "build", "render", "where", "write"]

# Where two runs may differ, in the order a reader asks: (label, meta key).
DIFFERENCES = (("Python", "python_version"), ("implementation", "python_implementation"),
               ("free-threaded build", "free_threaded_build"), ("GIL enabled", "gil_enabled"),
               ("usable cores", "usable_cores"), ("CPU", "cpu_model"), ("platform", "platform"),
               ("fastfib", "fastfib_version"), ("commit", "git_commit"))
MOST_DIFFERENCES = 8  # rows named in words per compared pair; the table has them all


@dataclass
class Overlay:
    """Several runs of one kind, compared."""

    kind: str
    title: str
    labels: list[str]
    table: Table
    differences: list[str]
    draw: Any = None  # a path -> None plot function, or None
    svg: str = ""


@dataclass
class Page:
    title: str
    runs: list[tuple[str, Run]]  # (label, run)
    overlays: list[Overlay] = field(default_factory=list)
    svgs: dict[str, str] = field(default_factory=dict)  # label -> its plot


def _labels(count: int) -> list[str]:
    letters = string.ascii_uppercase
    return [letters[i] if count <= len(letters) else f"R{i + 1}" for i in range(count)]


def build(paths: Sequence[str], title: str = "") -> Page:
    """Read every document (ReportError on the first bad one), pair runs of one kind, draw every plot."""
    runs = [load_run(path) for path in paths]
    labelled = list(zip(_labels(len(runs)), runs, strict=True))
    page = Page(title or "fastfib report", labelled)
    by_kind: dict[str, list[tuple[str, Run]]] = {}
    for label, run in labelled:
        by_kind.setdefault(run.kind, []).append((label, run))
    for kind, group in by_kind.items():
        if len(group) > 1:
            page.overlays.append(_overlay(kind, group))
    for label, run in labelled:
        if run.draw is not None:
            page.svgs[label] = _draw(run.path, run.draw, f"plot-{label}", f"plot of run {label}: {run.title}")
    for number, overlay in enumerate(page.overlays):
        if overlay.draw is not None:
            overlay.svg = _draw(", ".join(overlay.labels), overlay.draw, f"overlay-{number}", overlay.title)
    return page


def _draw(source: str, draw: Any, prefix: str, label: str) -> str:
    try:
        return html_plots.inline_svg(draw, prefix, label)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:  # an old or odd document
        raise report.ReportError(f"{source}: cannot draw its plot ({type(exc).__name__}: {exc})") from None


# --- overlays -------------------------------------------------------------------------------

def _overlay(kind: str, group: list[tuple[str, Run]]) -> Overlay:
    labels = [label for label, _ in group]
    differences = _meta_differences(group)
    if kind in ("scale", "bench"):
        return _rows_overlay(kind, group, labels, differences)
    if kind == "crossover":
        return _crossover_overlay(group, labels, differences)
    table = Table(["run", "where", "finding"],
                  [TableRow([label, report.describe(run.meta), run.finding]) for label, run in group])
    return Overlay(kind, f"{group[0][1].title}: runs {', '.join(labels)} side by side", labels, table, differences)


def _meta_differences(group: list[tuple[str, Run]]) -> list[str]:
    """One sentence per way the runs' machines and builds differ (or one saying they do not)."""
    found = []
    for label, key in DIFFERENCES:
        values = [run.meta.get(key) for _, run in group]
        if len({repr(value) for value in values}) > 1:
            said = (f"{name} {_said(value)}" for (name, _), value in zip(group, values, strict=True))
            found.append(f"{label}: " + ", ".join(said))
    return found or ["the runs' interpreter, build, GIL, cores, CPU and fastfib are the same"]


def _said(value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _rows_overlay(kind: str, group: list[tuple[str, Run]], labels: list[str], differences: list[str]) -> Overlay:
    (base_label, base), others = group[0], group[1:]
    paired = {label: report.pair_rows(base.rows or [], run.rows or []) for label, run in others}
    shared = [row for row in base.rows or []
              if all(any(a is row for a, _ in pairs) for pairs, _, _ in paired.values())]
    header = ["kernel", "runner", "workers", f"wall ms {base_label}", f"speedup {base_label}"]
    for label, _ in others:
        header += [f"wall ms {label}", f"speedup {label}", f"speedup {label}/{base_label}"]
    body = []
    for row in shared:
        cells = [row.kernel, row.runner, str(row.workers), tables.ms((row.wall_s or {}).get("median")),
                 tables.times(row.speedup)]
        compared = [row]
        for label, _ in others:
            other = next(b for a, b in paired[label][0] if a is row)
            compared.append(other)
            cells += [tables.ms((other.wall_s or {}).get("median")), tables.times(other.speedup),
                      tables.times(report.ratio(row.speedup, other.speedup))]
        status = ("error" if any(r.error for r in compared) else "noisy" if any(r.noisy for r in compared) else "")
        body.append(TableRow(cells, status))
    for label, _ in others:
        pairs, only_base, only_other = paired[label]
        differences += _speedup_differences(base_label, label, pairs)
        if only_base or only_other:
            differences.append(f"{only_base} row(s) only in {base_label}, {only_other} only in {label} "
                               "(not in the table)")
    table = Table(header, body, caption="" if body else "no (kernel, runner, workers) row in common")
    cores = max(int(run.meta.get("usable_cores") or 1) for _, run in group)
    runs = [(f"{label} {_short(run.meta)}", run.rows or []) for label, run in group]
    what = "fastfib scale" if kind == "scale" else "the benchmark suite"
    return Overlay(kind, f"{what}: runs {', '.join(labels)} overlaid", labels, table, differences,
                   draw=lambda target: html_plots.overlay_plot(target, runs, cores))


def _short(meta: dict[str, Any]) -> str:
    build = "t" if meta.get("free_threaded_build") else ""
    gil = "" if meta.get("gil_enabled") is None else (" GIL" if meta["gil_enabled"] else " no GIL")
    return f"({meta.get('python_version', '?')}{build}{gil})"


def _speedup_differences(first: str, second: str, pairs: list[tuple[measure.Row, measure.Row]]) -> list[str]:
    """The parallel rows whose speedups differ by more than the noise threshold, largest first, in words."""
    compared: list[tuple[measure.Row, measure.Row, float]] = []
    for a, b in pairs:
        r = report.ratio(a.speedup, b.speedup)
        if a.runner != "sequential" and r is not None and r > 0:
            compared.append((a, b, r))
    if not compared:
        return [f"{second} vs {first}: no parallel row with a speedup in both"]
    beyond = sorted([item for item in compared if abs(math.log(item[2])) > math.log1p(measure.NOISY_SPREAD)],
                    key=lambda item: -abs(math.log(item[2])))
    lowest, highest = min(r for _, _, r in compared), max(r for _, _, r in compared)
    lines = [f"{second} vs {first}: speedup {second}/{first} from {tables.times(lowest)} to {tables.times(highest)} "
             f"over {len(compared)} shared parallel row(s); {len(beyond)} differ by more than "
             f"{measure.NOISY_SPREAD:.0%}" + ("" if beyond else ": within the noise")]
    for a, b, r in beyond[:MOST_DIFFERENCES]:
        better = "scales better" if r > 1 else "scales worse"
        noisy = " (noisy: re-run to trust it)" if a.noisy or b.noisy else ""
        lines.append(f"{a.kernel} on {a.runner} x{a.workers}: {tables.times(a.speedup)} in {first}, "
                     f"{tables.times(b.speedup)} in {second} ({second} {better}, {tables.times(r)}){noisy}")
    return lines


def _crossover_overlay(group: list[tuple[str, Run]], labels: list[str], differences: list[str]) -> Overlay:
    sizes = sorted({p.target_ms for _, run in group for p in run.points or []})
    header = ["task ms (target)"] + [f"threads/processes {label}" for label in labels]
    body = []
    for size in sizes:
        cells = [f"{size:g}"]
        for _, run in group:
            point = next((p for p in run.points or [] if p.target_ms == size), None)
            cells.append("-" if point is None else tables.times(point.ratio))
        body.append(TableRow(cells))
    differences = differences + [f"{label}: {run.finding}" for label, run in group]
    runs = [(label, run.points or []) for label, run in group]
    return Overlay("crossover", f"fastfib crossover: runs {', '.join(labels)} overlaid", labels,
                   Table(header, body), differences, draw=lambda target: html_plots.crossover_plot(target, runs))


# --- where it ran ---------------------------------------------------------------------------

def where(meta: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) lines: interpreter, build, GIL, cores, CPU, fastfib, ... (those known)."""
    def known(value: Any) -> bool:
        return value not in (None, "", {})

    lines = []
    python = " ".join(str(meta[k]) for k in ("python_implementation", "python_version") if known(meta.get(k)))
    if python:
        where = f" ({meta['python_executable']})" if known(meta.get("python_executable")) else ""
        lines.append(("interpreter", python + where))
    if "free_threaded_build" in meta:
        lines.append(("build", "free-threaded" if meta["free_threaded_build"] else "with the GIL"))
    if meta.get("gil_enabled") is not None:
        gil = "enabled" if meta["gil_enabled"] else "disabled"
        end = meta.get("gil_enabled_at_end")
        lines.append(("GIL at runtime", gil + ("" if end is None or end == meta["gil_enabled"]
                                              else f" (then {'enabled' if end else 'disabled'} during the run)")))
    if known(meta.get("usable_cores")):
        of = f" (of {meta['cpu_count']})" if known(meta.get("cpu_count")) else ""
        lines.append(("usable cores", f"{meta['usable_cores']}{of}"))
    for label, key in (("CPU", "cpu_model"), ("platform", "platform")):
        if known(meta.get(key)):
            lines.append((label, str(meta[key])))
    if known(meta.get("fastfib_version")):
        commit = f" (commit {meta['git_commit']})" if known(meta.get("git_commit")) else ""
        lines.append(("fastfib", f"{meta['fastfib_version']}{commit}"))
    for label, key in (("Cython", "cython_version"), ("CFLAGS", "cflags"), ("numpy", "numpy_version"),
                       ("processes start by", "start_method"), ("when", "timestamp")):
        if known(meta.get(key)):
            lines.append((label, str(meta[key])))
    if known(meta.get("duration_s")):
        lines.append(("took", f"{meta['duration_s']:.1f} s" if isinstance(meta["duration_s"], (int, float))
                      else str(meta["duration_s"])))
    return lines


# --- the page -------------------------------------------------------------------------------

def render(page: Page) -> str:
    """The page's HTML, from the package's Jinja2 template."""
    import jinja2

    environment = jinja2.Environment(loader=jinja2.PackageLoader("fastfib.report", "templates"), autoescape=True,
                                     undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    template = environment.get_template("report.html.j2")
    return template.render(
        page=page, where=where, legend=report.LEGEND, version=fastfib.__version__,
        generated=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


def write(paths: Sequence[str], output: str, title: str = "") -> int:
    """Build and write the page for ``paths`` to ``output`` atomically; its size in bytes."""
    data = render(build(paths, title)).encode("utf-8")

    def put(temporary: str) -> None:
        with open(temporary, "wb") as out:
            out.write(data)

    files.write_atomic(output, put)
    return len(data)
