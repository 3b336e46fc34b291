"""Market data: the mark every valuation uses, and quotes pushed to subscribed clients.

A quote from the exchange becomes three ticks (bid, ask, last) per subscription, sent
as one write so a client reads a consistent top of book. Subscriptions themselves are
per connection (``Session.md``); this layer only fans quotes out to them.
"""
from __future__ import annotations

from ...kernel.units import fmt_units
from ...wire import tws as P
from .books import Books


def quote_frames(req_id: int, bid: str, ask: str, last: str, bid_size: int,
                 ask_size: int) -> bytes:
    return (P.tick_price(req_id, P.TickType.BID, bid, bid_size)
            + P.tick_price(req_id, P.TickType.ASK, ask, ask_size)
            + P.tick_price(req_id, P.TickType.LAST, last, 0))


class MarketData(Books):
    """The broker layer that reads the market: marks and quote fan-out."""

    def mark(self, symbol: str) -> int:
        tick = self.market.last_tick[self.market.exchange.index[symbol]]
        return tick[4] if tick is not None else 0

    def _on_quote(self, idx: int, tick: tuple[int, ...]) -> None:
        if not self.sessions:
            return
        symbol = self.market.symbols[idx]
        places = self.specs[symbol].places
        bid = fmt_units(tick[2], places)
        ask = fmt_units(tick[3], places)
        last = fmt_units(tick[4], places)
        for sess in list(self.sessions.values()):
            for req_id in sess.md_by_idx.get(idx, ()):
                sess.send(quote_frames(req_id, bid, ask, last, tick[5], tick[6]))
