"""The control socket of a live run: a person's status, kill, reset and flatten.

A live kernel has no scenario ``operator:`` section; a person at the desk needs the
same acts while it runs. ``serve_control`` listens on a Unix socket next to the
journal and runs each request on the trio thread through the kernel's synchronous
operator methods, so an act from outside is journaled exactly like a scenario's
operator act (plus ``by: ctl``) and is ordered with every tick and report.

The socket is a way into a process that trades money, so it is guarded:

* owner only: the file is made 0600 before it listens (nobody can connect earlier),
  and on Linux a peer of another user is turned away by its credentials;
* the path is claimed, never taken: an existing path is replaced only when it is a
  stale socket of ours (nobody answers); a live one or anything else refuses the start;
* no client can hurt the run: requests are bounded (``wire.control.MAX_LINE``), an idle
  or slow client is dropped after ``idle_timeout_s``, clients are capped in number, a
  malformed or unknown request is answered ``{"ok": false, ...}`` and changes nothing,
  and an error inside one session is logged and ends that session only.

Wall-clock I/O, so it lives with the live adapters, not in ``kernel/`` or ``sim/``.
"""
from __future__ import annotations

import logging
import os
import socket as stdsocket
import stat
import struct
from pathlib import Path
from typing import Any

import trio

from ..kernel.errors import InputError
from ..kernel.runtime import Kernel
from ..kernel.units import NS_PER_S, fmt_units
from ..wire.control import (DEFAULT_KILL, MAX_LINE, Command, Request, RequestError, encode,
                            parse_request, refused)

log = logging.getLogger(__name__)

MAX_PATH = 107  # bytes of a Unix socket path (sun_path holds 108 with its NUL)
MAX_CLIENTS = 8
BY = "ctl"


