"""``triotrade ctl`` against a real live run, end to end, every part a real process.

``triotrade serve --protocol tws`` (the simulated exchange over the TWS wire), then
``triotrade run --venue ibkr --live`` (the kernel through the real ib_async client)
driven by a news file, then ``triotrade ctl`` commands as a person would type them:
status shows the position; kill, reset and flatten are each journaled as operator acts
with ``by: ctl``; a second run on the same journal is refused before it touches it; bad
commands, raw malformed JSON and an oversized line are refused
with a clear message and the run goes on; the socket is 0600 and removed at the end,
after which ``ctl`` says nobody is there (exit 3).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
from pathlib import Path
from typing import Any

import trio
from conftest import PYTHON, cli_env

from triotrade.wire.control import MAX_LINE

SCENARIO = """\
version: 1
name: ctl-market
seed: 3
duration: 2h
instruments:
  - {symbol: ACME, tick_size: "0.01"}
market:
  ACME:
    spread: "0.02"
    depth: 1000
    ticks: [{t: 0s, last: "100.00"}]
    walk: {every: 200ms, vol_bps: 1}
"""

CONFIG = """\
instruments:
  - {symbol: ACME, tick_size: "0.01"}
config:
  sizing: {unit_position_size: 100, max_position_size: 100}
  entries: {entry_order_ttl: 60s, signal_freshness: 1h}
  exits: {stop_loss: "10%", exit_order_ttl: 30s}
  monitor: {check_interval: 250ms, stale_after: 1h}
"""


class Proc:
    """A subprocess whose stdout and stderr are read as they come (never a full pipe)."""

    def __init__(self, proc: trio.Process) -> None:
        self.proc = proc
        self.out: list[str] = []
        self.err = bytearray()
        self.changed = trio.Event()

    async def _pump_out(self) -> None:
        assert self.proc.stdout is not None
        buf = b""
        while chunk := await self.proc.stdout.receive_some(65536):
            buf += chunk
            *done, buf = buf.split(b"\n")
            self.out += [d.decode() for d in done]
            self.changed.set()
            self.changed = trio.Event()

    async def _pump_err(self) -> None:
        assert self.proc.stderr is not None
        while chunk := await self.proc.stderr.receive_some(65536):
            self.err += chunk

    async def wait_line(self, prefix: str, timeout: float = 60) -> str:
        with trio.move_on_after(timeout):
            while True:
                for line in self.out:
                    if line.startswith(prefix):
                        return line
                if self.proc.returncode is not None:
                    break
                with trio.move_on_after(0.5):
                    await self.changed.wait()
        raise AssertionError(f"never saw {prefix!r}: {self.out} {self.err.decode()}")


async def spawn(nursery: trio.Nursery, args: list[str], cwd: Path) -> Proc:
    proc = await trio.lowlevel.open_process([PYTHON, "-m", "triotrade", *args],
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                            cwd=cwd, env=cli_env())
    p = Proc(proc)
    nursery.start_soon(p._pump_out)
    nursery.start_soon(p._pump_err)
    return p


async def ctl(cwd: Path, *args: str) -> tuple[int, str, str]:
    r = await trio.run_process([PYTHON, "-m", "triotrade", "ctl", *args], capture_stdout=True,
                               capture_stderr=True, check=False, cwd=cwd, env=cli_env())
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def events(journal: Path) -> list[dict[str, Any]]:
    if not journal.exists():
        return []
    return [json.loads(x) for x in journal.read_text().splitlines()[1:] if x.endswith("}")]


def acts(journal: Path) -> list[dict[str, Any]]:
    """The journal without its price bars (a live run writes one a second, whatever we do)."""
    return [e for e in events(journal) if e["type"] != "bar"]


def of(evs: list[dict[str, Any]], type_: str, **match: Any) -> list[dict[str, Any]]:
    return [e for e in evs if e["type"] == type_ and all(e.get(k) == v for k, v in match.items())]


async def until(cond: Any, what: str, timeout: float = 60) -> None:
    with trio.move_on_after(timeout):
        while not cond():
            await trio.sleep(0.05)
        return
    raise AssertionError(f"timed out waiting for {what}")


def raw(path: Path, data: bytes) -> list[dict[str, Any]]:
    """Send bytes straight to the socket (no ctl client); every answer line, parsed."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(str(path))
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        buf = b""
        while chunk := s.recv(65536):
            buf += chunk
    return [json.loads(line) for line in buf.splitlines()]


