"""What every ``fastfib`` subcommand is made of: the Command base class, the
one-line UsageError, and the small output helpers they share.

A Command names itself, adds its arguments in ``prepare_parser`` and does its
work in ``run``, returning the exit status. ``fastfib.cli`` collects the
commands from their modules and runs the one asked for; a command module
imports this module, never ``fastfib.cli``.
"""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["EXIT_INTERRUPTED", "EXIT_TERMINATED", "EXIT_USAGE", "Terminated", "raise_terminated", "Command", "Parser", "UsageError", "add_json_flag", "print_json"]

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

    def error(self, message: str) -> None:  # argparse would print the whole usage
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
