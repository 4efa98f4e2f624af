"""``%load_ext fastfib``: ``%probe`` and ``%%probe`` in IPython and Jupyter, in ``timeit``'s style.

    %load_ext fastfib
    %probe -s "import zlib, os; data = os.urandom(1 << 22)" zlib.compress(data)

    %%probe import hashlib; data = bytes(8_000_000)
    hashlib.sha256(data)

``%probe [options] STMT`` probes one statement; ``%%probe [options] [SETUP]`` probes the cell,
its SETUP on the magic's line -- or in the cell's first lines, above a line that reads ``---``.
The statement sees the notebook's variables (SETUP and STMT run over a copy of them), so the
default runner is ``threads`` (a process could not see them). Options: ``-s SETUP``
(repeatable), ``--workers 1,2``, ``--runners threads``, ``--full`` (longer measurements than the
default ``--quick`` ones), ``--no-plot``. It prints the verdict, the table and the advice --
on a free-threaded build also who re-enabled the GIL and why the threads did not scale -- and
shows the plot inline. The magic returns nothing; ``_probe`` in the namespace is the
:class:`~fastfib.measure.probe_result.ProbeResult`.
"""

from __future__ import annotations

import argparse
import io
import shlex
import tempfile
import textwrap
from typing import Any

__all__ = ["load_ipython_extension", "parse", "split_cell"]

SEPARATOR = "---"
_TAKES_VALUE = ("-s", "--setup", "--workers", "--runners")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="%probe", add_help=False, exit_on_error=False)
    parser.add_argument("-s", "--setup", action="append", default=[])
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--runners", default="threads")
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--no-plot", action="store_true")
    return parser


def parse(line: str) -> tuple[argparse.Namespace, str]:
    """The options at the start of a magic's line, and the rest of it as typed (the statement, or
    a cell's SETUP: quotes inside the code survive)."""
    words: list[str] = []
    stream = io.StringIO(line)
    lexer = shlex.shlex(stream, posix=True)
    lexer.whitespace_split = True
    position = 0
    while True:
        token = lexer.get_token()
        if token is None:
            break
        expecting_value = bool(words) and words[-1] in _TAKES_VALUE
        if not expecting_value and not token.startswith("--") and token != "-s":
            break  # the first word that is no option: the code starts here
        words.append(token)
        position = stream.tell()
    if words and words[-1] in _TAKES_VALUE:
        raise ValueError(f"{words[-1]} needs a value")
    options, unknown = _parser().parse_known_args(words)
    if unknown:
        raise ValueError(f"unknown option(s) {' '.join(unknown)}")
    return options, line[position:].strip()


def split_cell(line_setup: str, cell: str) -> tuple[list[str], str]:
    """(SETUP pieces, STMT) of a ``%%probe`` cell: SETUP from the magic's line and from the cell's
    lines above a ``---`` line; the statement is the rest of the cell."""
    setup = [line_setup] if line_setup.strip() else []
    lines = cell.splitlines()
    if SEPARATOR in (line.strip() for line in lines):
        at = [line.strip() for line in lines].index(SEPARATOR)
        setup.append("\n".join(lines[:at]))
        lines = lines[at + 1:]
    return setup, textwrap.dedent("\n".join(lines)).strip("\n")


def _run(shell: Any, setup: list[str], stmt: str, options: argparse.Namespace) -> Any:
    from fastfib.cli.probe_cli import format_result, plot_rows
    from fastfib.command import numbers
    from fastfib.measure import probe_freethreading, probing

    namespace = dict(shell.user_ns)
    for text in setup:
        exec(compile(text, "<setup>", "exec"), namespace)  # noqa: S102 - the user's own code, by design
    body = textwrap.indent(stmt or "pass", "    ")
    exec(compile(f"def __fastfib_call():\n{body}\n", "<stmt>", "exec"), namespace)  # noqa: S102
    spec = probing.Spec(fn=namespace["__fastfib_call"])
    workers = sorted(set(numbers(options.workers, "--workers", int)))
    runners = [name.strip() for name in options.runners.split(",") if name.strip()]
    result = probing.probe_spec(spec, workers=workers, runner_names=runners, quick=not options.full)
    result.label = stmt.splitlines()[0][:60] if stmt else "pass"
    print(format_result(result))
    what = argparse.Namespace(setup=setup, stmt=stmt, compare_with=[], gil_off=False)
    extra = probe_freethreading.examine(what, result, not options.full)
    if extra:
        print("\n" + "\n".join(extra))
    if not options.no_plot:
        from fastfib import environment, report

        with tempfile.TemporaryDirectory(prefix="fastfib-probe-") as folder:
            path = f"{folder}/probe.png"
            report.write_plot(path, plot_rows(result), environment.usable_cores(), title=f"probe: {result.label}")
            from IPython.display import Image, display

            with open(path, "rb") as handle:
                display(Image(data=handle.read(), format="png"))
    shell.user_ns["_probe"] = result
    return None


def load_ipython_extension(shell: Any) -> None:
    """Register ``%probe`` / ``%%probe`` (``%load_ext fastfib`` calls this)."""

    def probe(line: str, cell: str | None = None) -> None:
        try:
            options, rest = parse(line)
        except (ValueError, argparse.ArgumentError) as exc:
            print(f"%probe: {exc}")
            return None
        if cell is None:
            if not rest:
                print("%probe: give a statement: %probe [-s SETUP] STMT")
                return None
            return _run(shell, options.setup, rest, options)
        setup, stmt = split_cell(rest, cell)
        return _run(shell, [*options.setup, *setup], stmt, options)

    shell.register_magic_function(probe, magic_kind="line_cell", magic_name="probe")
