"""Shared fixtures: every kernel, an oracle, and a guard against swallowed errors."""

from __future__ import annotations

import sys

import pytest

import fastfib
from fastfib import environment

KERNEL_NAMES = [k.name for k in fastfib.kernels()]


def pytest_report_header(config):
    return (
        f"fastfib {fastfib.__version__}: kernels {', '.join(KERNEL_NAMES)}; "
        f"free-threaded build: {environment.free_threaded_build()}; "
        f"GIL enabled: {environment.gil_enabled()}; usable cores: {environment.usable_cores()}"
    )


@pytest.fixture(params=KERNEL_NAMES)
def kernel(request):
    """Each available kernel in turn: the whole exactness suite runs against all."""
    return fastfib.registry.get(request.param)


def oracle(count: int) -> list[int]:
    """F(0) .. F(count - 1) by plain addition: independent of every kernel."""
    values = [0, 1]
    while len(values) < count:
        values.append(values[-1] + values[-2])
    return values[:count]


@pytest.fixture
def no_unraisable(monkeypatch):
    """Fail the test if any exception was swallowed as "unraisable"."""
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    yield
    assert not seen, f"unraisable exceptions: {[(u.exc_type, u.exc_value) for u in seen]}"
