"""A live journal's ``fee_reported`` (the broker's commission replacing the model's fee)
counts in the report: in the trade's fees and in the equity path, exactly."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from triotrade import report

S = 1_000_000_000
EVENTS = [
    {"type": "header", "format": 1, "scenario": "live:ibkr", "seed": 0, "versions": {},
     "live": True, "start_unix_ns": 0},
    {"type": "fill", "ts_ns": 1 * S, "order_id": "O1", "symbol": "A", "role": "ENTRY",
     "side": "BUY", "qty": "10", "price": "100.00", "fee": "1.00", "fee_source": "model"},
    {"type": "fee_reported", "ts_ns": 1 * S + 5, "order_id": "O1", "symbol": "A",
     "exec_id": "E1", "fee": "1.35", "model_fee": "1.00"},
    {"type": "bar", "ts_ns": 2 * S, "symbol": "A", "start_ns": 1 * S, "open": "100.00",
     "high": "101.00", "low": "100.00", "close": "101.00"},
    {"type": "fill", "ts_ns": 3 * S, "order_id": "O2", "symbol": "A", "role": "EXIT",
     "side": "SELL", "qty": "10", "price": "102.00", "fee": "1.00", "fee_source": "model"},
]


def test_broker_fees_replace_the_model_fees_in_trades_and_equity(tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"
    path.write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in EVENTS))
    rep = report.build(path)
    (trade,) = rep.trades
    # gross 10 * (102 - 100) = 20.00; fees 1.35 (the broker's) + 1.00 = 2.35
    assert (trade.gross_pnl, trade.fees, trade.net_pnl) == (
        Decimal("20.00"), Decimal("2.35"), Decimal("17.65"))
    assert (rep.total.fees, rep.total.net_pnl) == (Decimal("2.35"), Decimal("17.65"))
    # equity (a live run starts at its first event): -1.00 at the fill, -1.35 with the
    # broker's fee, +8.65 marked at 101, 17.65 out
    assert rep.path.equity.values == [Decimal("-1.00"), Decimal("-1.35"), Decimal("8.65"),
                                 Decimal("17.65")]