async def test_ctl_status_kill_reset_flatten_against_a_live_run(tmp_path: Path,
                                                                workdir: Path) -> None:
    scn = tmp_path / "market.yaml"
    scn.write_text(SCENARIO)
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_text("")
    cfg = tmp_path / "live.yaml"
    cfg.write_text(CONFIG + f"news: {json.dumps(str(alerts))}\n")
    journal = tmp_path / "run.jsonl"
    sock = Path(str(journal) + ".ctl")
    J = ["--journal", str(journal)]

    async with trio.open_nursery() as nursery:
        gw = await spawn(nursery, ["serve", "--protocol", "tws", str(scn), "--port", "0"],
                         workdir)
        run: Proc | None = None
        try:
            port = int((await gw.wait_line("listening on ")).rpartition(":")[2])
            run = await spawn(nursery, ["run", "--venue", "ibkr", "--config", str(cfg),
                                        "--port", str(port), "--client-id", "51", "--live",
                                        "--journal", str(journal)], workdir)
            line = await run.wait_line("control: ")
            assert str(sock) in line
            await until(lambda: sock.exists(), "the control socket")
            # owner only
            assert stat.S_ISSOCK(os.lstat(sock).st_mode)
            assert stat.S_IMODE(os.lstat(sock).st_mode) == 0o600

            # status answers from the start (the socket is up before the venue connects)
            for _ in range(60):
                code, out, err = await ctl(workdir, "status", *J, "--json")
                assert code == 0, out + err
                st = json.loads(out)["status"]
                if st["connected"] and st["positions"]:
                    break
                await trio.sleep(0.5)
            assert st["connected"] is True and st["kill_switch"]["active"] == [], st

            # a second run started on this run's journal is refused before it opens it
            kept = journal.read_bytes()
            second = await trio.run_process(
                [PYTHON, "-m", "triotrade", "run", "--venue", "ibkr", "--config", str(cfg),
                 "--port", str(port), "--client-id", "52", "--live", "--journal", str(journal)],
                capture_stdout=True, capture_stderr=True, check=False, cwd=workdir,
                env=cli_env())
            err = second.stderr.decode()
            assert second.returncode == 2 and f"{sock}: another run is serving on it" in err, err
            assert "Traceback" not in err
            assert journal.read_bytes().startswith(kept), "the live run's journal was touched"

            # enter 100 through the news file (retried until the first quote is in)
            for _ in range(10):
                with alerts.open("a") as f:
                    f.write(json.dumps({"symbol": "ACME", "side": "BUY"}) + "\n")
                with trio.move_on_after(3):
                    await until(lambda: of(events(journal), "order_submitted", role="ENTRY"),
                                "the entry")
                if of(events(journal), "order_submitted", role="ENTRY"):
                    break
            await until(lambda: of(events(journal), "position_changed", qty="100"),
                        "the entry fill")

            # status shows the position, human-readable and as JSON
            code, out, err = await ctl(workdir, "status", *J)
            assert code == 0, out + err
            assert "kill switch: off" in out
            [acme] = [x for x in out.splitlines() if x.strip().startswith("ACME") and "@" in x]
            assert " 100 @ " in acme, out
            assert "feeds:" in out and "last tick" in out
            code, out, _ = await ctl(workdir, "status", *J, "--json")
            st = json.loads(out)["status"]
            [pos] = st["positions"]
            assert (pos["symbol"], pos["qty"]) == ("ACME", "100")
            [feed] = st["feeds"]
            assert feed["has_quote"] and feed["stale"] is False
            assert isinstance(feed["last_tick_age_ms"], int)

            # kill --mode cancel_all: fired and journaled as an operator act, by ctl
            code, out, err = await ctl(workdir, "kill", "--mode", "cancel_all", *J)
            assert code == 0 and "kill switch fired: cancel_all" in out, out + err
            [kill] = of(events(journal), "kill_switch", reason="operator")
            assert (kill["action"], kill["by"]) == ("cancel_all", "ctl")
            code, out, _ = await ctl(workdir, "status", *J)
            assert "kill switch: IN FORCE, cancel_all: operator (cancel_all)" in out, out
            # while it is in force an entry signal is refused
            with alerts.open("a") as f:
                f.write(json.dumps({"symbol": "ACME", "side": "BUY"}) + "\n")
            await until(lambda: [e for e in of(events(journal), "signal", accepted=False)
                                 if "kill switch: operator" in e["reason"]], "the refusal")

            # reset: journaled, by ctl, entries allowed again
            code, out, err = await ctl(workdir, "reset", *J)
            assert code == 0 and "reset" in out, out + err
            [reset] = of(events(journal), "kill_switch_reset")
            assert (reset["by"], reset["was"]) == ("ctl", "operator")
            code, out, _ = await ctl(workdir, "status", *J, "--json")
            assert json.loads(out)["status"]["kill_switch"]["active"] == []
            # a second reset: no kill switch is in force, refused, nothing journaled
            code, out, err = await ctl(workdir, "reset", *J)
            assert code == 2 and "refused: reset: no kill switch is in force" in err, out + err
            assert len(of(events(journal), "kill_switch_reset")) == 1

            # bad commands: refused with a clear message, nothing journaled, the run goes on
            before = len(acts(journal))
            code, out, err = await ctl(workdir, "explode", *J)
            assert code == 2 and "No such command 'explode'" in err, out + err
            code, out, err = await ctl(workdir, "kill", "--mode", "everything", *J)
            assert code == 2 and "everything" in err, out + err
            code, out, err = await ctl(workdir, "flatten", "NOPE", *J)
            assert code == 2 and "refused: flatten: 'NOPE' is not a ticker" in err, out + err
            answers = raw(sock, b'{"cmd": "explode"}\n{not json\n{"cmd": "kill", "mode": 7}\n'
                               b'{"cmd": "status"}\n')
            assert [a["ok"] for a in answers] == [False, False, False, True], answers
            assert "unknown command 'explode'" in answers[0]["error"]
            assert "not JSON" in answers[1]["error"]
            assert "mode must be" in answers[2]["error"]
            [big] = raw(sock, b"{" + b" " * (4 * MAX_LINE) + b"}\n")
            assert big["ok"] is False and f"longer than {MAX_LINE} bytes" in big["error"]
            assert len(acts(journal)) == before, acts(journal)[before:]
            code, out, err = await ctl(workdir, "status", *J, "--json")
            assert code == 0 and json.loads(out)["status"]["positions"][0]["qty"] == "100"

            # flatten ACME: the exit and its fill are journaled, the position is flat
            code, out, err = await ctl(workdir, "flatten", "ACME", *J)
            assert code == 0 and "ACME: exit triggered for 100" in out, out + err
            await until(lambda: of(events(journal), "position_changed", qty="0"), "the exit")
            evs = events(journal)
            [trigger] = of(evs, "exit_triggered")
            assert (trigger["reason"], trigger["via"], trigger["by"]) == ("operator", "operator",
                                                                          "ctl")
            exit_fills = of(evs, "fill", role="EXIT", side="SELL")
            assert sum(int(e["qty"]) for e in exit_fills) == 100
            assert all(e["ts_ns"] > trigger["ts_ns"] for e in exit_fills)
            code, out, _ = await ctl(workdir, "status", *J, "--json")
            assert json.loads(out)["status"]["positions"][0]["qty"] == "0"

            # the run ends cleanly; the socket goes with it; ctl then finds nobody
            run.proc.send_signal(signal.SIGINT)
            with trio.fail_after(60):
                await run.proc.wait()
            assert run.proc.returncode == 0, run.out + [run.err.decode()]
            assert "Traceback" not in run.err.decode(), run.err.decode()
            assert not os.path.lexists(sock), "the socket is removed at the end of the run"
            code, out, err = await ctl(workdir, "status", *J)
            assert code == 3 and f"cannot reach the control socket {sock}: no run there" in err
            assert of(events(journal), "run_finished")[0]["positions"] == {"ACME": "0"}
        finally:
            for p in (run, gw):
                if p is not None and p.proc.returncode is None:
                    p.proc.send_signal(signal.SIGTERM)
                    with trio.move_on_after(20):
                        await p.proc.wait()
                    if p.proc.returncode is None:
                        p.proc.kill()
                        await p.proc.wait()
