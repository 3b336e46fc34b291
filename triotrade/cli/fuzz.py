"""``triotrade fuzz``: Hypothesis hunts invariant breaks; each is shrunk into a scenario file.

Kept apart from cli.py (which registers it) so the other commands stay as they are;
everything heavy is imported when the command runs.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import click

DEFAULT_OUT = "fuzz-finds"


def _parse_budget(text: str | None) -> float | None:
    if text is None:
        return None
    from ..kernel.units import NS_PER_S, UnitError, parse_duration

    t = text.strip()
    try:
        seconds = float(t) if t.replace(".", "", 1).isdigit() else parse_duration(t) / NS_PER_S
    except UnitError:
        raise click.BadParameter(f"{text!r} is not a duration (e.g. 90s, 10m, 1h, or seconds)",
                                 param_hint="--time-budget") from None
    if seconds <= 0:
        raise click.BadParameter("must be positive", param_hint="--time-budget")
    return seconds


def _weakening_names() -> list[str]:
    # the names only (importing sim.fuzz here would slow down every CLI start)
    return ["fill_time_exposure_check", "naive_exposure", "single_exit_lock", "emergency_once",
            "forget_on_restart", "no_restart_reconciliation"]


@click.command()
@click.option("--examples", "-n", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Examples to generate, in total over all workers (one example = one "
              "simulated run; shrinking a find adds runs).")
@click.option("--seed", type=int, default=None,
              help="Campaign seed: the same seed explores the same examples. Default: a "
              "fresh one, printed so the campaign can be repeated.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path(DEFAULT_OUT), show_default=True,
              help="Where shrunk finds are written (one scenario YAML per broken invariant, "
              "plus finds.json).")
@click.option("--workers", "-j", type=click.IntRange(min=0), default=None,
              help="Worker processes (default: the number of CPUs, at most 8; 0 runs in this "
              "process).")
@click.option("--time-budget", "time_budget", default=None, metavar="DURATION",
              help="Stop after this long (90s, 10m, 1h; a plain number is seconds), even if "
              "fewer examples ran.")
@click.option("--weaken", type=click.Choice(_weakening_names()), default=None,
              help="Self-test: fuzz a kernel with one protection removed (a test seam) to "
              "see the fuzzer find the break. Finds are written as usual; they pass on the "
              "real kernel.")
@click.option("--shrink-runs", type=click.IntRange(min=0), default=600, show_default=True,
              help="Simulated runs spent shrinking each find, at most.")
def fuzz(examples: int, seed: int | None, out_dir: Path, workers: int | None,
         time_budget: str | None, weaken: str | None, shrink_runs: int) -> None:
    """Fuzz the kernel's invariants with Hypothesis-generated scenarios.

    Each example is a whole scenario (1-3 instruments; market walks, explicit ticks, gaps,
    halts; signal bursts, duplicate and stale news, tickers found at run time; a swarm of
    faults: latency, rejects, no-fill windows, partial fills, disconnects, duplicate
    reports; sizing, exits and risk limits; the run seed, which drives trio's scheduler,
    the walks and the faults), run once in the deterministic simulator with every
    invariant checked on every journal event.

    \b
    A break is shrunk to a small scenario and written to OUT as a YAML file whose
    `expect:` says the invariant must hold, so that
      triotrade run OUT/<invariant>-<hash>.yaml
    fails (exit 1, same digest in any process) while the bug is there and passes once it
    is fixed. Fix the bug, then move the file into scenarios/regressions/ (CI runs every
    scenario there). OUT/finds.json lists the files with their digests.

    \b
    Examples:
      triotrade fuzz                                # 2000 examples on every CPU
      triotrade fuzz -n 20000 -j 2 --seed 7         # a reproducible campaign
      triotrade fuzz --time-budget 10m -n 1000000   # as many as fit in ten minutes
      triotrade fuzz --weaken single_exit_lock -n 300   # watch it find a planted bug

    Exit status: 0 nothing broken, 1 something was found (see the table), 2 bad usage.
    """
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn,
                               TextColumn, TimeElapsedColumn, TimeRemainingColumn)
    from rich.table import Table

    from ..sim import fuzz as fz

    budget = _parse_budget(time_budget)
    if seed is None:
        seed = int.from_bytes(os.urandom(4), "big")  # the campaign's choice, printed below
    if workers is None:
        workers = fz.default_workers()
    out = Console(highlight=False, soft_wrap=True, markup=False,
                  width=None if sys.stdout.isatty() else 110)
    err = Console(stderr=True, highlight=False)
    what = f" against a kernel weakened with {weaken!r}" if weaken else ""
    out.print(f"fuzzing{what}: {examples} examples, {workers or 'no'} worker process(es), "
              f"seed {seed}" + (f", budget {time_budget}" if budget else ""))
    out.print(f"  repeat with: triotrade fuzz -n {examples} --seed {seed}"
              + (f" --weaken {weaken}" if weaken else ""))

    stats = {"examples": 0, "runs": 0, "hits": 0}
    started = time.monotonic()
    progress = Progress(
        SpinnerColumn(), TextColumn("[bold]fuzz"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>6.1f} ex/s"),
        TextColumn("violations: {task.fields[hits]}"),
        TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=False,
        disable=not err.is_terminal)
    task = progress.add_task("fuzz", total=examples, rate=0.0, hits=0)

    def tick(e: int, r: int, h: int) -> None:
        stats["examples"] += e
        stats["runs"] += r
        stats["hits"] += h
        elapsed = max(time.monotonic() - started, 1e-9)
        progress.update(task, advance=e, rate=stats["examples"] / elapsed, hits=stats["hits"])

    try:
        with progress:
            res = fz.campaign(examples, seed, workers=workers, weaken=weaken,
                              time_budget=budget, progress=tick,
                              shrink_runs=shrink_runs)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)

    written = []
    for find in res.finds:
        w = fz.write_find(find, out_dir, weaken=weaken, campaign_seed=seed)
        res.written.append(w)
        written.append({"file": w.path, "invariant": w.invariant, "detail": find.detail,
                        "digest": w.digest, "reproduced": w.reproduced,
                        "campaign_seed": seed, "batch_seed": find.batch_seed,
                        "weakening": weaken})
    if written:
        fz.record_index(out_dir, written)

    out.print(f"ran {res.examples} examples ({res.runs} simulated runs with shrinking) in "
              f"{res.seconds:.1f}s: {res.rate:.1f} examples/s on {max(workers, 1)} "
              f"process(es)" + (" (stopped: time budget reached)" if res.stopped_by_budget else ""))
    if res.hits:
        table = Table(title="invariants broken", title_justify="left")
        for col in ("invariant", "examples", "shrunk scenario", "reproduced", "digest"):
            table.add_column(col, justify="right" if col == "examples" else "left",
                             overflow="fold")
        by_inv = {w.invariant: w for w in res.written}
        for name, n in sorted(res.hits.items(), key=lambda kv: -kv[1]):
            w = by_inv.get(name)
            table.add_row(name, str(n), w.path if w else "(not shrunk: see note)",
                          ("yes" if w.reproduced else "NO") if w else "-",
                          (w.digest[:23] + "...") if w and w.digest else "-")
        out.print(table)
        if any(name not in by_inv for name in res.hits):
            out.print("  note: an invariant broken only while another was being shrunk is "
                      "counted but not shrunk; run again to shrink it on its own.")
    cov = Table(title="coverage (examples that had it)", title_justify="left")
    cov.add_column("feature / event")
    cov.add_column("examples", justify="right")
    cov.add_column("%", justify="right")
    for key, n in fz.coverage_rows(res):
        cov.add_row(key, str(n), f"{100 * n / max(res.examples, 1):.0f}")
    out.print(cov)
    if res.finds:
        out.print(f"result: FOUND {len(res.finds)} broken invariant(s); shrunk scenarios in "
                  f"{out_dir}/ (fix, then move them into scenarios/regressions/)")
        sys.exit(1)
    if res.hits:  # only known-to-this-campaign invariants (cannot happen without finds)
        sys.exit(1)
    out.print(f"result: OK, no invariant broken in {res.examples} examples")
    sys.exit(0)


def register(main: Any) -> None:
    main.add_command(fuzz)
