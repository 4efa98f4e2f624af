"""``fastfib probe``: the lab pointed at your own code, in the style of ``python -m timeit``.

Exit status: 0 measured; 1 the probed code failed (it raised -- its traceback
is shown -- or did not return within ``--timeout``); 2 a usage error (a bad
option, SETUP or STMT that does not compile); 3 the result is one that
``--fail-if`` names (for CI); 130 / 143 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from fastfib.cli import dask_cli
from fastfib.command import Command, Progress, UsageError, add_start_method, check_outputs, names, numbers, positive

__all__ = ["ProbeCommand", "format_result"]

PROBE_RUNNERS = ("threads", "processes", "interpreters", "dask-threads", "dask-processes")
FAILED = 3  # exit status: the verdict is one --fail-if names
# --fail-if: each name, and what in a result makes it true.
FAIL_IF = {
    "held": "the call holds the GIL",
    "released": "the call releases the GIL, in whole or in part",
    "partly-released": "the call releases the GIL for only part of its time",
    "flat": "threads do not scale: the largest thread count measured is flat, on evidence",
    "cannot-tell": "the verdict (or the threads' scaling) could not be told here",
}


def failed_checks(result: Any, fail_if: list[str], cores: int) -> list[str]:
    """The --fail-if names that ``result`` makes true."""
    threads = [p for p in result.points if p.runner == "threads" and p.workers > 1 and p.speedup is not None]
    scaling = max(threads, key=lambda p: p.workers).verdict(cores) if threads else ""
    true = {"held": result.verdict == "held",
            "released": result.verdict in ("released", "partly released"),
            "partly-released": result.verdict == "partly released",
            "flat": scaling == "flat",
            "cannot-tell": result.verdict == "cannot tell" or scaling == "cannot tell"}
    return [name for name in fail_if if true[name]]


def format_result(result: Any) -> str:
    """The verdict, the cost per call, the scaling table and the advice, as text."""
    from fastfib.measure import probe_advice
    from fastfib.tables import grid, num

    inner = probe_advice.inner_parallelism(result)
    lines = [
        f"probe: {result.label}",
        f"verdict: {result.verdict}" + _evidence(result) + (f"; {inner}" if inner else ""),
        f"cost per call: {_time(result.per_call_s)} (quartiles {_time(result.per_call_q1_s)} - "
        f"{_time(result.per_call_q3_s)}; batches of {result.calls_per_batch} "
        f"call{'s' if result.calls_per_batch != 1 else ''})",
    ]
    if result.verdict not in ("no GIL", "released", "cannot tell"):
        what = ("mostly Python bytecode" if result.is_bytecode else "mostly C (or other native code)")
        lines.append(f"beside it: other threads waited up to {result.stall_ms:.3g} ms for the GIL at the "
                     f"{1000 * result.switch_interval_s:g} ms switch interval; the call is {what}: "
                     f"{result.opcodes_per_call} opcodes a call, at least {result.bytecode_share:.0%} of its time"
                     + ("" if result.yields is None else
                        f", {'hands' if result.yields else 'does not hand'} the GIL over at a short switch interval"))
    lines.append("")
    body = []
    for point in result.points:
        if point.error:
            body.append([point.runner, str(point.workers), "-", "-", "-", "-", "-", "-", "-", point.error])
            continue
        figure = point.speedup
        note = "too noisy to tell" if figure.too_noisy else ""
        if probe_advice.short_machine(point) is not None:
            note = "cannot tell: the machine was short"
        body.append([
            point.runner, str(point.workers), "-" if figure.too_noisy else f"{figure.speedup:.2f}×",
            f"{figure.low:.2f}-{figure.high:.2f}×", str(figure.pairs),
            "-" if figure.parallelism is None else
            f"{figure.parallelism.median:.2f} ({figure.parallelism.low:.2f}-{figure.parallelism.high:.2f})",
            "-" if figure.too_noisy else f"{figure.speedup / point.workers:.2f}",
            f"{1000 * point.startup_s:.1f} / {1000 * point.handover_s:.2f}",
            num((figure.machine or {}).get("cores")), note,
        ])
    if body:
        lines += [grid(["runner", "workers", "speedup", "95% CI", "pairs", "parallelism (95% CI)", "efficiency",
                        "start-up / hand-over ms", "lent", "note"], body, left=2),
                  f"speedup = sequential / parallel wall for 2 tasks per worker of {result.task_calls} calls each, "
                  "the two timed in alternation (median of the pairs);",
                  "parallelism = CPU / wall of the parallel runs (this process's threads and the workers' processes):"
                  " how many cores were busy at once;",
                  "start-up = starting and warming the pool; hand-over = one empty task per worker; neither is in "
                  "the speedup;",
                  "lent = cores the machine lent meanwhile (a control spun on every CPU between the pairs, the CPU "
                  "other processes took, the quota).", ""]
    lines.append(f"advice: {result.advice}")
    return "\n".join(lines)


def _evidence(result: Any) -> str:
    """What decided the verdict, in words."""
    if result.verdict == "no GIL":
        return ""
    if result.verdict == "cannot tell":
        return f" ({result.judged.get('why', '')})"
    return (f" (another Python thread ran during {result.released_fraction:.0%} of the calls' time; its longest stall "
            f"{result.longest_stall_ms:.1f} ms with the switch interval raised past the calls)")


def _time(seconds: float) -> str:
    us = 1e6 * seconds
    return f"{us:.3g} µs" if us < 1000 else f"{us / 1000:.3g} ms"


class ProbeCommand(Command):
    name = "probe"
    help = "does this call release the GIL, and does it pay? (your own code, timeit-style)"
    description = (
        "Probe a statement of your own, as `python -m timeit` would time it: SETUP runs once per worker\n"
        "(each thread, process or interpreter gets its own data), STMT is the call. Reports, on this\n"
        "interpreter: the verdict (released / held / partly released / no GIL / cannot tell), decided\n"
        "by a heartbeat thread that can only run while the call has released the GIL (calls batched,\n"
        "the switch interval raised far past a batch, a control in alternation); for a call that holds\n"
        "it, how long other threads wait at the real switch interval and whether it is Python bytecode\n"
        "or C (the advice differs); the cost per call; the speedup on W workers of each runner against\n"
        "the same tasks run sequentially, the two timed in alternation, with a 95% interval; advice.\n"
        "It also measures one call's own CPU / wall: a call that already runs on several cores (a BLAS\n"
        "or OpenMP pool, read with threadpoolctl) leaves Python threads no idle core, and the verdict\n"
        "and advice then name the pool and how to limit it.\n\n"
        "--budget bounds the whole probe (default 60 s, 10 s with --quick): the repeats scale to the\n"
        "call's cost, and a scaling point that cannot afford 3 pairs is given up and named.\n\n"
        "Exit status: 0 measured; 1 the probed code raised (its traceback is shown) or did not return\n"
        "within --timeout; 2 a usage error; 3 the result is one --fail-if names; 130 interrupted."
    )
    epilog = (
        "examples:\n"
        "  fastfib probe -s 'import hashlib; data = bytes(8_000_000)' 'hashlib.sha256(data)'\n"
        "  fastfib probe -s 'import zlib, os; data = os.urandom(1 << 22)' 'zlib.compress(data)'\n"
        "  fastfib probe 'sum(range(100_000))'                     # held: use processes\n"
        "  fastfib probe -s 'import fastfib' 'fastfib.burn(20, kernel=\"cython-nogil\")'\n"
        "  fastfib probe -s 'import numpy as np; a = np.ones(10**6)' 'a + a' --runners threads --quick\n"
        "  fastfib probe -s 'import numpy as np; a = np.random.rand(400, 400)' 'a @ a' --quick"
        "   # BLAS's own pool: one call on every core\n"
        "  fastfib probe 'import time; time.sleep(0.001)' --workers 1,2,4 --json probe.json --plot probe.png\n"
        "  fastfib probe -s 'import fastfib' 'fastfib.burn(24, kernel=\"python\")'"
        " --runners dask-threads,dask-processes\n"
        "  fastfib probe --quick --fail-if held -s 'import mylib' 'mylib.compress(data)'   # CI: exit 3 if held\n"
        "From Python: fastfib.probe(fn, args=(...), kwargs={...}); in a test suite: fastfib.testing's\n"
        "assert_releases_gil / assert_holds_gil / assert_scales (fn, args=(...)), or the pytest plugin\n"
        "`pytest -p fastfib.scaling` and its `scaling` fixture. To see the threads: fastfib trace STMT."
    )

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("stmt", metavar="STMT", help="the statement measured (Python source)")
        parser.add_argument("-s", "--setup", action="append", default=[], metavar="SETUP",
                            help="run once per worker before STMT (repeatable, like timeit's -s)")
        parser.add_argument("--workers", default=None, help="worker counts (default: 1,2; at most 2 x cores)")
        parser.add_argument("--runners", default="threads,processes",
                            help=f"comma-separated, of: {', '.join(PROBE_RUNNERS)} (default: %(default)s)")
        parser.add_argument("--quick", action="store_true",
                            help="fewer, shorter measurements: a budget of 10 s unless --budget says otherwise")
        parser.add_argument("--budget", type=positive(float, "--budget"), default=None, metavar="SECONDS",
                            help="seconds the whole probe may take (default: 60, or 10 with --quick); what it "
                                 "cannot afford is given up and named")
        parser.add_argument("--fail-if", default="", metavar="NAMES",
                            help="exit with status 3 when the result is one of these (comma-separated): "
                                 + "; ".join(f"{name}: {what}" for name, what in FAIL_IF.items()))
        parser.add_argument("--timeout", type=positive(float, "--timeout"), default=10.0,
                            help="seconds the first call may take before the probe gives up (default: %(default)s)")
        parser.add_argument("--json", metavar="PATH", help="write the result as JSON (atomically)")
        parser.add_argument("--plot", metavar="PATH", help="write a PNG of speedup vs workers, with intervals")
        parser.add_argument("--timeline", metavar="PATH",
                            help="also trace one more (untimed) run of each runner and worker count: which thread "
                                 "was on a CPU when, printed as strips and written as Chrome trace-event JSON "
                                 "(see fastfib trace; Linux only)")
        parser.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
        add_start_method(parser)
        dask_cli.add_arguments(parser)
        from fastfib.measure import probe_freethreading  # --compare-with, --gil-off

        probe_freethreading.add_arguments(parser)

    def run(self, args: argparse.Namespace) -> int:
        from fastfib import environment, files, measure, report
        from fastfib.measure import probe_spec, probing

        chosen = names(args.runners, PROBE_RUNNERS, "runner")
        workers = sorted(set(numbers(args.workers or "1,2", "--workers", int)))
        most = 2 * environment.usable_cores()
        if workers and workers[-1] > most:
            raise UsageError(f"--workers {workers[-1]}: at most {most} here (2 x the {most // 2} usable cores); "
                             "more workers than that measure the scheduler, not the call")
        fail_if = names(args.fail_if, tuple(FAIL_IF), "--fail-if check") if args.fail_if else []
        check_outputs(args.json, args.plot, args.timeline)
        if args.timeline:
            from fastfib.measure import timeline

            why = timeline.unavailable()
            if why:
                raise UsageError(f"--timeline cannot be recorded here: {why}")
        dask, _ = dask_cli.plan(args, chosen, {}, workers)  # the scheduler reached and fitted, or a usage error
        try:
            probe_spec.compile_source(args.setup, args.stmt)
        except SyntaxError as exc:
            raise UsageError(f"SETUP or STMT does not compile: {exc.msg} ({exc.filename}, line {exc.lineno})") from None
        progress = Progress(enabled=not args.no_progress)
        spec = probe_spec.Spec(setup=tuple(args.setup), stmt=args.stmt)
        traced: list[Any] | None = [] if args.timeline else None
        try:
            result = probing.probe_spec(spec, workers=workers, runner_names=chosen, quick=args.quick,
                                        budget_s=args.budget, timeout_s=args.timeout,
                                        start_method=args.start_method, dask=dask, progress=progress,
                                        timelines=traced)
        except probe_spec.ProbeError as exc:
            progress.clear()
            if exc.details:
                sys.stderr.write(exc.details)
            print(f"fastfib: error: {exc}", file=sys.stderr)
            return 1
        finally:
            progress.clear()
        result.meta.update(measure.metadata(command="fastfib " + " ".join(sys.argv[1:])), stmt=args.stmt,
                           setup=args.setup)
        print(format_result(result))
        from fastfib.measure import probe_freethreading  # who re-enabled the GIL, why threads did not scale, the tax

        extra = probe_freethreading.examine(args, result, args.quick)
        if extra:
            print("\n" + "\n".join(extra))
        if args.json:
            files.write_document(args.json, files.envelope(probing.SCHEMA, probing.SCHEMA_VERSION, result.meta,
                                                           {"result": result.to_json()}))
        if args.plot:
            report.write_plot(args.plot, plot_rows(result), environment.usable_cores(), title=f"probe: {result.label}")
        if args.timeline and traced is not None:
            from fastfib.measure import timeline
            from fastfib.report.timeline_text import LEGEND, format_timeline

            files.write_document(args.timeline, timeline.document(traced, result.meta))
            print("\ntimelines (one more, untimed run of each point, sampled at 1 kHz):\n")
            print("\n\n".join(format_timeline(one) for one in traced))
            print(f"\n{LEGEND}\nwrote {args.timeline} (`fastfib report {args.timeline}` draws it; "
                  "ui.perfetto.dev opens it)")
        failed = failed_checks(result, fail_if, environment.usable_cores())
        if failed:
            print(f"fastfib: --fail-if {','.join(failed)}: " + "; ".join(FAIL_IF[name] for name in failed),
                  file=sys.stderr)
            return FAILED
        return 0


def plot_rows(result: Any) -> list[Any]:
    """The scaling points as measure.Row, for report.write_plot (one panel: the probed call)."""
    from fastfib.measure import Row

    return [Row(result.label, point.runner, point.workers, 2 * point.workers, 0, 0.0,
                speedup=point.speedup.speedup, noisy=point.speedup.too_noisy,
                extra={"speedup_low": point.speedup.low, "speedup_high": point.speedup.high})
            for point in result.points if point.speedup is not None]
