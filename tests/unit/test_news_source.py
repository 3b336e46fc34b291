"""The live news source: a JSONL file tailed into kernel signals."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio
from kernel_support import S, events, make_kernel, running, settle

from triotrade.kernel.journal import Journal
from triotrade.kernel.orders import Side
from triotrade.kernel.signals import Signal
from triotrade.venues.news import parse_alert, tail_jsonl


class _Clock:
    def now_ns(self) -> int:
        return 1_700_000_000 * 10**9


class _FakeKernel:
    """Only what tail_jsonl touches: clock, journal, on_signal."""

    def __init__(self) -> None:
        self.clock = _Clock()
        self.journal = Journal(None)
        self.signals: list[Signal] = []

    def on_signal(self, sig: Signal) -> None:
        self.signals.append(sig)


def test_parse_alert_forms() -> None:
    assert parse_alert('{"symbol": "ACME", "side": "BUY"}') == ("ACME", "BUY", None)
    sym, side, pub = parse_alert('{"symbol":"ACME","side":"SELL","published":"2023-11-14T22:13:20Z"}')
    assert (sym, side, pub) == ("ACME", "SELL", 1_700_000_000 * 10**9)
    assert parse_alert('{"symbol":"A","side":"EXIT","published":5}')[2] == 5
    for bad in ('[1]', '{"side":"BUY"}', '{"symbol":"A","side":"HOLD"}',
                '{"symbol":"A","side":"BUY","published":"2023-11-14T22:13:20"}'):
        with pytest.raises(ValueError):
            parse_alert(bad)


async def test_tail_follows_appends_and_journals_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    path.write_text(json.dumps({"symbol": "OLD", "side": "BUY"}) + "\n")
    k = _FakeKernel()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(tail_jsonl, path, k, 0.01)  # type: ignore[arg-type]
        await trio.sleep(0.05)
        with path.open("a") as f:
            f.write(json.dumps({"symbol": "ACME", "side": "BUY", "published": 7}) + "\n")
            f.write("not json\n")
            f.write('{"symbol": "BETA", "side": "EX')  # half a line: wait for the rest
        await trio.sleep(0.1)
        assert [s.symbol for s in k.signals] == ["ACME"]
        with path.open("a") as f:
            f.write('IT"}\n')
        with trio.fail_after(5):
            while len(k.signals) < 2:
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    assert [(s.symbol, s.side, s.published_ns, s.source) for s in k.signals] == [
        ("ACME", "BUY", 7, "news"), ("BETA", "EXIT", None, "news")]
    bad = [e for e in k.journal.events if e["type"] == "news_rejected"]
    assert len(bad) == 1 and bad[0]["line"] == 2  # the pre-existing line is skipped, not counted


async def test_alerts_from_a_file_reach_a_running_kernel_as_news_signals(tmp_path: Path) -> None:
    """The tail feeds a real Kernel: a fresh alert becomes an entry at the venue, a
    duplicate and a stale one are refused by the kernel's news filter, a bad line is
    journaled, and each accepted or refused alert is journaled as a ``news`` signal."""
    kernel, venue, clock = make_kernel()
    now = clock.now_ns()
    path = tmp_path / "alerts.jsonl"
    fresh = {"symbol": "ACME", "side": "BUY", "published": now - 2 * S}
    path.write_text("\n".join([
        json.dumps(fresh),
        json.dumps(fresh),  # the same alert from a second feed
        json.dumps({"symbol": "ACME", "side": "BUY", "published": now - 60 * S}),
        '{"symbol": "ACME", "side": "HOLD"}',
    ]) + "\n")
    async with running(kernel), trio.open_nursery() as nursery:
        venue.quote("ACME", "100.00", "100.02")
        nursery.start_soon(tail_jsonl, path, kernel, 0.01, True)
        with trio.fail_after(5):
            while len(events(kernel, "signal")) < 3:
                await trio.sleep(0.01)
        await settle()
        nursery.cancel_scope.cancel()
    signals = events(kernel, "signal")
    assert [(e["source"], e["accepted"], e["reason"]) for e in signals] == [
        ("news", True, "entry"),
        ("news", False, "duplicate alert"),
        ("news", False, "stale: published 60000ms ago"),
    ]
    [bad] = events(kernel, "news_rejected")
    assert bad["line"] == 4 and bad["source"] == str(path) and "side" in bad["reason"]
    [entry] = venue.submitted
    assert (entry.symbol, entry.side, entry.qty) == ("ACME", Side.BUY, 100)
