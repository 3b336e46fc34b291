"""The IB session: first connect, close, drop detection, reconnect with backoff, heartbeat.

After a drop: ``on_connection(False)``, reconnect with backoff, then reconcile
(``reconcile.py``) before ``on_connection(True)``. The same reconciliation runs after
IB's own 1100 -> 1101/1102 (link lost, then restored). A heartbeat (reqCurrentTime)
detects a dead but open socket. Pacing: ib_async throttles outgoing messages to 45 per
second (IB's limit is 50); we set that explicitly. Everything here runs in the venue
thread.
"""
from __future__ import annotations

import asyncio
import logging

from ...kernel.venue import VenueError
from .conventions import CLIENT_ID_IN_USE, LINK_RESTORED_DATA_LOST, load_ib_async
from .fast_path import install_fast_send

log = logging.getLogger("triotrade.venues.ibkr")


class Session:
    """Connection life of ``IbkrVenue``, in the venue thread."""

    async def _a_first_connect(self) -> None:
        ib = self._ib = load_ib_async().IB()
        ib.client.MaxRequests = self.max_requests_per_s  # IB pacing: < 50 msg/s
        ib.client.RequestsInterval = 1
        self._install_taps(ib)
        self.fast_send = install_fast_send(ib.client)
        if self._probe is not None:
            self._install_probe(ib)
        ib.disconnectedEvent += self._on_disconnected
        self._state = "connecting"
        try:
            await self._a_open()
            summary = await self._a_reconcile(first=True)
        except VenueError:
            self._state = "idle"
            self._safe_disconnect()
            raise
        except Exception as exc:  # noqa: BLE001
            self._state = "idle"
            self._safe_disconnect()
            raise VenueError(self._describe_failure(exc)) from None
        self._epoch += 1
        self._state = "up"
        self.last_reconcile = summary
        log.info("connected to IB at %s:%s as clientId %d; %s", self.host, self.port,
                 self.client_id, summary)
        self._start_heartbeat()

    async def _a_open(self) -> None:
        self._connect_errors.clear()
        self._completed_info.clear()
        refused = self._refused = asyncio.Event()
        connect = asyncio.ensure_future(self._ib.connectAsync(
            self.host, self.port, clientId=self.client_id, timeout=self.connect_timeout,
            account=self.account, raiseSyncErrors=True))
        watch = asyncio.ensure_future(refused.wait())
        try:
            # IB answers a clientId in use with 326 and a close; ib_async would then sit
            # out its whole timeout waiting for a handshake that cannot come: fail now
            await asyncio.wait({connect, watch}, return_when=asyncio.FIRST_COMPLETED)
            if not connect.done():
                connect.cancel()
                await asyncio.gather(connect, return_exceptions=True)
                raise VenueError(self._describe_failure(ConnectionError("refused")))
            connect.result()
        except VenueError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise VenueError(self._describe_failure(exc)) from None
        finally:
            watch.cancel()
            if not connect.done():
                connect.cancel()
        if not self._ib.isConnected():
            raise VenueError(f"IB at {self.host}:{self.port} closed the connection while "
                             "synchronising")

    def _describe_failure(self, exc: BaseException) -> str:
        where = f"IB at {self.host}:{self.port} (clientId {self.client_id})"
        if CLIENT_ID_IN_USE in self._connect_errors:
            return (f"{where}: clientId {self.client_id} is already in use; pick another "
                    "--client-id or close the other session")
        if isinstance(exc, ConnectionRefusedError):
            return (f"cannot reach {where}: connection refused (is TWS / IB Gateway running "
                    "with the API enabled on that port?)")
        if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
            return (f"{where}: no API handshake within {self.connect_timeout:g}s (wrong port, "
                    "API disabled, or the gateway is not logged in)")
        if isinstance(exc, OSError):
            return f"cannot reach {where}: {exc.strerror or exc}"
        return f"{where}: {type(exc).__name__}: {exc}"

    def _safe_disconnect(self) -> None:
        try:
            if self._ib is not None:
                self._ib.disconnect()
        except Exception:  # noqa: BLE001 - best effort
            log.debug("disconnect failed", exc_info=True)

    async def _a_close(self) -> None:
        self._state = "closed"
        for task in (self._reconnect_task, self._heartbeat_task):
            if task is not None:
                task.cancel()
        self._safe_disconnect()

    def _on_disconnected(self) -> None:
        if self._state in ("closed", "connecting", "idle", "down"):
            return
        was = self._state
        self._state = "down"
        self._stop_heartbeat()
        log.warning("lost the connection to IB at %s:%s (was %s)", self.host, self.port, was)
        if was != "link_down":
            self._connection(False, "connection to IB lost")
        if self._reconnect_task is None or self._reconnect_task.done():
            self._reconnect_task = asyncio.ensure_future(self._a_reconnect())

    async def _a_reconnect(self) -> None:
        attempt = 0
        while self._state == "down":
            delay = self.backoff[min(attempt, len(self.backoff) - 1)]
            attempt += 1
            await asyncio.sleep(delay)
            if self._state != "down":
                return
            self._state = "connecting"
            since = self._progress()
            try:
                await self._a_open()
                summary = await self._a_reconcile(first=False, since=since)
                await self._a_resubscribe()
            except Exception as exc:  # noqa: BLE001
                log.warning("reconnect attempt %d to %s:%s failed: %s", attempt, self.host,
                            self.port, exc)
                self._safe_disconnect()
                if self._state == "connecting":
                    self._state = "down"
                continue
            if self._state != "connecting":  # closed meanwhile
                return
            if not self._ib.isConnected():
                self._state = "down"
                continue
            self._epoch += 1
            self._state = "up"
            self.reconnects += 1
            self.last_reconcile = summary
            log.warning("reconnected to IB after %d attempt(s); %s", attempt, summary)
            self._connection(True, f"reconnected after {attempt} attempt(s); {summary}")
            self._start_heartbeat()
            return

    async def _a_link_restored(self, code: int) -> None:
        try:
            summary = await self._a_reconcile(first=False)
            if code == LINK_RESTORED_DATA_LOST or any(s.ticker is None for s in self._subs.values()):
                await self._a_resubscribe()
        except Exception as exc:  # noqa: BLE001
            log.warning("reconciliation after IB %d failed: %s; dropping the session", code, exc)
            if self._state == "restoring":
                self._state = "up"  # let the disconnect handler take over
                self._safe_disconnect()
            return
        if self._state != "restoring":
            return
        self._epoch += 1
        self._state = "up"
        self.last_reconcile = summary
        self._connection(True, f"IB connectivity restored ({code}); {summary}")
        self._start_heartbeat()

    def _start_heartbeat(self) -> None:
        self._stop_heartbeat()
        if self.heartbeat > 0:
            self._heartbeat_task = asyncio.ensure_future(self._a_heartbeat())

    def _stop_heartbeat(self) -> None:
        task = self._heartbeat_task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        self._heartbeat_task = None

    async def _a_heartbeat(self) -> None:
        """A socket can stay open while the far end is gone; ask the time to find out."""
        while self._state == "up":
            await asyncio.sleep(self.heartbeat)
            if self._state != "up":
                return
            try:
                await asyncio.wait_for(self._ib.reqCurrentTimeAsync(), self.request_timeout)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001
                log.warning("IB heartbeat failed (%s); dropping the connection", exc)
                self._heartbeat_task = None
                self._safe_disconnect()
                return

    def _require_up(self) -> None:
        if self._state != "up":
            raise VenueError(f"IB session is {self._state}, not up")
