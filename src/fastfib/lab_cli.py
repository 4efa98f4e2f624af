"""``fastfib lab <experiment>`` and ``fastfib serve``: the lab's experiments from the command line.

Each experiment lives in its own module of :mod:`fastfib.lab` and returns a
JSON-ready dict with a one-sentence ``finding``; this module gives each one its
arguments, then prints its table and finding, and writes ``--json`` (with the
run's metadata) and ``--plot`` atomically. Every experiment takes ``--quick``
(under 15 s on 2 cores); the default run stays under about 30 s. Progress goes
to stderr.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from fastfib import environment, executors, files, measure, registry, report, runners
from fastfib.command import (
    EXIT_INTERRUPTED, EXIT_TERMINATED, Command, Parser, Progress, UsageError, check_outputs, names, numbers, positive,
)
from fastfib.lab import amdahl, blocking_io, granularity, interleave, latency, queues, race, release
from fastfib.lab.server import DEFAULT_MAX_N, FibServer

__all__ = ["LabCommand", "ServeCommand", "EXPERIMENTS"]

LAB_SCHEMA_VERSION = 1  # {"schema": "fastfib.lab.<name>", "schema_version", "meta", "finding", ...the experiment's}


def _load_average() -> float | None:
    """The 1-minute load average (runnable processes), None where the OS has none."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _pick(args: argparse.Namespace, name: str, default: Any, quick: Any) -> Any:
    value = getattr(args, name)
    return value if value is not None else (quick if args.quick else default)


def _kernels(text: str | None, default: str) -> list[str]:
    if text is None:  # the default list, less what this installation lacks
        chosen = [k for k in default.split(",") if k in registry.burn_names()]
        if not chosen:
            raise UsageError(f"none of the kernels {default} is available here; see `fastfib kernels`")
        return chosen
    return names(text, registry.burn_names(), "kernel")


@dataclass(frozen=True)
class Experiment:
    name: str
    help: str
    module: Any  # the fastfib.lab module: its docstring is the description; format_text, plot
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Progress], dict[str, Any]]
    example: str

    @property
    def plots(self) -> bool:
        return hasattr(self.module, "plot")


# --- each experiment's arguments and run ----------------------------------------------------

def _io_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--latency-ms", type=positive(float, "--latency-ms"), default=None,
                   help="how long the server blocks per request (default: 50)")
    p.add_argument("--requests", type=positive(int, "--requests"), default=None,
                   help="requests per client (default: 32; --quick: 16)")
    p.add_argument("--concurrency", "-c", type=positive(int, "--concurrency"), default=4,
                   help="requests in flight for the threads, asyncio and processes clients (default: %(default)s)")
    p.add_argument("--capacity", type=positive(int, "--capacity"), default=8,
                   help="requests the server handles at once; more wait for a slot (default: %(default)s)")
    p.add_argument("--sweep", default=None, help="concurrency levels for the threads client (default: 1,2,4,8,16)")
    p.add_argument("--no-cpu", action="store_true", help="leave out the CPU-bound contrast (GET /burn)")
    p.add_argument("--start-method", choices=executors.START_METHODS, default="forkserver",
                   help="how the processes client's workers start (default: %(default)s)")


