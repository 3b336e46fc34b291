"""Every scenario file's digest, recorded: a change of behaviour cannot pass unseen.

``recorded_digests.json`` holds the digest of every scenario file under ``scenarios/``
(and the built-in default and the format's full example) at its own seed. A refactor
must leave every one unchanged; a change that means to alter behaviour re-records them
(``python tests/scenarios/record_digests.py``) and says why in its commit message, so
the diff of this file is the list of runs whose journals changed.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import REPO, SCENARIOS
from triotrade.sim import runner, scenario

RECORD = Path(__file__).with_name("recorded_digests.json")
RECORDED: dict[str, str] = json.loads(RECORD.read_text())


def corpus_files() -> list[str]:
    """Every scenario file the repository ships, as paths relative to the repo."""
    files = sorted(str(p.relative_to(REPO)) for p in SCENARIOS.rglob("*.yaml"))
    return files + ["sim/data/default.yaml", "tests/fixtures/contract_example.yaml"]


def test_every_shipped_scenario_has_a_recorded_digest() -> None:
    missing = [f for f in corpus_files() if f not in RECORDED]
    stale = [f for f in RECORDED if not (REPO / f).exists()]
    assert not missing, f"record these (python tests/scenarios/record_digests.py): {missing}"
    assert not stale, f"recorded but gone (re-record): {stale}"


@pytest.mark.parametrize("rel", sorted(RECORDED))
def test_digest_unchanged(rel: str) -> None:
    result = runner.run(scenario.load(REPO / rel), keep_events=False)
    assert result.digest == RECORDED[rel], (
        f"{rel}: the journal changed; if that is intended, re-record and say why")
