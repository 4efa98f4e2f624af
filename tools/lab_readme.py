"""Rewrite README.md's block of the lab's experiments from fresh measurements.

Runs ``fastfib lab <name> --quick --json docs/lab/<name>.json`` for every
experiment (one after another: they measure), then replaces what lies between
``<!-- lab:begin -->`` and ``<!-- lab:end -->`` in README.md with one section
per experiment: what it shows, in one sentence, and the finding it printed --
numbers from the JSON file, never typed by hand. Nothing else in README.md is
touched. ``make lab-readme`` runs it; ``--from-json`` rebuilds the block from
the JSON files already in docs/lab/ without measuring again.

    python tools/lab_readme.py              # measure (about a minute) and rewrite the block
    python tools/lab_readme.py --from-json  # rewrite from docs/lab/*.json
    python tools/lab_readme.py --check      # exit 1 if the block is missing
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RESULTS = ROOT / "docs" / "lab"  # committed: the figures README quotes come from these files
BEGIN, END = "<!-- lab:begin -->", "<!-- lab:end -->"

# Each experiment, in the order of `fastfib lab --help`, with what it shows in one sentence.
SHOWS = {
    "io": ("threads help when blocking",
           "Threads recover concurrency when the work is waiting on a socket (speedup about the number of requests "
           "in flight, up to the server's capacity), and give nothing when the server's work is pure-Python CPU."),
    "race": ("a lost update and its fixes",
             "A read-modify-write with a forced switch inside loses updates on threads; a Lock or a single owner "
             "thread fed by a Queue makes it exact; a plain `x += 1` loop lost updates on CPython 3.9 and no "
             "longer does on 3.10+ with the GIL (an implementation detail, not a promise)."),
    "queue": ("worker pools and producer/consumer",
              "Thread workers with `task_done`/`join` and a producer and consumers in separate processes, joined by "
              "sentinels, consume every item exactly once; the processes pay for pickling and pipes."),
    "amdahl": ("the law fitted",
               "The serial fraction of each kernel x runner, fitted from measured speedups, says how far each could "
               "ever scale: near 0 for nogil threads and for processes, near 1 for GIL-holding threads."),
    "interleave": ("who runs when",
                   "Two threads take turns at the switch interval under the GIL (the longest run of one thread "
                   "follows `sys.setswitchinterval`), while the nogil kernel lets both run at once."),
    "release": ("which library calls release the GIL",
                "Sleeps, socket waits, file reads, hashlib, zlib, large numpy operations and the nogil kernel "
                "release the GIL; Python loops hand it over every switch interval, and a C call that holds it "
                "(builtin `sum`, the GIL kernel) blocks every other thread for the whole call."),
    "latency": ("the convoy effect",
                "An I/O thread waking from a 1 ms sleep is late by the switch interval beside pure Python, by the "
                "whole call beside a GIL-holding C call, and not at all beside the nogil kernel."),
    "granularity": ("when releasing pays",
                    "Releasing the GIL pays on threads only when each nogil call does enough work: around a "
                    "microsecond the threads queue for the GIL, from tens of microseconds they approach the cores."),
}


def measure(names: list[str]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name in names:
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "fastfib", "lab", name, "--quick", "--no-progress",
                        "--json", str(RESULTS / f"{name}.json")], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        print(f"lab_readme: fastfib lab {name} --quick: {time.monotonic() - started:.1f} s (wall, with start-up)",
              file=sys.stderr, flush=True)


def block(names: list[str]) -> str:
    documents = {name: json.loads((RESULTS / f"{name}.json").read_text(encoding="utf-8")) for name in names}
    meta = documents[names[0]]["meta"]
    lines = [
        BEGIN,
        "## The lab's experiments",
        "",
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
        title, shows = SHOWS[name]
        document = documents[name]
        lines += ["", f"### `fastfib lab {name}`: {title}", "", shows, "",
                  f"Measured (`fastfib lab {name} --quick`, {document['meta']['duration_s']:.1f} s): "
                  f"{document['finding']}"]
    lines.append(END)
    return "\n".join(lines)


def rewrite(text: str, new_block: str) -> str:
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"README.md has no {BEGIN} ... {END} block")
    return text[:start] + new_block + text[end + len(END):]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from-json", action="store_true", help="do not measure: use docs/lab/*.json")
    parser.add_argument("--check", action="store_true", help="only check that the block is there")
    parser.add_argument("names", nargs="*", default=list(SHOWS), help="experiments (default: all)")
    args = parser.parse_args(argv)
    text = README.read_text(encoding="utf-8")
    if args.check:
        rewrite(text, "")
        return 0
    if not args.from_json:
        measure(args.names)
    README.write_text(rewrite(text, block(list(SHOWS))), encoding="utf-8")
    print(f"lab_readme: rewrote the {BEGIN} block of {README.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
