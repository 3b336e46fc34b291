"""The benchmarks run: each script, at a tiny size, in a subprocess. No timing asserted."""
from __future__ import annotations

import json
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
