"""Fuzz rate: whole-scenario examples per second with 1 and 2 worker processes.

Each example is one deterministic simulator run of a Hypothesis-generated scenario
(the standard fuzz scenario size), with every invariant checked on every event. The
baseline measured in the same run is the 1-worker rate; 2 workers should approach 2x
on 2 cores.

    python bench/fuzz_rate.py [--examples 400] [--seed 1]
"""
from __future__ import annotations

import argparse
import os
import json
import platform
import sys
import tempfile
from pathlib import Path

from triotrade.sim import fuzz

# run_all.py --quick points this elsewhere, so smoke runs never overwrite the committed results
RESULTS = Path(os.environ.get("TRIOTRADE_BENCH_RESULTS") or Path(__file__).resolve().parent / "results")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=400)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rows = []
    for workers in (1, 2):
        with tempfile.TemporaryDirectory():
            res = fuzz.campaign(args.examples, args.seed, workers=workers)
        rows.append({"workers": workers, "examples": res.examples, "runs": res.runs,
                     "seconds": round(res.seconds, 2), "examples_per_s": round(res.rate, 1),
                     "per_worker_per_s": round(res.rate / workers, 1),
                     "violations": sum(res.hits.values())})
    base = rows[0]["examples_per_s"] or 1.0
    print(f"{'workers':>7} {'examples':>8} {'ex/s':>8} {'per worker':>10} {'speed-up':>8} {'finds':>5}")
    for r in rows:
        r["speedup_vs_1_worker"] = round(r["examples_per_s"] / base, 2)  # type: ignore[operator]
        print(f"{r['workers']:>7} {r['examples']:>8} {r['examples_per_s']:>8} "
              f"{r['per_worker_per_s']:>10} {r['speedup_vs_1_worker']:>8} {r['violations']:>5}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fuzz_rate.json").write_text(json.dumps(
        {"benchmark": "fuzz_rate", "python": platform.python_version(), "rows": rows},
        indent=2) + "\n")
    sys.exit(0)


if __name__ == "__main__":
    main()