class ControlPathError(InputError):
    """The control socket's path cannot be claimed (``PATH: problem``)."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(str(path), [("", problem)])


# ------------------------------------------------------------------ the acts


def status_of(kernel: Kernel) -> dict[str, Any]:
    """Positions, working orders, kill-switch state and feed health, as JSON values."""
    now = kernel.clock.now_ns()
    positions = []
    feeds = []
    for sym, t in sorted(kernel.tickers.items()):
        places = t.inst.price_places
        positions.append({"symbol": sym, "qty": str(t.position.qty),
                          "avg_price": fmt_units(t.position.avg_price, places),
                          "realized_pnl": fmt_units(t.position.realized),
                          "exiting": t.exiting})
        feeds.append({"symbol": sym, "stale": t.stale, "has_quote": t.has_quote,
                      "last_tick_age_ms": max(0, now - t.last_ts) * 1000 // NS_PER_S,
                      "bid": fmt_units(t.bid, places), "ask": fmt_units(t.ask, places)})
    orders = []
    for o in sorted(kernel.orders.values(), key=lambda o: o.order_id):
        if not o.is_working:
            continue
        row = {"order_id": o.order_id, "symbol": o.symbol, "role": o.role.value,
               "side": o.side.value, "qty": str(o.qty), "filled": str(o.filled_qty),
               "order_type": o.order_type.value, "state": o.state.value}
        if o.price is not None:
            row["price"] = fmt_units(o.price, kernel.instruments[o.symbol].price_places)
        orders.append(row)
    active = [{"reason": reason, "action": action.value}
              for reason, action in kernel.kill_switches]
    strongest = None
    for _, action in kernel.kill_switches:
        if strongest is None or action.includes(strongest):
            strongest = action
    return {
        "positions": positions,
        "working_orders": orders,
        "kill_switch": {"active": active, "action": strongest.value if strongest else None,
                        "close_all": kernel.close_all_active,
                        "max_loss_cumulative_breached": kernel.cumulative_breached,
                        "entries_blocked": kernel.entry_block_reason()},
        "feeds": feeds,
        "connected": kernel.connected,
        "realized_pnl": fmt_units(kernel.realized_total),
    }


def act(kernel: Kernel, request: Request) -> dict[str, Any]:
    """Carry out one parsed request on the kernel (synchronously: the trio thread)."""
    if request.command is Command.STATUS:
        return {"ok": True, "status": status_of(kernel)}
    if request.command is Command.KILL:
        mode = request.mode or DEFAULT_KILL
        if ("operator", mode) in kernel.kill_switches:
            return {"ok": True, "done": f"kill switch {mode.value} (operator) already in force; "
                                        "nothing journaled"}
        kernel.kill_switch("operator", mode, by=BY)
        return {"ok": True, "done": f"kill switch fired: {mode.value} (journaled)"}
    if request.command is Command.RESET:
        if not (kernel.halt_reason or kernel.kill_switches or kernel.close_all_active
                or kernel.cumulative_breached):
            # a reset of nothing would journal kill_switch_reset with was: ""
            return refused("reset: no kill switch is in force; nothing to reset, nothing "
                           "journaled")
        was = kernel.halt_reason or ""
        kernel.reset_kill_switch(BY)
        return {"ok": True, "done": f"kill switch reset (was: {was or 'not in force'}); "
                                    "entries allowed again (journaled)"}
    symbol = request.symbol
    assert symbol is not None  # the parser requires it for flatten
    if symbol not in kernel.tickers:
        known = ", ".join(sorted(kernel.tickers)) or "nothing"
        return refused(f"flatten: {symbol!r} is not a ticker of this run (it trades {known})")
    return {"ok": True, "done": f"{symbol}: {kernel.operator_flatten(symbol, by=BY)}"}


def answer(kernel: Kernel, line: bytes) -> dict[str, Any]:
    """The response to one request line; never raises."""
    try:
        request = parse_request(line)
    except RequestError as exc:
        return refused(str(exc))
    try:
        return act(kernel, request)
    except Exception as exc:  # noqa: BLE001 - a bug must not end the run; it is logged
        log.exception("control request %r failed", request)
        return refused(f"internal error: {type(exc).__name__}: {exc}")


# ------------------------------------------------------------------ the socket


class _TooLong(Exception):
    pass


class _LineReader:
    """Lines of at most ``limit`` bytes from a stream; ``None`` at end of stream."""

    def __init__(self, stream: trio.SocketStream, limit: int) -> None:
        self._stream = stream
        self._limit = limit
        self._buf = bytearray()

    async def next(self) -> bytes | None:
        while True:
            nl = self._buf.find(b"\n")
            if nl >= 0:
                if nl + 1 > self._limit:
                    raise _TooLong
                line = bytes(self._buf[:nl])
                del self._buf[:nl + 1]
                return line
            if len(self._buf) >= self._limit:
                raise _TooLong
            chunk = await self._stream.receive_some(self._limit)
            if not chunk:
                return None  # a last line without a newline is not a request
            self._buf += chunk


def _peer_uid(sock: trio.socket.SocketType) -> int | None:
    peercred = getattr(stdsocket, "SO_PEERCRED", None)
    if peercred is None:  # pragma: no cover - not Linux: the 0600 file is the guard
        return None
    raw = sock.getsockopt(stdsocket.SOL_SOCKET, peercred, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", raw)
    return uid


async def _session(kernel: Kernel, stream: trio.SocketStream, idle_timeout_s: float) -> None:
    """One client: request, response, until it hangs up, goes idle or misbehaves."""
    reader = _LineReader(stream, MAX_LINE)
    try:
        uid = _peer_uid(stream.socket)
        if uid is not None and uid not in (os.getuid(), 0):
            with trio.move_on_after(idle_timeout_s):
                await stream.send_all(encode(refused("this run belongs to another user")))
            return
        while True:
            closing = None
            with trio.move_on_after(idle_timeout_s) as idle:
                try:
                    line = await reader.next()
                except _TooLong:
                    line = None
                    closing = f"request longer than {MAX_LINE} bytes; closing the connection"
            if idle.cancelled_caught:
                closing = f"idle for {idle_timeout_s:g}s; closing the connection"
            elif line is None and closing is None:
                return  # the client hung up
            response = refused(closing) if closing is not None else answer(kernel, line or b"")
            with trio.move_on_after(idle_timeout_s) as slow:
                await stream.send_all(encode(response))
            if closing is not None and not slow.cancelled_caught:
                await _drain(stream)
            if closing is not None or slow.cancelled_caught:
                return
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        return  # the client went away mid-exchange
    except Exception:  # noqa: BLE001 - one session's bug must never end the run
        log.exception("control session failed")
    finally:
        with trio.CancelScope(shield=True):
            with trio.move_on_after(1):
                await stream.aclose()


async def _drain(stream: trio.SocketStream, limit: int = 1 << 20, within_s: float = 1.0) -> None:
    """Say we are done writing, then read a little of what the client still sends: a
    socket closed with unread input is reset, and the reset can destroy the refusal
    before the client has read it."""
    await stream.send_eof()
    seen = 0
    with trio.move_on_after(within_s):
        while seen < limit:
            chunk = await stream.receive_some(65536)
            if not chunk:
                return
            seen += len(chunk)


def refuse_if_taken(path: str | Path) -> None:
    """Raise ControlPathError unless ``path`` is free or a stale socket of ours (removed).

    ``serve_control`` calls it; a run also calls it before it opens its journal, so a
    second start on the journal of a live run stops before it can truncate that journal.
    """
    path = Path(path)
    if len(os.fsencode(path)) > MAX_PATH:
        raise ControlPathError(path, f"too long for a Unix socket ({len(os.fsencode(path))} "
                                     f"bytes, at most {MAX_PATH}): use a shorter --journal path")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise ControlPathError(path, "exists and is not a socket: not replacing it "
                                     "(move it away, or use another --journal path)")
    if st.st_uid != os.getuid():
        raise ControlPathError(path, "is a socket of another user: not replacing it")
    # a local socket answers a connect at once, or refuses it at once when stale
    probe = stdsocket.socket(stdsocket.AF_UNIX, stdsocket.SOCK_STREAM)
    probe.settimeout(2)
    try:
        probe.connect(os.fspath(path))
    except (ConnectionRefusedError, FileNotFoundError):
        pass  # stale: a run of ours that ended without removing it
    except OSError:
        raise ControlPathError(path, "a socket that neither answers nor refuses: not "
                                     "replacing it") from None
    else:
        raise ControlPathError(path, "another run is serving on it (its journal is this "
                                     "path without .ctl): not starting a second")
    finally:
        probe.close()
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


async def _claim(path: Path) -> trio.socket.SocketType:
    """Bind a listening socket at ``path``, 0600; replace only a stale socket of ours."""
    refuse_if_taken(path)
    sock = trio.socket.socket(stdsocket.AF_UNIX, stdsocket.SOCK_STREAM)
    try:
        await sock.bind(os.fspath(path))
        os.chmod(path, 0o600)  # before listen(): nobody can have connected yet
        sock.listen(MAX_CLIENTS)
    except OSError as exc:
        sock.close()
        raise ControlPathError(path, f"cannot listen: {exc.strerror or exc}") from None
    return sock


def _release(path: Path, inode: int) -> None:
    """Remove the socket file, unless it is no longer ours (another run took the path)."""
    try:
        if os.lstat(path).st_ino == inode:
            os.unlink(path)
    except OSError:
        pass


async def serve_control(kernel: Kernel, path: str | Path,
                        task_status: trio.TaskStatus[Path] = trio.TASK_STATUS_IGNORED, *,
                        idle_timeout_s: float = 30.0) -> None:
    """Serve the control socket at ``path`` until cancelled; then remove it.

    ``task_status.started(path)`` once it accepts connections. A path that cannot be
    claimed raises ``ControlPathError`` (an input error: exit 2) before that.
    """
    path = Path(path)
    listener = await _claim(path)
    inode = os.lstat(path).st_ino
    try:
        async with trio.open_nursery() as nursery:
            task_status.started(path)
            clients = 0

            async def run_session(stream: trio.SocketStream) -> None:
                nonlocal clients
                try:
                    await _session(kernel, stream, idle_timeout_s)
                finally:
                    clients -= 1

            while True:
                try:
                    sock, _ = await listener.accept()
                except OSError as exc:  # e.g. out of file descriptors: wait, go on
                    log.warning("control socket accept failed: %s", exc)
                    await trio.sleep(0.1)
                    continue
                stream = trio.SocketStream(sock)
                if clients >= MAX_CLIENTS:
                    nursery.start_soon(_turn_away, stream)
                    continue
                clients += 1
                nursery.start_soon(run_session, stream)
    finally:
        listener.close()
        _release(path, inode)


async def _turn_away(stream: trio.SocketStream) -> None:
    try:
        with trio.move_on_after(1):
            await stream.send_all(encode(refused(f"busy: {MAX_CLIENTS} clients connected")))
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        pass
    finally:
        with trio.CancelScope(shield=True):
            with trio.move_on_after(1):
                await stream.aclose()


__all__ = ["serve_control", "refuse_if_taken", "status_of", "act", "answer", "ControlPathError"]
