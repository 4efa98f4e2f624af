"""What every ``fastfib`` subcommand is made of: the Command base class, the
one-line UsageError, and the small helpers they share: progress on stderr,
argument checks that fail in one line, output paths checked before any work.

A Command names itself, adds its arguments in ``prepare_parser`` and does its
work in ``run``, returning the exit status. ``fastfib.cli`` collects the
commands from their modules and runs the one asked for; a command module
imports this module, never ``fastfib.cli``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TextIO

__all__ = [
    "EXIT_INTERRUPTED", "EXIT_TERMINATED", "EXIT_USAGE", "Command", "Parser", "Progress", "Terminated", "UsageError",
    "add_json_flag", "add_start_method", "check_outputs", "names", "numbers", "positive", "print_json",
    "raise_terminated", "split",
]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM, delivered as a KeyboardInterrupt so that every command's Ctrl-C
    clean-up (worker processes terminated, partial JSON kept) runs for it too."""


def raise_terminated(signum: int, frame: object) -> None:
    """A SIGTERM handler: see Terminated."""
    raise Terminated()


class UsageError(Exception):
    """A mistake in the command line: reported in one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (a UsageError), not the whole usage."""

    def error(self, message: str) -> NoReturn:  # argparse would print the whole usage
        raise UsageError(f"{message} (see '{self.prog} --help')")


class Command:
    """One ``fastfib`` subcommand."""

    name = ""
    help = ""  # one line, shown in ``fastfib --help``
    description = ""  # shown in ``fastfib NAME --help``; defaults to help
    epilog = ""  # examples, shown after the options
    # True: arguments this command does not know are handed on (as ``args.passed``) to the
    # program it runs -- ``fastfib bench`` to pytest -- instead of being a usage error.
    passes_through = False

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        """Add this command's arguments to ``parser``."""

    def run(self, args: argparse.Namespace) -> int:
        """Do the work; return the exit status."""
        raise NotImplementedError


def print_json(data: object) -> None:
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


class Progress:
    """Progress on stderr: a redrawn bar on a terminal, one line per step otherwise."""

    def __init__(self, stream: TextIO = sys.stderr, enabled: bool = True) -> None:
        self.stream = stream
        self.enabled = enabled
        self.tty = enabled and stream.isatty()
        self.started = time.monotonic()
        self._drawn = False

    def __call__(self, what: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.started
        if self.tty:
            width = 24
            filled = int(width * done / max(total, 1))
            line = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {elapsed:5.1f}s  {what}"
            self.stream.write("\r\x1b[K" + line[:118])
            self._drawn = True
        else:
            self.stream.write(f"fastfib: [{done}/{total}] {elapsed:5.1f}s {what}\n")
        self.stream.flush()

    def clear(self) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False


def split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def names(text: str, valid: Sequence[str], what: str) -> list[str]:
    chosen = split(text)
    if not chosen:
        raise UsageError(f"--{what}s needs at least one name; valid {what}s: {', '.join(valid)}")
    for name in chosen:
        if name not in valid:
            raise UsageError(f"unknown {what} {name!r}; valid {what}s: {', '.join(valid)}")
    return list(dict.fromkeys(chosen))


def numbers(text: str, what: str, convert: Callable[[str], Any]) -> list[Any]:
    values = []
    for part in split(text) or [""]:
        try:
            value = convert(part)
        except ValueError:
            raise UsageError(f"{what} must be a comma-separated list of numbers, not {text!r}") from None
        if not value > 0:
            raise UsageError(f"{what} must all be > 0, got {part}")
        values.append(value)
    return values


def positive(convert: Callable[[str], Any], what: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a number, not {text!r}") from None
        if not value > 0 or value != value or value == float("inf"):
            raise argparse.ArgumentTypeError(f"{what} must be > 0, got {text}")
        return value

    return parse


def check_outputs(*paths: str | None) -> None:
    """A UsageError, before any work starts, for an output path that cannot be written."""
    from fastfib import files

    for path in paths:
        if path:
            try:
                files.check_writable(path)
            except files.FileError as exc:
                raise UsageError(str(exc)) from None


def add_start_method(parser: argparse.ArgumentParser) -> None:
    from fastfib.runners.executors import START_METHODS

    parser.add_argument(
        "--start-method", choices=START_METHODS, default="forkserver",
        help="how worker processes start (default: forkserver, named explicitly because the "
             "interpreter's default changed in 3.14); fork is fastest, spawn slowest",
    )
