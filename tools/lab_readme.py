"""Rewrite docs/lab.md's block of the lab's experiments from fresh measurements.

Runs every experiment that declares a lab-page entry (``readme`` in its
:class:`~fastfib.lab.experiment.Experiment`) in this process, one after
another (they measure), on its --quick settings, and writes the document
``fastfib lab <name> --quick --json docs/lab/<name>.json`` would write. Then it
replaces what lies between ``<!-- lab:begin -->`` and ``<!-- lab:end -->`` in
docs/lab.md (the lab's page, which README links) with one section per
experiment: what it shows, in one sentence, and its finding -- numbers from the
JSON file, never typed by hand -- and, for an experiment with ``readme_figures``,
its text table and its plot (docs/lab/<name>.png). Nothing else in the page is touched.
``make lab-readme`` runs it; ``--from-json`` rebuilds the block from the JSON
files already in docs/lab/ without measuring again.

    python tools/lab_readme.py              # measure (about a minute) and rewrite the block
    python tools/lab_readme.py --from-json  # rewrite from docs/lab/*.json
    python tools/lab_readme.py --check      # exit 1 if the block is missing
    python tools/lab_readme.py --dry-run race   # measure race into a temporary folder, print the block
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from fastfib import files
from fastfib.cli.lab_cli import EXPERIMENTS, conduct

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "lab.md"  # the lab's page: README links it
RESULTS = ROOT / "docs" / "lab"  # committed: the figures docs/lab.md quotes come from these files
BEGIN, END = "<!-- lab:begin -->", "<!-- lab:end -->"

# The experiments the lab page's block shows, in the order of `fastfib lab --help`: name -> experiment, (title, shows).
SHOWN = {experiment.name: (experiment, experiment.readme) for experiment in EXPERIMENTS if experiment.readme}


def measure(names: list[str], results: Path) -> None:
    results.mkdir(parents=True, exist_ok=True)
    for name in names:
        path, experiment = results / f"{name}.json", SHOWN[name][0]
        outcome = conduct(experiment, quick=True)
        files.write_document(path, outcome.document(f"fastfib lab {name} --quick --no-progress --json {path}"))
        if experiment.readme_figures and experiment.plot is not None:
            experiment.plot(outcome.result, str(results / f"{name}.png"))
        print(f"lab_readme: fastfib lab {name} --quick: {outcome.duration_s:.1f} s", file=sys.stderr, flush=True)


def block(names: list[str], results: Path) -> str:
    documents = {name: json.loads((results / f"{name}.json").read_text(encoding="utf-8")) for name in names}
    meta = documents[names[0]]["meta"]
    lines = [
        BEGIN,
        "`fastfib lab <experiment>` measures one thing the GIL decides and closes with a one-sentence finding; "
        "each takes `--quick` (under 15 s on 2 cores), `--json PATH` and, where a picture says more, "
        "`--plot PATH`. `fastfib serve` runs the io experiment's HTTP server alone, for your own clients.",
        "",
        f"The findings quoted below are generated, not typed: `make lab-readme` ran each experiment with "
        f"`--quick --json` on {meta['python_implementation']} {meta['python_version']} "
        f"(GIL {'enabled' if meta['gil_enabled'] else 'disabled'}), {meta['usable_cores']} usable cores, "
        f"{meta['cpu_model']}, fastfib {meta['fastfib_version']}, {meta['timestamp'][:10]}. Quick runs on a shared "
        "machine are rough: run them on yours.",
    ]
    for name in names:
        title, shows = SHOWN[name][1]
        document = documents[name]
        lines += ["", f"## `fastfib lab {name}`: {title}", "", shows, "",
                  f"Measured (`fastfib lab {name} --quick`, {document['meta']['duration_s']:.1f} s): "
                  f"{document['finding']}"]
        if SHOWN[name][0].readme_figures:
            lines += _figures(name, document, results)
    lines.append(END)
    return "\n".join(lines)


def _figures(name: str, document: dict[str, Any], results: Path) -> list[str]:
    """The experiment's text table (from its JSON) and its plot, when measure() drew one."""
    lines = ["", "```text", SHOWN[name][0].format_text(files.body(document)).rstrip(), "```"]
    if (results / f"{name}.png").exists():
        lines += ["", f"![fastfib lab {name}](lab/{name}.png)"]
    return lines


def rewrite(text: str, new_block: str) -> str:
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"{PAGE.relative_to(ROOT)} has no {BEGIN} ... {END} block")
    return text[:start] + new_block + text[end + len(END):]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from-json", action="store_true", help="do not measure: use docs/lab/*.json")
    parser.add_argument("--check", action="store_true", help="only check that the block is there")
    parser.add_argument("--dry-run", action="store_true",
                        help="measure into a temporary copy of docs/lab and print the block: nothing is written")
    parser.add_argument("names", nargs="*", metavar="NAME", default=list(SHOWN),
                        help=f"experiments to measure (default: all of {', '.join(SHOWN)}); the block shows all")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in SHOWN]
    if unknown:
        parser.error(f"not in docs/lab.md's block: {', '.join(unknown)}; these are: {', '.join(SHOWN)}")
    text = PAGE.read_text(encoding="utf-8")
    if args.check:
        rewrite(text, "")
        return 0
    if args.dry_run:
        with tempfile.TemporaryDirectory() as folder:
            results = Path(shutil.copytree(RESULTS, Path(folder) / "lab"))
            if not args.from_json:
                measure(args.names, results)
            print(block(list(SHOWN), results))
        return 0
    if not args.from_json:
        measure(args.names, RESULTS)
    PAGE.write_text(rewrite(text, block(list(SHOWN), RESULTS)), encoding="utf-8")
    print(f"lab_readme: rewrote the {BEGIN} block of {PAGE.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
