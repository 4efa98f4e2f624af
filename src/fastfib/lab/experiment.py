"""What every experiment of the lab declares, in one place: its command line, its run, its words.

An experiment is a module of :mod:`fastfib.lab` that ends in ``EXPERIMENT =
Experiment(...)``: its name, one line of help and examples; its options, each
with its default and its ``--quick`` value written once, so ``--help`` shows the
very values a run uses; and the functions that run it on those settings, put
its result in words and, where a picture says more, plot it. The module's
docstring is its description. :mod:`fastfib.cli.lab_cli` makes ``fastfib lab NAME``
of each declaration and ``tools/lab_readme.py`` runs them through it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastfib import registry
from fastfib.command import add_start_method, names, positive, split
from fastfib.measure.machine import Lent, describe_over

__all__ = ["START_METHOD", "Experiment", "Option", "ProgressFn", "Result", "available", "burn_kernels",
           "machine_lines"]

Result = dict[str, Any]  # what a run returns: JSON-ready, with a one-sentence "finding"
ProgressFn = Callable[[str, int, int], None]  # (what, done, total)


@dataclass(frozen=True)
class Option:
    """One option of an experiment's command line, and the setting it gives the run.

    ``default`` and ``quick`` (the value under --quick, where it differs) are written
    as they would be typed, so --help shows them as they are and they are read just
    as the user's value would be. A ``default`` of None: no value unless given (the
    help says what the run does then)."""

    flag: str  # "--kernels"
    help: str  # what it sets; "(default: ...; --quick: ...)" is added to it
    default: str | None = None
    quick: str | None = None
    number: type[int] | type[float] | None = None  # a number > 0 of this type; None: the text as typed
    short: str | None = None  # "-k"
    action: str | None = None  # "store_true" (a flag) or "append" (repeatable); None: one value
    metavar: str | None = None
    dest: str | None = None  # the setting's name; None: the flag's, as argparse makes it
    adds: Callable[[argparse.ArgumentParser], None] | None = None  # adds an option shared with other commands

    @property
    def name(self) -> str:
        return self.dest or self.flag.lstrip("-").replace("-", "_")

    def read(self, text: str) -> Any:
        """The setting for ``text`` as typed (a declared value or the user's)."""
        return positive(self.number, self.flag)(text) if self.number else text

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        if self.adds is not None:
            self.adds(parser)
            return
        shown = "" if self.default is None else f" (default: {self.default}" + (
            "" if self.quick is None else f"; --quick: {self.quick}") + ")"
        kind: dict[str, Any] = {"action": self.action} if self.action else {"type": self.read}
        if self.metavar:
            kind["metavar"] = self.metavar
        parser.add_argument(*[f for f in (self.flag, self.short) if f], dest=self.name, help=self.help + shown, **kind)

    def value(self, given: Any, quick: bool) -> Any:
        """The setting: ``given`` (parsed from the command line; None: not given), else the
        --quick value under ``quick``, else the default."""
        if given is not None:
            return given
        text = self.quick if quick and self.quick is not None else self.default
        return None if text is None else self.read(text)


# --start-method as every command that starts processes takes it (its help is add_start_method's).
START_METHOD = Option("--start-method", "how worker processes start", default="forkserver", adds=add_start_method)


@dataclass(frozen=True)
class Experiment:
    """One experiment of the lab, as ``fastfib lab NAME`` runs it."""

    name: str
    help: str  # one line, in `fastfib lab --help`
    description: str  # the module's docstring; its first line is left out of --help
    examples: tuple[str, ...]  # command lines, shown after the options
    options: tuple[Option, ...]
    run: Callable[[argparse.Namespace, ProgressFn], Result]  # one setting per option, by name -> the result
    format_text: Callable[[Result], str]  # the result as the terminal shows it, before the finding
    plot: Callable[[Result, str], None] | None = None  # the result drawn into a PNG (an SVG for .svg)
    readme: tuple[str, str] | None = None  # (title, what it shows) in docs/lab.md's block; None: not there
    readme_figures: bool = False  # docs/lab.md's block also shows its text table and its plot
    # crossover keeps what it wrote as `fastfib crossover`, before the lab had it: its own --json document,
    # from (result, command line), and a text that states its finding. None: the lab's ("fastfib.lab.NAME",
    # meta and result) and a "Finding:" line after the text.
    document: Callable[[Result, str], dict[str, Any]] | None = None

    @property
    def takes_quick(self) -> bool:
        """Whether --quick changes anything: whether any option has a --quick value."""
        return any(option.quick is not None for option in self.options)

    def settings(self, quick: bool = False, given: argparse.Namespace | None = None) -> argparse.Namespace:
        """Every option's setting, by name: as ``given`` (a parsed command line), else its
        --quick value under ``quick``, else its default (None where it has none)."""
        return argparse.Namespace(**{option.name: option.value(getattr(given, option.name, None), quick)
                                     for option in self.options})


def available(kernels: str) -> str:
    """A default list of burn kernels, less those this installation lacks (all of them if it
    lacks every one: the run then says which are missing)."""
    return ",".join(name for name in split(kernels) if name in registry.burn_names()) or kernels


def burn_kernels(text: str) -> list[str]:
    """The burn kernels named in ``text`` (comma-separated); a UsageError for an unknown one."""
    return names(text, registry.burn_names(), "kernel")


def machine_lines(result: Result) -> list[str]:
    """What the machine lent during an experiment's paired figures (each one's ``machine``,
    wherever it lies in the result), and those measured while it was short: a figure taken
    then shows the machine, not the code."""
    found: list[tuple[str, int, Lent]] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            lent = Lent.from_dict(value.get("machine")) if isinstance(value.get("machine"), dict) else None
            if lent is not None:
                found.append((path or "a figure", lent.threads, lent))
            for key, inner in value.items():
                if key != "machine":
                    walk(inner, f"{path} {key}".strip())
        elif isinstance(value, list):
            for index, inner in enumerate(value):
                walk(inner, f"{path}[{index}]")

    walk(result, "")
    return describe_over(found, "the paired figures")
