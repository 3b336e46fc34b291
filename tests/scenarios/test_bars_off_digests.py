"""With bars off, every shipped scenario's journal is the one it was before bars existed.

Bars (``journal.bar_interval``, default 1 s) changed every simulated journal, so the
recorded digests were re-recorded. This test shows that nothing else changed: each
scenario run with ``bar_interval: 0`` gives, after its header line (the header gained
``account_cash`` at the same time), exactly the bytes recorded before bars were added
(``recorded_bodies_without_bars.json``, SHA-256 of the journal after its first line).
Any other behaviour change shows up here even when the bar digests are re-recorded.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import attrs
import pytest

from conftest import REPO
from test_recorded_digests import corpus_files
from triotrade.kernel.config import JournalConfig
from triotrade.sim import runner, scenario

RECORD = Path(__file__).with_name("recorded_bodies_without_bars.json")
RECORDED: dict[str, str] = json.loads(RECORD.read_text())


def test_every_recorded_body_is_still_a_shipped_scenario() -> None:
    """Scenarios added after bars have no journal from before them (recorded_digests.json
    pins those); every scenario that had one keeps its record."""
    assert set(RECORDED) <= set(corpus_files())
    assert len(RECORDED) >= 26  # the corpus as it stood when bars were added


@pytest.mark.parametrize("rel", sorted(RECORDED))
def test_bars_off_journal_unchanged(rel: str, tmp_path: Path) -> None:
    scn = scenario.load(REPO / rel)
    scn = attrs.evolve(scn, config=attrs.evolve(scn.config, journal=JournalConfig(0)))
    path = tmp_path / "j.jsonl"
    runner.run(scn, journal_path=path, keep_events=False)
    header, body = path.read_bytes().split(b"\n", 1)
    assert b'"type":"bar"' not in body
    assert json.loads(header)["account_cash"]
    assert "sha256:" + hashlib.sha256(body).hexdigest() == RECORDED[rel], (
        f"{rel}: with bars off the journal must be what it was before bars")
