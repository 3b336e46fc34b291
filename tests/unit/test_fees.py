"""Fee arithmetic of every model against hand-computed cases, caps and minimums included.

Each expected figure is worked out by hand in the comment beside it, so a wrong rate,
a wrong rounding or a cap applied per fill instead of per order fails here.
"""
from __future__ import annotations

from decimal import Decimal

import pytest

from triotrade.kernel.config import ConfigError, TradingConfig, structure, validate_config
from triotrade.kernel.fees import (
    FeeKind,
    FeeModel,
    Segment,
    ZerodhaOverrides,
    zerodha_charges,
    ZERODHA_RATES,
)
from triotrade.kernel.units import fmt_units, to_units


def fee(model: FeeModel, side: str, fills: list[tuple[int, str]]) -> list[str]:
    """Per-fill fees of one order filled in ``fills`` (qty, price), as the kernel charges
    them: the order's fee after each fill minus what was already charged."""
    out, qty, notional, charged = [], 0, 0, 0
    for q, px in fills:
        qty += q
        notional += q * to_units(px)
        total = model.order_fee(side == "BUY", qty, notional)
        out.append(fmt_units(total - charged))
        charged = total
    return out


IB = FeeModel(FeeKind.PER_SHARE)  # IB fixed: 0.005/share, min 1.00, max 1 % of value


@pytest.mark.parametrize(("qty", "price", "expected"), [
    (100, "25", "1.00"),     # 100 * 0.005 = 0.50 -> the 1.00 minimum (1 % of 2500 = 25)
    (1000, "25", "5.00"),    # 1000 * 0.005 = 5.00, between min and max (IB's own example)
    (1000, "0.25", "2.50"),  # 5.00 capped at 1 % of 250.00 = 2.50 (IB's own example)
    (50, "1.00", "0.50"),    # min 1.00, but the cap 1 % of 50.00 = 0.50 wins
    (333, "10", "1.67"),     # 333 * 0.005 = 1.665 -> 1.67 (half up to the cent)
])
def test_ib_fixed_per_share(qty: int, price: str, expected: str) -> None:
    assert fee(IB, "BUY", [(qty, price)]) == [expected]


def test_ib_minimum_and_cap_are_per_order_not_per_fill() -> None:
    # 1000 @ 25 in ten fills of 100: the order pays 5.00 in all, not ten minimums of 1.00.
    # after 100: 1.00 (min); 200: 1.00; 300: 1.50; ... 1000: 5.00
    per_fill = fee(IB, "BUY", [(100, "25")] * 10)
    assert per_fill == ["1.00", "0.00", "0.50"] + ["0.50"] * 7
    assert sum(Decimal(x) for x in per_fill) == Decimal("5.00")


def test_ib_rates_can_be_set() -> None:
    m = FeeModel(FeeKind.PER_SHARE, per_share=Decimal("0.01"), min=Decimal("2"),
                 max_pct=Decimal("0.5"))
    assert fee(m, "SELL", [(1000, "10")]) == ["10.00"]   # 1000 * 0.01, cap 0.5 % of 10000 = 50
    assert fee(m, "SELL", [(100, "10")]) == ["2.00"]     # 1.00 -> min 2.00 (cap 5.00)
    assert fee(m, "SELL", [(100, "1")]) == ["0.50"]      # min 2.00 -> cap 0.5 % of 100 = 0.50


def test_percent_of_notional() -> None:
    m = FeeModel(FeeKind.PERCENT, pct=Decimal("0.1"))
    assert fee(m, "BUY", [(100, "100")]) == ["10.00"]    # 0.1 % of 10000
    assert fee(m, "BUY", [(1, "5")]) == ["0.01"]         # 0.005 -> half up
    assert fee(m, "BUY", [(1, "4")]) == ["0.00"]         # 0.004 -> down
    with_min = FeeModel(FeeKind.PERCENT, pct=Decimal("0.1"), min=Decimal("5"))
    assert fee(with_min, "BUY", [(10, "100")]) == ["5.00"]  # 1.00 -> the 5.00 minimum
    assert fee(with_min, "BUY", [(10, "100"), (90, "100")]) == ["5.00", "5.00"]  # 10.00 in all


def test_per_order_is_charged_once() -> None:
    m = FeeModel(FeeKind.PER_ORDER, per_order=Decimal("20"))
    assert fee(m, "BUY", [(10, "100"), (10, "101"), (5, "99")]) == ["20.00", "0.00", "0.00"]


def test_no_model_charges_nothing() -> None:
    assert fee(FeeModel(), "BUY", [(100, "100")]) == ["0.00"]


def z(segment: Segment, **rates: str) -> FeeModel:
    over = ZerodhaOverrides(**{k: Decimal(v) for k, v in rates.items()}) if rates else None
    return FeeModel(FeeKind.ZERODHA, segment=segment, rates=over)


def charges(segment: Segment, buy: bool, qty: int, price: str) -> dict[str, str]:
    out = zerodha_charges(ZERODHA_RATES[segment], buy, qty * to_units(price))
    return {k: fmt_units(v) for k, v in out.items()}


