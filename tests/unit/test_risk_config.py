"""Validation of the session, cooldown, clip and signal-priority keys: located, exit 2."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from triotrade.sim import scenario

BASE = """version: 1
name: t
duration: 1m
instruments: [{symbol: AAA, tick_size: "0.01"}]
"""


def _problems(text: str) -> list[str]:
    with pytest.raises(scenario.ScenarioError) as info:
        scenario.loads(BASE + text, "s.yaml")
    return info.value.lines()


def test_session_errors_are_located() -> None:
    lines = _problems('start: "2026-03-02T09:00:00"\nconfig:\n  session: {timezone: Mars/Olympus, '
                      'open: "25:00", close: "09:00", days: [mon, sunday]}\n')
    text = "\n".join(lines)
    assert "s.yaml: config.session.timezone: unknown time zone 'Mars/Olympus'" in text
    assert "s.yaml: config.session.open: expected a time of day HH:MM (00:00..23:59), got '25:00'" \
        in text
    assert "s.yaml: config.session.days[1]: must be one of mon, tue" in text
    assert "start:" not in text  # the zone's problem is said once, where it is


def test_close_before_open() -> None:
    lines = _problems('start: "2026-03-02T09:00:00Z"\nconfig:\n  session: {open: "10:00", '
                      'close: "09:30", entry_delay: 5m}\n')
    assert lines == ["s.yaml: config.session.close: 09:30 is not after open 10:00"]


def test_session_needs_start_and_naive_start_needs_session() -> None:
    assert _problems("config:\n  session: {timezone: UTC}\n") == [
        "s.yaml: config.session: needs start: the calendar time of the scenario's t=0"]
    assert any("has no time zone" in line for line in _problems('start: "2026-03-02T09:00:00"\n'))


def test_naive_start_is_read_in_the_session_zone() -> None:
    scn = scenario.loads(BASE + 'start: "2026-03-02T09:15:00"\nconfig:\n'
                         '  session: {timezone: America/New_York}\n', "s.yaml")
    assert scn.start_unix_ns == 1772460900 * 10**9  # 14:15 UTC: New York is at -05:00


def test_rule_keys() -> None:
    lines = _problems("config:\n  entries: {stop_loss_cooldown: 0s}\n"
                      "  exits: {clip_activation: '100'}\n  signal_priority: [news, radio, news]\n")
    assert lines == [
        "s.yaml: config.entries.stop_loss_cooldown: must be positive (null: off)",
        "s.yaml: config.exits.clip_stop_loss: required with clip_activation (give both or neither)",
        "s.yaml: config.signal_priority[1]: must be one of news, strategy, scenario, got 'radio'",
        "s.yaml: config.signal_priority[2]: 'news' is listed twice",
        "s.yaml: config.signal_conflict_window: required with signal_priority",
    ]
    assert _problems("config:\n  exits: {clip_activation: '100', clip_stop_loss: '100'}\n") == [
        "s.yaml: config.exits.clip_stop_loss: must be below clip_activation"]
    assert _problems("signals: [{t: 1s, symbol: AAA, side: BUY, source: radio}]\n") == [
        "s.yaml: signals[0].source: must be one of scenario, news, got 'radio'"]


def test_check_exits_2(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(BASE + 'start: "2026-03-02T09:00:00Z"\nconfig:\n  session: {open: "25:00"}\n')
    out = subprocess.run([sys.executable, "-m", "triotrade", "check", str(f)],
                         capture_output=True, text=True)
    assert out.returncode == 2, out
    assert f"{f}: config.session.open: expected a time of day HH:MM" in out.stdout + out.stderr
    assert "Traceback" not in out.stderr
