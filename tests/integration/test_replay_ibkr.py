"""A live session through the TWS gateway (real ``ib_async``), recorded and replayed.

The session (``replay_support.scripted_session``) has a stop exit, a gap exit, a
disconnect and a reconnect. ``triotrade replay`` in execution mode must find the same
decisions (exit 0); after the config file is changed it must name the change and the
first divergence (exit 1); the scenario it writes passes ``check`` and runs with the
same digest twice under two hash seeds.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

from conftest import PYTHON, cli_env
from replay_support import Broker, check_recorded, events, replay, scripted_session
from tws_support import gateway, scenario

from triotrade.venues.ibkr import IbkrVenue
from triotrade.venues.live import load_live_config

CONFIG = """\
instruments:
  - {symbol: ACME, tick_size: "0.01"}
config:
  sizing: {unit_position_size: 100, max_position_size: 100}
  entries: {entry_order_ttl: 60s, signal_freshness: 1h, staggered_order_delay: 100ms}
  exits: {stop_loss: "2%", exit_order_ttl: 30s}
  monitor: {check_interval: 250ms, gap_threshold_pct: 3}
  emergency: {retry_interval: 2s}
  risk: {resume_after_reconnect: true}
"""
PRICES = ("99.99", "100.01", "98.99", "99.01", "97.89", "97.91", "93.00", "93.02",
          "93.50", "93.52")


async def _session(tmp_path: Path, config: str = CONFIG, slippage_ticks: int = 0) -> Path:
    cfg_path = tmp_path / "live.yaml"
    cfg_path.write_text(config)
    journal = tmp_path / "live-ibkr.jsonl"
    market = {"ACME": {"spread": "0.02", "depth": 1000, "ticks": [{"t": "0s", "last": "100.00"}],
                       "slippage_ticks": slippage_ticks}}
    async with gateway(scenario(extra={"market": market})) as g:
        def push(bid: str, ask: str) -> None:
            g.push("ACME", bid, ask)

        venue = IbkrVenue("127.0.0.1", g.port, 51, backoff=(0.05, 0.1, 0.2, 0.5),
                          heartbeat=2.0, request_timeout=10.0)
        await scripted_session(venue, load_live_config(cfg_path), journal, "ACME",
                               Broker(push, g.kill, g.restart, PRICES),
                               last_entry=slippage_ticks == 0)
    return journal


async def test_an_ib_session_replays_with_the_same_decisions(tmp_path: Path) -> None:
    journal = await _session(tmp_path)
    check_recorded(journal)
    r = replay(journal, "--mode", "execution")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "decisions match" in r.stdout and "Traceback" not in r.stderr
    # the incident file: checked, and run twice with two hash seeds to the same digest
    out = tmp_path / "incident" / "session.yaml"
    r = replay(journal, "--mode", "estimated", "-o", str(out))
    assert r.returncode in (0, 1), r.stdout + r.stderr
    assert out.exists() and (out.parent / "session.ACME.csv").exists()
    check = subprocess.run([PYTHON, "-m", "triotrade", "check", str(out)], capture_output=True,
                           text=True, env=cli_env())
    assert check.returncode == 0, check.stdout + check.stderr
    digests = set()
    for seed in ("0", "12345"):
        run = subprocess.run([PYTHON, "-m", "triotrade", "run", str(out)], capture_output=True,
                             text=True, env=cli_env(hashseed=seed))
        assert run.returncode in (0, 1), run.stdout + run.stderr
        digests.add(run.stdout.strip().splitlines()[-1])
    assert len(digests) == 1 and next(iter(digests)).startswith("digest: sha256:"), digests
    # the config changed after the session: the first divergence names it
    cfg = tmp_path / "live.yaml"
    cfg.write_text(cfg.read_text().replace("unit_position_size: 100", "unit_position_size: 50"))
    r = replay(journal)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "first divergence" in r.stdout
    assert f"changed since the recording: config file {cfg}" in r.stdout, r.stdout
    assert "not sent by the live kernel" in r.stdout, r.stdout


async def test_a_fill_the_simulator_prices_otherwise_is_the_named_divergence(
        tmp_path: Path) -> None:
    """The broker fills market exits 5 ticks through the bid; the estimated venue does not
    know it. Live, the two stop exits lose more than the cumulative loss limit (710) and
    its kill switch fires; the replay's exits lose 10 less and it never fires. Execution
    mode, fed the broker's own fills, agrees with live; estimated mode names the first
    fill it priced otherwise as the cause."""
    config = CONFIG + "  # the loss limit between the two runs' losses\n"
    config = config.replace("risk: {resume_after_reconnect: true}",
                            'risk: {resume_after_reconnect: true, max_loss_cumulative: "710"}')
    journal = await _session(tmp_path, config, slippage_ticks=5)
    # the cumulative loss switch outlives the reconnect (only the disconnect is lifted)
    assert not any(e["type"] == "kill_switch_reset" for e in events(journal))
    r = replay(journal, "--mode", "execution")
    assert r.returncode == 0, r.stdout + r.stderr
    r = replay(journal, "--mode", "estimated")
    assert r.returncode == 1, r.stdout + r.stderr
    assert ("cause: a fill the simulator gave otherwise: live O2 STOP_LOSS SELL 100 @ 97.84"
            in r.stdout), r.stdout
    assert "replay O2 STOP_LOSS SELL 100 @ 97.89" in r.stdout


async def test_a_resumed_session_replays_from_the_day_it_resumed(tmp_path: Path,
                                                                workdir: Path) -> None:
    """The kill -9 / ``--resume`` session of ``test_restart_ibkr`` (its own checks run
    too): the second run restored 40 from the first journal and adopted the 60 filled
    while it was dead. Execution mode restores the same day and reconciles against the
    venue's books as they were found, so the stop that sold all 100 is the same
    decision; estimated mode starts flat and says that this is why it differs."""
    import test_restart_ibkr

    await test_restart_ibkr.test_kill_9_mid_entry_then_resume_adopts_and_protects(
        tmp_path, workdir)
    second = tmp_path / "second.jsonl"
    r = replay(second)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "restored the day from" in r.stdout and "decisions match" in r.stdout
    r = replay(second, "--mode", "estimated")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "cause: state the replay does not have: the live kernel resumed from" in r.stdout