def test_zerodha_equity_intraday_buy_under_the_cap() -> None:
    # turnover 100 * 500 = 50000: brokerage 0.03 % = 15.00 (< 20); STT none on a buy;
    # NSE 0.00297 % = 1.485 -> 1.49; SEBI 10/crore = 0.05; stamp 0.003 % = 1.50;
    # GST 18 % of (15.00 + 1.49 + 0.05) = 2.9772 -> 2.98; total 21.02
    assert charges(Segment.EQUITY_INTRADAY, True, 100, "500") == {
        "brokerage": "15.00", "stt": "0.00", "exchange": "1.49", "sebi": "0.05",
        "stamp": "1.50", "gst": "2.98"}
    assert fee(z(Segment.EQUITY_INTRADAY), "BUY", [(100, "500")]) == ["21.02"]


def test_zerodha_equity_intraday_sell() -> None:
    # 51000: brokerage 15.30; STT 0.025 % = 12.75; NSE 1.5147 -> 1.51; SEBI 0.051 -> 0.05;
    # no stamp on a sell; GST 18 % of 16.86 = 3.0348 -> 3.03; total 32.64
    assert fee(z(Segment.EQUITY_INTRADAY), "SELL", [(100, "510")]) == ["32.64"]


def test_zerodha_brokerage_cap_of_20_per_order() -> None:
    # 1000 * 1000 = 10 lakh: 0.03 % = 300 -> capped at 20.00; NSE 29.70; SEBI 1.00;
    # stamp 30.00; GST 18 % of 50.70 = 9.126 -> 9.13; total 89.83
    assert fee(z(Segment.EQUITY_INTRADAY), "BUY", [(1000, "1000")]) == ["89.83"]
    # the cap is per executed order: in two fills the brokerage is still 20 in all
    two = fee(z(Segment.EQUITY_INTRADAY), "BUY", [(500, "1000"), (500, "1000")])
    assert sum(Decimal(x) for x in two) == Decimal("89.83")


def test_zerodha_rates_from_config() -> None:
    # as above with a Rs 10 cap: GST 18 % of 40.70 = 7.326 -> 7.33; total 78.03
    m = z(Segment.EQUITY_INTRADAY, brokerage_cap="10")
    assert fee(m, "BUY", [(1000, "1000")]) == ["78.03"]


def test_zerodha_equity_delivery() -> None:
    # 10 * 1000 = 10000: no brokerage; STT 0.1 % both sides = 10.00; NSE 0.297 -> 0.30;
    # SEBI 0.01; GST 18 % of 0.31 = 0.0558 -> 0.06; buy adds stamp 0.015 % = 1.50
    assert fee(z(Segment.EQUITY_DELIVERY), "SELL", [(10, "1000")]) == ["10.37"]
    assert fee(z(Segment.EQUITY_DELIVERY), "BUY", [(10, "1000")]) == ["11.87"]


def test_zerodha_futures() -> None:
    # 75 * 24000 = 18 lakh: brokerage 20 (cap); STT 0.02 % sell = 360.00; NSE 0.00173 %
    # = 31.14; SEBI 1.80; GST 18 % of 52.94 = 9.5292 -> 9.53; total 422.47
    assert fee(z(Segment.FNO_FUTURES), "SELL", [(75, "24000")]) == ["422.47"]


def test_zerodha_options_flat_brokerage_on_premium() -> None:
    # buy 75 @ premium 100 = 7500: flat 20; NSE 0.03503 % = 2.62725 -> 2.63; SEBI
    # 0.0075 -> 0.01; stamp 0.003 % = 0.225 -> 0.23; GST 18 % of 22.64 = 4.0752 -> 4.08
    assert fee(z(Segment.FNO_OPTIONS), "BUY", [(75, "100")]) == ["26.95"]
    # sell 75 @ 120 = 9000: 20; STT 0.1 % = 9.00; NSE 3.1527 -> 3.15; SEBI 0.01;
    # GST 18 % of 23.16 = 4.1688 -> 4.17; total 36.33
    assert fee(z(Segment.FNO_OPTIONS), "SELL", [(75, "120")]) == ["36.33"]


def test_fee_config_is_read_strictly() -> None:
    cfg = structure({"fees": {"default": {"model": "per_share"},
                              "symbols": {"NIFTY": {"model": "zerodha",
                                                    "segment": "fno_options"}}}},
                    TradingConfig, "config")
    assert cfg.fees.for_symbol("ACME").model is FeeKind.PER_SHARE
    assert cfg.fees.for_symbol("NIFTY").segment is Segment.FNO_OPTIONS
    with pytest.raises(ConfigError) as err:
        structure({"fees": {"default": {"model": "per_shares"}}}, TradingConfig, "config")
    assert err.value.problems[0][0] == "config.fees.default.model"
    bad = structure({"fees": {"default": {"model": "percent", "per_share": "0.01",
                                          "pct": "-1"}}}, TradingConfig, "config")
    assert [p for p, _ in validate_config(bad)] == ["config.fees.default.per_share",
                                                    "config.fees.default.pct"]


def test_a_fee_for_an_undeclared_symbol_is_a_located_error() -> None:
    from triotrade.sim import scenario

    text = """
version: 1
name: fee-typo
duration: 10s
instruments: [{symbol: ACME, tick_size: "0.01"}]
config: {fees: {symbols: {ACMR: {model: per_share}}}}
market: {ACME: {ticks: [{t: 0s, last: "1.00"}]}}
"""
    with pytest.raises(scenario.ScenarioError) as err:
        scenario.loads(text)
    assert ("config.fees.symbols.ACMR", "symbol 'ACMR' is not declared under instruments") \
        in err.value.problems
