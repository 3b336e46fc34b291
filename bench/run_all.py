"""Run every benchmark and regenerate bench/RESULTS.md from their JSON results.

    python bench/run_all.py            # the full suite (several minutes on 2 cores)
    python bench/run_all.py --quick    # smaller sizes, to check that everything runs;
                                       # writes bench/quick/ (not the committed results)

Each benchmark pairs its figures with a baseline measured in the same run (the plain
Python loop, the smaller run, the non-deterministic scheduler, a bare thread hop), so
the ratios mean something on any machine; absolute numbers depend on the machine.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
QUICK_RESULTS = HERE / "quick"  # smoke numbers never overwrite the committed ones

FULL = {
    "sim_throughput": ["--ticks", "1000000", "--tickers", "1", "10", "100", "1000"],
    "memory": ["--sizes", "1000000", "10000000"],
    "determinism_overhead": ["--ticks", "1000000", "--repeat", "3"],
    "fuzz_rate": [],

    # 2 000 per variant (three variants, interleaved): with 10 000 the loopback gateway's
    # paper account runs out of margin after ~3 000-3 300 cycles (each one loses a little)
    "live_latency": ["--events", "2000"],
    "peers": ["--ticks", "200000", "--repeat", "3"],
    "plugin_data": ["--ticks", "1000000", "--repeat", "3"],
}
QUICK = {
    "sim_throughput": ["--ticks", "100000", "--tickers", "1", "10", "100"],
    "memory": ["--sizes", "100000", "300000"],
    "determinism_overhead": ["--ticks", "100000", "--repeat", "1"],
    "fuzz_rate": ["--examples", "60"],
    "live_latency": ["--events", "300"],
    "peers": ["--ticks", "20000"],
    "plugin_data": ["--ticks", "100000", "--repeat", "1"],
}

TARGETS = {
    "sim_throughput": ">= 450 k ticks/s through the full kernel with the checker, >= 600 k "
                      "without (1 ticker); 1 000 tickers x 1 000 ticks >= 0.8x the one-ticker "
                      "rate (\"vs 1\": with/without the checker)",
    "memory": "flat peak RSS from 1 M to 10 M ticks",
    "determinism_overhead": "(reported, no target)",
    "fuzz_rate": ">= 100 examples/s per worker",
    "live_latency": "p99 < 1 ms, tick in the adapter -> exit order on the socket",
    "peers": ">= 20x NautilusTrader",
    "plugin_data": "strategy loaded from a file within 5 % of the built-in; CSV replay >= 70 % "
                   "of the speed of the same ticks generated in memory",
}


ANALYSIS = """## Where the simulation's time goes (issue 18: the trade path)

Done so far (each step measured against the commit before it in the same run, and
every recorded scenario digest unchanged):

1. A synchronous order hand-off (kernel/handoff.py): an order-queue pass that waits
   for nothing (no stagger, no max_order_rate wait, no other task runnable) runs right
   after the event that asked for it, through the same code, instead of waking the
   queue's trio task. A 200 k-tick peers run resumes the engine twice instead of
   ~6 800 times. It gained less than the old estimate (~5 %): on this workload a trio
   round trip was ~12 us per action, not the dominant cost.
2. The journal: cached per-shape key prefixes, SHA-256 over batches of lines (same
   bytes, same digest); the catalogue check remembers shapes that passed.
3. The invariant checker: a dispatch table by event type, the journal's decimal text
   read by integer arithmetic, its P&L replay in ints until a division is inexact (as
   kernel/positions.py), the exit-liveness deadlines looked at only once the earliest
   has passed (with 1 000 tickers it walked every exiting ticker on every event).
4. The monitor's exit levels kept until the position or the high-water mark moves,
   the percentage distances by integer arithmetic where Decimal's 28 digits are exact
   (the same number).
5. The simulator's full garbage collection before it freezes the prepared tick path
   runs on the first run of a process and every 16th after, the young generations on
   every run: it walked the whole heap, 100-170 ms per run on this machine (a sixth of
   a 200 k-tick run; a fixed cost, so it mostly flattered longer runs).

