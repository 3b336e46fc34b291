"""One replay: read the recording, build the scenario, run it, diff the decisions."""
from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any

import attrs

from ..kernel.restore import read_day
from ..kernel.units import parse_duration
from ..sim import runner
from ..sim import scenario as scenario_mod
from . import decisions, diff, recording, scenario_builder
from .exec_venue import RecordedReportsVenue, plan_of

MODES = ("execution", "estimated")
MIN_TOLERANCE_NS = 250_000_000


@attrs.define
class Replay:
    rec: recording.Recording
    built: scenario_builder.Built
    result: runner.RunResult
    diff: diff.DecisionDiff
    mode: str
    tolerance_ns: int
    unsent: list[str]

    def lines(self) -> list[str]:
        title = (f"replay of {self.rec.path} ({self.rec.venue}) in {self.mode} mode: "
                 f"{len(self.live)} live decisions, {len(self.replayed)} replayed "
                 f"(times within {diff.secs(self.tolerance_ns)} agree)")
        head = [f"note: {n}" for n in self.built.notes]
        if self.mode == "estimated":
            head = [f"venue: {n}" for n in self.built.estimate.notes] + head
        head += [f"changed: {c}" for c in self.built.changes]
        return head + diff.render(self.diff, title)

    @property
    def live(self) -> list[decisions.Decision]:
        return decisions.extract(self.rec.events, self.built.start_ns)

    @property
    def replayed(self) -> list[decisions.Decision]:
        return decisions.extract(self.result.events, 0)


def _tolerance(rec: recording.Recording) -> int:
    """Two checks of the position monitor: a timer-run exit may land one check later."""
    cfg = rec.header.get("effective_config") or {}
    interval = (cfg.get("monitor") or {}).get("check_interval")
    try:
        ns = int(interval) if isinstance(interval, int) else parse_duration(interval or "1s")
    except Exception:  # noqa: BLE001 - a recording without it: the default interval
        ns = 1_000_000_000
    return max(2 * ns, MIN_TOLERANCE_NS)


def start_state(rec: recording.Recording, notes: list[str]) -> dict[str, Any]:
    """Execution mode starts where the live kernel started: the day restored from the
    journal it resumed from (when that file is still there), then a start reconciliation
    against the venue's books as the live one found them."""
    kw: dict[str, Any] = {"reconcile_at_start": True}
    restarted = next((e for e in rec.events if e["type"] == "restarted"), None)
    if restarted is not None:
        source = Path(restarted["source"])
        try:
            earlier = recording.read(source)
        except recording.ReplayInputError as exc:
            notes.append(f"cannot restore the day the live kernel resumed from: {exc}")
        else:
            kw["restore"] = read_day([earlier.header, *earlier.events], str(source))
            notes.append(f"restored the day from {source}, as the live kernel did")
    return kw


def replay(journal: str | Path, *, out: Path | None = None, seed: int = 0,
           mode: str = "execution", tolerance_ns: int | None = None) -> Replay:
    rec = recording.read(journal)
    tol = _tolerance(rec) if tolerance_ns is None else tolerance_ns
    with tempfile.TemporaryDirectory(prefix="triotrade-replay-") as tmp:
        target = out if out is not None else Path(tmp) / f"replay-{Path(journal).stem}.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        built = scenario_builder.build(rec, target, seed)
        scn = scenario_mod.load(target)
        scenario_mod.check_data(scn)
        factory: Any = None
        venues: list[RecordedReportsVenue] = []
        session_kw: dict[str, Any] = {}
        inherited = scenario_builder.inherited(rec)  # what a flat start does not have
        if mode == "execution":
            session_kw = start_state(rec, built.notes)
            restored = "restore" in session_kw or not any(
                e["type"] == "restarted" for e in rec.events)
            inherited = [] if restored else [i for i in inherited if "resumed" in i]
            plan = plan_of(rec.events, built.start_ns)

            def make(*args: Any) -> RecordedReportsVenue:
                v = RecordedReportsVenue(*args, plan=plan)
                venues.append(v)
                return v

            factory = functools.partial(make)
        built.notes.extend(inherited)
        result = runner.run(scn, seed, venue_factory=factory, session_kw=session_kw)
    unsent = venues[0].unsent if venues else []
    live = decisions.extract(rec.events, built.start_ns)
    replayed = decisions.extract(result.events, 0)
    d = diff.align(live, replayed, tol)
    if d.first is not None:
        d.explanation = diff.explain(d, rec.events, built.start_ns, result.events,
                                     built.changes, unsent, tol, inherited)
    return Replay(rec, built, result, d, mode, tol, unsent)
