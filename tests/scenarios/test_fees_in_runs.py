"""Fees in a run: every fill carries its fee, and realized P&L and loss limits are net.

The daily-loss case is built so that the gross P&L never comes near the limit (the
price never moves) while the fees alone take the net P&L through it: the kill switch
must fire with fees configured, and must not without them.
"""
from __future__ import annotations

from decimal import Decimal

from triotrade.sim import runner, scenario

FLAT_MARKET = """
version: 1
name: fees-flat-market
seed: 7
duration: 60s
instruments:
  - {symbol: FEE, tick_size: "0.01"}
config:
  entries: {staggered_order_delay: 1s}
  risk: {daily_loss_limit: "100"}
  monitor: {stale_after: 5m}
  journal: {bar_interval: 0s}
%(fees)s
market:
  FEE:
    ticks:
      - {t: 0s, last: "100.00"}
      - {t: 30s, last: "100.00"}
signals:
  - {t: 1s, symbol: FEE, side: BUY}
  - {t: 20s, symbol: FEE, side: EXIT}
"""


def run(fees: str) -> runner.RunResult:
    result = runner.run(scenario.loads(FLAT_MARKET % {"fees": fees}))
    assert not result.violations  # the P&L identity holds with realized net of fees
    return result


def of(result: runner.RunResult, kind: str) -> list[dict]:
    return [e for e in result.events if e["type"] == kind]


def test_without_fees_fills_carry_no_fee_and_no_limit_fires() -> None:
    result = run("")
    assert [set(f) & {"fee", "fee_source"} for f in of(result, "fill")] == [set(), set()]
    assert result.realized["FEE"] == 0
    assert of(result, "kill_switch") == []


def test_fees_net_of_realized_pnl_fire_the_daily_loss_limit() -> None:
    # 100 shares bought and sold at 100.00: gross 0; 60.00 per order.
    # After the entry the day's P&L is -60 (above -100); the exit's fee takes it to -120.
    result = run("  fees: {default: {model: per_order, per_order: \"60\"}}")
    fills = of(result, "fill")
    assert [(f["side"], f["price"], f["fee"], f["fee_source"]) for f in fills] == [
        ("BUY", "100.00", "60.00", "model"), ("SELL", "100.00", "60.00", "model")]
    assert [p["realized_pnl"] for p in of(result, "position_changed")] == ["-60.00", "-120.00"]
    kills = of(result, "kill_switch")
    assert [(k["reason"], k["action"]) for k in kills] == [("daily_loss_limit", "close_all")]
    assert kills[0]["ts_ns"] >= fills[1]["ts_ns"]
    assert Decimal(result.summary["FEE"]["realized_pnl"]) == Decimal("-120")


def test_per_symbol_override() -> None:
    result = run("  fees:\n    default: {model: per_order, per_order: \"60\"}\n"
                 "    symbols: {FEE: {model: per_share}}")
    # IB fixed: 100 * 0.005 = 0.50 -> the 1.00 minimum, on each side
    assert [f["fee"] for f in of(result, "fill")] == ["1.00", "1.00"]
    assert result.realized["FEE"] == -2 * 10**8
    assert of(result, "kill_switch") == []
