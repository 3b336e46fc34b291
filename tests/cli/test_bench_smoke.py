"""The benchmarks run: each script, at a tiny size, in a subprocess. No timing asserted."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
from pathlib import Path

from conftest import PYTHON, REPO


def test_live_latency_smoke(tmp_path: Path) -> None:
    out = tmp_path / "live_latency.json"
    proc = subprocess.run(
        [PYTHON, str(REPO / "bench" / "live_latency.py"), "--events", "200", "--out", str(out)],
        capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(out.read_text())
    assert data["benchmark"] == "live_latency"
    assert data["count"] == 200
    for key in ("p50_us", "p99_us", "max_us"):
        assert data[key] > 0
    assert data["p50_us"] <= data["p99_us"] <= data["max_us"]
    assert all(v["count"] == 200 for v in data["baseline_hops"].values())  # same run
    assert "tick in adapter -> exit order in the socket" in proc.stdout
    # the journal's cost: no fsync, durable write-behind, recording; ratios against the first
    variants = data["journal_variants"]
    assert list(variants) == ["nofsync", "fsync", "record"]
    assert all(v["count"] == 200 and v["p50_us"] > 0 for v in variants.values())
    assert variants["nofsync"]["p50_ratio_vs_a"] == 1.0


def test_quick_run_never_overwrites_the_committed_results() -> None:
    """``run_all.py --quick`` writes bench/quick/; bench/RESULTS.md and results/ stay as committed."""
    bench = REPO / "bench"
    committed = {p: p.read_bytes() for p in [bench / "RESULTS.md", *(bench / "results").glob("*.json")]}
    proc = subprocess.run([PYTHON, str(bench / "run_all.py"), "--quick", "--only",
                           "determinism_overhead"], capture_output=True, text=True, timeout=300,
                          cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {p: p.read_bytes() for p in committed} == committed
    quick = bench / "quick"
    assert "determinism_overhead" in (quick / "RESULTS.md").read_text()
    assert json.loads((quick / "determinism_overhead.json").read_text())


# ---------------------------------------------------------------- bench/peers.py

PEERS = REPO / "bench" / "peers.py"
# seed 11 puts a downward jump inside the first 8 000 ticks: the stop path is exercised;
# two runs of each system, which must trade alike (the script refuses otherwise)
PEERS_ARGS = ["--ticks", "8000", "--seed", "11", "--repeat", "2"]
# runs the script with nautilus_trader unimportable, whether or not it is installed
HIDE_NAUTILUS = ("import runpy, sys; sys.modules['nautilus_trader'] = None; "
                 "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")


def _run_peers(tmp_path: Path, *python_args: str) -> tuple[dict, str]:
    env = {**os.environ, "TRIOTRADE_BENCH_RESULTS": str(tmp_path)}
    proc = subprocess.run([PYTHON, *python_args, str(PEERS), *PEERS_ARGS], capture_output=True,
                          text=True, timeout=300, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads((tmp_path / "peers.json").read_text()), proc.stdout


def _trades(row: dict) -> tuple[int, int, int, int]:
    return row["trades"], row["stop_exits"], row["signal_exits"], row["realized_cents"]


def _check_peers_shape(data: dict) -> dict[str, dict]:
    assert data["benchmark"] == "peers"
    assert data["ticks"] == 8000 and data["seed"] == 11 and data["repeat"] == 2
    assert data["triotrade_violations"] == 0
    rows = {r["system"].split(" ")[0].rstrip(","): r for r in data["rows"]}
    assert set(rows) == {"triotrade", "NautilusTrader", "plain"}
    assert [r["system"] for r in data["rows"]][:2] == [
        "triotrade, full kernel + invariant checker", "triotrade, full kernel, no checker"]
    assert set(data["ratios"]) == {"full_vs_nautilus", "no_checker_vs_nautilus",
                                   "full_vs_plain_loop", "no_checker_vs_plain_loop"}
    plain = rows["plain"]
    assert plain["stop_exits"] >= 1 and plain["signal_exits"] >= 1
    for row in data["rows"][:2]:  # both kernel runs trade exactly like the plain loop,
        # at the same prices (the realized P&L of the closed trades is equal)
        assert row["ticks"] == 8000 and row["ticks_per_s"] > 0
        assert _trades(row) == _trades(plain)
    return rows


def test_peers_smoke(tmp_path: Path) -> None:
    """With whatever is installed: the kernel and the plain loop agree trade for trade, and
    NautilusTrader either ran (and agrees too) or says how to install it."""
    data, stdout = _run_peers(tmp_path)
    rows = _check_peers_shape(data)
    nautilus = rows["NautilusTrader"]
    if data["nautilus_trader"] is None:
        assert nautilus["skipped"] == "skipped: pip install -e '.[peers]'"
        assert "skipped: pip install -e '.[peers]'" in stdout
        assert data["ratios"]["full_vs_nautilus"] is None
    else:
        plain = rows["plain"]
        assert _trades(nautilus)[:3] == _trades(plain)[:3]
        # its one known difference: a stop a jump went through fills at the trigger price
        assert nautilus["realized_cents"] == plain["realized_at_trigger_cents"]
        assert plain["realized_at_trigger_cents"] > plain["realized_cents"]
        assert nautilus["ticks_per_s"] > 0 and data["ratios"]["full_vs_nautilus"] > 0
    assert "trades and exits: the same in every column" in stdout


def test_peers_without_nautilus_still_runs_the_others(tmp_path: Path) -> None:
    data, stdout = _run_peers(tmp_path, "-c", HIDE_NAUTILUS)
    rows = _check_peers_shape(data)
    assert data["nautilus_trader"] is None
    assert rows["NautilusTrader"] == {"system": "NautilusTrader BacktestEngine",
                                      "skipped": "skipped: pip install -e '.[peers]'"}
    assert data["ratios"]["full_vs_nautilus"] is None
    assert data["ratios"]["full_vs_plain_loop"] > 0
    assert "realized P&L: the same in every column" in stdout
    assert "NautilusTrader BacktestEngine" in stdout and "skipped: pip install" in stdout


def test_peers_dataset_is_the_same_everywhere() -> None:
    """The generated ticks are integer-only: pinned by hash, with the jumps that make stops."""
    spec = importlib.util.spec_from_file_location("bench_peers", PEERS)
    assert spec is not None and spec.loader is not None
    peers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peers)
    prices = peers.make_prices(20_000, 7)
    assert len(prices) == 20_000 and prices[0] == 10_000
    digest = hashlib.sha256(",".join(map(str, prices)).encode()).hexdigest()
    assert digest == "1652851c3aaee4773e18f3c2d5bf5ee5e8128ae65876dfab42ee4e97de74c9a3"
    jumps = sum(1 for a, b in zip(prices, prices[1:]) if abs(b - a) * 100 >= 3 * a)
    assert 2 <= jumps <= 8  # about one every 5 000 ticks
