"""The ``fastfib`` command: ``main``, and the table of every subcommand (``COMMANDS``).

Each subcommand is a small :class:`fastfib.command.Command` in a module of this
folder: the core ones (fib, burn, kernels, info, report) in ``core_cli``, each
measuring one in its own ``*_cli`` module, the dispatch in ``dispatch``. A
subcommand's module is imported only when it runs (or for ``fastfib --help``),
so ``fastfib fib 10`` starts in milliseconds. Bad arguments end in one line on
stderr and exit status 2; Ctrl-C ends in exit status 130.
"""

from __future__ import annotations

from fastfib.cli.dispatch import COMMANDS, build_parser, load, main

__all__ = ["COMMANDS", "build_parser", "load", "main"]
