"""``fastfib lab <experiment>``, ``fastfib crossover`` and ``fastfib serve``: the lab from the command line.

Each experiment is a module of :mod:`fastfib.lab` that declares itself (see
:mod:`fastfib.lab.experiment`); this module is the loop over them. For each one
it builds ``fastfib lab NAME`` from the declaration, runs it on the settings the
command line gives (else the --quick values, else the defaults) with progress on
stderr, prints its text and finding, and writes ``--json`` (the result and the
run's metadata) and ``--plot`` atomically. ``--quick`` runs stay under 15 s on
2 cores, default runs under about 30 s. ``fastfib crossover`` is ``fastfib lab
crossover`` by its older name.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from fastfib import environment, files, lab, measure
from fastfib.command import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    Command,
    Parser,
    Progress,
    UsageError,
    check_outputs,
    positive,
)
from fastfib.lab import crossover
from fastfib.lab.experiment import Experiment, ProgressFn, machine_lines
from fastfib.lab.server import DEFAULT_MAX_N, FibServer

__all__ = ["EXPERIMENTS", "CrossoverCommand", "LabCommand", "Outcome", "ServeCommand",
           "conduct"]

EXPERIMENTS: list[Experiment] = lab.experiments()  # in the order of `fastfib lab --help`


def _load_average() -> float | None:
    """The 1-minute load average (runnable processes), None where the OS has none."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


@dataclass(frozen=True)
class Outcome:
    """One run of an experiment: its result, how long it took, and the load it started under."""

    experiment: Experiment
    quick: bool
    result: dict[str, Any]
    duration_s: float
    load_average: float | None

    def document(self, command: str) -> dict[str, Any]:
        """The ``--json`` document, ``command`` being the command line that ran it."""
        if self.experiment.document is not None:
            return self.experiment.document(self.result, command)
        meta = measure.metadata(command=command, experiment=self.experiment.name, quick=self.quick,
                                duration_s=round(self.duration_s, 2), load_average_at_start=self.load_average)
        return files.envelope(lab.SCHEMA_PREFIX + self.experiment.name, lab.SCHEMA_VERSION, meta, self.result)


def conduct(experiment: Experiment, *, quick: bool = False, given: argparse.Namespace | None = None,
            progress: ProgressFn = lambda what, done, total: None) -> Outcome:
    """Run ``experiment``, each option as ``given`` (a parsed command line), else its
    --quick value under ``quick``, else its default."""
    load = _load_average()  # before any work of ours adds to it
    started = time.monotonic()
    result = experiment.run(experiment.settings(quick, given), progress)
    return Outcome(experiment, quick, result, time.monotonic() - started, load)


# --- the command line -----------------------------------------------------------------------

def _description(experiment: Experiment) -> str:
    heading = experiment.help if experiment.help.endswith((".", "?")) else experiment.help + "."
    return heading + "\n\n" + experiment.description.split("\n", 2)[-1].strip()


def _epilog(experiment: Experiment) -> str:
    return ("example:" if len(experiment.examples) == 1 else "examples:") + "".join(
        f"\n  {example}" for example in experiment.examples)


def _add_arguments(parser: argparse.ArgumentParser, experiment: Experiment) -> None:
    for option in experiment.options:
        option.add_to(parser)
    if experiment.takes_quick:
        parser.add_argument("--quick", action="store_true", help="a fast look: under 15 s on 2 cores")
    parser.add_argument("--json", metavar="PATH", help="write the results and run metadata as JSON (atomically)")
    if experiment.plot is not None:
        parser.add_argument("--plot", metavar="PATH", help="write a PNG (atomically)")
    parser.add_argument("--no-progress", action="store_true", help="no progress output on stderr")


def _warn_if_busy(load: float | None) -> None:
    cores = environment.usable_cores()
    if load is not None and load > 0.75 * cores:  # a lab run of our own just before adds ~1
        print(f"fastfib: note: the load average was {load:.1f} on {cores} usable cores: other work shares "
              "this machine, so parallel figures come out low; re-run on a quieter one to trust them",
              file=sys.stderr)


def _run(experiment: Experiment, args: argparse.Namespace) -> int:
    """``fastfib lab NAME``: run it, print its text and finding, write --json and --plot."""
    plot_path = getattr(args, "plot", None)
    check_outputs(args.json, plot_path)
    progress = Progress(enabled=not args.no_progress)
    try:
        outcome = conduct(experiment, quick=getattr(args, "quick", False), given=args, progress=progress)
    finally:
        progress.clear()
    lab_form = experiment.document is None  # crossover keeps the form it had as `fastfib crossover`
    if lab_form:
        _warn_if_busy(outcome.load_average)
    print(experiment.format_text(outcome.result))
    if lab_form:
        print(f"\nFinding: {outcome.result['finding']}")
        for line in machine_lines(outcome.result):  # a figure taken while the machine was short says so
            print(line)
        print(f"(fastfib lab {experiment.name}{' --quick' if outcome.quick else ''}: {outcome.duration_s:.1f} s)")
    if args.json:
        files.write_document(args.json, outcome.document("fastfib " + " ".join(sys.argv[1:])))
        print(f"wrote {args.json}")
    if plot_path and experiment.plot is not None:
        experiment.plot(outcome.result, plot_path)
        print(f"wrote {plot_path}")
    return 0


class LabCommand(Command):
    name = "lab"
    help = "the lab's experiments: " + ", ".join(experiment.name for experiment in EXPERIMENTS)
    description = ("Each experiment measures one thing the GIL decides, prints a table and a one-sentence finding\n"
                   "with its numbers, and can write --json and (most) --plot. --quick: under 15 s on 2 cores.")
    epilog = "examples:\n" + "\n".join(f"  fastfib lab {e.name} --quick" for e in EXPERIMENTS[:3]) + (
        "\n  fastfib lab io --json io.json --plot io.png\n  fastfib lab EXPERIMENT --help")

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="experiment", metavar="EXPERIMENT", parser_class=Parser)
        for experiment in EXPERIMENTS:
            child = sub.add_parser(experiment.name, help=experiment.help, description=_description(experiment),
                                   epilog=_epilog(experiment), formatter_class=argparse.RawDescriptionHelpFormatter)
            _add_arguments(child, experiment)
            child.set_defaults(experiment_object=experiment)

    def run(self, args: argparse.Namespace) -> int:
        experiment: Experiment | None = getattr(args, "experiment_object", None)
        if experiment is None:
            raise UsageError("which experiment? one of: " + ", ".join(e.name for e in EXPERIMENTS)
                             + " (see 'fastfib lab --help')")
        return _run(experiment, args)


class CrossoverCommand(Command):
    """``fastfib crossover``: ``fastfib lab crossover`` by the name it had before it joined the lab."""

    name = "crossover"
    help = crossover.EXPERIMENT.help
    description = _description(crossover.EXPERIMENT)
    epilog = _epilog(crossover.EXPERIMENT)

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        _add_arguments(parser, crossover.EXPERIMENT)

    def run(self, args: argparse.Namespace) -> int:
        return _run(crossover.EXPERIMENT, args)


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
