"""Portfolio and bad-data invariants, checked on every journal event beside the others.

Like the rest of the checker, these rebuild what they need from the journal (orders,
fills, fees) and the scenario as written (the limits, the account's cash), never from
the kernel's own bookkeeping:

``open_positions``
    Tickers holding a position or a working entry never number more than
    ``risk.max_open_positions`` (checked when an entry is sent: nothing else opens one).
``committed_cash``
    With ``risk.buying_power``, what working entries commit (remaining quantity x limit
    price, the new one included) never exceeds the account's cash: ``account.cash``
    plus the fills' cash flows, less their fees. The kernel counts queued entries too,
    so it refuses earlier than this bound. After a restart the new kernel asks the
    venue for its cash again; the check stops there, because the exchange's figure does
    not carry the fee model's charges.
``quote_rejected_unchanged``
    A quote the kernel journaled as ``quote_rejected`` moves no price: no gap is
    detected towards it on its tick, and no bar ever shows a price that is not
    positive.

After a drawdown kill switch no entry goes out until a reset: that is
``no_entry_after_close_all`` (the drawdown's action is close_all), in invariants.py.
Gross exposure is valued at each ticker's last price, which the journal does not carry
tick by tick; its limit is proven by the incident scenarios, not by an invariant.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from .invariants_text import BUY, ENTRY, as_text, money
from .invariants_text import text_units as to_units

if TYPE_CHECKING:
    from .scenario import Scenario

Violate = Callable[[dict[str, Any], str, str], None]


class PortfolioChecks:
    """The per-event checks above; ``InvariantChecker`` calls ``on_event`` for each."""

    def __init__(self, scenario: "Scenario | None") -> None:
        risk = scenario.config.risk if scenario is not None else None
        self.max_open = risk.max_open_positions if risk is not None else None
        self.cash: int | None = None
        if risk is not None and risk.buying_power and scenario is not None:
            self.cash = scenario.account.cash
        self.prices: dict[str, int] = {}  # entry order id -> its limit price
        self.rejected: dict[str, tuple[int, str]] = {}  # symbol -> (ts, last) refused

    def on_event(self, ev: dict[str, Any], position: dict[str, int],
                 orders: dict[str, dict[str, Any]], violate: Violate) -> None:
        """``position`` and ``orders`` are the checker's own (its live orders: an order
        the venue no longer has after a restart is gone from them too)."""
        t = ev["type"]
        if t == "order_submitted":
            if as_text(ev["role"]) == ENTRY:
                self._on_entry(ev, position, orders, violate)
        elif t == "fill":
            self._on_fill(ev)
            if ev["order_id"] not in orders:  # filled: forgotten, memory stays flat
                self.prices.pop(ev["order_id"], None)
        elif t in ("order_cancelled", "order_rejected", "order_expired"):
            self.prices.pop(ev["order_id"], None)
        elif t == "fee_reported" and self.cash is not None:
            self.cash -= to_units(ev["fee"]) - to_units(ev["model_fee"])
        elif t == "restarted":
            self.cash = None
        elif t == "quote_rejected":
            self.rejected[ev["symbol"]] = (ev["ts_ns"], ev["last"])
        elif t == "gap_detected":
            seen = self.rejected.get(ev["symbol"])
            if seen is not None and seen == (ev["ts_ns"], ev["to_price"]):
                violate(ev, "quote_rejected_unchanged",
                        f"{ev['symbol']}: a gap to {ev['to_price']}, the last price of the "
                        "quote rejected on this tick")
        elif t == "bar":
            if any(to_units(ev[k]) <= 0 for k in ("open", "high", "low", "close")):
                violate(ev, "quote_rejected_unchanged",
                        f"{ev['symbol']}: a bar with a price that is not positive")

    def _on_entry(self, ev: dict[str, Any], position: dict[str, int],
                  orders: dict[str, dict[str, Any]], violate: Violate) -> None:
        self.prices[ev["order_id"]] = to_units(ev["price"]) if "price" in ev else 0
        entries = [(oid, o) for oid, o in orders.items() if o["role"] == ENTRY and o["live"]]
        if self.max_open is not None:
            opened = {s for s, q in position.items() if q} | {o["symbol"] for _, o in entries}
            if len(opened) > self.max_open:
                violate(ev, "open_positions",
                        f"{len(opened)} tickers open ({', '.join(sorted(opened))}) above "
                        f"max_open_positions {self.max_open}")
        if self.cash is not None:
            committed = sum((o["qty"] - o["filled"]) * self.prices.get(oid, 0)
                            for oid, o in entries)
            if committed > self.cash:
                violate(ev, "committed_cash",
                        f"working entries commit {money(committed)}, above the cash "
                        f"{money(self.cash)}")

    def _on_fill(self, ev: dict[str, Any]) -> None:
        qty = int(ev["qty"])
        price = to_units(ev["price"])
        if self.cash is not None:
            self.cash -= (qty if as_text(ev["side"]) == BUY else -qty) * price
            if "fee" in ev:
                self.cash -= to_units(ev["fee"])
