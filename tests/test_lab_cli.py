"""``fastfib lab`` and ``fastfib serve`` from the command line: exit statuses, the
finding line, the JSON document, and one-line usage errors before any work."""

from __future__ import annotations

import json

import pytest

from fastfib import cli, environment
from fastfib.lab_cli import EXPERIMENTS

pytestmark = pytest.mark.timeout(120)


def test_every_experiment_has_help(capsys):
    for experiment in EXPERIMENTS:
        with pytest.raises(SystemExit) as exited:
            cli.main(["lab", experiment.name, "--help"])
        assert exited.value.code == 0
        out = capsys.readouterr().out
        assert "--quick" in out and "--json" in out and "example:" in out


def test_lab_without_an_experiment_is_a_usage_error(capsys):
    assert cli.main(["lab"]) == 2
    assert "which experiment?" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["lab", "nope"],
    ["lab", "race", "--threads", "0"],
    ["lab", "io", "--sweep", "1,x"],
    ["lab", "latency", "--kernels", "fortran"],
    ["lab", "release", "--only", "teleport"],
    ["lab", "amdahl", "--from", "/no/such/scale.json"],
    ["lab", "race", "--json", "/no/such/folder/race.json"],
    ["serve", "--port", "70000"],
    ["serve", "--latency-ms", "-1"],
])
def test_bad_arguments_end_in_one_line_and_status_2(capsys, argv):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastfib: error:") and err.count("\n") == 1


def test_race_writes_its_finding_and_json(tmp_path, capsys):
    path = tmp_path / "race.json"
    assert cli.main(["lab", "race", "--threads", "3", "--increments", "5", "--loop-increments", "1000",
                     "--no-progress", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Finding: 3 threads x 5 read-sleep-write increments lost" in out
    document = json.loads(path.read_text())
    assert document["schema"] == "fastfib.lab.race" and document["schema_version"] == 1
    assert document["meta"]["usable_cores"] == environment.usable_cores()
    by = {row["method"]: row for row in document["rows"]}
    assert by["no lock"]["lost_updates"] > 0
    assert by["threading.Lock"]["lost_updates"] == 0 and by["owner thread + Queue"]["lost_updates"] == 0
    assert document["finding"] in out


def test_io_through_the_cli_with_a_plot(tmp_path, capsys):
    json_path, plot_path = tmp_path / "io.json", tmp_path / "io.png"
    assert cli.main(["lab", "io", "--requests", "4", "--latency-ms", "5", "--concurrency", "2", "--sweep", "1,2",
                     "--no-cpu", "--start-method", "fork", "--no-progress", "--json", str(json_path),
                     "--plot", str(plot_path)]) == 0
    assert "Finding: With 2 requests in flight" in capsys.readouterr().out
    assert json.loads(json_path.read_text())["schema"] == "fastfib.lab.io"
    assert plot_path.read_bytes().startswith(b"\x89PNG")
