"""Determinism overhead: the same run with and without trio's deterministic scheduler.

    python bench/determinism_overhead.py [--ticks 1000000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workloads import ma_cross_scenario, path_ticks  # noqa: E402

from triotrade.sim import runner  # noqa: E402

# run_all.py --quick points this elsewhere, so smoke runs never overwrite the committed results
RESULTS = Path(os.environ.get("TRIOTRADE_BENCH_RESULTS") or Path(__file__).resolve().parent / "results")


def best_of(repeat: int, fn) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ticks", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    scn = ma_cross_scenario(args.ticks, 1)
    path = path_ticks(scn, scn.seed)
    det = best_of(args.repeat, lambda: runner.run(scn, keep_events=False, ticks=path))
    free = best_of(args.repeat, lambda: runner.run(scn, keep_events=False, ticks=path,
                                                   deterministic_scheduler=False))
    row = {"ticks": len(path), "deterministic_s": round(det, 3),
           "nondeterministic_s": round(free, 3), "overhead_ratio": round(det / free, 3)}
    print(f"deterministic {det:.3f}s   trio default {free:.3f}s   ratio {det / free:.3f}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "determinism_overhead.json").write_text(json.dumps(
        {"benchmark": "determinism_overhead", "python": platform.python_version(),
         "rows": [row]}, indent=2) + "\n")


if __name__ == "__main__":
    main()
