"""Parameter sweeps: a grid of ``--set`` overrides times run seeds, one deterministic run per cell.

A cell is a list of overrides and a seed; running it is exactly
``triotrade run FILE --set P1=V1 --set P2=V2 --seed S`` (same loader, same
overrides function, same runner), so its digest is that run's digest. A cell's task
carries the scenario's *bytes*, not its path, so it can run on a machine that has
never seen the file; the result is plain data (a row of the sweep's table): the run
report's metrics (``triotrade.report``), the expectation result, the invariant
violations and the digest.

What runs the cells (local processes, a Dask cluster) is the caller's business: this
module is pure and deterministic apart from the run's journal, which goes to a
temporary file for the report and is deleted.
"""
from __future__ import annotations

import contextlib
import hashlib
import itertools
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import attrs

from .kernel.errors import InputError
from .sim import runner, scenario
from .sim.overrides import SOURCE as OVERRIDE_SOURCE
from .sim.overrides import OverrideError, format_path, parse_override, parse_path

SOURCE = "--param"


def split_values(text: str) -> list[str]:
    """``1,2,[3,4]`` -> ``["1", "2", "[3,4]"]``: commas inside brackets or quotes stay."""
    out: list[str] = []
    depth, quote, cur = 0, "", ""
    for ch in text:
        if quote:
            cur += ch
            if ch == quote:
                quote = ""
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        cur += ch
    out.append(cur.strip())
    return out


@attrs.frozen
class Param:
    """One swept key path and the value texts it takes, in the order given."""

    path: str
    values: tuple[str, ...]


def parse_param(spec: str) -> Param:
    """``PATH=V1,V2,...`` (InputError, located, when malformed)."""
    path, eq, rest = spec.partition("=")
    if not eq or not rest.strip():
        raise InputError(SOURCE, [(spec.strip(), "expected KEY.PATH=V1,V2,...")])
    try:
        keys = parse_path(path)
    except ValueError as exc:
        raise InputError(SOURCE, [(path.strip(), str(exc))]) from None
    values = split_values(rest)
    if any(v == "" for v in values):
        raise InputError(SOURCE, [(format_path(keys), f"an empty value in {rest!r}")])
    if len(set(values)) != len(values):
        raise InputError(SOURCE, [(format_path(keys), f"a value given twice in {rest!r}")])
    with _said_as_param():
        for v in values:
            parse_override(f"{path}={v}")  # each value must be YAML (OverrideError, located)
    return Param(format_path(keys), tuple(values))


@contextlib.contextmanager
def _said_as_param() -> Iterator[None]:
    """Problems the ``--set`` machinery finds, said as the sweep's user wrote them: a
    value comes from ``--param``, so the error names ``--param``, not ``--set``."""
    try:
        yield
    except InputError as exc:
        source = SOURCE if exc.source == OVERRIDE_SOURCE else exc.source
        problems = [(where, msg.replace(f"(set by {OVERRIDE_SOURCE} ", f"(set by {SOURCE} "))
                    for where, msg in exc.problems]
        raise type(exc)(source, problems) from None


@attrs.frozen
class Cell:
    """One point of the grid: its overrides (path, value text) and its run seed."""

    id: int
    settings: tuple[tuple[str, str], ...]
    seed: int

    @property
    def overrides(self) -> tuple[str, ...]:
        return tuple(f"{p}={v}" for p, v in self.settings)

    @property
    def command(self) -> str:
        """The single run this cell is (its digest is that run's)."""
        sets = " ".join(f"--set '{o}'" for o in self.overrides)
        return f"triotrade run FILE {sets} --seed {self.seed}".replace("  ", " ")


def grid(params: Sequence[Param], seeds: Sequence[int]) -> list[Cell]:
    """The cartesian product of the params' values (first param outermost) times seeds
    (innermost); ids count from 0 in that order."""
    paths = [p.path for p in params]
    if len(set(paths)) != len(paths):
        raise InputError(SOURCE, [(p, "swept twice") for p in paths if paths.count(p) > 1][:1])
    if not seeds:
        raise InputError("--seeds", [("", "at least one seed")])
    cells: list[Cell] = []
    for combo in itertools.product(*(p.values for p in params)):
        for s in seeds:
            cells.append(Cell(len(cells), tuple(zip(paths, combo)), s))
    return cells


@attrs.frozen
class CellTask:
    """Everything a worker needs to run one cell, by value."""

    cell: Cell
    scenario_name: str  # the file's name, for messages
    scenario_bytes: bytes
    sweep_id: str  # the hash of scenario and grid: keys a cell's task on a cluster

    @property
    def key(self) -> str:
        return f"triotrade-cell-{self.sweep_id}-{self.cell.id}"


def sweep_id(scenario_bytes: bytes, cells: Iterable[Cell]) -> str:
    h = hashlib.sha256(scenario_bytes)
    for c in cells:
        h.update(repr((c.id, c.settings, c.seed)).encode())
    return h.hexdigest()[:16]


def tasks(path: str | Path, cells: Sequence[Cell]) -> list[CellTask]:
    raw = Path(path).read_bytes()
    sid = sweep_id(raw, cells)
    return [CellTask(c, Path(path).name, raw, sid) for c in cells]


def check_cells(path: str | Path, cells: Sequence[Cell]) -> None:
    """Load the scenario with every distinct value of every param (ScenarioError or
    OverrideError, located, before anything runs): a bad value fails the sweep up front,
    not in the middle of a cluster."""
    raw = Path(path).read_bytes()
    seen: set[tuple[tuple[str, str], ...]] = set()
    for c in cells:
        if c.settings in seen:
            continue
        seen.add(c.settings)
        with _said_as_param():
            scenario.loads(raw, str(path), [parse_override(o) for o in c.overrides])


METRICS = ("net_pnl", "fees", "max_drawdown", "sharpe", "win_rate", "trades")


def run_cell(task: CellTask) -> dict[str, Any]:
    """Run one cell; its row: cell id, settings, seed, metrics, expectation, violations,
    digest. Plain data only (it crosses process and machine boundaries)."""
    from .report import build  # the report code computes the metrics, as for `report`

    cell = task.cell
    scn = scenario.loads(task.scenario_bytes, task.scenario_name,
                         [parse_override(o) for o in cell.overrides])
    with tempfile.TemporaryDirectory(prefix="triotrade-cell-") as tmp:
        journal = Path(tmp) / "journal.jsonl"
        result = runner.run(scn, cell.seed, journal)
        total = build(journal).total.as_json()
    failed = [c.name for c in result.checks if not c.ok]
    row: dict[str, Any] = {"cell": cell.id}
    for path, value in cell.settings:
        row[path] = value
    row["seed"] = cell.seed
    row.update({name: total.get(name) for name in METRICS})  # money as exact text
    row.update({
        "expect_ok": not failed,
        "expect_failed": "; ".join(failed),
        "violations": "; ".join(f"{v['invariant']}: {v['detail']}" for v in result.violations),
        "digest": result.digest,
    })
    return row


__all__ = ["Param", "Cell", "CellTask", "parse_param", "split_values", "grid", "tasks",
           "sweep_id", "check_cells", "run_cell", "METRICS", "OverrideError"]
