"""A scenario file from a recording: the live session as a simulated incident.

Virtual t = 0 is the run's start (to the microsecond, the precision of a scenario's
``start``); every recorded time becomes ``t`` in nanoseconds from there, so the replay
sees each quote, signal and outage at the moment the live kernel did. The pieces:

* ``instruments`` and ``config``: the config file as it is *now* when it is still at
  its recorded path (a changed file is named as a change: replaying with today's
  config is how to ask "would it have done the same?"), else the recorded copy.
  Strategy files are found at their recorded absolute paths and hashed again; a
  missing one is an input error, a changed one a named change.
* ``market``: the recorded quotes, one CSV market data file per symbol next to the
  scenario (``ts`` in Unix ns, prices as decimal text). Quotes without a two-sided
  price or with a crossed book cannot be written as a tick and are dropped, counted.
* ``signals``: the signals that came from outside the kernel (news, a test or an
  operator script; strategies run again and make their own), at their receive time,
  with their published time.
* ``faults``: each disconnect window as a ``disconnect`` fault, plus the estimated
  venue (``venue_estimate``); ``operator``: the acts a person did through ``ctl``.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import attrs
import yaml

from ..kernel.strict_yaml import YamlFileError, read_yaml_file
from ..kernel.units import fmt_units, to_units
from .recording import Recording, ReplayInputError
from .venue_estimate import Estimate, estimate

EXTERNAL_SOURCES_SKIPPED = ("strategy",)  # intents the replayed strategies make again


@attrs.define
class Built:
    path: Path
    data: dict[str, Any]
    start_ns: int  # Unix ns of virtual t = 0
    changes: list[str]
    notes: list[str]
    estimate: Estimate


def _sha(path: Path) -> str | None:
    try:
        return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _ns(t: int) -> str:
    return f"{max(t, 0)}ns"


def _iso(ns: int) -> str:
    when = dt.datetime.fromtimestamp(ns // 1_000_000_000, tz=dt.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S") + f".{(ns % 1_000_000_000) // 1000:06d}Z"


def _config(rec: Recording, changes: list[str], notes: list[str]
            ) -> tuple[dict[str, Any], list[Any], Path | None]:
    header = rec.header
    cf = header.get("config_file") or {}
    path = Path(cf["path"]) if cf.get("path") else None
    config, instruments = dict(header.get("config") or {}), list(header.get("instruments") or [])
    if path is None:
        return config, instruments, None
    now = _sha(path)
    if now is None:
        notes.append(f"config file {path} is gone: replayed with the recorded config")
    elif now != cf.get("sha256"):
        try:
            data, _ = read_yaml_file(path)
        except YamlFileError as exc:
            raise ReplayInputError(str(path), exc.problems) from None
        if not isinstance(data, dict):
            raise ReplayInputError(str(path), [("", "a config file must be a YAML mapping")])
        config, instruments = dict(data.get("config") or {}), list(data.get("instruments") or [])
        changes.append(f"config file {path} (recorded {cf.get('sha256', '?')[:19]}, now "
                       f"{now[:19]}): replayed with the file as it is now")
    return config, instruments, path.parent


def _strategies(rec: Recording, config: dict[str, Any], folder: Path | None,
                changes: list[str]) -> None:
    """Strategy files resolved to absolute paths (the scenario may live elsewhere),
    each hashed against the recording."""
    specs = config.get("strategies")
    if not isinstance(specs, dict):
        return
    recorded = rec.header.get("strategies") or {}
    out = {}
    for sym, spec in specs.items():
        spec = dict(spec) if isinstance(spec, dict) else spec
        kind = spec.get("kind") if isinstance(spec, dict) else None
        if isinstance(kind, str) and ".py:" in kind:
            file_part, cls = kind.split(":", 1)
            path = Path(file_part)
            if not path.is_absolute():
                path = (folder or Path.cwd()) / path
            path = path.resolve()
            now = _sha(path)
            if now is None:
                raise ReplayInputError(str(rec.path), [(
                    f"header.strategies.{sym}", f"strategy file {path} is missing: the "
                    "replay needs the code the live run used")])
            old = (recorded.get(sym) or {}).get("sha256")
            if old != now:
                changes.append(f"strategy file {path} for {sym} (recorded "
                               f"{str(old)[:19]}, now {now[:19]})")
            spec["kind"] = f"{path}:{cls}"
        out[sym] = spec
    config["strategies"] = out


def _ticks(instruments: list[Any]) -> dict[str, int]:
    out = {}
    for inst in instruments:
        if isinstance(inst, dict) and "symbol" in inst:
            try:
                out[str(inst["symbol"])] = to_units(str(inst.get("tick_size", "0.01")))
            except Exception:  # noqa: BLE001 - the scenario loader names a bad tick size
                pass
    return out


def _market(rec: Recording, out: Path, t0: int, ticks: dict[str, int], notes: list[str]
            ) -> dict[str, Any]:
    """One data file per symbol. A data file holds prices on the tick grid only; a
    recorded price off it (a feed's computed last, a mid sent as bid = ask) is snapped
    to it (bid down, ask up, last to the nearest) and counted."""
    market: dict[str, Any] = {}
    for sym, rows in sorted(rec.quotes.items()):
        name = f"{out.stem}.{sym}.csv"
        dropped = snapped = 0
        tick = ticks.get(sym) or 1
        with open(out.parent / name, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["ts", "bid", "ask", "last", "bid_size", "ask_size"])
            for ts, bid, ask, last, bs, asz in rows:
                if bid <= 0 or ask <= 0 or bid > ask or ts < t0:
                    dropped += 1
                    continue
                b, a = bid // tick * tick, -(-ask // tick) * tick
                lst = (last + tick // 2) // tick * tick if last > 0 else 0
                snapped += (b, a, lst) != (bid, ask, last if last > 0 else 0)
                if b <= 0:
                    dropped += 1
                    continue
                w.writerow([ts, fmt_units(b), fmt_units(a), fmt_units(lst) if lst > 0 else "",
                            bs, asz])
        market[sym] = {"file": name}
        notes.append(f"{sym}: {len(rows) - dropped} recorded quotes"
                     + (f", {snapped} with prices off the tick grid snapped to it" if snapped
                        else "")
                     + (f", {dropped} without a two-sided price dropped" if dropped else ""))
    return market


def _outages(rec: Recording, t0: int, end: int) -> list[dict[str, Any]]:
    out, down = [], None
    for e in rec.events:
        if e["type"] == "venue_disconnected" and down is None:
            down = e["ts_ns"]
        elif e["type"] == "venue_reconnected" and down is not None:
            out.append({"kind": "disconnect", "t": _ns(down - t0),
                        "for": _ns(max(e["ts_ns"] - down, 1))})
            down = None
    if down is not None:
        out.append({"kind": "disconnect", "t": _ns(down - t0), "for": _ns(max(end - down, 1))})
    return out


def _operator(rec: Recording, t0: int) -> list[dict[str, Any]]:
    acts = []
    for e in rec.events:
        if e.get("by") != "ctl":
            continue
        if e["type"] == "kill_switch":
            acts.append({"t": _ns(e["ts_ns"] - t0), "action": "kill_switch", "mode": e["action"]})
        elif e["type"] == "kill_switch_reset":
            acts.append({"t": _ns(e["ts_ns"] - t0), "action": "reset_kill_switch"})
        elif e["type"] in ("exit_triggered", "exit_ignored") and e.get("reason") == "operator":
            acts.append({"t": _ns(e["ts_ns"] - t0), "action": "flatten", "symbol": e["symbol"]})
    return acts


def inherited(rec: Recording) -> list[str]:
    """What the live kernel started with that a replay, which starts flat, does not have."""
    out = []
    for e in rec.events:
        if e["type"] == "restarted":
            out.append(f"the live kernel resumed from {e['source']} (positions "
                       f"{e['positions'] or 'none'}): the replay starts flat")
        elif e["type"] in ("position_adopted", "order_adopted"):
            what = "a position" if e["type"] == "position_adopted" else "an order"
            out.append(f"the live kernel adopted {what} at the venue ({e['symbol']} "
                       f"{e['qty']}, {e['source']}): the replay has no such {what[2:].strip()}")
    return out


def build(rec: Recording, out: Path, seed: int) -> Built:
    """Write the scenario (and its data files) to ``out``; what changed and what was done.

    The file always carries the estimated venue (so it runs as an incident file); an
    execution replay runs the same file with the recorded reports answering orders."""
    changes: list[str] = []
    notes: list[str] = []
    t0 = rec.start_ns // 1000 * 1000
    config, instruments, folder = _config(rec, changes, notes)
    _strategies(rec, config, folder, changes)
    last = max([e["ts_ns"] for e in rec.events if "ts_ns" in e] +
               [q[0] for rows in rec.quotes.values() for q in rows] + [t0])
    end = last + 1_000_000_000  # a second past the last thing recorded
    signals = []
    for e in rec.of("signal_received"):
        if e["source"] in EXTERNAL_SOURCES_SKIPPED:
            continue
        sig = {"t": _ns(e["received_ns"] - t0), "symbol": e["symbol"], "side": e["side"]}
        if "published_ns" in e:
            sig["published"] = _ns(e["published_ns"] - t0)
        signals.append(sig)
    est = estimate(rec.events, t0)
    faults = est.faults + _outages(rec, t0, end)
    data: dict[str, Any] = {
        "version": 1, "name": f"replay-{rec.path.stem}",
        "description": f"the live session {rec.path.name} ({rec.venue}), replayed",
        "seed": seed, "start": _iso(t0), "duration": _ns(end - t0),
        "instruments": instruments, "config": config,
        "market": _market(rec, out, t0, _ticks(instruments), notes),
        "signals": signals, "faults": faults,
    }
    ops = _operator(rec, t0)
    if ops:
        data["operator"] = ops
    out.write_text("# written by `triotrade replay`: a recorded live session as a scenario\n"
                   + yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100))
    if not rec.finished:
        notes.append("the journal ends without run_finished (the run was killed): replayed "
                     "up to its last event" + ("" if rec.quotes else "; no quotes were "
                                               "written before the kill (every 0.5 s)"))
    return Built(out, data, t0, changes, notes, est)
