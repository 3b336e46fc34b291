"""The control server: acts on a running kernel, journaled; a bad client changes nothing.

The acts (``answer``) run against a Kernel on a FakeVenue and a hand-moved clock, so
each test shows the journal line an act writes. The socket tests run the real server
on a Unix socket in the test's directory and talk to it as any client would.
"""
from __future__ import annotations

import json
import os
import socket as stdsocket
import stat
from pathlib import Path
from typing import Any

import pytest
import trio

from kernel_support import events, make_kernel, running, settle
from triotrade.kernel.orders import OrderType, Role, Side
from triotrade.kernel.runtime import Kernel
from triotrade.kernel.signals import Signal
from triotrade.kernel.venue import ReportKind
from triotrade.venues.control import ControlPathError, answer, serve_control
from triotrade.wire.control import MAX_LINE


def ask(kernel: Kernel, message: Any) -> dict[str, Any]:
    line = message if isinstance(message, bytes) else json.dumps(message).encode()
    return answer(kernel, line)


def journal(kernel: Kernel) -> list[dict[str, Any]]:
    return list(kernel.journal.events)


async def _with_position(kernel: Kernel, venue: Any) -> None:
    venue.quote("ACME", "100.00", "100.02")
    kernel.on_signal(Signal("ACME", "BUY", kernel.clock.now_ns()))
    await settle()
    [entry] = venue.submitted
    venue.report(ReportKind.ACCEPTED, entry)
    venue.fill(entry, 100, "100.02")


async def test_status_shows_positions_orders_kill_switch_and_feeds() -> None:
    kernel, venue, clock = make_kernel()
    async with running(kernel):
        await _with_position(kernel, venue)
        await clock.advance(1_500_000_000)
        r = ask(kernel, {"cmd": "status"})
        assert r["ok"] is True
        st = r["status"]
        assert st["positions"] == [{"symbol": "ACME", "qty": "100", "avg_price": "100.02",
                                    "realized_pnl": "0.00", "exiting": False}]
        assert st["working_orders"] == []
        assert st["kill_switch"]["active"] == [] and st["kill_switch"]["action"] is None
        [feed] = st["feeds"]
        assert feed["stale"] is False and feed["last_tick_age_ms"] == 1500
        assert st["connected"] is True


async def test_kill_reset_and_flatten_are_journaled_like_operator_acts() -> None:
    kernel, venue, clock = make_kernel()
    async with running(kernel):
        await _with_position(kernel, venue)
        r = ask(kernel, {"cmd": "kill", "mode": "cancel_all"})
        assert r["ok"] and "cancel_all" in r["done"]
        [kill] = events(kernel, "kill_switch")
        assert (kill["reason"], kill["action"], kill["by"]) == ("operator", "cancel_all", "ctl")
        # the same kill again: already in force, nothing journaled twice
        again = ask(kernel, {"cmd": "kill", "mode": "cancel_all"})
        assert again["ok"] and "already in force" in again["done"]
        assert len(events(kernel, "kill_switch")) == 1
        # a stronger one on top: both in force, the strongest is the action
        ask(kernel, {"cmd": "kill", "mode": "stop_new_trades"})
        ks = ask(kernel, {"cmd": "status"})["status"]["kill_switch"]
        assert ks["active"] == [{"reason": "operator", "action": "cancel_all"},
                                {"reason": "operator", "action": "stop_new_trades"}]
        assert ks["action"] == "cancel_all" and ks["entries_blocked"] == "kill switch: operator"

        r = ask(kernel, {"cmd": "reset"})
        assert r["ok"]
        [reset] = events(kernel, "kill_switch_reset")
        assert (reset["by"], reset["was"]) == ("ctl", "operator")
        assert ask(kernel, {"cmd": "status"})["status"]["kill_switch"]["active"] == []

        r = ask(kernel, {"cmd": "flatten", "symbol": "ACME"})
        assert r["ok"] and "exit triggered for 100" in r["done"]
        await settle()
        [trigger] = events(kernel, "exit_triggered")
        assert (trigger["reason"], trigger["via"], trigger["by"]) == ("operator", "operator", "ctl")
        exit_order = venue.submitted[-1]
        assert (exit_order.role, exit_order.side, exit_order.qty, exit_order.order_type) == (
            Role.EXIT, Side.SELL, 100, OrderType.MARKET)
        # a second flatten while that exit works: ignored, journaled as such
        r = ask(kernel, {"cmd": "flatten", "symbol": "ACME"})
        assert r["ok"] and "already working" in r["done"]
        assert events(kernel, "exit_ignored", reason="operator", by="ctl")
        venue.fill(exit_order, 100, "100.00")
        assert kernel.tickers["ACME"].position.qty == 0
        r = ask(kernel, {"cmd": "flatten", "symbol": "ACME"})
        assert r["ok"] and "nothing to exit" in r["done"]


@pytest.mark.parametrize("message", [
    b"explode", b'{"cmd": "explode"}', b'{"cmd": "kill", "mode": "all"}',
    b'{"cmd": "flatten", "symbol": "NOPE"}', b'{"cmd": "reset", "by": "me"}', b"\x00" * 10,
])
async def test_a_refused_request_changes_nothing(message: bytes) -> None:
    kernel, venue, clock = make_kernel()
    async with running(kernel):
        await _with_position(kernel, venue)
        before = journal(kernel)
        sent = list(venue.submitted)
        r = ask(kernel, message)
        await settle()
        assert r["ok"] is False and r["error"]
        assert journal(kernel) == before and venue.submitted == sent
        assert kernel.halt_reason is None and kernel.kill_switches == {}


