"""``fastfib trace``: a per-thread timeline of each kernel on threads -- the GIL made visible --
or of a statement of your own (``fastfib trace -s SETUP STMT``, as ``fastfib probe`` takes it).

Exit status: 0 traced; 1 a task returned a wrong result, or the statement raised or
did not return within --timeout; 2 a usage error (or
no timeline can be recorded here: not Linux, or the extension is not built);
130 / 143 interrupted (nothing is written then).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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

__all__ = ["TraceCommand"]

DEFAULT_KERNELS = ("cython-gil", "cython-nogil", "python")
TRACE_RUNNERS = ("threads", "processes", "sequential", "asyncio", "interpreters")  # this process or its children


@dataclass
class _Workload:
    """What one traced batch runs: ``task(*args)`` per task, each returning ``expected``."""

    label: str
    task: Callable[..., Any]
    args: tuple[Any, ...]
    expected: Any
    preload: tuple[str, ...]
    extra: dict[str, Any]


def _kernel_workload(kernel: str, task_ms: float) -> _Workload:
    from fastfib import measure, tasks

    task = tasks.calibrate(kernel, task_ms / 1000)
    return _Workload(kernel, tasks.burn_task, (kernel, task.n), tasks.oracle(task.n), measure.PRELOAD,
                     {"kernel": kernel, "n": task.n, "task_ms": round(1000 * task.task_s, 3)})


def _stmt_workload(setup: list[str], stmt: str, task_ms: float, timeout_s: float) -> _Workload:
    """The user's statement, as ``fastfib probe`` runs it: calls per task from a timed first call."""
    from fastfib.measure import gil_verdict, probe_spec

    try:
        probe_spec.compile_source(setup, stmt)
    except SyntaxError as exc:
        raise UsageError(f"SETUP or STMT does not compile: {exc.msg} ({exc.filename}, line {exc.lineno})") from None
    spec = probe_spec.Spec(setup=tuple(setup), stmt=stmt)
    loop = probe_spec.loop_of(spec)

    def calls_per_task() -> int:
        start = time.perf_counter()
        loop(1)
        return gil_verdict.number_for(time.perf_counter() - start, loop, task_ms / 1000)

    try:
        number = probe_spec.on_a_fresh_thread(calls_per_task, timeout_s)
    except probe_spec.ProbeError as exc:
        if exc.details:
            sys.stderr.write(exc.details)
        raise StatementFailed(str(exc)) from None
    return _Workload(spec.label(), probe_spec.run_spec, (spec, number), number, ("fastfib.measure.probe_spec",),
                     {"stmt": stmt, "calls_per_task": number})


class StatementFailed(Exception):
    """The traced statement raised or did not return in time: exit status 1."""


