"""``fastfib report``: the page made from each kind of document, and every way an input can be wrong.

The documents are real (tests/data/report/, see report_pages) plus two runs made
here on tiny settings, so a change of what the commands write shows up. These
tests read the HTML; tests/test_report_browser.py loads it in Chromium.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fastfib import registry
from fastfib.cli import main
from helpers import forks_beside_threads
from report_pages import DATA, SAMPLES, UNPLOTTED, Page, sample, variant

pytestmark = pytest.mark.timeout(120)


def _report(capsys, paths, out: Path) -> Page:
    assert main(["report", *map(str, paths), "-o", str(out)]) == 0, capsys.readouterr().err
    stdout = capsys.readouterr().out
    assert stdout.startswith(f"wrote {out} (")
    return Page(out.read_text(encoding="utf-8"))


def _section(page_path: Path, name: str) -> Page:
    """The run section made from the document called ``name``."""
    text = page_path.read_text(encoding="utf-8")
    (found,) = [chunk for chunk in text.split("<section ")[1:] if f'data-file="{name}"' in chunk.split(">", 1)[0]]
    return Page("<section " + found)


@pytest.mark.parametrize("path", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_each_kind_of_document_becomes_one_section(report_of_samples, path):
    _, page_path = report_of_samples
    section = _section(page_path, path.name)
    data = sample(path.name)
    assert section.count("table", "main") == 1
    assert section.count("svg", "plot") == (0 if path.name in UNPLOTTED else 1)
    text = section.text
    finding = data.get("finding") or data.get("summary")
    if finding:  # lab and crossover; scale and bench: the headline
        assert finding in text
    else:
        assert "speedup over sequential" in text
    python = (data.get("meta") or data.get("machine_info"))["python_version"]
    assert python in text and "usable cores" in text and "command" in text


def test_the_page_has_a_section_per_run_and_an_overlay_per_kind_run_twice(report_of_samples):
    inputs, page_path = report_of_samples
    page = Page(page_path.read_text(encoding="utf-8"))
    assert page.count("section", "run") == len(inputs)
    assert page.count("table", "main") == len(inputs)
    assert page.count("svg", "plot", within="run") == len([p for p in inputs if p.name not in UNPLOTTED])
    assert page.count("section", "overlay") == 1  # the two scale runs


def test_the_page_needs_nothing_from_outside_and_its_ids_are_unique(report_of_samples):
    _, out = report_of_samples
    page = Page(out.read_text(encoding="utf-8"))
    tags = {tag for tag, _ in page.elements}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed"}
    for _, attrs in page.elements:
        for key in ("src", "href"):
            assert not attrs.get(key, "#").lower().startswith(("http:", "https:", "//", "file:")), attrs
    ids = [attrs["id"] for _, attrs in page.elements if "id" in attrs]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)[:5]
    assert "@import" not in out.read_text() and "url(http" not in out.read_text()
    assert out.stat().st_size < 2_000_000


def test_runs_of_one_kind_are_overlaid_with_their_differences(report_of_samples):
    inputs, page_path = report_of_samples
    text = page_path.read_text(encoding="utf-8")
    (chunk,) = [c for c in text.split("<section ")[1:] if c.startswith('class="overlay"')]
    overlay = Page("<section " + chunk)
    assert overlay.count("svg", "plot") == 1 and overlay.count("table", "overlay-table") == 1
    said = overlay.text
    # Runs are lettered in the inputs' order: the samples, then the variant (the last).
    a, b = (chr(ord("A") + i) for i in ([p.name for p in inputs].index("scale.json"), len(inputs) - 1))
    assert f"Python: {a} 3.11.7, {b} 3.13.5" in said and f"free-threaded build: {a} no, {b} yes" in said
    assert re.search(rf"python on threads x2: 0\.\d\d× in {a}, 2\.05× in {b} \({b} scales better", said), said


def test_lab_runs_of_one_kind_are_put_side_by_side(capsys, tmp_path):
    other = variant(tmp_path, "lab-race.json", lambda d: d.update(finding="Another finding."), "race2.json")
    page = _report(capsys, [DATA / "lab-race.json", other], tmp_path / "r.html")
    assert page.count("section", "overlay") == 1 and page.count("section", "run") == 2
    assert "Another finding." in page.text and sample("lab-race.json")["finding"] in page.text


def _break_a_row(data):
    row = data["rows"][3]
    row.update(error="wrong result: task 0 returned 1, F(22) = 17711", wall_s=None, speedup=None, noisy=False)
    data["meta"].update(interrupted=True, complete=False)


def test_errors_and_noisy_rows_are_marked_as_such(capsys, tmp_path):
    broken = variant(tmp_path, "scale.json", _break_a_row, "broken.json")
    page = _report(capsys, [broken], tmp_path / "r.html")
    assert page.rows("error") == 1
    rows = sample("scale.json")["rows"]
    assert page.rows("noisy") == sum(row["noisy"] for row in rows) - rows[3]["noisy"]
    text = page.text
    assert "ERROR: wrong result: task 0 returned 1" in text
    assert "1 row(s) failed" in text and "incomplete run (interrupted)" in text


def _grow_the_benchmark_summary(data):
    """Fields a later benchmark summary may have: spread, a noise verdict, nested figures, none at all."""
    rows = data["fastfib"]["rows"]
    rows[4].update(speedup_low=0.41, speedup_high=0.73, verdict="too noisy to tell")
    rows[5]["speedup"] = {"median": 1.2, "low": 1.1, "high": 1.3}
    rows[6].update(noisy=True, spread=0.31)
    del rows[7]["median_s"]
    rows.append({"question": "scaling", "kernel": "mystery"})  # no runner, no workers: kept in the table only
    data["fastfib"]["history"] = {"anything": [1, 2, 3]}
    data["fastfib"].pop("ratios", None)


def test_the_benchmark_summary_is_read_defensively(capsys, tmp_path):
    grown = variant(tmp_path, "bench.json", _grow_the_benchmark_summary, "bench-next.json")
    page = _report(capsys, [grown], tmp_path / "r.html")
    text = page.text
    for column in ("speedup low", "speedup high", "verdict", "spread", "speedup median"):
        assert column in text
    assert page.rows("noisy") == 2 and "too noisy to tell" in text
    assert page.count("svg", "plot") == 1 and "mystery" in text


def test_a_benchmark_run_without_timings_still_makes_a_page(capsys, tmp_path):
    untimed = variant(tmp_path, "bench.json", lambda d: d["fastfib"].update(rows=[], ratios=[]), "untimed.json")
    page = _report(capsys, [untimed], tmp_path / "r.html")
    assert page.count("table", "main") == 1 and page.count("svg", "plot") == 0
    assert "no benchmark was timed" in page.text


@pytest.mark.skipif("cython-nogil" not in registry.KERNELS, reason="extension not built")
@forks_beside_threads  # crossover's --start-method fork, with this process's threads (numpy's BLAS) about
def test_fresh_scale_and_crossover_runs_report(capsys, tmp_path):
    scale, crossing = tmp_path / "scale.json", tmp_path / "crossover.json"
    assert main(["scale", "-k", "python,cython-nogil", "-r", "sequential,threads", "-w", "1,2",
                 "--target-ms", "1", "--repeats", "1", "--no-progress", "--json", str(scale)]) == 0
    assert main(["crossover", "--task-ms", "0.3", "--workers", "2", "--repeats", "1", "--start-method", "fork",
                 "--no-progress", "--json", str(crossing)]) == 0
    capsys.readouterr()
    page = _report(capsys, [scale, crossing], tmp_path / "r.html")
    assert page.count("section", "run") == 2 and page.count("svg", "plot") == 2
    assert "command line not recorded" not in page.text  # crossover's meta records it now


def test_a_fresh_probe_and_benchmark_run_report_with_their_intervals(capsys, tmp_path):
    probe, bench = tmp_path / "probe.json", tmp_path / "bench.json"
    assert main(["probe", "-s", "import time", "time.sleep(0.002)", "--runners", "threads", "--workers", "2",
                 "--quick", "--no-progress", "--json", str(probe)]) == 0
    assert main(["bench", "-q", "-p", "no:cacheprovider", "-k", "scaling and python-threads-2",
                 "--fastfib-pair-budget=0", f"--benchmark-json={bench}"]) == 0
    capsys.readouterr()
    page = _report(capsys, [probe, bench], tmp_path / "r.html")
    # A probe whose every speedup was too noisy to tell (a loaded machine) has nothing to plot: its run
    # section says so in its table. The benchmark run always has rows, so always a plot.
    points = json.loads(probe.read_text(encoding="utf-8"))["result"]["points"]
    figures = [point.get("speedup") or {} for point in points]
    plotted = any(figure.get("speedup") is not None and not figure.get("too_noisy") for figure in figures)
    assert page.count("section", "run") == 2 and page.count("svg", "plot") == 1 + plotted
    assert "fastfib probe: time.sleep(0.002)" in page.text and "verdict: " in page.text
    assert "python on 2 threads: " in page.text  # the story, each figure with its interval, or too noisy to tell
    assert " CI " in page.text or "too noisy to tell: " in page.text


# --- bad input: one line naming the file, exit 2, nothing written --------------------------

def _write(tmp_path: Path, name: str, content) -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def _scale_v0(tmp_path):
    return variant(tmp_path, "scale.json", lambda d: d.update(schema_version=0), "old.json")


BAD = [
    ("missing.json", None, "cannot read"),
    ("text.json", "not json {", "is not valid JSON"),
    ("list.json", [1, 2], "is not a fastfib document: JSON list"),
    ("foreign.json", {"name": "something else"}, "is not a fastfib document (no \"schema\" field)"),
    ("probe.json", {"schema": "fastfib.probe", "schema_version": 1}, "is malformed (no \"meta\" object)"),
    ("probe-v9.json", {"schema": "fastfib.probe", "schema_version": 9}, "reads versions 1, 2"),
    ("bench-plain.json", {"benchmarks": [], "machine_info": {}}, "pytest-benchmark JSON without fastfib's"),
    ("bench-odd.json", {"benchmarks": [], "fastfib": [1]}, "is malformed (its \"fastfib\" summary"),
    ("lab-new.json", {"schema": "fastfib.lab.race", "schema_version": 99, "meta": {"fastfib_version": "9.0"}},
     "uses fastfib.lab.race schema version 99 (written by fastfib 9.0)"),
    ("lab-other.json", {"schema": "fastfib.lab.nosuch", "schema_version": 1}, "unknown lab experiment 'nosuch'"),
    ("lab-bare.json", {"schema": "fastfib.lab.race", "schema_version": 1, "meta": {}, "rows": [{}]},
     "is malformed (no \"finding\" sentence)"),
    ("crossover-v2.json", {"schema": "fastfib.crossover", "schema_version": 2}, "reads version 1 only"),
    ("crossover-bad.json", {"schema": "fastfib.crossover", "schema_version": 1, "meta": {}, "points": [{"n": 1}]},
     "is malformed (TypeError"),
    ("lab-odd.json", {"schema": "fastfib.lab.granularity", "schema_version": 1, "meta": {}, "finding": "x.",
                      "points": [{"kernel": "cython-nogil"}]}, "cannot draw its plot (KeyError"),
    ("scale-bad.json", {"schema": "fastfib.scale", "schema_version": 1, "meta": {}, "rows": [{"kernel": "x"}]},
     "is malformed"),
]


@pytest.mark.parametrize("name, content, message", BAD, ids=[b[0] for b in BAD])
def test_a_bad_document_is_one_line_naming_it_and_exit_2(capsys, tmp_path, name, content, message):
    path = tmp_path / name if content is None else _write(tmp_path, name, content)
    out = tmp_path / "report.html"
    out.write_text("the previous report", encoding="utf-8")
    # A good document first: nothing is written until every one has been read.
    assert main(["report", str(SAMPLES[0]), str(path), "-o", str(out)]) == 2
    stdout, stderr = capsys.readouterr()
    lines = stderr.strip().splitlines()
    assert stdout == "" and len(lines) == 1 and lines[0].startswith("fastfib: error: "), stderr
    assert str(path) in lines[0] and message in lines[0], lines[0]
    assert out.read_text(encoding="utf-8") == "the previous report"
    left = {name, "report.html"} - ({name} if content is None else set())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(left)


def test_an_old_scale_document_says_how_to_fix_it(capsys, tmp_path):
    old = _scale_v0(tmp_path)
    assert main(["report", str(old), "-o", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert "uses schema version 0" in err and "re-run `fastfib scale --json`" in err
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("argv, message", [
    (["report"], "the following arguments are required: RUN.json"),
    (["report", "a.json", "./a.json", "-o", "a.json"], "-o a.json is one of the documents"),
    (["report", "x.json", "-o", "/no/such/folder/r.html"], "folder /no/such/folder does not exist"),
])
def test_bad_arguments_are_one_line_and_exit_2(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_help_teaches_with_examples(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "fastfib report results/*.json -o results/report.html" in out
    assert "exit status 2" in out


def test_the_page_escapes_what_the_documents_say(capsys, tmp_path):
    odd = variant(tmp_path, "lab-race.json", lambda d: d.update(finding="<b>bold</b> & \"quoted\""), "odd.json")
    out = tmp_path / "r.html"
    _report(capsys, [odd], out)
    text = out.read_text(encoding="utf-8")
    assert "<b>bold</b>" not in text and "&lt;b&gt;bold&lt;/b&gt; &amp; " in text


def test_a_paired_speedup_is_one_cell_that_says_its_interval(capsys, tmp_path):
    """A row's paired speedup (a nested object with its ratios) reads as its own words, not as
    a dozen columns and a truncated list of ratios."""
    rows = sample("lab-oversubscription.json")["rows"]
    page = _report(capsys, [DATA / "lab-oversubscription.json"], tmp_path / "r.html")
    assert "speedup ratios" not in page.text and "speedup low" not in page.text
    for row in rows:
        ratio = row["speedup"]
        interval = f"{ratio['low']:.2f}-{ratio['high']:.2f}x"
        assert interval in page.text
        assert (f"too noisy to tell: {interval}" in page.text) == ratio["too_noisy"]
