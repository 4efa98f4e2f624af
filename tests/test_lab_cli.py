"""``fastfib lab``, ``fastfib crossover`` and ``fastfib serve`` from the command line: every
experiment's declaration, exit statuses, the finding line, the JSON document, and one-line
usage errors before any work."""

from __future__ import annotations

import argparse
import json

import pytest

from fastfib import cli, environment
from fastfib.cli.lab_cli import EXPERIMENTS, conduct

pytestmark = pytest.mark.timeout(120)


def _help(capsys, argv):
    with pytest.raises(SystemExit) as exited:
        cli.main([*argv, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("experiment", EXPERIMENTS, ids=lambda experiment: experiment.name)
def test_every_experiment_declares_itself(capsys, experiment):
    assert experiment.help and experiment.description and experiment.examples
    assert all(example.startswith("fastfib ") for example in experiment.examples)
    parser = cli.build_parser()
    for option in experiment.options:
        for value in (option.default, option.quick):
            if value is not None:  # the declared values are values the parser reads
                args = parser.parse_args(["lab", experiment.name, option.flag, value])
                assert getattr(args, option.name) == option.read(value)
    text = _help(capsys, ["lab", experiment.name])
    packed = "".join(text.split())  # argparse wraps lines at any space or hyphen
    for option in experiment.options:
        if option.default is not None:  # --help shows the numbers the run uses
            quick = "" if option.quick is None else f"; --quick: {option.quick})"
            assert "".join(f"(default: {option.default}{quick}".split()) in packed, option.flag
    assert ("--quick a fast look" in " ".join(text.split())) == experiment.takes_quick
    assert "--json PATH" in text and ("--plot PATH" in text) == (experiment.plot is not None)
    assert "example:" in text or "examples:" in text


@pytest.mark.parametrize("experiment", EXPERIMENTS, ids=lambda experiment: experiment.name)
def test_settings_are_given_else_quick_else_default(experiment):
    quick, default = experiment.settings(quick=True), experiment.settings()
    for option in experiment.options:
        declared = option.quick if option.quick is not None else option.default
        assert getattr(quick, option.name) == (None if declared is None else option.read(declared))
        assert getattr(default, option.name) == (None if option.default is None else option.read(option.default))


def test_a_value_given_beats_the_quick_one():
    race = next(e for e in EXPERIMENTS if e.name == "race")
    settings = race.settings(quick=True, given=cli.build_parser().parse_args(["lab", "race", "--increments", "7"]))
    assert (settings.increments, settings.loop_increments) == (7, 300_000)


def test_conduct_runs_an_experiment_in_process_and_documents_it():
    race = next(e for e in EXPERIMENTS if e.name == "race")
    given = argparse.Namespace(threads=2, increments=3, loop_increments=100, python=[])  # no other interpreter
    outcome = conduct(race, given=given)
    assert outcome.result["rows"][0]["expected"] == 6 and outcome.duration_s > 0
    document = outcome.document("fastfib lab race --threads 2")
    assert document["schema"] == "fastfib.lab.race" and document["meta"]["command"] == "fastfib lab race --threads 2"
    assert document["meta"]["quick"] is False and document["finding"] == outcome.result["finding"]


def test_crossover_is_a_lab_experiment_and_keeps_its_command(capsys):
    lab, alone = _help(capsys, ["lab", "crossover"]), _help(capsys, ["crossover"])
    assert " ".join(lab.replace("fastfib lab crossover", "fastfib crossover").split()) == " ".join(alone.split())
    assert "--quick" not in alone  # nothing to make quicker: it declares no --quick value


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
    ["lab", "crossover", "--quick"],
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


@pytest.mark.parametrize(("argv", "message"), [
    (["crossover", "--task-ms", "0.1,0"], "--task-ms must all be > 0"),
    (["lab", "crossover", "--task-ms", "x"], "--task-ms must be a comma-separated list of numbers"),
    (["crossover", "--workers", "0"], "--workers must be > 0"),
])
def test_crossover_refuses_bad_input_before_any_work(capsys, argv, message):
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and message in err and "calibrating" not in err


@pytest.mark.parametrize("argv", [["crossover"], ["lab", "crossover"]])
def test_crossover_reports_where_the_curves_meet(tmp_path, capsys, argv):
    path = tmp_path / "crossover.json"
    assert cli.main([*argv, "--task-ms", "0.05,1", "--repeats", "1", "--json", str(path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "Where they meet:" in out and "threads/processes" in out
    assert "Finding:" not in out and out.endswith(f"wrote {path}\n")  # the form it had before the lab
    data = json.loads(path.read_text())
    assert sorted(data) == ["meet_ms", "meta", "points", "schema", "schema_version", "summary"]
    assert (data["schema"], data["schema_version"], len(data["points"])) == ("fastfib.crossover", 1, 2)
    assert data["meta"]["kernel"] == "cython-nogil" and data["meta"]["repeats"] == 1
    assert data["summary"] in out


def test_oversubscription_quick_writes_a_row_per_kind_and_configuration(tmp_path, capsys):
    from fastfib import registry

    path = tmp_path / "over.json"
    assert cli.main(["lab", "oversubscription", "--quick", "--budget", "0.2", "--target-ms", "2",
                     "--no-progress", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    document = json.loads(path.read_text())
    assert document["schema"] == "fastfib.lab.oversubscription" and document["schema_version"] == 1
    kinds = ["prange", "blas"] if "cython-prange" in registry.KERNELS else ["blas"]
    assert document["settings"]["inner_kinds"] == kinds and document["settings"]["configs"] == ["1x2", "2x1", "2x2"]
    cores = environment.usable_cores()
    rows = document["rows"]
    assert [(r["inner_kind"], r["outer"], r["inner"]) for r in rows] == [
        (kind, outer, inner) for kind in kinds for outer, inner in ((1, 2), (2, 1), (2, 2))]
    for row in rows:
        assert row["threads"] == row["outer"] * row["inner"] and row["oversubscribed"] == (row["threads"] > cores)
        assert row["wall_s"] > 0 and row["parallelism"] > 0 and row["speedup"]["pairs"] >= 10
        assert row["speedup"]["low"] <= row["speedup"]["speedup"] <= row["speedup"]["high"]
    assert "outer Python threads x inner native threads <=" in document["finding"] and document["finding"] in out


@pytest.mark.parametrize("configs", ["2", "2x0", "x2", "1x1,axb", "65x1"])
def test_oversubscription_refuses_a_bad_configuration(capsys, configs):
    assert cli.main(["lab", "oversubscription", "--configs", configs, "--no-progress"]) == 2
    assert "--configs" in capsys.readouterr().err
