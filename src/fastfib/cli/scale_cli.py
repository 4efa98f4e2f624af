"""``fastfib scale`` and ``fastfib compare``: the lab's main job.

Every argument is checked before any work starts (one line, exit status 2).
Progress goes to stderr, results to stdout; ``--json`` and ``--plot`` files
are written atomically, and ``--json`` is rewritten after every row, so a
Ctrl-C (exit status 130, worker processes terminated) leaves a valid file with
the rows finished so far.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from fastfib import environment, measure, registry, report, runners
from fastfib.cli import dask_cli
from fastfib.command import (
    Command,
    Progress,
    UsageError,
    add_start_method,
    check_outputs,
    names,
    numbers,
    positive,
    print_json,
)

__all__ = ["CompareCommand", "ScaleCommand"]

DEFAULT_KERNELS = ("python", "numpy", "cython-gil", "cython-nogil", "gmp")  # gmp: exact big-n fib, its workload
DEFAULT_RUNNERS = ("sequential", "threads", "processes")


def default_workers(cores: int) -> list[int]:
    """1, 2, 4, ... up to twice the usable cores (so over-subscription shows)."""
    counts, count = [], 1
    while count <= 2 * cores:
        counts.append(count)
        count *= 2
    return counts


# --- fastfib scale --------------------------------------------------------------------------

class ScaleCommand(Command):
    name = "scale"
    help = "measure who scales: every kernel on sequential, threads and processes, side by side"
    description = (
        "Run the same CPU-bound tasks (F(n) by naive recursion, n calibrated so one task takes about\n"
        "--target-ms on every kernel) on each kernel x runner x worker count, and report wall time,\n"
        "speedup over sequential, efficiency, parallelism (CPU / wall), the longest stall of a 1 ms\n"
        "heartbeat thread (the GIL made visible) and the Karp-Flatt serial fraction. Every result is\n"
        "checked exactly; a wrong one makes its row an error. Pools start and warm outside the\n"
        "timing (their start-up is a column of its own), and workers start together behind a barrier.\n"
        "Expect cython-nogil to scale on threads and python / cython-gil to stay flat; processes\n"
        "scale for all, at a start-up and hand-over cost; interpreters (own-GIL subinterpreters,\n"
        "3.13+) scale pure Python too, in one process. On a free-threaded build (3.13t/3.14t, GIL\n"
        "disabled) pure-Python threads scale as well: every run is labelled with its build and GIL."
    )
    _epilog = (
        "examples:\n"
        "  fastfib scale                                  # the full run (about a minute on 2 cores)\n"
        "  fastfib scale --quick --json x.json            # workers 1 and 2, fewer repeats (seconds)\n"
        "  fastfib scale --json results/scale.json --plot results/scale.png\n"
        "  fastfib scale -k cython-gil,cython-nogil -r threads -w 1,2,3,4\n"
        "  fastfib scale -r sequential,threads,asyncio    # asyncio adds nothing to CPU-bound work\n"
        "  fastfib scale -r processes --start-method spawn\n"
        "  fastfib scale -r sequential,threads,interpreters,processes -k python,cython-nogil --quick\n"
        "  fastfib scale -r sequential,dask-threads,dask-processes -k python,cython-nogil -w 1,2\n"
        "  fastfib scale -r sequential,dask-threads,dask-processes --dask-scheduler tcp://10.0.0.5:8786 -w 2\n"
        "  fastfib compare before.json after.json         # two runs side by side\n"
        "\n"
        "runners: sequential (always run: the baseline of every speedup), threads, processes,\n"
        "asyncio, interpreters (CPython 3.14, or 3.13 with `pip install 'fastfib[interpreters]'`;\n"
        "elsewhere skipped with the reason), dask-threads (one dask worker process with W threads)\n"
        "and dask-processes (W dask worker processes of one thread): a local cluster per pool, its\n"
        "dashboard address printed, or with --dask-scheduler the workers of an existing cluster\n"
        "(`pip install 'fastfib[dask]'`). Any concurrent.futures.Executor plugs in from Python:\n"
        "see fastfib.runners (e.g. loky).\n"
        "A row is marked noisy when its wall times spread over 10 % of the median: re-run on a\n"
        "quieter machine before trusting it. Ctrl-C stops at once (exit status 130); --json then\n"
        "holds the rows finished so far."
    )

    @property
    def epilog(self) -> str:  # type: ignore[override]
        missing = runners.unavailable_runners()
        return self._epilog + "".join(f"\nunavailable here: {name}: {why}" for name, why in missing.items())

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--kernels", "-k", default=None,
                            help=f"comma-separated kernels (default: {','.join(DEFAULT_KERNELS)}; "
                                 f"available: {', '.join(registry.names())})")
        parser.add_argument("--runners", "-r", default=",".join(DEFAULT_RUNNERS),
                            help="comma-separated runners (default: %(default)s; also: asyncio, interpreters, "
                                 "dask-threads, dask-processes)")
        parser.add_argument("--workers", "-w", default=None,
                            help="comma-separated worker counts (default: 1,2,4,... up to 2 x usable cores)")
        add_start_method(parser)
        parser.add_argument("--target-ms", type=positive(float, "--target-ms"), default=None,
                            help="about how long one task takes on every kernel (default: 10; --quick: 5)")
        parser.add_argument("--tasks", type=positive(int, "--tasks"), default=None,
                            help="tasks per measurement (default: 4 x the largest worker count)")
        parser.add_argument("--repeats", type=positive(int, "--repeats"), default=None,
                            help="repeats of each measurement; the median is reported (default: 5; --quick: 3)")
        parser.add_argument("--quick", action="store_true",
                            help="a fast look: workers 1 and 2, 3 repeats, 5 ms tasks (under 15 s on 2 cores)")
        parser.add_argument("--json", metavar="PATH", help="write the rows and run metadata as JSON (atomically)")
        parser.add_argument("--plot", metavar="PATH", help="write a PNG of speedup vs workers")
        parser.add_argument("--timeline", metavar="PATH",
                            help="also trace one extra (untimed) run of every configuration: which thread was on a "
                                 "CPU when, as Chrome trace-event JSON (see fastfib trace; Linux only)")
        parser.add_argument("--no-progress", action="store_true", help="no progress output on stderr")
        dask_cli.add_arguments(parser)

    def _plan(self, args: argparse.Namespace) -> dict[str, Any]:
        """Every setting, checked, before any work starts."""
        available = registry.names()
        if args.kernels is None:
            kernels = [name for name in DEFAULT_KERNELS if name in available]
        else:
            kernels = names(args.kernels, available, "kernel")
        runner_names = names(args.runners, runners.RUNNER_NAMES, "runner")
        # A known runner this interpreter lacks (interpreters before 3.13) is skipped, with the reason.
        skipped = {name: why for name, why in runners.unavailable_runners().items() if name in runner_names}
        runner_names = [name for name in runner_names if name not in skipped]
        cores = environment.usable_cores()
        if args.workers is not None:
            workers = sorted(set(numbers(args.workers, "--workers", int)))
        else:
            workers = [1, 2] if args.quick else default_workers(cores)
        check_outputs(args.json, args.plot, args.timeline)
        if args.timeline:
            from fastfib.measure import timeline

            why = timeline.unavailable()
            if why:
                raise UsageError(f"--timeline cannot be recorded here: {why}")
        return {
            "dask": dask_cli.plan(args, runner_names, skipped, workers),
            "kernels": kernels, "runners": runner_names, "skipped_runners": skipped,
            "workers": workers, "cores": cores,
            "start_method": args.start_method,
            "target_ms": args.target_ms or (5.0 if args.quick else 10.0),
            "tasks": args.tasks or 4 * max(workers),
            "repeats": args.repeats or (3 if args.quick else 5),
        }

    def run(self, args: argparse.Namespace) -> int:
        plan = self._plan(args)
        progress = Progress(enabled=not args.no_progress)
        for name, why in plan["skipped_runners"].items():
            print(f"fastfib: skipping runner {name!r}: {why}", file=sys.stderr)
        meta = measure.metadata(
            skipped_runners=plan["skipped_runners"],
            start_method=plan["start_method"], target_ms=plan["target_ms"], tasks=plan["tasks"],
            repeats=plan["repeats"], workers=plan["workers"], kernels_run=plan["kernels"],
            runners_run=plan["runners"], command="fastfib " + " ".join(sys.argv[1:]), dask=plan["dask"][1],
            complete=False, interrupted=False,
        )
        rows: list[measure.Row] = []
        traced: list[Any] | None = [] if args.timeline else None
        suite = measure.run_suite(
            plan["kernels"], plan["runners"], plan["workers"], target_s=plan["target_ms"] / 1000,
            tasks=plan["tasks"], repeats=plan["repeats"], start_method=plan["start_method"],
            progress=progress, dask=plan["dask"][0], timelines=traced,
        )
        started = time.monotonic()
        try:
            for row in suite:
                rows.append(row)
                if args.json:
                    report.write_json(args.json, meta, rows)
        except KeyboardInterrupt:
            suite.close()  # terminates worker processes, if the interrupt came between rows
            progress.clear()
            if args.json:
                report.write_json(args.json, {**meta, "interrupted": True}, rows)
                print(f"fastfib: {len(rows)} finished row(s) kept in {args.json}", file=sys.stderr)
            raise
        finally:
            suite.close()
        progress.clear()
        # An extension without the free-threading declaration re-enables the GIL when imported.
        meta.update(complete=True, duration_s=round(time.monotonic() - started, 2),
                    gil_enabled_at_end=environment.gil_enabled())
        if args.json:
            report.write_json(args.json, meta, rows)
        if args.timeline and traced is not None:
            from fastfib import files
            from fastfib.measure import timeline

            files.write_document(args.timeline, timeline.document(traced, meta))
        if args.plot:
            title = (f"fastfib {meta['fastfib_version']} - {meta['python_implementation']} "
                     f"{meta['python_version']} - {plan['cores']} usable cores - {meta['cpu_model']}")
            report.write_plot(args.plot, rows, plan["cores"], title=title)
        print(report.format_table(rows))
        print()
        print(report.legend(meta["gil_enabled"]))
        for line in report.speed_changes(rows) + report.lent_lines(rows):
            print(line)
        print()
        print(report.format_headline(rows, plan["cores"]))
        startup = _startup_per_worker(rows)
        if startup:
            print(f"\nstart-up per worker (pool start-up / workers): {startup}")
        print(f"\n{plan['cores']} usable cores; {report.gil_label(meta)}; processes start by "
              f"{plan['start_method']}; {plan['tasks']} tasks x {plan['repeats']} repeats; "
              f"took {meta['duration_s']:.1f} s")
        for name, why in plan["skipped_runners"].items():
            print(f"runner {name} not run: {why}")
        if traced:
            from fastfib.tables import grid

            print("\ntimelines (one more, untimed run of each configuration, sampled at 1 kHz):")
            print(grid(["configuration", "wall ms", "parallelism", "overlap", "waited for a CPU ms"],
                       [[one.label, f"{1000 * one.wall_s:.1f}", f"{one.parallelism:.2f}", f"{one.overlap:.2f}",
                         "-" if one.waited_s is None else f"{1000 * one.waited_s:.1f}"] for one in traced], left=1))
            print("overlap = share of the wall with two or more threads (or worker processes) on a CPU; waited "
                  "for a CPU = the threads' time runnable but not run (the machine ran something else)")
        for path in (args.json, args.plot, args.timeline):
            if path:
                print(f"wrote {path}")
        errors = [row for row in rows if row.error and not row.extra.get("unavailable")]
        if errors:
            print(f"fastfib: {len(errors)} row(s) failed; see the table", file=sys.stderr)
            return 1
        return 0


def _startup_per_worker(rows: Sequence[measure.Row]) -> str:
    """Each parallel runner's pool start-up divided by its workers, per pool size:
    'threads 0.8 ms (x1) 0.31 ms (x2); interpreters ...' (workers start concurrently,
    and a forkserver starts once for all pools, so the share per worker varies with W)."""
    per: dict[str, dict[int, float]] = {}
    for row in rows:
        if row.runner != "sequential" and row.startup_s is not None and row.workers:
            per.setdefault(row.runner, {})[row.workers] = row.startup_s / row.workers
    parts = []
    for name, shares in per.items():
        parts.append(name + " " + " ".join(f"{1000 * share:.3g} ms (x{w})" for w, share in sorted(shares.items())))
    return "; ".join(parts)


# --- fastfib compare ------------------------------------------------------------------------

class CompareCommand(Command):
    name = "compare"
    help = "show two `fastfib scale --json` runs side by side, with ratios"
    description = (
        "Put two runs of `fastfib scale --json` side by side: wall time and speedup of every\n"
        "(kernel, runner, workers) row both have, with B/A ratios, and what each ran on. Files\n"
        "of another schema version are refused: re-run `fastfib scale` with this version."
    )
    epilog = (
        "examples:\n"
        "  fastfib scale --json py311.json && python3.13 -m fastfib scale --json py313.json\n"
        "  fastfib compare py311.json py313.json\n"
        "  fastfib compare laptop.json server.json --json   # machine-readable"
    )

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("a", metavar="A.json")
        parser.add_argument("b", metavar="B.json")
        parser.add_argument("--json", action="store_true", help="print both documents' rows paired, as JSON")

    def run(self, args: argparse.Namespace) -> int:
        try:
            a, b = report.load(args.a), report.load(args.b)
        except report.ReportError as exc:
            raise UsageError(str(exc)) from None
        if args.json:
            pairs = [{"a": row.to_dict(), "b": other.to_dict()} for row, other in report.pair_rows(a[1], b[1])[0]]
            print_json({"a": {"path": args.a, "meta": a[0]}, "b": {"path": args.b, "meta": b[0]}, "pairs": pairs})
            return 0
        print(report.format_compare(a, b, (os.path.basename(args.a), os.path.basename(args.b))))
        return 0
