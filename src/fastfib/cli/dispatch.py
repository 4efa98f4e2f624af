"""The table of every ``fastfib`` subcommand, the parser built from it, and ``main``.

A subcommand's module is imported only when it is asked for (or for ``fastfib
--help``), so ``fastfib fib 10`` starts in milliseconds. Bad arguments end in
one line on stderr and exit status 2; Ctrl-C ends in exit status 130.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from collections.abc import Iterable, Sequence

import fastfib
from fastfib.command import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_USAGE,
    Command,
    Parser,
    Terminated,
    UsageError,
    raise_terminated,
)

__all__ = ["COMMANDS", "build_parser", "load", "main"]


# Every subcommand, in `fastfib --help` order: its name and "module:Command class".
# A module is imported only when one of its commands is asked for.
COMMANDS: dict[str, str] = {
    "fib": "fastfib.cli.core_cli:FibCommand",
    "burn": "fastfib.cli.core_cli:BurnCommand",
    "kernels": "fastfib.cli.core_cli:KernelsCommand",
    "info": "fastfib.cli.core_cli:InfoCommand",
    "source": "fastfib.cli.source_cli:SourceCommand",
    "scale": "fastfib.cli.scale_cli:ScaleCommand",
    "compare": "fastfib.cli.scale_cli:CompareCommand",
    "trace": "fastfib.cli.trace_cli:TraceCommand",
    "builds": "fastfib.cli.builds_cli:BuildsCommand",
    "crossover": "fastfib.cli.lab_cli:CrossoverCommand",
    "lab": "fastfib.cli.lab_cli:LabCommand",
    "serve": "fastfib.cli.lab_cli:ServeCommand",
    "report": "fastfib.cli.core_cli:ReportCommand",
    "bench": "fastfib.cli.bench_cli:BenchCommand",
    "probe": "fastfib.cli.probe_cli:ProbeCommand",
}


def load(name: str) -> Command:
    """The subcommand called ``name`` (a key of COMMANDS), its module imported now."""
    module, _, class_name = COMMANDS[name].partition(":")
    return getattr(importlib.import_module(module), class_name)()


def build_parser(names: Iterable[str] = COMMANDS) -> argparse.ArgumentParser:
    """The parser of ``fastfib`` with the subcommands ``names`` (default: all of them)."""
    parser = Parser(
        prog="fastfib",
        description=(
            "fastfib: the GIL made visible. The same exact Fibonacci work in pure "
            "Python, numpy, and C called holding the GIL or inside `with nogil:`, "
            "so you can see who scales on threads and why."
        ),
        epilog="Run 'fastfib COMMAND --help' for each command's options and examples.",
    )
    parser.add_argument("--version", action="version", version=f"fastfib {fastfib.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for command in map(load, names):
        child = sub.add_parser(
            command.name, help=command.help, description=command.description or command.help,
            epilog=command.epilog or None, formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.prepare_parser(child)
        child.set_defaults(command_object=command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # SIGTERM takes Ctrl-C's path (see command.Terminated); only the main thread may set handlers.
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, raise_terminated) if in_main_thread else None
    try:
        return _run(argv)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _run(argv: Sequence[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # The subcommand is the first argument that is not an option (fastfib's own, --help and
    # --version, take no value). Only its parser is built; anything else needs all of them.
    name = next((arg for arg in argv if not arg.startswith("-")), "")
    parser = build_parser([name] if name in COMMANDS else COMMANDS)
    try:
        args, passed = parser.parse_known_args(argv)
        command = getattr(args, "command_object", None)
        if command is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        if passed and not command.passes_through:
            parser.error(f"unrecognized arguments: {' '.join(passed)}")
        args.passed = passed
        return command.run(args)
    except UsageError as exc:
        print(f"fastfib: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Terminated:
        print("fastfib: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("fastfib: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `fastfib fib 10000 | head -c 10`
        sys.stderr.close()
        return 0
