"""``fastfib bench``: the benchmark suite, run from wherever fastfib is installed.

Exactly ``pytest --pyargs fastfib.benchmarks --benchmark-only`` plus whatever
else is on the command line, which goes to pytest untouched. The suite and its
plugin ship in the package, so a wheel needs no clone and no compiler; pytest
and pytest-benchmark come with ``pip install 'fastfib[bench]'``.
"""

from __future__ import annotations

import argparse
import importlib.util

from fastfib.command import EXIT_INTERRUPTED, EXIT_USAGE, Command, UsageError

__all__ = ["BenchCommand", "pytest_argv"]

SUITE = ["--pyargs", "fastfib.benchmarks"]
# `fastfib bench` imports fastfib before pytest loads the plugin, which pytest would have
# marked for assertion rewriting: its warning says so, and nothing is lost (the suite's
# own test modules are rewritten as usual).
ALREADY_IMPORTED = "ignore:Module already imported so cannot be rewritten; fastfib:pytest.PytestAssertRewriteWarning"
PYTEST_INTERRUPTED, PYTEST_USAGE_ERROR = 2, 4  # pytest.ExitCode, without importing pytest early


def pytest_argv(passed: list[str]) -> list[str]:
    """The pytest command line for ``fastfib bench PASSED...``: timing on, unless the caller
    turned it off (pytest-benchmark refuses --benchmark-only beside --benchmark-disable)."""
    timing = [] if "--benchmark-disable" in passed else ["--benchmark-only"]
    return [*SUITE, "-W", ALREADY_IMPORTED, *timing, *passed]


class BenchCommand(Command):
    name = "bench"
    help = "run the pytest-benchmark suite and print its paired scaling summary"
    description = (
        "Run fastfib's benchmark suite (it ships in the package): pytest --pyargs fastfib.benchmarks\n"
        "--benchmark-only, with every other argument passed to pytest. pytest-benchmark's tables show each\n"
        "configuration's time; then a scaling summary gives each parallel configuration's speedup over\n"
        "sequential, the two timed in alternation in one benchmark, with its 95% interval, or says 'too\n"
        "noisy to tell'. About 2-3 minutes on 2 cores; run it on a quiet machine.\n\n"
        "Exit status: 0 every benchmark passed, 1 one failed (e.g. a wrong result), 2 a usage error or\n"
        "pytest/pytest-benchmark missing, 5 nothing selected, 130 interrupted (Ctrl-C)."
    )
    epilog = (
        "examples:\n"
        "  fastfib bench                                  # the default suite\n"
        "  fastfib bench -k scaling                       # who scales, only\n"
        "  fastfib bench --fastfib-long                   # workers up to 2 x cores, 12.5 ms tasks\n"
        "  fastfib bench --benchmark-json=bench.json      # every timing + the summary under \"fastfib\"\n"
        "  fastfib bench --fastfib-plot=scaling.png       # speedup vs workers, with intervals\n"
        "  fastfib bench --benchmark-save=base            # then later: fastfib bench --benchmark-compare\n"
        "  fastfib bench --benchmark-disable              # each benchmark once, untimed (a smoke test)\n"
        "pytest's and pytest-benchmark's own options: pytest --pyargs fastfib.benchmarks --help"
    )
    passes_through = True

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        pass  # everything else goes to pytest (see passes_through)

    def run(self, args: argparse.Namespace) -> int:
        missing = [name for name in ("pytest", "pytest_benchmark") if importlib.util.find_spec(name) is None]
        if missing:
            raise UsageError(f"fastfib bench needs {' and '.join(missing)}: pip install 'fastfib[bench]'")
        import pytest

        status = int(pytest.main(pytest_argv(list(args.passed))))
        return {PYTEST_INTERRUPTED: EXIT_INTERRUPTED, PYTEST_USAGE_ERROR: EXIT_USAGE}.get(status, status)
