"""Shared fixtures: every kernel, an oracle, and a guard against swallowed errors."""

from __future__ import annotations

import signal
import sys

import pytest

import fastfib
from fastfib import environment
from fastfib.benchmarks import plugin
from helpers import KERNEL_NAMES
from report_pages import SAMPLES, as_free_threaded, variant


def pytest_report_header(config):
    return (
        f"fastfib {fastfib.__version__}: kernels {', '.join(KERNEL_NAMES)}; "
        f"free-threaded build: {environment.free_threaded_build()}; "
        f"GIL enabled: {environment.gil_enabled()}; usable cores: {environment.usable_cores()}"
    )


def pytest_configure(config):
    # fastfib's own run: the plugin removes the empty .benchmarks/ pytest-benchmark makes in the folder run from.
    plugin.claim_run(config)
    # The Ctrl-C tests send SIGINT to the commands they start and expect what a user's Ctrl-C gets. A process
    # started with SIGINT ignored (a background job of a script, `nohup`, some CI runners) passes SIG_IGN on
    # to every child across exec, and Python then leaves SIGINT ignored: the commands never see it. A handler
    # here is reset to the default in each child at exec, so the children start as from a terminal.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_generate_tests(metafunc):
    # `kernel`: each available kernel in turn, so the whole suite runs against all.
    # A test that also takes `function` gets ("fib", "burn"), burn only where it exists.
    if "kernel" not in metafunc.fixturenames:
        return
    kernels = [fastfib.registry.get(name) for name in KERNEL_NAMES]
    if "function" in metafunc.fixturenames:
        pairs = [(k, f) for k in kernels for f in ("fib", "burn") if f == "fib" or k.burn is not None]
        metafunc.parametrize(("kernel", "function"), pairs, ids=[f"{k.name}-{f}" for k, f in pairs])
    else:
        metafunc.parametrize("kernel", kernels, ids=[k.name for k in kernels])


@pytest.fixture
def no_unraisable(monkeypatch):
    """Fail the test if any exception was swallowed as "unraisable"."""
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    yield
    assert not seen, f"unraisable exceptions: {[(u.exc_type, u.exc_value) for u in seen]}"


def pytest_sessionfinish(session, exitstatus):
    # The free-threading guard: on a free-threaded build (3.13t/3.14t) the run
    # fails if the GIL is on at its end without PYTHON_GIL=1 / -X gil=1, i.e. if
    # something imported during it re-enabled the GIL. On GIL builds: nothing.
    if environment.gil_reenabled():
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                "fastfib: the GIL became enabled during this run on a free-threaded build: a module "
                "imported by the tests lacks the free-threading declaration (see the RuntimeWarning)",
                red=True,
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def report_of_samples(tmp_path_factory):
    """(inputs, page): `fastfib report` of every sample document and a free-threaded variant of the
    scale run (so the two scale runs are overlaid), made once for the unit and the browser tests."""
    from fastfib.cli import main

    folder = tmp_path_factory.mktemp("report-of-samples")
    inputs = [*SAMPLES, variant(folder, "scale.json", as_free_threaded, "scale-313t.json")]
    page = folder / "report.html"
    assert main(["report", *map(str, inputs), "-o", str(page), "--title", "fastfib report"]) == 0
    return inputs, page
