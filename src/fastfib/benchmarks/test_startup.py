"""Start-up: ``fastfib fib 10`` in a fresh interpreter, beside the bare interpreter's own start-up.

Goal (reported, not asserted): ``fastfib fib 10`` <= 80 ms on 2 cores, where ``python -c pass``
takes 20-30 ms. It gets there by importing only what ``fib`` needs -- neither numpy nor the
lab (tests/test_cli.py checks which modules it loads). The summary gives its time over the
bare interpreter's.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

COMMANDS = {  # what runs after the interpreter, and what it must print
    "python -c pass": (["-c", "pass"], ""),
    "python -m fastfib fib 10": (["-m", "fastfib", "fib", "10"], "55\n"),
}


@pytest.mark.parametrize("command", COMMANDS)
def test_startup(benchmark, record, command):
    """One fresh interpreter per round, from its start to its exit."""
    args, expected = COMMANDS[command]
    benchmark.group = "start-up: a fresh interpreter, start to exit"
    done = benchmark.pedantic(subprocess.run, args=([sys.executable, *args],),
                              kwargs={"capture_output": True, "text": True, "check": True},
                              rounds=10, iterations=1, warmup_rounds=1)
    assert done.stdout == expected
    record(question="start-up", case="fresh interpreter", kernel=command)
