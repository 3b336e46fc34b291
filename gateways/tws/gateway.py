"""``TwsGateway``: the IB Gateway application, a TCP listener in front of a broker.

Killing a gateway drops every connection, exactly like killing IB Gateway; the
broker keeps its books, so a new gateway on the same broker is a restart the live
adapter's reconnect logic can be tested against.
"""
from __future__ import annotations

import logging

import trio

from ..problems import shorten
from .broker import TwsBroker
from .session import Session

log = logging.getLogger("triotrade.gateway.tws")


class TwsGateway:
    """The IB Gateway application: a TCP listener in front of a ``TwsBroker``.

    ``await nursery.start(gw.serve)`` returns once it accepts connections (``gw.port``
    is then the bound port, useful with port 0). ``gw.kill()`` drops every connection
    and stops listening; a new ``TwsGateway`` on the same broker is a restart.
    """

    def __init__(self, broker: TwsBroker, host: str = "127.0.0.1", port: int = 4002) -> None:
        self.broker = broker
        self.host = host
        self.port = port
        self.sessions: list[Session] = []
        self.cancel_scope = trio.CancelScope()
        self.stopped = trio.Event()

    async def serve(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            with self.cancel_scope:
                listeners = await trio.open_tcp_listeners(self.port, host=self.host)
                sock = listeners[0].socket
                self.port = sock.getsockname()[1]
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(trio.serve_listeners, self._handle, listeners)
                    task_status.started()
        finally:
            self.stopped.set()

    async def _handle(self, stream: trio.SocketStream) -> None:
        try:
            peer = "%s:%s" % stream.socket.getpeername()[:2]
        except OSError:
            peer = "?"
        sess = Session(self.broker, stream, peer)
        self.sessions.append(sess)
        try:
            await sess.run()
        except Exception as exc:  # noqa: BLE001 - one connection must never end the listener
            sess.problem(f"connection failed: {type(exc).__name__}: {shorten(str(exc))}")
            log.debug("connection from %s failed", peer, exc_info=True)
        finally:
            self.sessions.remove(sess)

    def kill(self) -> None:
        """Stop listening and drop every connection (the broker keeps its books)."""
        self.cancel_scope.cancel()


def describe(broker: TwsBroker) -> str:
    m = broker.market
    return (f"scenario {m.scenario.name!r} at {m.speed:g}x; account {broker.account}; "
            f"stocks: {', '.join(sorted(broker.specs))} (Stock(SYMBOL, 'SMART', "
            f"'{broker.currency}'))")
