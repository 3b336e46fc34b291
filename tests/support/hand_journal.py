"""A hand-written journal whose trades and equity path are worked out beside each event.

Shared by the report-metrics and journal-reader tests. Three trades: a long in A with a
partial exit, closed by a flip into a short (the flip's fee shared 6/16 : 10/16), the
short closed at a profit, and a long in B whose entry fill carries no ``fee`` (it costs
0). Bars mark the equity between fills; a kill switch and a refused signal sit in the
middle.
"""
from __future__ import annotations

import json
from pathlib import Path

S = 1_000_000_000


def bar(t: int, sym: str, close: str) -> dict:
    return {"type": "bar", "ts_ns": t * S, "symbol": sym, "start_ns": (t - 1) * S,
            "open": close, "high": close, "low": close, "close": close}


def fill(t: int, sym: str, side: str, qty: int, price: str, fee: str | None,
         role: str) -> dict:
    e = {"type": "fill", "ts_ns": t * S, "symbol": sym, "side": side, "qty": str(qty),
         "price": price, "role": role, "order_id": f"O{t}"}
    if fee is not None:
        e["fee"] = fee
    return e


EVENTS = [
    fill(1, "A", "BUY", 10, "100.00", "1.00", "ENTRY"),  # A: cash -1000, fees 1 -> P&L -1
    bar(2, "A", "102.00"),                              # -1000 + 1020 - 1 = 19
    fill(3, "A", "SELL", 4, "103.00", "0.40", "EXIT"),  # partial: cash -588, pos 6 -> 28.60
    bar(4, "A", "98.00"),                               # -588 + 588 - 1.40 = -1.40
    {"type": "exit_triggered", "ts_ns": 5 * S, "symbol": "A", "reason": "stop_loss"},
    fill(5, "A", "SELL", 16, "97.00", "1.60", "STOP_LOSS"),  # flip: cash 964, pos -10 -> -9
    bar(6, "A", "95.00"),                               # 964 - 950 - 3 = 11
    {"type": "exit_triggered", "ts_ns": 7 * S, "symbol": "A", "reason": "take_profit"},
    fill(7, "A", "BUY", 10, "94.00", "1.00", "TAKE_PROFIT"),  # cash 24, fees 4 -> 20
    fill(8, "B", "BUY", 5, "50.00", None, "ENTRY"),     # B: no fee -> 0; total 20
    bar(9, "B", "48.00"),                               # B -10; total 10
    {"type": "kill_switch", "ts_ns": 9 * S + S // 2, "reason": "daily_loss_limit",
     "action": "stop_new_trades"},
    {"type": "signal", "ts_ns": 9 * S + S // 2, "symbol": "B", "side": "BUY",
     "accepted": False, "reason": "kill switch: daily_loss_limit"},
    {"type": "risk_rejected", "ts_ns": 9 * S + S // 2, "symbol": "B",
     "reason": "kill switch: daily_loss_limit"},
    fill(10, "B", "SELL", 5, "47.00", "0.50", "EXIT"),  # B -15.50; total 4.50
    {"type": "run_finished", "ts_ns": 12 * S, "positions": {"A": "0", "B": "0"},
     "realized_pnl": {"A": "24.00", "B": "-15.00"}, "violations": []},
]
# the portfolio's P&L after each instant (above), and sampled every second from t=0
PNL_BY_SECOND = ["0", "-1", "19", "28.60", "-1.40", "-9", "11", "20", "20", "10", "4.50",
                 "4.50", "4.50"]


def write_journal(path: Path, cash: str | None) -> Path:
    header = {"type": "header", "format": 1, "scenario": "hand-made", "seed": 0,
              "start": None, "duration_ns": 12 * S}
    if cash is not None:
        header["account_cash"] = cash
    with path.open("w", encoding="utf-8") as f:
        for e in [header, *EVENTS]:
            f.write(json.dumps(e, sort_keys=True, separators=(",", ":")) + "\n")
    return path