def _io_run(a: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    sweep = sorted(set(numbers(a.sweep or ("1,2,4,8" if a.quick else "1,2,4,8,16"), "--sweep", int)))
    return blocking_io.run(latency_s=_pick(a, "latency_ms", 50.0, 50.0) / 1000,
                           requests=_pick(a, "requests", 32, 16), concurrency=a.concurrency, sweep=sweep,
                           capacity=a.capacity, start_method=a.start_method, cpu=not a.no_cpu, progress=progress)


def _race_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", type=positive(int, "--threads"), default=4, help="threads (default: %(default)s)")
    p.add_argument("--increments", type=positive(int, "--increments"), default=None,
                   help="read-sleep-write increments per thread (default: 50; --quick: 25)")
    p.add_argument("--pause-ms", type=positive(float, "--pause-ms"), default=0.2,
                   help="the sleep between the read and the write (default: %(default)s)")
    p.add_argument("--loop-increments", type=positive(int, "--loop-increments"), default=None,
                   help="plain x += 1 per thread (default: 500000; --quick: 300000)")
    p.add_argument("--python", action="append", metavar="PATH", default=None,
                   help="run the plain loop under this interpreter too (repeatable; default: pyenv's 3.9 if found)")


def _race_run(a: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    return race.run(threads=a.threads, increments=_pick(a, "increments", 50, 25), pause_s=a.pause_ms / 1000,
                    loop_threads=a.threads, loop_increments=_pick(a, "loop_increments", 500_000, 300_000),
                    interpreters=a.python, progress=progress)


def _queue_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--items", type=positive(int, "--items"), default=None, help="items (default: 20000; --quick: 5000)")
    p.add_argument("--workers", type=positive(int, "--workers"), default=4, help="worker threads (default: %(default)s)")
    p.add_argument("--consumers", type=positive(int, "--consumers"), default=2,
                   help="consumer processes (default: %(default)s)")
    p.add_argument("--kernel", "-k", default="cython-nogil", help="kernel computing F(item mod 94) (default: %(default)s)")
    p.add_argument("--start-method", choices=executors.START_METHODS, default="forkserver",
                   help="how the processes start (default: %(default)s)")


def _queue_run(a: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    kernel = names(a.kernel, registry.names(), "kernel")[0]
    return queues.run(items=_pick(a, "items", 20_000, 5_000), workers=a.workers, consumers=a.consumers, kernel=kernel,
                      start_method=a.start_method, progress=progress)


def _amdahl_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="source", metavar="SCALE.json", help="fit a saved `fastfib scale --json` run")
    p.add_argument("--kernels", "-k", default=None, help="fresh run: kernels (default: python,cython-gil,cython-nogil)")
    p.add_argument("--runners", "-r", default="threads,processes", help="fresh run: runners (default: %(default)s)")
    p.add_argument("--workers", "-w", default=None, help="fresh run: worker counts (default: 1,2,4; --quick: 1,2)")
    p.add_argument("--target-ms", type=positive(float, "--target-ms"), default=None,
                   help="fresh run: ms per task (default: 10; --quick: 4)")
    p.add_argument("--repeats", type=positive(int, "--repeats"), default=3, help="fresh run: repeats (default: 3)")
    p.add_argument("--start-method", choices=executors.START_METHODS, default="forkserver",
                   help="fresh run: how processes start (default: %(default)s)")


def _amdahl_run(a: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    workers = sorted(set(numbers(a.workers or ("1,2" if a.quick else "1,2,4"), "--workers", int)))
    try:
        return amdahl.run(source=a.source, kernels=_kernels(a.kernels, "python,cython-gil,cython-nogil"),
                          runner_names=[r for r in names(a.runners, runners.RUNNER_NAMES, "runner") if r != "sequential"],
                          workers=workers, target_s=_pick(a, "target_ms", 10.0, 4.0) / 1000, tasks=4 * max(workers),
                          repeats=a.repeats, start_method=a.start_method, progress=progress)
    except (report.ReportError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def _interleave_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kernels", "-k", default=None, help="kernels (default: python,cython-gil,cython-nogil)")
    p.add_argument("--switch-ms", default=None, help="switch intervals for python (default: 1,5,20; --quick: 1,5)")
    p.add_argument("--seconds", type=positive(float, "--seconds"), default=None,
                   help="per configuration (default: 0.5; --quick: 0.3)")
    p.add_argument("--step-us", type=positive(float, "--step-us"), default=20.0,
                   help="work per step, µs (default: %(default)s)")


def _interleave_run(a: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    return interleave.run(kernels=_kernels(a.kernels, "python,cython-gil,cython-nogil"),
                          switch_intervals_ms=numbers(a.switch_ms or ("1,5" if a.quick else "1,5,20"), "--switch-ms", float),
                          seconds=_pick(a, "seconds", 0.5, 0.3), step_us=a.step_us, progress=progress)


def _release_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target-ms", type=positive(float, "--target-ms"), default=None,
                   help="length of one call (default: 25; --quick: 15)")
    p.add_argument("--repeats", type=positive(int, "--repeats"), default=None, help="repeats (default: 5; --quick: 3)")
    p.add_argument("--only", default=None, help="comma-separated operations: " + ", ".join(
        op.name for op in release.operations()))


def _release_run(a: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    only = names(a.only, [op.name for op in release.operations()], "operation") if a.only else None
    return release.run(target_ms=_pick(a, "target_ms", 25.0, 15.0), repeats=_pick(a, "repeats", 5, 3), only=only,
                       progress=progress)


def _latency_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kernels", "-k", default=None, help="kernels (default: python,numpy,cython-gil,cython-nogil)")
    p.add_argument("--seconds", type=positive(float, "--seconds"), default=None,
                   help="of 1 ms sleeps per kernel (default: 1; --quick: 0.4)")
    p.add_argument("--call-ms", type=positive(float, "--call-ms"), default=None,
                   help="length of one CPU-bound call (default: 100; --quick: 50)")


def _latency_run(a: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    return latency.run(kernels=_kernels(a.kernels, "python,numpy,cython-gil,cython-nogil"),
                       seconds=_pick(a, "seconds", 1.0, 0.4), call_ms=_pick(a, "call_ms", 100.0, 50.0), progress=progress)


def _granularity_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kernels", "-k", default=None, help="kernels (default: cython-nogil,cython-gil)")
    p.add_argument("--work-us", default=None, help="work per call, µs (default: %s; --quick: %s)" % (
        ",".join(f"{v:g}" for v in granularity.DEFAULT_WORK_US), ",".join(f"{v:g}" for v in granularity.QUICK_WORK_US)))
    p.add_argument("--share-ms", type=positive(float, "--share-ms"), default=None,
                   help="work per thread per repeat (default: 40; --quick: 20)")
    p.add_argument("--repeats", type=positive(int, "--repeats"), default=None, help="repeats (default: 5; --quick: 3)")


def _granularity_run(a: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    sizes = a.work_us or ",".join(f"{v:g}" for v in (granularity.QUICK_WORK_US if a.quick else granularity.DEFAULT_WORK_US))
    return granularity.run(kernels=_kernels(a.kernels, "cython-nogil,cython-gil"),
                           work_us=sorted(set(numbers(sizes, "--work-us", float))),
                           share_s=_pick(a, "share_ms", 40.0, 20.0) / 1000, repeats=_pick(a, "repeats", 5, 3),
                           progress=progress)


EXPERIMENTS = [
    Experiment("io", "threads help when blocking: an HTTP server, four kinds of client", blocking_io, _io_args,
               _io_run, "fastfib lab io --concurrency 8 --latency-ms 100 --json io.json --plot io.png"),
    Experiment("race", "a lost update, fixed by a Lock and by an owner thread; x += 1 on 3.9 vs 3.10+", race,
               _race_args, _race_run, "fastfib lab race --threads 8 --python ~/.pyenv/versions/3.12.1/bin/python"),
    Experiment("queue", "worker threads with task_done/join; producer/consumer processes; exactly once", queues,
               _queue_args, _queue_run, "fastfib lab queue --items 100000 --consumers 4 --start-method spawn"),
    Experiment("amdahl", "the serial fraction of each kernel x runner, fitted, with the curves", amdahl,
               _amdahl_args, _amdahl_run, "fastfib scale --json s.json && fastfib lab amdahl --from s.json --plot a.png"),
    Experiment("interleave", "who runs when: switches/s and the longest run of one thread", interleave,
               _interleave_args, _interleave_run, "fastfib lab interleave --switch-ms 0.5,5,50 --plot timeline.png"),
    Experiment("release", "which library calls release the GIL: a yes/no table with the numbers", release,
               _release_args, _release_run, "fastfib lab release --only 'time.sleep,hashlib.sha256,python loop'"),
    Experiment("latency", "the convoy effect: an I/O thread's wake-up latency beside CPU-bound work", latency,
               _latency_args, _latency_run, "fastfib lab latency --call-ms 200 --plot latency.png"),
    Experiment("granularity", "when releasing pays: 2-thread speedup by work per nogil call", granularity,
               _granularity_args, _granularity_run, "fastfib lab granularity --work-us 0.1,1,10,100 --plot g.png"),
]


def _describe(module: Any) -> str:
    return (module.__doc__ or "").split("\n", 2)[-1].strip() if module.__doc__ else ""


class LabCommand(Command):
    name = "lab"
    help = "the lab's experiments: io, race, queue, amdahl, interleave, release, latency, granularity"
    description = ("Each experiment measures one thing the GIL decides, prints a table and a one-sentence finding\n"
                   "with its numbers, and can write --json and (most) --plot. --quick: under 15 s on 2 cores.")
    epilog = "examples:\n" + "\n".join(f"  fastfib lab {e.name} --quick" for e in EXPERIMENTS[:3]) + (
        "\n  fastfib lab io --json io.json --plot io.png\n  fastfib lab EXPERIMENT --help")

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="experiment", metavar="EXPERIMENT", parser_class=Parser)
        for experiment in EXPERIMENTS:
            child = sub.add_parser(experiment.name, help=experiment.help,
                                   description=experiment.help + ".\n\n" + _describe(experiment.module),
                                   epilog=f"example:\n  {experiment.example}",
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
            experiment.add_arguments(child)
            child.add_argument("--quick", action="store_true", help="a fast look: under 15 s on 2 cores")
            child.add_argument("--json", metavar="PATH", help="write the results and run metadata as JSON (atomically)")
            if experiment.plots:
                child.add_argument("--plot", metavar="PATH", help="write a PNG (atomically)")
            child.add_argument("--no-progress", action="store_true", help="no progress output on stderr")
            child.set_defaults(experiment_object=experiment)
        self._parser = parser

    def run(self, args: argparse.Namespace) -> int:
        experiment: Experiment | None = getattr(args, "experiment_object", None)
        if experiment is None:
            raise UsageError("which experiment? one of: " + ", ".join(e.name for e in EXPERIMENTS)
                             + " (see 'fastfib lab --help')")
        plot_path = getattr(args, "plot", None)
        check_outputs(args.json, plot_path)
        load = _load_average()  # before any work of ours adds to it
        progress = Progress(enabled=not args.no_progress)
        started = time.monotonic()
        try:
            result = experiment.run(args, progress)
        finally:
            progress.clear()
        duration = time.monotonic() - started
        cores = environment.usable_cores()
        if load is not None and load > 0.75 * cores:  # a lab run of our own just before adds ~1
            print(f"fastfib: note: the load average was {load:.1f} on {cores} usable cores: other work shares "
                  "this machine, so parallel figures come out low; re-run on a quieter one to trust them",
                  file=sys.stderr)
        print(experiment.module.format_text(result))
        print(f"\nFinding: {result['finding']}")
        print(f"(fastfib lab {experiment.name}{' --quick' if args.quick else ''}: {duration:.1f} s)")
        if args.json:
            meta = measure.metadata(command="fastfib " + " ".join(sys.argv[1:]), experiment=experiment.name,
                                    quick=args.quick, duration_s=round(duration, 2), load_average_at_start=load)
            files.write_document(args.json, files.envelope(f"fastfib.lab.{experiment.name}", LAB_SCHEMA_VERSION,
                                                           meta, result))
            print(f"wrote {args.json}")
        if plot_path:
            experiment.module.plot(result, plot_path)
            print(f"wrote {plot_path}")
        return 0


class ServeCommand(Command):
    name = "serve"
    help = "run the lab's HTTP server alone: GET /fib/<n> after a simulated latency"
    description = ("Serve F(n) over HTTP, as `fastfib lab io` does, for your own clients (curl, ab, wrk, a\n"
                   "notebook). Routes: GET /fib/<n> (exact F(n) after --latency-ms of blocking sleep),\n"
                   "GET /burn/<n>?kernel=K (naive recursion, CPU-bound, n <= 32), /health, /stats.\n"
                   "Errors are JSON with a 4xx status; the server keeps serving. Ctrl-C stops it cleanly.")
    epilog = ("examples:\n  fastfib serve --port 8000\n  curl -s localhost:8000/fib/100\n"
              "  curl -s localhost:8000/fib/-1            # 400, JSON error\n"
              "  fastfib serve --port 0 --latency-ms 200 --capacity 4 --duration 60")

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
        parser.add_argument("--port", type=int, default=8000, help="port; 0 picks a free one (default: %(default)s)")
        parser.add_argument("--latency-ms", type=float, default=50.0,
                            help="blocking sleep before each /fib answer (default: %(default)s)")
        parser.add_argument("--max-n", type=positive(int, "--max-n"), default=DEFAULT_MAX_N,
                            help="largest n served (default: %(default)s)")
        parser.add_argument("--timeout", type=positive(float, "--timeout"), default=5.0,
                            help="seconds a silent client may hold a connection (default: %(default)s)")
        parser.add_argument("--capacity", type=positive(int, "--capacity"), default=None,
                            help="requests handled at once; others wait (default: no limit)")
        parser.add_argument("--duration", type=positive(float, "--duration"), default=None,
                            help="stop by itself after this many seconds (default: run until Ctrl-C)")
        parser.add_argument("--quiet", action="store_true", help="do not log each request on stderr")

    def run(self, args: argparse.Namespace) -> int:
        if not 0 <= args.port <= 65535:
            raise UsageError(f"--port must be 0..65535, got {args.port}")
        if args.latency_ms < 0:
            raise UsageError(f"--latency-ms must be >= 0, got {args.latency_ms:g}")
        log = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
        try:
            server = FibServer(args.host, args.port, latency_s=args.latency_ms / 1000, max_n=args.max_n,
                               timeout_s=args.timeout, capacity=args.capacity, log=log)
        except OSError as exc:
            raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
        stop = threading.Event()
        status = 0  # 0 after --duration; 130 / 143 when Ctrl-C / SIGTERM stopped it, as for every command

        def terminated(*_: object) -> None:
            nonlocal status
            status = EXIT_TERMINATED
            stop.set()

        previous = signal.signal(signal.SIGTERM, terminated)
        with server:
            print(f"fastfib serve: listening on {server.url} (GET /fib/<n>, /burn/<n>, /health, /stats); "
                  f"latency {args.latency_ms:g} ms; Ctrl-C stops", flush=True)
            try:
                stop.wait(args.duration)
            except KeyboardInterrupt:
                status = EXIT_INTERRUPTED
            print("fastfib serve: stopping (waiting for the connections in progress)", file=sys.stderr, flush=True)
        signal.signal(signal.SIGTERM, previous)
        stats = server.stats()
        print(f"fastfib serve: stopped after {stats['served']} answer(s), {stats['errors']} error(s)", flush=True)
        return status
