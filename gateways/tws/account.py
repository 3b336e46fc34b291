"""Account answers: values, portfolio, positions, and the updates kept pushed after fills.

Cash, net liquidation and P&L are computed from the exchange's cash flow, the
broker's commissions and the positions marked at the last trade, the same numbers
for ``reqAccountUpdates``, ``reqAccountSummary`` and ``reqAccountUpdatesMulti``.
Clients that subscribed (positions, account updates) get fresh values after every
fill, as TWS pushes them.
"""
from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import TYPE_CHECKING

from ...kernel.units import NS_PER_S, fmt_units
from ...wire import tws as P
from .market_data import MarketData

if TYPE_CHECKING:
    from .session import Session


class AccountAnswers(MarketData):
    """The broker layer that answers account, portfolio and position requests."""

    def account_values(self) -> list[tuple[str, str, str]]:
        ccy = self.currency
        cash = self.cash0 + self.market.exchange.cash_delta - self.commission_units
        held = 0
        gross = 0
        unreal = Fraction(0)
        realized = Fraction(0)
        for sym, pos in self.positions.items():
            realized += pos.realized
            if pos.qty:
                m = self.mark(sym)
                held += pos.qty * m
                gross += abs(pos.qty) * m
                unreal += pos.unrealized(m)
        net = cash + held
        money = lambda u: fmt_units(u, 2)  # noqa: E731
        return [
            ("AccountCode", self.account, ""),
            ("AccountType", "INDIVIDUAL", ""),
            ("Currency", ccy, ccy),
            ("NetLiquidation", money(net), ccy),
            ("TotalCashValue", money(cash), ccy),
            ("SettledCash", money(cash), ccy),
            ("CashBalance", money(cash), ccy),
            ("CashBalance", money(cash), "BASE"),
            ("AvailableFunds", money(net), ccy),
            ("ExcessLiquidity", money(net), ccy),
            ("BuyingPower", money(4 * net), ccy),
            ("EquityWithLoanValue", money(net), ccy),
            ("GrossPositionValue", money(gross), ccy),
            ("UnrealizedPnL", money(unreal), ccy),
            ("RealizedPnL", money(realized), ccy),
        ]

    def portfolio_msg(self, symbol: str) -> bytes:
        spec = self.specs[symbol]
        pos = self.positions[symbol]
        m = self.mark(symbol)
        return P.portfolio_value(spec, pos.qty, fmt_units(m, spec.places),
                                 fmt_units(pos.qty * m, 2), fmt_units(pos.avg_price, 8),
                                 fmt_units(pos.unrealized(m), 2), fmt_units(pos.realized, 2),
                                 self.account)

    def position_msg(self, symbol: str) -> bytes:
        pos = self.positions[symbol]
        return P.position(self.account, self.specs[symbol], pos.qty, fmt_units(pos.avg_price, 8))

    def push_account_update(self, symbol: str) -> None:
        """After a fill: fresh position, portfolio and account values to subscribers."""
        for other in list(self.sessions.values()):
            if other.positions_sub:
                other.send(self.position_msg(symbol))
            if other.account_sub:
                other.send(self.portfolio_msg(symbol))
                for tag, value, ccy in self.account_values():
                    other.send(P.account_value(tag, value, ccy, self.account))
                other.send(P.account_update_time(self._hhmm()))

    def _hhmm(self) -> str:
        return dt.datetime.fromtimestamp(self.wall_now() // NS_PER_S,
                                         dt.timezone.utc).strftime("%H:%M")

    def send_positions(self, sess: Session) -> None:
        for sym in self.positions:
            sess.send(self.position_msg(sym))
        sess.send(P.position_end())

    def send_account(self, sess: Session) -> None:
        for tag, value, ccy in self.account_values():
            sess.send(P.account_value(tag, value, ccy, self.account))
        for sym, pos in self.positions.items():
            if pos.qty:
                sess.send(self.portfolio_msg(sym))
        sess.send(P.account_update_time(self._hhmm()))
        sess.send(P.account_download_end(self.account))