Together, measured with CPU time against /work/main in the same run (alternating, so
the shared machine's load falls on both): the 200 k-tick peers workload 1.5x without
the checker and 1.7x with it; the 1 M-tick sim_throughput workload (one ticker)
334 k vs 225 k ticks/s without the checker (1.48x) and 234 k vs 144 k with it
(1.62x); 1 000 tickers x 1 000 ticks unchanged (56 k vs 56-63 k: pacing-bound, below).
The absolute targets of issue 18 (600 k / 450 k ticks/s, 20x NautilusTrader) are not
met on this shared machine (load average 4-5 on 2 cores during this run; the tables
above are wall-clock figures of that run). cProfile over
the 200 k-tick peers workload (2 273 trades, one per 88 ticks; checker on), shares of
the profiled run:

* the tick path without the strategy, ~30 %: the engine's pump, the venue's
  deliver_tick (book update) and the ticker's on_quote (bar, gap detector, HWM);
* the MA 20/50 strategy itself, ~7 % (what the plain loop runs);
* the position monitor, ~20 %: this workload checks the stop on every tick
  (check_interval = the tick interval), so half of all ticks also pop a timer, run
  check_exits and push the next timer: 103 k fires;
* execution reports, ~25 %: on_report, fills, positions, their journal lines and the
  checker reading them back (4 reports, ~12 journal events per trade);
* the order actions the hand-off runs, ~12 % (order_submitted, the venue's arrival);
* the invariant checker, ~12 % (inside the two items above), the JSON encoding ~6 %.

1 000 tickers x 1 000 ticks stays well below 0.8x of the one-ticker rate: the
workload's max_order_rate (1 000 per second) binds there (~1 600 orders per second
are asked for), so entries and exits wait in the pacing loop, each wait a trio
round trip, and every order queue is woken for real again. Fuzzing (below 100
examples/s per worker) spends about half its time in Hypothesis drawing the scenario
and about a third in the runs.

The next design changes, in order of what they take off:

1. The stop as a level, not a timer: when a position opens, the kernel computes the
   trigger prices once and the tick path compares the mark to them (one integer
   compare per tick), or the stop rests at the venue (the venue-stop work); the timer
   chain stays for hold_time and the max-loss check at check_interval. About 15 % here.
2. Typed events on the report path: the kernel hands the checker (and the summary) a
   small typed record per event before any text is formatted, and the journal formats
   and hashes them in batches (write-behind), so a fill is not formatted to text and
   parsed back per listener. About 15-20 %.
3. One call per tick: fuse the venue's deliver_tick and the ticker's on_quote for the
   common case (no data latency, one handler), and keep the bar and gap state in one
   slotted object. About 10 %.
4. Pacing without a task per wait: the order-rate window keeps one timer for the
   earliest free slot and hands slots to the waiting queues in order, instead of every
   waiting queue sleeping and re-checking (the 1 000-ticker case).
5. Fuzzing: generate scenario bodies once per shape and draw only their numbers, or
   run several examples per generated body (Hypothesis's own share is ~50 %).

Memory: peak RSS had come to grow from 1 M to 10 M ticks (1.42x in the first run of
this regeneration, and the same growth on /work/main: 1 M -> 3 M ticks 1.087x there,
1.086x here) since the checker kept every order id ever sent as a string
(order_id_unique); it keeps them as runs of consecutive numbers now (sim/idset.py)
and the memory section above is flat again (1.010x; that run overlapped the scenario
tests, hence its low ticks/s). live_latency runs 2 000 events: with 10 000 the loopback
gateway's paper account runs out of margin after ~3 000-3 300 cycles, on /work/main as
well; its p99 in this run misses 1 ms on both trees alike (the machine's load: a task
waited for a CPU ~89 % of the run), with the kernel's own share (quote_in -> submit)
at p50 120 us here vs 134 us on main, 2 000 events each, measured back to back.

The live path is unchanged by these steps: live venues keep the order queue task
(their submit crosses a thread and a socket), and the journal's durable per-line
flush is untouched.
"""


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}; load average at start {load:.2f}")


def run(name: str, args: list[str], results: Path) -> tuple[bool, str, float]:
    script = HERE / f"{name}.py"
    if not script.exists():
        return False, f"(no {script.name} yet)", 0.0
    env = {**os.environ, "TRIOTRADE_BENCH_RESULTS": str(results)}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          env=env)
    took = time.perf_counter() - t0
    out = proc.stdout.strip()
    if proc.returncode != 0:
        out += "\n" + proc.stderr.strip()[-2000:]
    return proc.returncode == 0, out, took


def _splice(old: str, sections: list[str]) -> str:
    """``old`` RESULTS.md with each of ``sections`` (``## name ...``) in place of the
    section of the same name, or appended before the analysis when it is new."""
    parts = old.split("\n## ")
    head, rest = parts[0], ["## " + p for p in parts[1:]]
    for section in sections:
        title = section.split("\n", 1)[0]
        for i, existing in enumerate(rest):
            if existing.split("\n", 1)[0] == title:
                rest[i] = section
                break
        else:
            at = next((i for i, p in enumerate(rest) if p.startswith("## Where")), len(rest))
            rest.insert(at, section)
    return "\n".join([head.rstrip("\n") + "\n", *[p.rstrip("\n") + "\n" for p in rest]])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", nargs="*", help="run only these benchmarks")
    args = ap.parse_args()
    plan = QUICK if args.quick else FULL
    results = QUICK_RESULTS if args.quick else RESULTS
    results.mkdir(parents=True, exist_ok=True)
    sections = []
    header = machine()
    for name, bench_args in plan.items():
        if args.only and name not in args.only:
            continue
        print(f"== {name} {' '.join(bench_args)}", flush=True)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        ok, out, took = run(name, bench_args, results)
        print(out, flush=True)
        cmd = f"python bench/{name}.py {' '.join(bench_args)}".strip()
        data = results / f"{name}.json"
        sections.append(
            f"## {name}\n\nTarget: {TARGETS[name]}.\n\nReproduce: `{cmd}` ({took:.0f} s here, "
            f"load average {load:.2f} at its start)"
            f"{'' if ok else ' -- FAILED or missing'}\n\n```\n{out}\n```\n"
            + (f"\nRaw: `{data.relative_to(HERE.parent)}`\n" if data.exists() and ok else ""))
    text = ("# Benchmark results\n\n"
            f"Generated by `python bench/run_all.py{' --quick' if args.quick else ''}` on: "
            f"{header}.\n\nEvery figure is paired with a baseline measured in the same run; "
            "the machine is shared, so absolute numbers move with load, ratios much less.\n\n"
            + "\n".join(sections)
            + ("\n" + ANALYSIS if not args.only or "sim_throughput" in args.only else ""))
    out = (QUICK_RESULTS if args.quick else HERE) / "RESULTS.md"
    if args.only and out.exists():
        text = _splice(out.read_text(), sections)  # --only: the other sections stay
    out.write_text(text)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
