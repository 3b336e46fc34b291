"""What an execution costs: the fee models, computed exactly, per order.

A backtest that ignores fees overstates every P&L, and a loss limit that ignores them
fires too late. The kernel charges a fee on every fill, subtracts it from realized P&L
(so the per-trade loss limit, the cumulative loss limit, the daily loss limit and the
kill switch all see P&L net of fees) and journals it on the ``fill`` event.

Brokers price per *order*, not per fill: IB's minimum of USD 1.00 and its maximum of
1 % of trade value, and Zerodha's Rs 20 brokerage cap, apply to the whole order however
many partial fills it takes. So a model is a function of the order's cumulative filled
quantity and notional, and each fill is charged the difference between the order's fee
after it and the fee already charged: the sum over the fills is exactly the order's fee.

Arithmetic is exact: integer money units (1e-8) and Fractions, each charge rounded once
to the cent/paisa (0.01, half up, as both brokers' statements show). Zerodha's contract
note rounds STT per note to the rupee; a per-fill figure can differ from the note by less
than a rupee, and is never the place that rounding is decided.

Defaults are the brokers' published rates:

* IB fixed pricing for US stocks: USD 0.005 per share, minimum USD 1.00 per order,
  maximum 1 % of trade value (interactivebrokers.com "Commissions Stocks", read
  2026-12-02; exchange, regulatory and clearing pass-through fees are not modelled).
* Zerodha, per segment, as on zerodha.com/charges since 1 October 2024 (the STT
  and NSE transaction-charge revisions of that date); every rate can be set in config.

Without a ``config.fees`` section no fee is charged and fills carry no ``fee`` field: a
scenario written before fees existed keeps its meaning and its journal.
"""
from __future__ import annotations

import enum
from decimal import Decimal
from fractions import Fraction

import attrs

from .units import PRICE_SCALE

CENT = PRICE_SCALE // 100  # money units in 0.01
_CRORE = 10_000_000


class FeeKind(enum.StrEnum):
    NONE = "none"
    PER_SHARE = "per_share"  # IB fixed pricing: per share, min and max per order
    PERCENT = "percent"  # percent of notional, optional minimum per order
    PER_ORDER = "per_order"  # a flat amount per executed order
    ZERODHA = "zerodha"  # brokerage with its cap + STT + exchange + SEBI + GST + stamp


class Segment(enum.StrEnum):
    EQUITY_INTRADAY = "equity_intraday"
    EQUITY_DELIVERY = "equity_delivery"
    FNO_FUTURES = "fno_futures"
    FNO_OPTIONS = "fno_options"  # notional is the premium turnover


@attrs.frozen
class ZerodhaRates:
    """One segment's charges; percentages are of the order's turnover."""

    brokerage_pct: Decimal | None  # None: the flat brokerage_cap per executed order
    brokerage_cap: Decimal  # rupees per executed order
    stt_buy_pct: Decimal
    stt_sell_pct: Decimal
    exchange_pct: Decimal  # NSE transaction charges
    sebi_per_crore: Decimal
    gst_pct: Decimal  # on brokerage + exchange transaction charges + SEBI fee
    stamp_buy_pct: Decimal


def _d(text: str) -> Decimal:
    return Decimal(text)


ZERODHA_RATES: dict[Segment, ZerodhaRates] = {
    Segment.EQUITY_INTRADAY: ZerodhaRates(_d("0.03"), _d("20"), _d("0"), _d("0.025"),
                                          _d("0.00297"), _d("10"), _d("18"), _d("0.003")),
    Segment.EQUITY_DELIVERY: ZerodhaRates(_d("0"), _d("0"), _d("0.1"), _d("0.1"),
                                          _d("0.00297"), _d("10"), _d("18"), _d("0.015")),
    Segment.FNO_FUTURES: ZerodhaRates(_d("0.03"), _d("20"), _d("0"), _d("0.02"),
                                      _d("0.00173"), _d("10"), _d("18"), _d("0.002")),
    Segment.FNO_OPTIONS: ZerodhaRates(None, _d("20"), _d("0"), _d("0.1"),
                                      _d("0.03503"), _d("10"), _d("18"), _d("0.003")),
}


@attrs.frozen
class ZerodhaOverrides:
    """Rates a config may set for a Zerodha model; unset ones keep the segment default."""

    brokerage_pct: Decimal | None = None
    brokerage_cap: Decimal | None = None
    stt_buy_pct: Decimal | None = None
    stt_sell_pct: Decimal | None = None
    exchange_pct: Decimal | None = None
    sebi_per_crore: Decimal | None = None
    gst_pct: Decimal | None = None
    stamp_buy_pct: Decimal | None = None


