"""fastfib.files and fastfib.tables: the dependency-free leaves every layer writes and prints with."""

from __future__ import annotations

import json
import os

import pytest

from fastfib import files, tables


def test_check_writable(tmp_path):
    files.check_writable(tmp_path / "new.json")
    assert list(tmp_path.iterdir()) == []  # the probe leaves nothing
    with pytest.raises(files.FileError, match="does not exist"):
        files.check_writable(tmp_path / "no" / "such" / "x.json")
    with pytest.raises(files.FileError, match="is a directory"):
        files.check_writable(tmp_path)
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(files.FileError, match="cannot write"):
            files.check_writable(locked / "x.json")


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.json"
    files.write_document(target, files.envelope("fastfib.test", 3, {"where": "here"}, {"rows": [1]}))
    before = target.read_text()
    assert json.loads(before) == {"schema": "fastfib.test", "schema_version": 3, "meta": {"where": "here"},
                                  "rows": [1]}

    def fail(temporary: str) -> None:
        with open(temporary, "w") as out:
            out.write("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        files.write_atomic(target, fail)
    assert target.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_strict_json_refuses_nan(tmp_path):
    with pytest.raises(ValueError):
        files.write_document(tmp_path / "x.json", {"x": float("nan")})
    assert list(tmp_path.iterdir()) == []


def test_grid_pads_columns_and_aligns_numbers_right():
    text = tables.grid(["name", "ms"], [["a", "1.5"], ["longer", "12"]], left=1)
    assert text.splitlines() == ["name     ms", "------  ---", "a       1.5", "longer   12"]


def test_columns_without_header_and_with_indent():
    assert tables.columns([["key", "value"], ["k", "v"]], left=2, indent="  ").splitlines() == \
        ["  key  value", "  k    v"]


@pytest.mark.parametrize(("seconds", "text"), [(None, "-"), (0.25, "250"), (0.0123, "12.3"), (0.0001234, "0.12")])
def test_ms_precision_suits_the_size(seconds, text):
    assert tables.ms(seconds) == text


def test_times_and_num():
    assert tables.times(1.934) == "1.93×"
    assert tables.times(None) == tables.num(None) == "-"
    assert tables.num(0.5, 1) == "0.5"
