"""``fastfib source`` finds the extension's sources; ``fastfib --version`` is _version's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import fastfib
from fastfib import cli, command
from fastfib._version import __version__
from fastfib.cli import source_cli


def test_version_flag_prints_the_single_sourced_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"fastfib {__version__}"
    assert fastfib.__version__ == __version__


def test_source_is_a_registered_command():
    assert isinstance(cli.load("source"), source_cli.SourceCommand)


def test_source_lists_every_file_with_an_existing_path(capsys):
    assert cli.main(["source"]) == 0
    out = capsys.readouterr().out
    for source in source_cli.SOURCES:
        path = source_cli.locate(source)
        assert path is not None and path.is_file(), source.name
        assert str(path) in out
    assert "MISSING" not in out


def test_source_json_names_the_files_and_the_compiled_module(capsys):
    assert cli.main(["source", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["fastfib_version"] == __version__
    assert [s["name"] for s in data["sources"]] == [s.name for s in source_cli.SOURCES]
    assert all(Path(s["path"]).is_file() for s in data["sources"])
    module = Path(data["compiled_module"])
    assert module.is_file() and module.name.startswith("_kernels.")


@pytest.mark.parametrize("name", ["fib.c", "csrc/fib.h", "_kernels.pyx", "_cfib.pxd"])
def test_source_prints_one_file(capsys, name):
    assert cli.main(["source", name]) == 0
    (source,) = [s for s in source_cli.SOURCES if name in (s.name, Path(s.name).name)]
    assert capsys.readouterr().out == source_cli.locate(source).read_text(encoding="utf-8")


def test_the_pyx_shown_is_the_one_that_releases_the_gil(capsys):
    assert cli.main(["source", "_kernels.pyx"]) == 0
    assert "with nogil:" in capsys.readouterr().out


def test_unknown_source_is_a_usage_error(capsys):
    assert cli.main(["source", "nope.c"]) == command.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("fastfib: error: no source file named 'nope.c'") and "fib.c" in err


def test_missing_source_is_reported(monkeypatch, capsys, tmp_path):
    # A package directory without csrc/ next to it (as if files were deleted).
    monkeypatch.setattr(source_cli, "PACKAGE_DIR", tmp_path / "site-packages" / "fastfib")
    assert cli.main(["source"]) == 1
    assert "MISSING" in capsys.readouterr().out
    assert cli.main(["source", "fib.c"]) == 1
    assert "missing from this install" in capsys.readouterr().err
