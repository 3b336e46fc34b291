"""Zerodha Kite: the live Venue on ``kiteconnect`` REST and our own trio ticker client.

One part per concern:

* ``venue.py``: ``KiteVenue``, the session and its tasks, ``open_kite_venue``;
* ``rest.py``: kiteconnect in worker threads, the order-rate pacer;
* ``instruments.py``: Kite's instrument master, checked against the config;
* ``ticker.py``: the WebSocket: quotes, order updates, pings, reconnects;
* ``orders.py``: the kernel's orders as Kite orders, placed, cancelled, expired;
* ``reports.py``: postbacks and order-book rows as the kernel's reports;
* ``account.py``: positions, open orders, cash;
* ``config.py``: the ``kite:`` config section and the endpoints.

Prices are exact: binary ticks are integers (paise) scaled to units, JSON numbers are
read as ``Decimal(repr(float))`` (the shortest text that round-trips, which is the text
Kite sent) or as Decimals directly for our own WebSocket parsing; no float arithmetic
touches money. Credentials never appear in a log line, an exception or the journal.
"""
from __future__ import annotations

from .config import KiteSettings, endpoints, load_kite_config
from .instruments import KiteInstrumentInfo
from .venue import KiteVenue, open_kite_venue

__all__ = ["KiteVenue", "KiteSettings", "KiteInstrumentInfo", "open_kite_venue",
           "load_kite_config", "endpoints"]