@attrs.frozen
class FeeModel:
    """One fee model, as written in ``config.fees``; which keys apply depends on ``model``."""

    model: FeeKind = FeeKind.NONE
    per_share: Decimal | None = None  # per_share (default 0.005)
    min: Decimal | None = None  # per_share (default 1.00), percent (default 0)
    max_pct: Decimal | None = None  # per_share: cap in % of trade value (default 1)
    pct: Decimal | None = None  # percent
    per_order: Decimal | None = None  # per_order
    segment: Segment | None = None  # zerodha (default equity_intraday)
    rates: ZerodhaOverrides | None = None  # zerodha

    def zerodha_rates(self) -> ZerodhaRates:
        base = ZERODHA_RATES[self.segment or Segment.EQUITY_INTRADAY]
        if self.rates is None:
            return base
        changes = {k: v for k, v in attrs.asdict(self.rates).items() if v is not None}
        return attrs.evolve(base, **changes)

    def order_fee(self, buy: bool, qty: int, notional: int) -> int:
        """The whole order's fee (money units) after ``qty`` filled for ``notional``
        (sum of qty * price, money units)."""
        kind = self.model
        if kind is FeeKind.NONE or qty == 0:
            return 0
        if kind is FeeKind.PER_SHARE:
            per = _frac(self.per_share, "0.005")
            fee = max(qty * per * PRICE_SCALE, _frac(self.min, "1.00") * PRICE_SCALE)
            fee = min(fee, notional * _frac(self.max_pct, "1") / 100)
            return _round_cent(fee)
        if kind is FeeKind.PERCENT:
            fee = max(notional * _frac(self.pct, "0") / 100, _frac(self.min, "0") * PRICE_SCALE)
            return _round_cent(fee)
        if kind is FeeKind.PER_ORDER:
            return _round_cent(_frac(self.per_order, "0") * PRICE_SCALE)
        return sum(zerodha_charges(self.zerodha_rates(), buy, notional).values())


def _frac(value: Decimal | None, default: str) -> Fraction:
    return Fraction(value if value is not None else Decimal(default))


def _round_cent(amount: Fraction | int) -> int:
    """Money units rounded to a whole cent, half up (amounts are never negative)."""
    cents = Fraction(amount) / CENT
    whole = cents.numerator // cents.denominator
    if (cents - whole) * 2 >= 1:
        whole += 1
    return int(whole * CENT)


def zerodha_charges(r: ZerodhaRates, buy: bool, turnover: int) -> dict[str, int]:
    """Each charge of one executed order of ``turnover`` money units, rounded to the
    paisa; GST is on the rounded brokerage, exchange charges and SEBI fee."""
    t = Fraction(turnover)
    cap = Fraction(r.brokerage_cap) * PRICE_SCALE
    brokerage = cap if r.brokerage_pct is None else min(t * Fraction(r.brokerage_pct) / 100, cap)
    out = {
        "brokerage": _round_cent(brokerage),
        "stt": _round_cent(t * Fraction(r.stt_buy_pct if buy else r.stt_sell_pct) / 100),
        "exchange": _round_cent(t * Fraction(r.exchange_pct) / 100),
        "sebi": _round_cent(t * Fraction(r.sebi_per_crore) / _CRORE),
        "stamp": _round_cent(t * Fraction(r.stamp_buy_pct) / 100) if buy else 0,
    }
    taxed = out["brokerage"] + out["exchange"] + out["sebi"]
    out["gst"] = _round_cent(taxed * Fraction(r.gst_pct) / 100)
    return out


_KEYS = {
    FeeKind.NONE: frozenset(),
    FeeKind.PER_SHARE: frozenset({"per_share", "min", "max_pct"}),
    FeeKind.PERCENT: frozenset({"pct", "min"}),
    FeeKind.PER_ORDER: frozenset({"per_order"}),
    FeeKind.ZERODHA: frozenset({"segment", "rates"}),
}


def fee_model_problems(m: FeeModel, path: str) -> list[tuple[str, str]]:
    """Keys that do not belong to the model, and amounts that cannot be right."""
    out: list[tuple[str, str]] = []
    for key in ("per_share", "min", "max_pct", "pct", "per_order", "segment", "rates"):
        if getattr(m, key) is not None and key not in _KEYS[m.model]:
            out.append((f"{path}.{key}", f"not a key of the {m.model.value} model "
                        f"(its keys: {', '.join(sorted(_KEYS[m.model])) or 'none'})"))
    for key in ("per_share", "min", "max_pct", "pct", "per_order"):
        v = getattr(m, key)
        if v is not None and v < 0:
            out.append((f"{path}.{key}", "must not be negative"))
    if m.max_pct is not None and m.max_pct == 0:
        out.append((f"{path}.max_pct", "must be positive (0 would make every order free)"))
    if m.rates is not None:
        for key, v in attrs.asdict(m.rates).items():
            if v is not None and v < 0:
                out.append((f"{path}.rates.{key}", "must not be negative"))
    return out


@attrs.frozen
class Fees:
    """``config.fees``: a default model and per-symbol overrides."""

    default: FeeModel = FeeModel()
    symbols: dict[str, FeeModel] = attrs.Factory(dict)

    def for_symbol(self, symbol: str) -> FeeModel:
        return self.symbols.get(symbol, self.default)

    @property
    def charged(self) -> bool:
        """Whether any model charges anything (else fills carry no fee field)."""
        return self.default.model is not FeeKind.NONE or any(
            m.model is not FeeKind.NONE for m in self.symbols.values())
