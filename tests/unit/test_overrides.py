"""``--set KEY.PATH=VALUE``: an override means what the same text written into the file
means (the events of the two journals are byte-identical; the header says which values
were set), and a bad path or value is refused, located, with exit 2 and nothing run.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import SCENARIOS, assert_no_traceback, last_digest, run_cli
from triotrade.sim import overrides, runner, scenario

GAP = SCENARIOS / "incidents" / "gap_through_stop.yaml"
SETS = ["config.exits.stop_loss=3%", "config.sizing.unit_position_size=50",
        "signals[0].t=2s"]


def written_into_the_file(tmp_path: Path) -> Path:
    """The scenario with the SETS values edited into its mapping, as a person would."""
    data = yaml.safe_load(GAP.read_text())
    data["config"].setdefault("exits", {})["stop_loss"] = "3%"
    data["config"].setdefault("sizing", {})["unit_position_size"] = 50
    data["signals"][0]["t"] = "2s"
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_an_override_runs_exactly_the_edited_file(tmp_path: Path) -> None:
    edited = written_into_the_file(tmp_path)
    over = runner.run(scenario.load(GAP, overrides.parse_overrides(SETS)), 7,
                      tmp_path / "over.jsonl")
    file = runner.run(scenario.load(edited), 7, tmp_path / "file.jsonl")
    plain = runner.run(scenario.load(GAP), 7, tmp_path / "plain.jsonl")
    a, b = lines(tmp_path / "over.jsonl"), lines(tmp_path / "file.jsonl")
    assert a[1:] == b[1:]  # every event, byte for byte
    assert lines(tmp_path / "plain.jsonl")[1:] != a[1:]  # and the overrides did something
    head_a, head_b = json.loads(a[0]), json.loads(b[0])
    assert head_a.pop("overrides") == SETS  # the header records them, in order
    # the file's hash is of its bytes: the base file's here, the edited file's there
    assert head_a.pop("scenario_sha256") == scenario.load(GAP).sha256
    assert head_b.pop("scenario_sha256") == scenario.load(edited).sha256
    assert head_a == head_b
    assert over.digest != plain.digest and over.checks == file.checks


def test_a_run_without_overrides_has_no_overrides_field(tmp_path: Path) -> None:
    runner.run(scenario.load(GAP), None, tmp_path / "j.jsonl")
    assert "overrides" not in json.loads(lines(tmp_path / "j.jsonl")[0])


def test_the_cli_digest_is_the_digest_of_the_same_overrides_in_process(tmp_path: Path) -> None:
    args = [a for s in SETS for a in ("--set", s)]
    proc = run_cli(["run", str(GAP), "-q", *args, "--seed", "3", "--journal",
                    str(tmp_path / "cli.jsonl")], cwd=tmp_path)
    assert_no_traceback(proc)
    expected = runner.run(scenario.load(GAP, overrides.parse_overrides(SETS)), 3).digest
    assert last_digest(proc.stdout) == expected
    assert json.loads(lines(tmp_path / "cli.jsonl")[0])["overrides"] == SETS


@pytest.mark.parametrize(("spec", "where", "problem"), [
    ("config.exits.stop_los=3%", "config.exits.stop_los",
     "unknown key (set by --set config.exits.stop_los=3%)"),
    ("config.sizing.unit_position_size=abc", "config.sizing.unit_position_size",
     "(set by --set config.sizing.unit_position_size=abc)"),
    ("name.x=1", "--set: name.x", "name is a text, not a mapping"),
    ("signals[5].t=1s", "--set: signals[5].t", "signals has 1 item(s): no [5]"),
    ("config.sizing.unit_position_size=[1", "--set: config.sizing.unit_position_size",
     "is not YAML"),
    ("config..x=1", "--set: config..x", "malformed key path"),
    ("stop_loss", "--set: stop_loss", "expected KEY.PATH=VALUE"),
])
def test_a_bad_override_is_located_and_exits_2(tmp_path: Path, spec: str, where: str,
                                               problem: str) -> None:
    proc = run_cli(["run", str(GAP), "--set", spec, "--journal", str(tmp_path / "j.jsonl")],
                   cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert_no_traceback(proc)
    line = proc.stderr.strip().splitlines()[0]
    assert where in line and problem in line, line
    assert not (tmp_path / "j.jsonl").exists()  # nothing ran


def test_paths_and_values() -> None:
    assert overrides.parse_path("a.b[2].c") == ("a", "b", 2, "c")
    assert overrides.format_path(("a", "b", 2, "c")) == "a.b[2].c"
    for bad in ("", "[0].a", "a..b", "a.[0]", "a[x]"):
        with pytest.raises(ValueError):
            overrides.parse_path(bad)
    ov = overrides.parse_override("config.exits.take_profit=null")
    assert ov.value is None and ov.spelled == "config.exits.take_profit=null"
    assert overrides.parse_override("x=[1, 2]").value == [1, 2]
    assert overrides.parse_override("x=10").value == 10
    # missing mappings are created; the original mapping is not touched
    data = {"config": None}
    out = overrides.apply(data, [overrides.parse_override("config.exits.stop_loss=3%")])
    assert out == {"config": {"exits": {"stop_loss": "3%"}}} and data == {"config": None}


def test_overrides_is_not_a_file_key() -> None:
    text = GAP.read_text() + "\noverrides: [a=1]\n"
    with pytest.raises(scenario.ScenarioError) as info:
        scenario.loads(text, "f.yaml")
    assert ("overrides", "unknown key") in info.value.problems
