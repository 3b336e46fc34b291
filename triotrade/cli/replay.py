"""``triotrade replay JOURNAL``: a recorded live session, re-run in the simulator.

Prints the decision diff (``triotrade/replay/``). Exit 0 when the replayed kernel
made the live kernel's decisions, 1 when it did not (the first divergence explained),
2 for input that cannot be replayed (not a journal, truncated, its recording missing,
a strategy file gone), with the file and the place named.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from .exits import Exit, exit_for


def register(main: click.Group) -> None:
    @main.command()
    @click.argument("journal", type=click.Path(path_type=Path))
    @click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
                  help="write the scenario here (its market data files beside it), to keep "
                       "as an incident file for `triotrade run`")
    @click.option("--seed", type=int, default=0, show_default=True, help="the replay's seed")
    @click.option("--mode", type=click.Choice(["execution", "estimated"]), default="execution",
                  show_default=True,
                  help="execution: the live session's own reports answer the orders (the "
                       "replay isolates the kernel); estimated: the simulator fills them "
                       "with a venue estimated from the recording")
    def replay(journal: Path, output: Path | None, seed: int, mode: str) -> None:
        """Replay a recorded live JOURNAL in the simulator and diff the decisions.

        The scenario written by -o uses the estimated venue (execution mode needs the
        journal's reports); it passes `triotrade check` and runs deterministically.
        """
        from ..replay.replayer import replay as run_replay

        try:
            result = run_replay(journal, out=output, seed=seed, mode=mode)
        except Exception as exc:  # noqa: BLE001 - exit_for decides; anything else is a bug
            outcome = exit_for(exc)
            if outcome is None:
                raise
            code, lines = outcome
            for line in lines:
                click.echo(line, err=True)
            sys.exit(code)
        for line in result.lines():
            click.echo(line)
        if output is not None:
            click.echo(f"scenario: {output} (triotrade run {output})")
        sys.exit(Exit.OK if result.diff.matches else Exit.FAILED)
