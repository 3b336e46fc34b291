"""``serve --start-on-connect``: a client that connects late still sees the scenario's gap.

The scenario gaps at t=2s. The server is started, and the ib_async script is started
5 s later: without ``--start-on-connect`` the gap would be over before it connects
(the control case shows it). With the flag, virtual t=0 is the script's market-data
subscription, so it sees the opening price and then the gap. The server prints one
line per connection, order and fill and when the horizon is reached.
"""
from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path
from queue import Empty, Queue

from conftest import PYTHON, REPO, cli_env

SCRIPT = REPO / "tests" / "support" / "ib_late_gap.py"
SCENARIO = """\
version: 1
name: late-gap
seed: 3
duration: 4s
instruments:
  - {symbol: ACME, tick_size: "0.01"}
market:
  ACME:
    spread: "0.02"
    ticks:
      - {t: 0s, last: "100.00"}
      - {t: 2s, last: "90.00"}
      - {t: 3s, last: "90.50"}
"""
LATE_S = 5.0  # the script starts this long after the server listens


class Server:
    def __init__(self, workdir: Path, *args: str) -> None:
        (workdir / "late.yaml").write_text(SCENARIO)
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "triotrade", "serve", "late.yaml", "--protocol", "tws", "--port",
             "0", *args], cwd=workdir, env=cli_env(), text=True, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        self.lines: Queue[str] = Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, prefix: str, timeout_s: float = 60) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except Empty:
                if self.proc.poll() is not None:
                    break
                continue
            self.seen.append(line)
            if line.startswith(prefix):
                return line
        raise AssertionError(f"no line starting {prefix!r}: {self.seen}")

    def stop(self) -> str:
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=30)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return err


def _late_script(workdir: Path, port: int,
                 patience_s: float = 60) -> subprocess.CompletedProcess[str]:
    time.sleep(LATE_S)  # the point of the test: the client connects late
    return subprocess.run([PYTHON, str(SCRIPT), "127.0.0.1", str(port), "ACME", "90.00",
                           str(patience_s)],
                          cwd=workdir, env=cli_env(), capture_output=True, text=True,
                          timeout=120)


def test_a_late_client_sees_the_gap_with_start_on_connect(workdir: Path) -> None:
    server = Server(workdir, "--start-on-connect")
    try:
        port = int(server.wait_for("listening on ").rsplit(":", 1)[1])
        server.wait_for("waiting for the first market-data subscription")
        r = _late_script(workdir, port)
        assert r.returncode == 0, r.stdout + r.stderr
        prices = [float(line.split()[1]) for line in r.stdout.splitlines()
                  if line.startswith("last ")]
        assert prices[0] == 100.0 and prices[-1] == 90.0, prices
        server.wait_for("client ")  # one line per connection
        server.wait_for("first subscription: scenario started")
        server.wait_for("horizon reached")
    finally:
        err = server.stop()
    assert "Traceback" not in err, err


def test_without_the_flag_a_late_client_has_missed_the_gap(workdir: Path) -> None:
    server = Server(workdir)
    try:
        port = int(server.wait_for("listening on ").rsplit(":", 1)[1])
        r = _late_script(workdir, port, patience_s=3)
        prices = [float(line.split()[1]) for line in r.stdout.splitlines()
                  if line.startswith("last ")]
        assert r.returncode == 1 and prices == [90.5], prices  # it only ever saw the market after the gap
    finally:
        server.stop()
