"""The ``fastfib`` command as a user runs it: output, JSON, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fastfib
from fastfib import cli
from fastfib.cli import main
from helpers import oracle

F = oracle(1001)


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_fib_prints_exact_value(capsys):
    assert run_cli(capsys, "fib", "1000") == (0, f"{F[1000]}\n", "")


@pytest.mark.parametrize("kernel_name", [k.name for k in fastfib.kernels()])
def test_fib_on_each_kernel(capsys, kernel_name):
    assert run_cli(capsys, "fib", "93", "--kernel", kernel_name) == (0, f"{F[93]}\n", "")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["fib", "94", "--kernel", "cython-nogil"], "n <= 93"),
        (["fib", "3.9"], "whole number"),
        (["fib", "-5"], ">= 0"),
        (["fib", "ten"], "whole number"),
        (["fib", "10", "--kernel", "nope"], "valid kernels: python"),
        (["fib"], "required"),
        (["fib", "10", "--bogus"], "unrecognized"),
        (["nosuchcommand"], "invalid choice"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(capsys, argv, expected):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("fastfib: error: ") and expected in err


def test_no_command_shows_help_and_exits_2(capsys):
    code, out, err = run_cli(capsys)
    assert code == 2 and "fib" in err and "kernels" in err


def test_every_listed_command_loads_under_its_own_name():
    assert [cli.load(name).name for name in cli.COMMANDS] == list(cli.COMMANDS)


def test_fib_imports_neither_numpy_nor_the_lab():
    # What keeps `fastfib fib 10` fast to start (the start-up benchmark times it).
    code = ("import sys; from fastfib.cli import main; main(['fib', '10']); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'numpy' or m.startswith('fastfib.lab')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["55", "[]"]


def test_fib_json(capsys):
    code, out, _ = run_cli(capsys, "fib", "100", "--json")
    assert code == 0
    assert json.loads(out) == {"n": 100, "kernel": "auto", "digits": 21, "value": str(F[100])}


def test_kernels_text_and_json(capsys):
    code, out, _ = run_cli(capsys, "kernels")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[0] == "kernel"
    assert any(line.startswith("cython-nogil") and "released" in line and "n <= 93" in line for line in lines)
    code, out, _ = run_cli(capsys, "kernels", "--json")
    data = json.loads(out)
    by_name = {k["name"]: k for k in data["kernels"]}
    assert set(by_name) >= {"python", "numpy", "cython-gil", "cython-nogil"}
    assert by_name["cython-nogil"]["releases_gil"] is True and by_name["cython-gil"]["max_n"] == 93
    assert by_name["python"]["max_n"] is None


def test_info_text_and_json(capsys):
    code, out, _ = run_cli(capsys, "info")
    assert code == 0
    labels = ("python", "free-threaded build", "GIL enabled now", "usable cores", "CPU", "Cython", "CFLAGS", "numpy")
    for label in labels:
        assert any(line.startswith(label) for line in out.splitlines()), label
    code, out, _ = run_cli(capsys, "info", "--json")
    info = json.loads(out)
    assert info["gil_enabled"] in (True, False) and info["usable_cores"] >= 1
    assert info["extension"]["built"] is True and info["extension"]["cython_version"] != "unknown"
    assert info["fastfib_version"] == fastfib.__version__


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONINTMAXSTRDIGITS"}


def test_python_dash_m_prints_a_million_digit_number():
    # 208988 digits: past CPython's default 4300-digit str() limit.
    done = subprocess.run(
        [sys.executable, "-m", "fastfib", "fib", "1000000"],
        capture_output=True, text=True, env=_env(), timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stdout) == 208988 + 1 and done.stdout.startswith("19532821287077577316")


def test_console_script_version_and_error_exit_status():
    script = Path(sys.executable).with_name("fastfib")
    if not script.exists():
        pytest.skip("no console script next to this interpreter")
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == f"fastfib {fastfib.__version__}"
    done = subprocess.run(
        [str(script), "fib", "94", "--kernel", "cython-nogil"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and done.stdout == "" and len(done.stderr.splitlines()) == 1