async def test_an_act_that_breaks_is_answered_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    kernel, _, _ = make_kernel()

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    async with running(kernel):
        assert ask(kernel, {"cmd": "kill", "mode": "stop_new_trades"})["ok"]
        monkeypatch.setattr(kernel, "reset_kill_switch", broken)
        r = ask(kernel, {"cmd": "reset"})
    assert r == {"ok": False, "error": "internal error: RuntimeError: boom"}


async def test_a_reset_with_no_kill_switch_in_force_is_refused_and_not_journaled() -> None:
    kernel, venue, _ = make_kernel()
    async with running(kernel):
        await _with_position(kernel, venue)
        before = journal(kernel)
        r = ask(kernel, {"cmd": "reset"})
        assert r == {"ok": False, "error": "reset: no kill switch is in force; nothing to "
                                           "reset, nothing journaled"}
        assert journal(kernel) == before and not events(kernel, "kill_switch_reset")
        # after a kill and its reset, a second reset is refused too
        ask(kernel, {"cmd": "kill", "mode": "stop_new_trades"})
        assert ask(kernel, {"cmd": "reset"})["ok"]
        assert ask(kernel, {"cmd": "reset"})["ok"] is False
        assert len(events(kernel, "kill_switch_reset")) == 1


# ------------------------------------------------------------------ the socket


class Client:
    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buf = b""

    async def line(self) -> bytes | None:
        while b"\n" not in self.buf:
            chunk = await self.stream.receive_some(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line

    async def ask(self, raw: bytes) -> dict[str, Any]:
        await self.stream.send_all(raw)
        line = await self.line()
        assert line is not None
        return json.loads(line)


async def _connect(path: Path) -> Client:
    return Client(await trio.open_unix_socket(str(path)))


async def test_socket_is_owner_only_answers_and_survives_bad_clients(tmp_path: Path) -> None:
    kernel, venue, _ = make_kernel()
    path = tmp_path / "run.jsonl.ctl"
    async with running(kernel), trio.open_nursery() as nursery:
        await nursery.start(serve_control, kernel, path)
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
        assert stat.S_IMODE(os.lstat(path).st_mode) == 0o600
        c = await _connect(path)
        assert (await c.ask(b'{"cmd": "status"}\n'))["ok"] is True
        bad = await c.ask(b"{not json\n")
        assert bad["ok"] is False and "not JSON" in bad["error"]
        # the same connection goes on after a refusal
        assert (await c.ask(b'{"cmd": "kill", "mode": "stop_new_trades"}\n'))["ok"] is True
        assert events(kernel, "kill_switch", by="ctl", action="stop_new_trades")

        # an oversized line: refused with the reason, the connection closed, server fine
        big = await _connect(path)
        r = await big.ask(b'{"cmd": "status", "x": "' + b"a" * (2 * MAX_LINE) + b'"}\n')
        assert r["ok"] is False and f"longer than {MAX_LINE} bytes" in r["error"]
        assert await big.line() is None
        # a client that hangs up mid-line, and one that sends garbage bytes and leaves
        half = await _connect(path)
        await half.stream.send_all(b'{"cmd": "sta')
        await half.stream.aclose()
        junk = await _connect(path)
        await junk.stream.send_all(b"\xff" * 100 + b"\n")
        await junk.stream.aclose()
        # everyone else is still served
        again = await _connect(path)
        st = await again.ask(b'{"cmd": "status"}\n')
        assert st["ok"] and st["status"]["kill_switch"]["action"] == "stop_new_trades"
        nursery.cancel_scope.cancel()
    assert not path.exists(), "the socket is removed when the server ends"


async def test_an_idle_client_is_dropped(tmp_path: Path) -> None:
    kernel, _, _ = make_kernel()
    path = tmp_path / "idle.ctl"
    async with trio.open_nursery() as nursery:
        await nursery.start(lambda task_status: serve_control(kernel, path, task_status,
                                                             idle_timeout_s=0.2))
        c = await _connect(path)
        line = await c.line()  # sends nothing: the server says why and hangs up
        assert line is not None and "idle" in json.loads(line)["error"]
        assert await c.line() is None
        ok = await _connect(path)
        assert (await ok.ask(b'{"cmd": "status"}\n'))["ok"]
        nursery.cancel_scope.cancel()


async def test_path_is_claimed_only_when_free_or_a_stale_socket(tmp_path: Path) -> None:
    kernel, _, _ = make_kernel()
    # a stale socket of ours (a run that died): replaced
    stale = tmp_path / "stale.ctl"
    s = stdsocket.socket(stdsocket.AF_UNIX, stdsocket.SOCK_STREAM)
    s.bind(str(stale))
    s.close()
    async with trio.open_nursery() as nursery:
        await nursery.start(serve_control, kernel, stale)
        assert (await (await _connect(stale)).ask(b'{"cmd": "status"}\n'))["ok"]
        # a second run on the same path while this one serves: refused, this one unhurt
        with pytest.raises(ControlPathError, match="another run is serving on it"):
            await serve_control(kernel, stale)
        assert (await (await _connect(stale)).ask(b'{"cmd": "status"}\n'))["ok"]
        nursery.cancel_scope.cancel()
    # anything that is not a socket is never replaced
    plain = tmp_path / "plain.ctl"
    plain.write_text("my notes")
    with pytest.raises(ControlPathError, match="exists and is not a socket"):
        await serve_control(kernel, plain)
    assert plain.read_text() == "my notes"
    # a path a Unix socket cannot hold: said, not a traceback
    with pytest.raises(ControlPathError, match="too long for a Unix socket"):
        await serve_control(kernel, tmp_path / ("x" * 120))
