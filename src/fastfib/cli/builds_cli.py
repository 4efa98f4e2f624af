"""``fastfib builds``: the same kernels on several interpreter builds, side by side, in one run."""

from __future__ import annotations

import argparse
import os
import shutil
import sys

from fastfib import environment, files, registry
from fastfib.command import Command, Progress, UsageError
from fastfib.measure import builds

__all__ = ["BuildsCommand"]


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _milliseconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of milliseconds, not {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


class BuildsCommand(Command):
    name = "builds"
    help = "the same kernels on several interpreters in one run: free threading's single-thread tax, the GIL A/B"
    description = (
        "Run every kernel sequentially and on threads under each interpreter given, in one run:\n"
        "a worker per interpreter, two for a free-threaded one (GIL disabled, and PYTHON_GIL=1 on\n"
        "the same binary). Each round runs every kernel on every build, sequential and threads back\n"
        "to back, the builds' order rotated; every ratio is paired within a round and reported as\n"
        "the median of the rounds with its interquartile range, or as 'too noisy' when that is wide.\n"
        "Each interpreter must have fastfib installed (a venv's python)."
    )
    epilog = (
        "examples:\n"
        "  fastfib builds .venv-gil313/bin/python .venv-ft/bin/python      # what `make builds` runs\n"
        "  fastfib builds .venv-gil313/bin/python .venv-ft/bin/python --quick --kernels python,cython-gil\n"
        "  fastfib builds .venv-ft/bin/python --json builds.json             # the GIL A/B alone\n\n"
        "exit status: 0 done, 1 an interpreter could not take part or a row failed, 2 bad arguments"
    )

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("pythons", metavar="PYTHON", nargs="+",
                            help="interpreters with fastfib installed; the first is the reference")
        parser.add_argument("--kernels", "-k", help=f"comma-separated (default: {','.join(builds.DEFAULT_KERNELS)}, "
                                                    "those every build has)")
        parser.add_argument("--target-ms", type=_milliseconds, default=10.0,
                            help="one task's cost on the first build (default: %(default)s)")
        parser.add_argument("--tasks", type=_count, default=8, help="tasks per timed run (default: %(default)s)")
        parser.add_argument("--rounds", type=_count, default=9, help="rounds; medians over them (default: %(default)s)")
        parser.add_argument("--workers", "-w", type=_count, default=None, help="threads (default: usable cores)")
        parser.add_argument("--quick", action="store_true", help="5 ms tasks, 4 per run, 5 rounds: seconds")
        parser.add_argument("--json", metavar="PATH", help="write every round's figures as JSON")
        parser.add_argument("--no-progress", action="store_true", help="no progress output on stderr")

    def run(self, args: argparse.Namespace) -> int:
        pythons = []
        for python in args.pythons:
            found = shutil.which(python) if os.sep not in python else python
            if not found or not os.access(found, os.X_OK) or os.path.isdir(found):
                raise UsageError(f"{python} is not an executable interpreter")
            pythons.append(found)
        kernels = [k.strip() for k in args.kernels.split(",") if k.strip()] if args.kernels else None
        if args.kernels is not None and not kernels:
            raise UsageError("--kernels needs at least one name")
        known = [*registry.KERNELS, *registry.UNAVAILABLE]  # unavailable here may be there (numba)
        for name in kernels or ():
            if name not in known:
                raise UsageError(f"unknown kernel {name!r}; kernels: {', '.join(known)}")
        if args.json:
            try:
                files.check_writable(args.json)
            except files.FileError as exc:
                raise UsageError(str(exc)) from None
        if args.quick:
            args.target_ms, args.tasks, args.rounds = 5.0, 4, 5
        progress = Progress(enabled=not args.no_progress)
        try:
            document = builds.run(pythons, kernels=kernels, target_s=args.target_ms / 1000, tasks=args.tasks,
                                  rounds=args.rounds, workers=args.workers or max(2, environment.usable_cores()),
                                  progress=progress)
        except builds.BuildsError as exc:
            progress.clear()
            print(f"fastfib: error: {exc}", file=sys.stderr)
            return 1
        progress.clear()
        print(builds.format_text(document))
        if args.json:
            files.write_document(args.json, document)
            print(f"wrote {args.json}")
        return 1 if any(row["error"] for row in document["rows"]) else 0
