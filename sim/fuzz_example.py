"""One fuzzing example: a generated scenario run once, judged, and measured.

The fuzzer's unit of work (``fuzz.run_batch`` runs many of these under Hypothesis):
the scenario is run in the simulator with the invariant checker listening, and a
journal listener (``Metrics``) records what the run exercised (for the coverage
table) and two scores Hypothesis steers by (how close an entry fill came to the cap,
how long a triggered exit stayed unflat).

A violation is raised as an exception whose *type* is the invariant's name
(``broken``), because Hypothesis tells bugs apart by exception type and keeps
shrinking towards an example that breaks the same invariant.
"""
from __future__ import annotations

from typing import Any

import attrs

from ..kernel.runtime import Kernel
from . import runner, scenario
from .weakenings import weakening


class InvariantBroken(AssertionError):
    """Raised for a violation; each invariant gets its own subclass (see ``broken``)."""

    invariant = ""


    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        # the subclasses are made at run time, so an instance is pickled (it may cross
        # a process boundary inside an exception group) as the invariant's name
        return _rebuild, (self.invariant, str(self))


_BROKEN: dict[str, type[InvariantBroken]] = {}


def broken(invariant: str) -> type[InvariantBroken]:
    """The exception type for ``invariant``: Hypothesis tells bugs apart by type."""
    cls = _BROKEN.get(invariant)
    if cls is None:
        cls = type(f"Broken_{invariant}", (InvariantBroken,), {"invariant": invariant})
        _BROKEN[invariant] = cls
    return cls


def _rebuild(invariant: str, detail: str) -> InvariantBroken:
    return broken(invariant)(detail)


class Metrics:
    """A journal listener: what an example exercised (coverage) and target scores."""

    __slots__ = ("kernel", "seen", "cap_pressure", "exit_open", "exit_stuck")

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.seen: set[str] = set()
        self.cap_pressure = -10**9  # max over entry fills of |pos| + working - cap
        self.exit_open: dict[str, int] = {}
        self.exit_stuck = 0  # longest time (ms) a triggered exit stayed unflat

    def __call__(self, ev: dict[str, Any]) -> None:
        t = ev["type"]
        seen = self.seen
        if t == "kill_switch":
            seen.add(f"kill_switch:{ev.get('reason')}")
        elif t == "ticker_started":
            seen.add("ticker_discovered")
        elif t == "invariant_violated":
            seen.add(f"violation:{ev.get('invariant')}")
        elif t == "order_rejected":
            seen.add("order_rejected:not_sent" if str(ev.get("reason", "")).startswith("not sent")
                     else "order_rejected:venue")
        elif t == "fill":
            seen.add(f"fill:{ev.get('role')}")
        elif t == "report_duplicate":
            seen.add("report_duplicate")
        elif t == "kill_switch_reset":
            seen.add(f"kill_switch_reset:{ev.get('by')}")
        elif t == "risk_rejected" and ev["reason"].startswith(RULE_REFUSALS):
            seen.add(f"refused:{ev['reason'].split(':', 1)[0]}")
        elif t == "exit_triggered" and ev["reason"] in ("clip", "session_end"):
            seen.add(f"exit:{ev['reason']}")
        elif t == "risk_rejected" and "limit" in ev:
            seen.add(f"risk_rejected:{ev['limit']}")
        else:
            seen.add(t)
        if t == "position_changed":
            sym = ev["symbol"]
            ticker = self.kernel.tickers.get(sym)
            qty = abs(int(ev["qty"]))
            if ticker is not None and ticker.entries:
                p = qty + ticker.working_entry_qty() - ticker.sizing()[1]
                if p > self.cap_pressure:
                    self.cap_pressure = p
            if qty == 0 and sym in self.exit_open:
                self._close(sym, ev["ts_ns"])
        elif t in ("exit_triggered", "emergency_started"):
            self.exit_open.setdefault(ev["symbol"], ev["ts_ns"])
        elif t == "shutdown":
            for sym in list(self.exit_open):
                self._close(sym, ev["ts_ns"])

    def _close(self, sym: str, now: int) -> None:
        ms = (now - self.exit_open.pop(sym)) // 1_000_000
        if ms > self.exit_stuck:
            self.exit_stuck = ms


RULE_REFUSALS = ("session:", "stop_loss_cooldown:", "trade_threshold:")


def features_of(data: dict[str, Any]) -> set[str]:
    """What a generated scenario contains (for the coverage table)."""
    out = {f"fault:{f['kind']}" for f in data.get("faults", ())}
    for f in data.get("faults", ()):
        if f["kind"] == "reject":
            out.add(f"reject_role:{f.get('role', 'ANY')}")
    markets = data.get("market", {}).values()
    for key in ("gaps", "halts", "walk", "ticks", "bad_quotes"):
        if any(key in m for m in markets):
            out.add(f"market:{key}")
    if len(data.get("instruments", ())) > 1:
        out.add("instruments:2+")
    cfg = data.get("config", {})
    if "tickers" in cfg:
        out.add("discovery_possible")
    if cfg.get("sizing", {}).get("tier_list"):
        out.add("tiers")
    if cfg.get("strategies"):
        out.add("strategy:ma_cross")
    risk = cfg.get("risk", {})
    for key in ("max_loss_per_trade", "max_loss_cumulative", "daily_loss_limit",
                "max_gross_exposure", "max_open_positions", "buying_power", "max_drawdown_pct"):
        if key in risk:
            out.add(f"risk:{key}")
    if data.get("operator"):
        out.add("operator_acts")
    session = cfg.get("session")
    if session is not None:
        out.add("session:hours" if "open" in session else "session:days_only")
        out.update(f"session:{k}" for k in ("entry_delay", "entry_cutoff", "flatten_at", "days")
                   if k in session)
    for key in ("stop_loss_cooldown", "trade_threshold"):
        if key in cfg.get("entries", {}):
            out.add(f"entries:{key}")
    if "clip_activation" in cfg.get("exits", {}):
        out.add("exits:clip")
    if "signal_priority" in cfg:
        out.add("signal_priority")
    for s in data.get("signals", ()):
        out.add(f"signal:{s['side']}")
        if "published" in s:
            out.add("signal:news")
    return out


@attrs.define
class Outcome:
    violations: list[dict[str, str]]
    seen: set[str]
    digest: str
    cap_pressure: int = 0
    exit_stuck: int = 0


def run_example(data: dict[str, Any], weaken: str | None = None) -> Outcome:
    """Load the generated dict as a scenario and run it once (no journal file)."""
    scn = scenario.from_dict(data, "<fuzz example>")
    weak = weakening(weaken)
    box: list[Metrics] = []

    def hook(k: Kernel) -> None:
        m = Metrics(k)
        box.append(m)
        k.journal.add_listener(m)

    try:
        result = runner.run(scn, keep_events=False, weakening=weak, kernel_hook=hook)
    except Exception as exc:  # noqa: BLE001 - a crash of the kernel is a find too
        seen = box[0].seen if box else set()
        return Outcome([{"invariant": "crash", "detail": f"{type(exc).__name__}: {exc}"}],
                       seen, "")
    m = box[0]
    return Outcome(list(result.violations), m.seen, result.digest, m.cap_pressure,
                   m.exit_stuck)


@attrs.define
class Find:
    invariant: str
    detail: str
    data: dict[str, Any]
    batch: int
    batch_seed: int
    found_after: int  # examples of the batch run when it was first seen
    shrink_runs: int
