"""Scenario files, format v1 (SCENARIO_FORMAT.md is the contract): reading one.

Loading is four steps, one module each: ``kernel.strict_yaml`` reads the bytes (a
regular file of bounded size, YAML 1.2, no tags, no duplicate keys), the strict
converter structures the data into the attrs classes of ``scenario_schema`` (no
unknown keys, no floats for integers, exact decimals), then ``scenario_rules`` checks
what types cannot (declared symbols, tick order, fault kinds...) and
``scenario_limits`` what running it would cost (ticks, horizon, the bounds of every
value). Every problem is reported as ``(key.path, message)``; nothing runs unless
there are none.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
from fractions import Fraction
from pathlib import Path
from typing import Any, Sequence

import attrs
import cattrs

from ..kernel.config import ConfigError, flatten_errors, load_strategy_plans, make_converter
from ..kernel.errors import InputError
from ..kernel.units import to_units
from ..kernel.strict_yaml import FileRefused, YamlFileError, load_bytes, read_bounded
from .overrides import Override, apply, blame
from .scenario_limits import Limits, cost_problems
from .scenario_rules import check_fault_keys, validate
from .scenario_schema import Scenario, SignedMoney


@functools.cache
def scenario_converter() -> cattrs.Converter:
    """The config's strict converter, plus the scenario's own types; built on first use."""
    conv = make_converter()
    conv.register_structure_hook(SignedMoney, lambda v, _: to_units(v))
    return conv


class ScenarioError(InputError):
    """An invalid scenario file: each problem is (key.path, message)."""


# ---------------------------------------------------------------- loading


def load(path: str | Path, overrides: Sequence[Override] = (),
         limits: Limits = Limits()) -> Scenario:
    """The scenario in the file at ``path``, with ``overrides`` (``--set``) applied to
    its mapping before validation; ``Scenario.overrides`` records them. The file is
    read within ``limits`` (size, nesting, aliases; special files refused unread)."""
    source = str(path)
    try:
        raw = read_bounded(path, limits.yaml.max_bytes)
    except FileRefused as exc:
        raise ScenarioError(source, [("", exc.reason)]) from None
    return loads(raw, source, overrides, limits)


def loads(raw: bytes | str, source: str = "<scenario>", overrides: Sequence[Override] = (),
          limits: Limits = Limits()) -> Scenario:
    if isinstance(raw, str):
        raw = raw.encode()
    try:
        data = load_bytes(raw, limits.yaml)
    except YamlFileError as exc:
        raise ScenarioError(source, exc.problems) from None
    sha256 = hashlib.sha256(raw).hexdigest()
    if not overrides:
        return from_dict(data, source, sha256, limits)
    data = apply(data, overrides)
    try:
        scn = from_dict(data, source, sha256, limits)
    except ScenarioError as exc:
        raise ScenarioError(source, blame(exc.problems, overrides)) from None
    return attrs.evolve(scn, overrides=tuple(o.spelled for o in overrides))


def from_dict(data: Any, source: str = "<scenario>", sha256: str = "",
              limits: Limits = Limits()) -> Scenario:
    if not isinstance(data, dict):
        raise ScenarioError(source, [("", "a scenario file must be a YAML mapping")])
    problems: list[tuple[str, str]] = []
    data = dict(data)
    if "start" in data and isinstance(data["start"], dt.datetime):
        data["start"] = data["start"].isoformat()
    # the keyword `for` and per-kind fault keys, before cattrs sees them
    market = data.get("market")
    if isinstance(market, dict):
        market = {k: dict(v) if isinstance(v, dict) else v for k, v in market.items()}
        for sym, spec in market.items():
            if isinstance(spec, dict) and isinstance(spec.get("halts"), list):
                spec["halts"] = [_rename_for(h, f"market.{sym}.halts[{j}]", problems)
                                 for j, h in enumerate(spec["halts"])]
        data["market"] = market
    faults = data.get("faults")
    if isinstance(faults, list):
        for i, f in enumerate(faults):
            if isinstance(f, dict):
                problems.extend(check_fault_keys(f, f"faults[{i}]"))
        data["faults"] = [_rename_for(f, f"faults[{i}]", problems) for i, f in enumerate(faults)]
    if "source" in data or "sha256" in data or "overrides" in data:
        for key in ("source", "sha256", "overrides"):
            if key in data:
                problems.append((key, "unknown key"))
                data.pop(key)
    try:
        scn: Scenario = scenario_converter().structure(data, Scenario)
    except Exception as exc:  # noqa: BLE001 - flattened into path-named problems
        problems.extend(_fix_for(p) for p in flatten_errors(exc))
        raise ScenarioError(source, _dedupe(problems)) from None
    scn = attrs.evolve(scn, source=source, sha256=sha256)
    problems.extend(validate(scn))
    if not problems:  # the cost of a scenario whose values are each valid
        problems.extend(cost_problems(scn, limits))
    if not problems:  # resolving a strategy imports its file: only for a sound scenario
        try:
            strategy_plans(scn)
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ScenarioError(source, _dedupe(problems))
    return scn


_FOR_SEGMENT = re.compile(r"\.for_(?=$|[.\[])")


def _fix_for(problem: tuple[str, str]) -> tuple[str, str]:
    """Report the field ``for_`` under the name the file uses, ``for``."""
    path, msg = problem
    return _FOR_SEGMENT.sub(".for", path), msg.replace("'for_'", "'for'")


def _dedupe(problems: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: set[tuple[str, str]] = set()
    out = []
    for p in problems:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def _rename_for(data: Any, path: str, problems: list[tuple[str, str]]) -> Any:
    """YAML's ``for`` is a Python keyword: fields call it ``for_``. The file must say
    ``for``: a ``for_`` in the file is an unknown key, not a silent synonym."""
    if isinstance(data, dict) and ("for" in data or "for_" in data):
        data = dict(data)
        if "for_" in data:
            data.pop("for_")
            problems.append((f"{path}.for_", "unknown key (the key is 'for')"))
        if "for" in data:
            data["for_"] = data.pop("for")
    return data


def base_dir(s: Scenario) -> Path:
    """The folder relative paths in the scenario (strategy files, data files) start
    from: the scenario file's own, or the working directory for a scenario not read
    from a file."""
    if s.source and not s.source.startswith("<"):
        return Path(s.source).resolve().parent
    return Path.cwd()


def strategy_plans(s: Scenario) -> dict[str, Any]:
    """``config.strategies`` resolved by the strategy loader (``InputError`` if not)."""
    return load_strategy_plans(s.config, base_dir=base_dir(s), source=s.source)


def market_path_specs(s: Scenario) -> dict[str, Any]:
    """Scenario market sections as sim.market.PathSpec objects."""
    from .market import PathSpec, PathTick, merge_halts
    from .market import WalkSpec as MWalk

    out = {}
    for inst in s.instruments:
        m = s.market.get(inst.symbol)
        if m is None:
            continue
        walk = None
        if m.walk is not None:
            walk = MWalk(m.walk.every, Fraction(m.walk.vol_bps), Fraction(m.walk.drift_bps),
                         m.walk.start)
        data = None
        if m.file is not None:
            data = data_file(s, inst.symbol)
        out[inst.symbol] = PathSpec(
            file=data,
            tick_units=to_units(inst.tick_size),
            spread=m.spread,
            depth=m.depth,
            ticks=tuple(PathTick(t.t, t.last, t.bid, t.ask, t.bid_size, t.ask_size)
                        for t in m.ticks),
            walk=walk,
            gaps=tuple(sorted((g.t, Fraction(g.pct)) for g in m.gaps)),
            halts=merge_halts((h.t, h.t + h.for_) for h in m.halts),
        )
    return out


def data_file(s: Scenario, symbol: str) -> Any:
    """``market.SYM.file`` as a ``sim.datafiles.MarketFile`` (its path relative to the
    scenario's folder; virtual t = ts - ``start``, 0 without a ``start``)."""
    from .datafiles import market_file

    m = s.market[symbol]
    assert m.file is not None
    inst = s.instrument_map[symbol]
    return market_file(base_dir(s) / m.file, to_units(inst.tick_size), s.start_unix_ns or 0,
                       s.duration, format=m.format or "ticks", spread=m.spread, depth=m.depth,
                       bar_interval_ns=m.bar_interval, source=s.source,
                       where=f"market.{symbol}.file: {m.file}")


def data_problems(s: Scenario, limit: int | None = 100) -> list[tuple[str, str]]:
    """Every problem of the scenario's market data files, as
    ``(market.SYM.file, "data.csv: row N: column: problem")``: reads each file whole,
    so ``triotrade check`` and ``run`` call it, not ``load``."""
    out: list[tuple[str, str]] = []
    for sym, m in s.market.items():
        if m.file is None:
            continue
        for where, text in data_file(s, sym).validate(limit):
            out.append((f"market.{sym}.file", f"{m.file}: {where}: {text}"))
    return out


def check_data(s: Scenario) -> None:
    """``ScenarioError`` with every data file problem, if there are any."""
    problems = data_problems(s)
    if problems:
        raise ScenarioError(s.source, problems)


__all__ = ["Scenario", "ScenarioError", "Limits", "load", "loads", "from_dict", "market_path_specs",
           "base_dir", "strategy_plans", "data_file", "data_problems", "check_data",
           "ConfigError"]
