"""The replay's pure parts: the recorder's part files, the reader's refusals, the plan of
recorded reports, the decision diff and its explanation (the end-to-end runs against
both gateways are in tests/integration/test_replay_*.py)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from triotrade.kernel.journal import Journal
from triotrade.replay import decisions, diff, recording
from triotrade.replay.exec_venue import plan_of
from triotrade.venues.recording import Recorder, _write_part, quotes_dir

START = 1_000_000_000_000


class Clock:
    def __init__(self) -> None:
        self.t = START

    def now_ns(self) -> int:
        self.t += 1
        return self.t


def _journal(path: Path, events: list[dict[str, Any]], *, live: bool = True) -> Path:
    header: dict[str, Any] = {"type": "header", "format": 1, "seed": 0, "versions": {}}
    if live:
        header.update(scenario="live:ibkr", start_unix_ns=START,
                      recording={"quotes": quotes_dir(path).name, "format": "parquet"})
    else:
        header.update(scenario="x")
    path.write_text("".join(json.dumps(e) + "\n" for e in [header, *events]))
    return path


def test_recorded_quotes_are_whole_part_files_read_back_in_order(tmp_path: Path) -> None:
    journal = tmp_path / "live.jsonl"
    rec = Recorder(journal, Journal(None), Clock())
    seen: list[tuple[int, ...]] = []
    handler = rec.tap_quotes("ACME", lambda *q: seen.append(q))
    handler(START + 5, 100, 102, 101, 10, 20)
    rec.flush()  # a first part
    handler(START + 7, 99, 101, 100, 1, 2)
    assert seen == [(START + 5, 100, 102, 101, 10, 20), (START + 7, 99, 101, 100, 1, 2)]
    rec.flush()  # the run ends: the parts become one file
    rec.flush()  # nothing buffered: no empty part
    parts = sorted(p.name for p in quotes_dir(journal).iterdir())
    assert parts == ["part-000000.parquet"]  # no temporary left
    _journal(journal, [])
    got = recording.read(journal)
    assert got.quotes == {"ACME": [(START + 5, 100, 102, 101, 10, 20),
                                   (START + 7, 99, 101, 100, 1, 2)]}
    assert not got.finished  # no run_finished: a killed run, still replayable
    # killed between compacting and deleting the parts: each quote is still read once
    _write_part([(START + 5, "ACME", 100, 102, 101, 10, 20)], quotes_dir(journal), 1, "parquet")
    assert recording.read(journal).quotes == got.quotes


@pytest.mark.parametrize("content, words", [
    ("", "empty file"),
    ("hello\n", "not a journal"),
    ('{"type": "fill"}\n', "must be its header"),
])
def test_what_is_not_a_journal_is_refused(tmp_path: Path, content: str, words: str) -> None:
    p = tmp_path / "j.jsonl"
    p.write_text(content)
    with pytest.raises(recording.ReplayInputError, match=words):
        recording.read(p)


def test_truncated_simulated_and_unrecorded_journals_are_refused(tmp_path: Path) -> None:
    p = _journal(tmp_path / "live.jsonl", [{"type": "signal", "ts_ns": START}])
    quotes_dir(p).mkdir()
    p.write_text(p.read_text() + '{"type": "fi')  # torn by a kill
    with pytest.raises(recording.ReplayInputError, match="truncated"):
        recording.read(p)
    with pytest.raises(recording.ReplayInputError, match="simulated run"):
        recording.read(_journal(tmp_path / "sim.jsonl", [], live=False))
    done = {"type": "run_finished", "ts_ns": START + 9, "positions": {}, "realized_pnl": {},
            "violations": []}
    missing = _journal(tmp_path / "gone.jsonl", [done])
    with pytest.raises(recording.ReplayInputError, match="recorded quotes are missing"):
        recording.read(missing)
    # killed before its first batch of quotes was written: replayable, with no quotes
    killed = _journal(tmp_path / "killed.jsonl", [{"type": "signal", "ts_ns": START}])
    assert recording.read(killed).quotes == {} and not recording.read(killed).finished


def test_recorded_reports_keep_their_delay_after_the_send() -> None:
    events = [
        {"type": "order_submitted", "ts_ns": START + 100, "order_id": "O1", "symbol": "ACME",
         "role": "ENTRY", "side": "BUY", "qty": "100", "order_type": "LIMIT"},
        {"type": "exec_report", "ts_ns": START + 160, "received_ns": START + 150,
         "order_id": "O1", "kind": "FILL", "qty": "100", "price": "100.01", "reason": "",
         "exec_id": "e1", "venue_ts_ns": 0},
        {"type": "exec_report", "ts_ns": START + 300, "received_ns": START + 290,
         "order_id": "O9", "kind": "CANCELLED", "qty": "0", "price": "0", "reason": "",
         "exec_id": "", "venue_ts_ns": 0},
    ]
    plan = plan_of(events, START)
    [(delay, fill)] = plan.orders["O1"].reports
    assert delay == 50 and fill.qty == 100 and fill.price == 10_001_000_000
    assert plan.orders["O1"].key == ("ACME", "ENTRY", "BUY", "100", "LIMIT")
    assert [(t, r.order_id) for t, r in plan.orphans] == [(290, "O9")]  # never ours


def _d(t: int, kind: str, *key: str) -> decisions.Decision:
    return decisions.Decision(t, kind, key, f"{kind} {' '.join(key)}")


def test_the_diff_aligns_on_keys_and_judges_time() -> None:
    live = [_d(0, "signal", "BUY"), _d(10, "order", "ENTRY"), _d(500, "exit", "stop_loss")]
    assert diff.align(live, list(live), 100).matches
    late = [_d(0, "signal", "BUY"), _d(10, "order", "ENTRY"), _d(900, "exit", "stop_loss")]
    d = diff.align(live, late, 100)
    assert d.first == 2 and d.rows[2].live is not None and d.rows[2].replay is not None
    other = [_d(0, "signal", "BUY"), _d(10, "order", "EXIT"), _d(500, "exit", "stop_loss")]
    d = diff.align(live, other, 100)
    assert d.first == 1 and [r.same for r in d.rows] == [True, False, True]  # one row, both


def test_the_explanation_names_a_fill_at_another_price() -> None:
    live = [_d(0, "order", "ENTRY"), _d(500, "exit", "stop_loss")]
    replay = [_d(0, "order", "ENTRY")]
    d = diff.align(live, replay, 100)

    def fill(t: int, price: str) -> dict[str, Any]:
        return {"type": "fill", "ts_ns": t, "order_id": "O1", "role": "ENTRY", "side": "BUY",
                "qty": "100", "price": price}

    d.explanation = diff.explain(d, [fill(START + 20, "100.01")], START, [fill(20, "99.50")],
                                 [], [], 100)
    text = "\n".join(diff.render(d, "t"))
    assert "a fill the simulator gave otherwise: live O1 ENTRY BUY 100 @ 100.01" in text
    assert "replay O1 ENTRY BUY 100 @ 99.50" in text and "the replayed kernel did not" in text
    d.explanation = diff.explain(d, [], START, [], ["config file x"], [], 100)
    assert "cause: changed since the recording: config file x" in d.explanation


async def test_the_background_writer_leaves_whole_parts_a_kill_cannot_tear(
        tmp_path: Path) -> None:
    """Parts are written from a worker thread while the run goes on; a part being written
    when the process dies is a hidden temporary the reader never opens."""
    import trio

    journal = tmp_path / "live.jsonl"
    rec = Recorder(journal, Journal(None), Clock())
    handler = rec.tap_quotes("ACME", lambda *q: None)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(rec.write_loop)
        handler(START + 1, 100, 102, 101, 1, 1)
        with trio.fail_after(30):
            while rec.written < 1:
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    (quotes_dir(journal) / ".part-000002.parquet.tmp").write_bytes(b"PAR1 torn")
    _journal(journal, [])
    assert recording.read(journal).quotes == {"ACME": [(START + 1, 100, 102, 101, 1, 1)]}
