"""IbkrVenue: the ``Venue`` protocol on ``ib_async`` 2.x (TWS / IB Gateway).

``ib_async`` is an asyncio library; the kernel is trio. The adapter gives ib_async a
thread with its own asyncio loop and crosses to trio in two explicit places
(``bridge.py`` says why this and not trio-asyncio). One part per concern, after
NautilusTrader's ``adapters/interactive_brokers/client/``:

* ``venue.py``: ``IbkrVenue``, its trio-side API and the state its parts share;
* ``bridge.py``: the venue thread, a request into it, news posted back to trio;
* ``session.py``: connect, close, drop, reconnect with backoff, heartbeat;
* ``reconcile.py``: IB's books against our records, before the session is up again;
* ``reports.py``: IB's order/execution/error messages as the kernel's reports;
* ``market_data.py``: contracts, instruments, quotes and the latency probes;
* ``orders.py``: building, placing and cancelling orders;
* ``account.py``: positions, open orders, cash;
* ``fast_path.py``: the message encoder and order template, checked against ib_async;
* ``conventions.py``: IB's codes and how prices, order refs and expiries are written.

What the adapter guarantees
---------------------------
* Orders carry ``ROLE:order_id:run`` in ``orderRef``. Prices go out as exact
  Decimals, quantities as integers, good-till-date as whole UTC seconds. Fill prices
  come back as floats from ib_async's decoder and are converted with
  ``to_units(repr(price))``: the shortest repr of the double the server's decimal text
  parsed to, i.e. that text. No money arithmetic is done in float.
* Order state comes from the server's own messages, never from ib_async's
  interpretation of them (``reports.py``); no fill is reported after a terminal report.
* After a drop the session reconnects with backoff and reconciles before it reports
  itself up again (``session.py``, ``reconcile.py``).
"""
from __future__ import annotations

from .conventions import DEFAULT_PORT, gtd_text, order_ref, parse_order_ref, price_units
from .venue import IbkrVenue

__all__ = ["IbkrVenue", "DEFAULT_PORT", "price_units", "order_ref", "parse_order_ref",
           "gtd_text"]
