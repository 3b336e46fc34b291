"""A TWS API gateway on the simulated exchange: point ``ib_async`` at it and trade.

Two objects, because a real deployment has two: ``TwsBroker`` is IB's side (one
account, the books of record, every order and execution of the day, the market) and
``TwsGateway`` is the IB Gateway application (a TCP listener and one ``Session`` per
API client). Killing a gateway drops every connection, exactly like killing IB
Gateway; the broker keeps the positions, working orders and executions, so a client
that reconnects to a restarted gateway can reconcile against them. That is the
property the live adapter's reconnect logic must be tested against.

The market is a ``gateways.realtime.RealtimeMarket``: the same exchange and fill rules as
``triotrade run``, paced by trio's clock (times ``speed``). The only wall-clock read
is one anchor taken when the broker starts, so that times on the wire (execution
times, good-till-date orders) are real Unix times as the client expects.

What is served (the messages ``ib_async`` 2.x needs): handshake, nextValidId,
managedAccounts, farm-status notices (2104/2106/2158), contract details, market data
(streaming and snapshot), placeOrder -> openOrder / orderStatus / execDetails /
commissionReport, cancelOrder -> orderStatus Cancelled + error 202, rejects as error
201 (110 for an off-tick price, 200 for an unknown contract), optionally the 10349
TIF-preset warning, open/all-open/completed orders, positions (kept
pushed), account updates (kept pushed), account summary, executions, current time,
and error 326 + close for a clientId already in use. Orders: MKT, LMT, STP with DAY,
GTC, GTD, IOC. Not served (answered with an error, never silence): combos, algos,
conditions, brackets/OCA, order modification (321, the order stays live), history.

The package, one concern per module: ``records`` (orders, executions, fees),
``books`` (the broker's state and clocks), ``market_data``, ``account`` and
``orders`` (the broker's layers), ``broker`` (``TwsBroker`` assembled), ``session``
(one API connection and its request handlers), ``gateway`` (the listener). The
wire format itself is ``triotrade.wire.tws``; ``triotrade serve`` is in the CLI.
"""
from __future__ import annotations

from ...wire.tws.times import (  # TWS date-times are wire format
           fmt_ib_time,
           parse_ib_time,
)
from .broker import TwsBroker
from .gateway import TwsGateway, describe
from .records import BrokerExec, BrokerOrder, Commissions, con_id_for, role_of
from .session import Session

__all__ = ["TwsBroker", "TwsGateway", "Session", "BrokerOrder", "BrokerExec", "Commissions",
           "con_id_for", "role_of", "describe", "fmt_ib_time", "parse_ib_time"]
