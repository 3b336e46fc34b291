"""Memory: peak RSS of the full-kernel MA-cross workload at 1 M and 10 M ticks.

Each size runs in a fresh process (peak RSS is per process); the path is generated
on the fly and the journal goes to a file, as in a real long run. Flat means the
10 M-tick peak is within a small margin of the 1 M-tick peak: no per-tick growth.

    python bench/memory.py [--sizes 1000000 10000000]
"""
from __future__ import annotations

import argparse
import os
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
# run_all.py --quick points this elsewhere, so smoke runs never overwrite the committed results
RESULTS = Path(os.environ.get("TRIOTRADE_BENCH_RESULTS") or HERE / "results")

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {here!r})
from workloads import ma_cross_scenario
from triotrade.sim import runner
n = int(sys.argv[1])
scn = ma_cross_scenario(n, 1)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
r = runner.run(scn, journal_path=sys.argv[2], keep_events=False)
el = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"ticks": r.ticks, "rss_before_kib": before, "peak_rss_kib": peak,
                  "seconds": round(el, 2), "ticks_per_s": round(r.ticks / el),
                  "violations": len(r.violations)}}))
"""


def measure(n: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, "-c", CHILD.format(here=str(HERE)), str(n),
                              str(Path(tmp) / "journal.jsonl")],
                             check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    args = ap.parse_args()
    rows = [measure(n) for n in args.sizes]
    base = rows[0]["peak_rss_kib"]
    print(f"{'ticks':>10} {'peak RSS MiB':>13} {'vs smallest':>12} {'ticks/s':>10}")
    for r in rows:
        r["ratio_vs_smallest"] = round(r["peak_rss_kib"] / base, 3)  # type: ignore[operator]
        print(f"{r['ticks']:>10} {r['peak_rss_kib'] / 1024:>13.1f} "  # type: ignore[operator]
              f"{r['ratio_vs_smallest']:>12.3f} {r['ticks_per_s']:>10,}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "memory.json").write_text(json.dumps(
        {"benchmark": "memory", "python": platform.python_version(), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
