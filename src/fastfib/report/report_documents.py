"""Any of fastfib's JSON documents, read into one shape the HTML report can show: a :class:`Run`.

A run is what was run (the command), where (interpreter, build, GIL, cores, CPU,
fastfib version and commit), its table (rows marked as errors or noisy), its
finding, and how to draw its plot. The documents read:

* ``fastfib.scale`` (``fastfib scale --json``), through :func:`fastfib.report.load`;
* ``fastfib.crossover`` (``fastfib crossover --json``);
* ``fastfib.lab.<experiment>`` (``fastfib lab <experiment> --json``), every experiment;
* ``fastfib.probe`` (``fastfib probe --json``) and ``fastfib.trace`` (``fastfib trace -o``,
  ``fastfib scale --timeline``): its timelines drawn lane by lane;
* pytest-benchmark's ``--benchmark-json`` output of fastfib's benchmark suite, which
  holds fastfib's scaling summary under ``"fastfib"``. Its fields change as the
  suite grows, so it is read defensively: the columns present are shown, and
  an unknown field never stops the report.

A document that cannot be read, is not one of these, or has a schema version
this fastfib does not know raises :class:`fastfib.report.ReportError` with a
one-line message that names the file and what is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from fastfib import files, lab, measure, report, tables
from fastfib.lab import crossover
from fastfib.measure import probing, timeline
from fastfib.report import ReportError, timeline_plot
from fastfib.report.record_tables import Table, TableRow, is_noisy, is_records, records_table

__all__ = ["Run", "load_run"]

# The list of dicts that is each lab experiment's main table (the first found), and its others.
LAB_TABLES = ("rows", "points", "fits")
LAB_EXTRA_TABLES = {"sweep": "the threads client by concurrency", "plain_loop": "plain x += 1 on each interpreter"}
LAB_HIDDEN = {"sample", "points", "timelines"}  # columns too long or too nested for a table cell


@dataclass
class Run:
    """One document, ready to show."""

    path: str
    kind: str  # "scale", "crossover", "bench", "probe", "trace" or "lab.<experiment>"
    title: str
    meta: dict[str, Any]
    command: str
    table: Table
    finding: str
    notes: list[str] = field(default_factory=list)  # warnings: failed rows, noisy rows, an interrupted run
    extra_tables: list[Table] = field(default_factory=list)
    rows: list[measure.Row] | None = None  # scale and bench: the measured rows (plots, overlays)
    points: list[crossover.Point] | None = None  # crossover
    draw: Callable[[str], None] | None = None  # writes its plot to a path (the suffix picks the format)

    @property
    def name(self) -> str:
        return Path(self.path).name


# --- reading --------------------------------------------------------------------------------

def load_run(path: str) -> Run:
    """Read ``path`` into a Run; ReportError naming the file and the problem if it cannot."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ReportError(f"{path} is not a text file (not UTF-8): not a fastfib JSON document") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ReportError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ReportError(f"{path} is not a fastfib document: JSON {type(data).__name__}, not an object")
    schema = data.get("schema")
    try:
        if schema == report.SCHEMA:
            return _scale(path)
        if schema == crossover.SCHEMA:
            return _crossover(path, data)
        if isinstance(schema, str) and schema.startswith(lab.SCHEMA_PREFIX):
            return _lab(path, data, schema[len(lab.SCHEMA_PREFIX):])
        if schema is None and "benchmarks" in data:
            return _bench(path, data)
        if schema == probing.SCHEMA:
            return _probe(path, data)
        if schema == timeline.SCHEMA:
            return _trace(path, data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ReportError(f"{path} is malformed ({type(exc).__name__}: {exc})") from None
    known = ", ".join([report.SCHEMA, crossover.SCHEMA, lab.SCHEMA_PREFIX + "<experiment>", probing.SCHEMA,
                       timeline.SCHEMA, "pytest-benchmark JSON"])
    what = f"schema {schema!r} is unknown" if schema is not None else "no \"schema\" field"
    raise ReportError(f"{path} is not a fastfib document ({what}); fastfib report reads: {known}")


def _check_version(path: str, data: dict[str, Any], schema: str, version: int, remedy: str,
                   reads: tuple[int, ...] = ()) -> None:
    """ReportError unless ``data`` has schema version ``version`` (or one of ``reads``, the older
    versions this fastfib still reads)."""
    found = data.get("schema_version")
    if found != version and found not in reads:
        writer = (data.get("meta") or {}).get("fastfib_version", "an unknown version")
        which = f"versions {', '.join(map(str, sorted({*reads, version})))}" if reads else f"version {version} only"
        raise ReportError(f"{path} uses {schema} schema version {found} (written by fastfib {writer}); this "
                          f"fastfib reads {which}: re-run `{remedy}`")


def _meta(path: str, data: dict[str, Any]) -> dict[str, Any]:
    meta = data.get("meta")
    if not isinstance(meta, dict):
        raise ReportError(f"{path} is malformed (no \"meta\" object)")
    return meta


def _scale(path: str) -> Run:
    meta, rows = report.load(path)  # checks the schema version and the rows
    cores = int(meta.get("usable_cores") or 1)
    body = report.table_cells(rows)
    table = Table(list(report.TABLE_HEADER),
                  [TableRow(cells, _row_status(row)) for cells, row in zip(body, rows, strict=True)], says_status=True)
    notes = _row_notes(table)
    if meta.get("interrupted") or meta.get("complete") is False:
        notes.insert(0, "incomplete run (interrupted): only the rows finished are shown")
    if meta.get("gil_enabled_at_end", meta.get("gil_enabled")) != meta.get("gil_enabled"):
        notes.append("the GIL was re-enabled during the run: an imported extension lacks the "
                     "free-threading declaration")
    for name, why in (meta.get("skipped_runners") or {}).items():
        notes.append(f"runner {name} not run: {why}")
    notes += report.lent_lines(rows)  # the cores the machine lent, beside the usable cores (schema 2)
    return Run(path, "scale", "fastfib scale: who scales", meta, meta.get("command") or "fastfib scale",
               table, report.format_headline(rows, cores) or "no parallel rows measured", notes, rows=rows,
               draw=lambda target: report.write_plot(target, rows, cores))


def _crossover(path: str, data: dict[str, Any]) -> Run:
    _check_version(path, data, crossover.SCHEMA, crossover.SCHEMA_VERSION, "fastfib crossover --json")
    meta = _meta(path, data)
    known = {f.name for f in fields(crossover.Point)}
    points = [crossover.Point(**{k: v for k, v in point.items() if k in known}) for point in data["points"]]
    table = Table(list(crossover.TABLE_HEADER), [TableRow(cells) for cells in crossover.table_cells(points)])
    workers = meta.get("workers", "?")
    from fastfib.report import html_plots  # matplotlib only when drawing

    return Run(path, "crossover", f"fastfib crossover: nogil threads vs a warm process pool ({workers} workers)",
               meta, meta.get("command") or "fastfib crossover (command line not recorded)", table,
               str(data.get("summary") or crossover.meeting_point(points)[1]), points=points,
               draw=lambda target: html_plots.crossover_plot(target, [("", points)]))


def _lab(path: str, data: dict[str, Any], name: str) -> Run:
    experiments = {e.name: e for e in lab.experiments()}
    if name not in experiments:
        raise ReportError(f"{path} is from an unknown lab experiment {name!r}; this fastfib has: "
                          + ", ".join(experiments))
    _check_version(path, data, lab.SCHEMA_PREFIX + name, lab.SCHEMA_VERSION, f"fastfib lab {name} --json")
    meta = _meta(path, data)
    if not isinstance(data.get("finding"), str):
        raise ReportError(f"{path} is malformed (no \"finding\" sentence)")
    main = next((key for key in LAB_TABLES if is_records(data.get(key))), None)
    if main is None:
        raise ReportError(f"{path} is malformed (no table: none of {', '.join(LAB_TABLES)} is a list of objects)")
    table = records_table(data[main], hidden=LAB_HIDDEN)
    extra = [records_table(data[key], hidden=LAB_HIDDEN, caption=caption)
             for key, caption in LAB_EXTRA_TABLES.items() if is_records(data.get(key))]
    experiment = experiments[name]
    result = files.body(data)
    notes = _row_notes(table)
    load, cores = meta.get("load_average_at_start"), meta.get("usable_cores") or 1
    if isinstance(load, (int, float)) and load > 0.75 * cores:
        notes.append(f"the load average was {load:.1f} on {cores} usable cores when it started: other work "
                     "shared the machine, so parallel figures come out low")
    plot = experiment.plot
    draw = (lambda target: plot(result, target)) if plot else None
    return Run(path, f"lab.{name}", f"fastfib lab {name}: {experiment.help}", meta,
               meta.get("command") or f"fastfib lab {name}", table, data["finding"], notes,
               extra_tables=extra, draw=draw)


def _probe(path: str, data: dict[str, Any]) -> Run:
    _check_version(path, data, probing.SCHEMA, probing.SCHEMA_VERSION, "fastfib probe ... --json", probing.READS)
    meta, result = _meta(path, data), data["result"]
    records = []
    for point in result["points"]:
        figure = point.get("speedup") or {}
        records.append({"runner": point["runner"], "workers": point["workers"],
                        "speedup": None if figure.get("too_noisy") else figure.get("speedup"),
                        "speedup 95% low": figure.get("low"), "speedup 95% high": figure.get("high"),
                        "pairs": figure.get("pairs"), "too_noisy": figure.get("too_noisy"),
                        "parallelism": _number(figure.get("parallelism")),
                        "lent": _object(figure.get("machine")).get("cores"),  # schema 2: the cores lent meanwhile
                        "startup_s": point.get("startup_s"), "handover_s": point.get("handover_s"),
                        "error": point.get("error")})
    rows = [measure.Row(result["label"], r["runner"], r["workers"], 0, 0, 0.0, speedup=r["speedup"],
                        extra={"speedup_low": r["speedup 95% low"], "speedup_high": r["speedup 95% high"]})
            for r in records if r["speedup"] is not None]
    cores = int(meta.get("usable_cores") or 1)
    beside = ""
    if result.get("stall_ms") and result["verdict"] in ("held", "partly released"):  # schema 3
        what = "mostly Python bytecode" if result.get("yields") or result.get("bytecode_share", 0) >= 0.5 else "C"
        beside = (f" Other threads waited up to {result['stall_ms']:.3g} ms for the GIL at the "
                  f"{1000 * result.get('switch_interval_s', 0.005):g} ms switch interval; the call is {what}.")
    finding = (f"verdict: {result['verdict']} (released fraction {result['released_fraction']:.0%}); "
               f"{tables.ms(result['per_call_s'])} ms per call.{beside} {result['advice']}")
    return Run(path, "probe", f"fastfib probe: {result['label']}", meta,
               meta.get("command") or f"fastfib probe {result['label']!r}", records_table(records), finding,
               _row_notes(records_table(records)), rows=rows,
               draw=(lambda target: report.write_plot(target, rows, cores)) if rows else None)


# --- pytest-benchmark's JSON, read defensively ------------------------------------------------

def _bench(path: str, data: dict[str, Any]) -> Run:
    summary = data.get("fastfib")
    if summary is None:
        raise ReportError(f"{path} is pytest-benchmark JSON without fastfib's \"fastfib\" summary: run fastfib's "
                          "benchmark suite (benchmarks/) with --benchmark-json")
    if not isinstance(summary, dict) or not isinstance(summary.get("rows", []), list):
        raise ReportError(f"{path} is malformed (its \"fastfib\" summary is not an object with a \"rows\" list)")
    meta = _bench_meta(data, summary)
    records = [_bench_record(row) for row in summary.get("rows") or [] if isinstance(row, dict)]
    table = records_table(records, hidden=BENCH_HIDDEN, caption="" if records else "no benchmark was timed")
    ratios = [row for row in summary.get("ratios") or [] if isinstance(row, dict)]
    extra = [records_table(ratios, caption="time ratios against a reference kernel")] if ratios else []
    rows = bench_rows(records)
    cores = int(meta.get("usable_cores") or 1)
    notes = _row_notes(table)
    story = [line for line in summary.get("story") or [] if isinstance(line, str)]  # each with its interval
    return Run(path, "bench", "the benchmark suite (pytest-benchmark)", meta, meta["command"], table,
               "\n".join(story) or report.format_headline(rows, cores) or "no scaling figures in this run", notes,
               extra_tables=extra, rows=rows,
               draw=(lambda target: report.write_plot(target, rows, cores)) if rows else None)


BENCH_HIDDEN = {"ratios", "baseline_parallelism", "baseline_s", "speed_change", "machine"}  # nested: said in the story


def _bench_record(row: dict[str, Any]) -> dict[str, Any]:
    """A summary row with its parallelism (schema 3: an interval object) as three plain columns,
    and the cores the machine lent meanwhile (schema 4) as one."""
    busy, lent = row.get("parallelism"), row.get("machine")
    found = {key: value for key, value in row.items() if key != "parallelism"}
    if isinstance(busy, dict):
        found.update(parallelism=busy.get("median"), parallelism_low=busy.get("low"),
                     parallelism_high=busy.get("high"))
    if isinstance(lent, dict):
        found["lent_cores"] = lent.get("cores")
    return found


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _bench_meta(data: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
    machine, commit = _object(data.get("machine_info")), _object(data.get("commit_info"))
    first: dict[str, Any] = next((b["extra_info"] for b in data.get("benchmarks") or []
                                 if isinstance(b, dict) and isinstance(b.get("extra_info"), dict)), {})
    cpu = _object(machine.get("cpu"))
    commit_id = str(commit.get("id") or "")[:12]
    return {
        "python_implementation": machine.get("python_implementation"),
        "python_version": machine.get("python_version"),
        "gil_enabled": first.get("gil_enabled"),
        "usable_cores": summary.get("usable_cores", first.get("usable_cores")),
        "cpu_count": cpu.get("count"),
        "cpu_model": cpu.get("brand_raw"),
        "platform": " ".join(str(machine[k]) for k in ("system", "release", "machine") if machine.get(k)) or None,
        "fastfib_version": first.get("fastfib_version"),
        "git_commit": commit_id + ("-dirty" if commit_id and commit.get("dirty") else "") or None,
        "timestamp": data.get("datetime"),
        "command": f"pytest --benchmark-only --benchmark-json (pytest-benchmark {data.get('version', '?')}; "
                   f"{len(data.get('benchmarks') or [])} benchmarks)",
    }


def bench_rows(records: Sequence[dict[str, Any]]) -> list[measure.Row]:
    """The "scaling" question's rows as measure rows (for the plot, the headline and overlays)."""
    found = []
    for record in records:
        if record.get("question", "scaling") != "scaling":
            continue
        try:
            speedup, median = _number(record.get("speedup")), _number(record.get("median_s"))
            found.append(measure.Row(
                str(record["kernel"]), str(record["runner"]), int(record["workers"]), int(record.get("tasks") or 0),
                int(record.get("n") or 0), 0.0, wall_s={} if median is None else {"median": median},
                speedup=speedup, efficiency=_number(record.get("efficiency")),
                noisy=is_noisy(record), extra=_interval(record)))
        except (KeyError, TypeError, ValueError):
            continue  # a row this reader cannot place in the plot stays in the table
    return found


def _interval(record: dict[str, Any]) -> dict[str, float]:
    """A paired speedup's 95 % interval (summary schema 2's "low"/"high"), for the plot's error bars."""
    low, high = _number(record.get("low")), _number(record.get("high"))
    return {} if low is None or high is None else {"speedup_low": low, "speedup_high": high}


def _number(value: Any) -> float | None:
    if isinstance(value, dict):  # e.g. {"median": ..., "low": ..., "high": ...}
        value = value.get("median", value.get("value"))
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _row_status(row: measure.Row) -> str:
    if row.error:
        return "na" if row.extra.get("unavailable") else "error"
    return "noisy" if row.noisy else ""


def _row_notes(table: Table) -> list[str]:
    notes = []
    if table.count("error"):
        notes.append(f"{table.count('error')} row(s) failed: marked ERROR in the table")
    if table.count("noisy"):
        notes.append(f"{table.count('noisy')} noisy row(s): their repeats spread widely; re-run on a quieter "
                     "machine before trusting them")
    return notes


def _short(stmt: str) -> str:
    """A statement on one line, cut to 80 characters, for a title."""
    line = "; ".join(part.strip() for part in stmt.splitlines() if part.strip())
    return line if len(line) <= 80 else line[:77] + "..."


def _trace(path: str, data: dict[str, Any]) -> Run:
    _check_version(path, data, timeline.SCHEMA, timeline.SCHEMA_VERSION, "fastfib trace -o FILE", timeline.READS)
    meta = _meta(path, data)
    traced = [timeline.Timeline.from_dict(one) for one in data["configurations"]]
    records = [{"configuration": one.label, "wall_s": one.wall_s, "parallelism": one.parallelism,
                "overlap": one.overlap, "threads shown": len(one.tracks),
                "waited for a CPU ms": None if (waited := one.waited_s) is None else round(1000 * waited, 1),
                "sampler slowdown": (one.extra.get("sampler_cost") or {}).get("slowdown"),
                "sample period ms": 1000 * one.period_s} for one in traced]
    finding = "; ".join(f"{one.label}: overlap {one.overlap:.2f}" for one in traced) + (
        " (overlap = share of the wall with two or more threads on a CPU: threads that hold the GIL take turns, "
        "threads that released it overlap; waited for a CPU = time threads were runnable but the machine ran "
        "something else, drawn hatched: a thread waiting for the GIL sleeps and is not counted)")
    stmt = meta.get("stmt")
    title = (f"fastfib trace: {_short(stmt)} -- which thread was on a CPU when" if stmt
             else "fastfib trace: which thread was on a CPU when")
    return Run(path, "trace", title, meta,
               meta.get("command") or "fastfib trace", records_table(records), finding,
               _row_notes(records_table(records)),
               draw=(lambda target: timeline_plot.write_timeline_plot(target, traced)) if traced else None)