class TraceCommand(Command):
    name = "trace"
    help = "draw which thread was on a CPU when: each kernel (or your STMT) on 2 threads, sampled at 1 kHz"
    description = (
        "Run each kernel's burn tasks on a warm pool once while a sampler -- a C thread that never\n"
        "takes the GIL, so it does not contend with the threads it watches -- reads every thread's\n"
        "CPU clock about every millisecond. A thread that gained at least half an interval in CPU\n"
        "time was on a CPU then. GIL-holding threads take turns (cython-gil: a whole call each;\n"
        "pure Python: slices of about the 5 ms switch interval); nogil threads overlap. A thread off a\n"
        "CPU is either asleep (waiting for the GIL, a lock, I/O: blank) or runnable but waiting for a\n"
        "CPU the machine gave to something else (its run delay in /proc schedstat grows: ░). Printed per\n"
        "kernel: one strip per thread, parallelism (CPU / wall) and the overlap fraction (the share\n"
        "of the wall with two or more threads on a CPU), and what sampling cost (traced runs paired\n"
        "with untraced ones). -o writes Chrome trace-event JSON: open it in ui.perfetto.dev or\n"
        "chrome://tracing, or give it to `fastfib report` for the same picture as SVG. Linux only.\n\n"
        "With STMT (and -s SETUP, as fastfib probe takes them), your own call is traced instead of the\n"
        "kernels: SETUP runs once per worker, each task makes as many calls as take about --task-ms."
    )
    epilog = (
        "examples:\n"
        "  fastfib trace                                   # cython-gil, cython-nogil, python on 2 threads\n"
        "  fastfib trace -o trace.json                     # ... and the trace file for Perfetto\n"
        "  fastfib trace --plot trace.png                  # one lane per thread, bars where it was on a CPU\n"
        "  fastfib trace -k python -r threads,processes -w 4\n"
        "  fastfib trace --json | jq '.configurations[] | {label, overlap}'\n"
        "  fastfib trace -s 'import zlib, os; data = os.urandom(1 << 20)' 'zlib.compress(data)' --plot z.png\n"
        "\n"
        "strips: █ on a CPU for most of the cell, ▌ for part of it, ░ runnable but waiting for a CPU,\n"
        "· not running (asleep: waiting for the GIL, a lock, I/O). Resolution: the\n"
        "sampling period (--period-ms, default 1): slices shorter than that blur together.\n"
        "Also: `fastfib scale --timeline FILE` traces every configuration of a scale run."
    )

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("stmt", metavar="STMT", nargs="?", default=None,
                            help="a statement of your own to trace instead of the kernels (Python source)")
        parser.add_argument("-s", "--setup", action="append", default=[], metavar="SETUP",
                            help="with STMT: run once per worker before it (repeatable, like timeit's -s)")
        parser.add_argument("--timeout", type=positive(float, "--timeout"), default=10.0,
                            help="with STMT: seconds its first call may take (default: %(default)s)")
        parser.add_argument("--kernels", "-k", default=None,
                            help=f"comma-separated kernels (default: {','.join(DEFAULT_KERNELS)})")
        parser.add_argument("--runners", "-r", default="threads",
                            help=f"comma-separated runners (default: %(default)s; any of {', '.join(TRACE_RUNNERS)})")
        parser.add_argument("--workers", "-w", default="2", help="comma-separated worker counts (default: 2)")
        parser.add_argument("--tasks", type=positive(int, "--tasks"), default=None,
                            help="tasks per traced batch (default: 2 x workers)")
        parser.add_argument("--task-ms", type=positive(float, "--task-ms"), default=20.0,
                            help="about how long one task takes (default: %(default)s)")
        parser.add_argument("--period-ms", type=positive(float, "--period-ms"), default=1.0,
                            help="the sampler's period (default: %(default)s)")
        parser.add_argument("--cost-pairs", type=int, default=6,
                            help="pairs of untraced / traced runs that measure the sampler's cost "
                                 "(default: %(default)s; 0: not measured)")
        parser.add_argument("--width", type=positive(int, "--width"), default=60, help="cells per strip")
        parser.add_argument("--output", "-o", metavar="PATH", help="write the trace (Chrome trace-event JSON)")
        parser.add_argument("--plot", metavar="PATH", help="write the timelines as a PNG (SVG for a .svg name)")
        parser.add_argument("--json", action="store_true", help="print the trace document instead of text")
        parser.add_argument("--no-progress", action="store_true", help="no progress output on stderr")
        add_start_method(parser)

    def run(self, args: argparse.Namespace) -> int:
        from fastfib import files, measure, registry, runners
        from fastfib.measure import timeline as timelines

        why = timelines.unavailable()
        if why:
            raise UsageError(f"fastfib trace cannot run here: {why}")
        if args.stmt is not None and args.kernels is not None:
            raise UsageError("give STMT or --kernels, not both")
        if args.setup and args.stmt is None:
            raise UsageError("-s SETUP needs a STMT to run after it")
        kernels = [] if args.stmt is not None else names(args.kernels or ",".join(DEFAULT_KERNELS),
                                                           registry.names(), "kernel")
        runner_names = names(args.runners, TRACE_RUNNERS, "runner")
        missing = {name: why for name, why in runners.unavailable_runners().items() if name in runner_names}
        if missing:
            name, reason = next(iter(missing.items()))
            raise UsageError(f"runner {name} is unavailable here: {reason}")
        workers = sorted(set(numbers(args.workers, "--workers", int)))
        if args.cost_pairs < 0:
            raise UsageError("--cost-pairs must be >= 0")
        check_outputs(args.output, args.plot)
        workloads = [_kernel_workload(kernel, args.task_ms) for kernel in kernels]
        if args.stmt is not None:
            try:
                workloads = [_stmt_workload(args.setup, args.stmt, args.task_ms, args.timeout)]
            except StatementFailed as exc:
                print(f"fastfib: error: {exc}", file=sys.stderr)
                return 1
        progress = Progress(enabled=not args.no_progress)
        plan = [(runner, count) for runner in runner_names for count in (workers if runner != "sequential" else [1])]
        total = len(workloads) * len(plan)
        found: list[timelines.Timeline] = []
        for workload in workloads:
            for runner, count in plan:
                label = f"{workload.label} {runner} x{count}"
                progress(f"tracing {label}", len(found), total)
                arglist = [workload.args] * (args.tasks or 2 * count)
                made = runners.make_runner(runner, start_method=args.start_method, preload=workload.preload)
                with made.open(count) as pool:
                    pool.run(workload.task, arglist)  # warm, untimed
                    batch, traced = timelines.record(pool, workload.task, arglist, label=label,
                                                     period_s=args.period_ms / 1000)
                    if batch.results != [workload.expected] * len(arglist):
                        progress.clear()
                        print(f"fastfib: wrong result from {label}: {batch.results!r}, expected "
                              f"{workload.expected!r} from each task", file=sys.stderr)
                        return 1
                    traced.extra.update(runner=runner, workers=count, tasks=len(arglist), **workload.extra)
                    if args.cost_pairs:
                        traced.extra["sampler_cost"] = timelines.cost(
                            pool, workload.task, arglist, period_s=args.period_ms / 1000, pairs=args.cost_pairs)
                found.append(traced)
        progress.clear()
        meta = measure.metadata(command="fastfib " + " ".join(sys.argv[1:]), period_ms=args.period_ms,
                                task_ms=args.task_ms, start_method=args.start_method)
        if args.stmt is not None:
            meta.update(stmt=args.stmt, setup=args.setup)
        document = timelines.document(found, meta)
        if args.output:
            files.write_document(args.output, document)
        if args.plot:
            from fastfib.report import timeline_plot

            timeline_plot.write_timeline_plot(args.plot, found)
        if args.json:
            print_json(document)
            return 0
        from fastfib.report.timeline_text import format_timeline

        print("\n\n".join(format_timeline(traced, args.width) for traced in found))
        print(f"\nstrips: █ on a CPU for most of the cell, ▌ part of it, ░ runnable but waiting for a CPU, · not "
              f"running (asleep: the GIL, a lock, I/O); one cell = wall / {args.width}. "
              f"overlap = share of the wall with two or more threads on a CPU; parallelism = CPU / wall.")
        if args.output:
            print(f"trace: {args.output} (open in https://ui.perfetto.dev or chrome://tracing; "
                  f"`fastfib report {args.output}` draws it)")
        return 0
