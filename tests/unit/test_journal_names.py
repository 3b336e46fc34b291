"""Journal files are claimed exclusively: live names never collide, a named journal is
never overwritten without --overwrite, and the simulator's default is per invocation."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from triotrade.cli.exits import Exit, exit_for
from triotrade.cli.journals import JournalExists, claim, claim_live, sim_default

NOW = datetime(2026, 12, 2, 9, 15, 0, 123456, tzinfo=timezone.utc)


def test_live_names_carry_the_microsecond_and_the_process(tmp_path: Path) -> None:
    path = claim_live("ibkr", now=NOW, pid=4242, runs_dir=tmp_path)
    assert path.name == "live-ibkr-20261202T091500.123456Z-4242.jsonl"
    assert path.exists() and path.read_bytes() == b""


def test_the_same_microsecond_and_pid_still_get_two_files(tmp_path: Path) -> None:
    paths = [claim_live("kite", now=NOW, pid=7, runs_dir=tmp_path) for _ in range(3)]
    assert [p.name for p in paths] == ["live-kite-20261202T091500.123456Z-7.jsonl",
                                       "live-kite-20261202T091500.123456Z-7-2.jsonl",
                                       "live-kite-20261202T091500.123456Z-7-3.jsonl"]
    assert len(set(paths)) == 3


def test_a_named_journal_that_exists_is_refused_unless_overwrite(tmp_path: Path) -> None:
    mine = tmp_path / "deep" / "mine.jsonl"
    assert claim(mine, overwrite=False) == mine and mine.exists()  # new: created
    mine.write_text("precious\n")
    with pytest.raises(JournalExists) as info:
        claim(mine, overwrite=False)
    assert exit_for(info.value) == (Exit.INVALID_INPUT, info.value.lines())
    assert info.value.lines()[0].startswith(f"{mine}: a journal is already there")
    assert mine.read_text() == "precious\n"
    assert claim(mine, overwrite=True) == mine  # the caller then replaces it


def test_sim_defaults_are_distinct_within_one_invocation() -> None:
    taken: set[Path] = set()
    names = [sim_default("gap", 42, taken).name for _ in range(3)]
    assert names == ["gap-seed42.jsonl", "gap-seed42-2.jsonl", "gap-seed42-3.jsonl"]
    assert sim_default("a.b", 1, set()).name == "a.b-seed1.jsonl"
