"""Fault windows as the runner schedules them."""
from __future__ import annotations

from triotrade.sim import runner, scenario

S = 1_000_000_000


def test_overlapping_disconnects_are_one_outage() -> None:
    scn = scenario.from_dict({
        "version": 1, "name": "two-drops", "duration": "1m",
        "instruments": [{"symbol": "ACME", "tick_size": "0.01"}],
        "config": {"monitor": {"stale_after": "5m"}},
        "market": {"ACME": {"ticks": [{"t": "0s", "last": "10.00"}]}},
        "faults": [{"kind": "disconnect", "t": "10s", "for": "10s"},
                   {"kind": "disconnect", "t": "15s", "for": "10s"}],
        "signals": [{"t": "21s", "symbol": "ACME", "side": "BUY"}],
    })
    r = runner.run(scn)
    downs = [e["ts_ns"] for e in r.events if e["type"] == "venue_disconnected"]
    ups = [e["ts_ns"] for e in r.events if e["type"] == "venue_reconnected"]
    assert downs == [10 * S] and ups == [25 * S]
    # still down at 21s: the entry is refused, not sent to a dead session
    sig = [e for e in r.events if e["type"] == "signal"]
    assert sig and sig[0]["accepted"] is False
    assert not [e for e in r.events if e["type"] == "order_submitted"]
