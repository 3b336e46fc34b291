"""The Kite adapter's settings and endpoints: the ``kite:`` section of a live config.

``load_kite_config`` reads a live config file plus that section and names every problem
as ``FILE: key.path: problem`` (a ``LiveConfigError``, one of the product's input errors).
"""
from __future__ import annotations

from pathlib import Path

import attrs

from ...kernel.config import Duration, converter, flatten_errors
from ...kernel.units import NS_PER_S
from ...wire import kite as wire
from ..live import LiveConfig, LiveConfigError, parse_live_config, read_config_yaml

PRODUCTION_ROOT = "https://api.kite.trade"
PRODUCTION_WS = "wss://ws.kite.trade"
# statuses that mean the exchange has the order (the first one seen is our ACCEPTED)
ACK_STATUSES = frozenset({"OPEN", "TRIGGER PENDING", "UPDATE", "MODIFIED", "MODIFY PENDING",
                          "MODIFY VALIDATION PENDING", "CANCEL PENDING"})
WORKING_STATUSES = frozenset({"PUT ORDER REQ RECEIVED", "VALIDATION PENDING", "OPEN PENDING",
                              "AMO REQ RECEIVED"}) | ACK_STATUSES
PRODUCTS = ("MIS", "NRML", "CNC")
STOP_TYPES = ("auto", "SL-M", "SL")


@attrs.frozen
class KiteSettings:
    """The ``kite:`` section of a live config: how orders are sent and the socket kept."""

    product: str = "MIS"  # MIS intraday, NRML carry-forward F&O, CNC equity delivery
    stop_order_type: str = "auto"  # auto: SL for options, SL-M otherwise
    stop_limit_ticks: int = 20  # SL: the limit this many ticks beyond the trigger
    market_protection: int | None = -1  # MARKET/SL-M protection: -1 auto, 1..100 %, null none
    order_rate: int = 10  # order requests per second (Kite's limit)
    rest_threads: int = 4
    rest_timeout: Duration = Duration(7 * NS_PER_S)
    ping_interval: Duration = Duration(2_500_000_000)
    ping_timeout: Duration = Duration(5 * NS_PER_S)
    reconnect_min: Duration = Duration(250_000_000)
    reconnect_max: Duration = Duration(5 * NS_PER_S)
    connect_timeout: Duration = Duration(15 * NS_PER_S)
    reconcile_interval: Duration = Duration(2 * NS_PER_S)

    def problems(self, path: str = "kite") -> list[tuple[str, str]]:
        out = []
        if self.product not in PRODUCTS:
            out.append((f"{path}.product", f"must be one of {', '.join(PRODUCTS)}"))
        if self.stop_order_type not in STOP_TYPES:
            out.append((f"{path}.stop_order_type", f"must be one of {', '.join(STOP_TYPES)}"))
        if self.stop_limit_ticks <= 0:
            out.append((f"{path}.stop_limit_ticks", "must be positive"))
        mp = self.market_protection
        if mp is not None and mp != -1 and not 0 < mp <= 100:
            out.append((f"{path}.market_protection", "must be -1 (auto), 1..100 or null"))
        if not 0 < self.order_rate <= 10:
            out.append((f"{path}.order_rate", "must be 1..10 (Kite allows 10 per second)"))
        if self.rest_threads <= 0:
            out.append((f"{path}.rest_threads", "must be positive"))
        for key in ("rest_timeout", "ping_interval", "ping_timeout", "reconnect_min",
                    "reconnect_max", "connect_timeout", "reconcile_interval"):
            if getattr(self, key) <= 0:
                out.append((f"{path}.{key}", "must be positive"))
        if self.reconnect_min > self.reconnect_max:
            out.append((f"{path}.reconnect_min", "is above reconnect_max"))
        return out


def seconds(ns: int) -> float:
    return ns / NS_PER_S


def load_kite_config(path: str | Path) -> tuple[LiveConfig, KiteSettings]:
    """A live config file plus its optional ``kite:`` section, every problem named."""
    source = str(path)
    data = read_config_yaml(path)
    problems: list[tuple[str, str]] = []
    settings = KiteSettings()
    if isinstance(data, dict) and "kite" in data:
        data = dict(data)
        section = data.pop("kite")
        if section is None:
            section = {}
        if not isinstance(section, dict):
            problems.append(("kite", "must be a mapping"))
        else:
            try:
                settings = converter().structure(section, KiteSettings)
            except Exception as exc:  # noqa: BLE001 - flattened into key paths
                problems.extend(flatten_errors(exc, "kite"))
            else:
                problems.extend(settings.problems())
    cfg: LiveConfig | None = None
    try:
        cfg = parse_live_config(data, source)
    except LiveConfigError as exc:
        problems = exc.problems + problems
    if cfg is not None:
        raw = data.get("instruments") if isinstance(data, dict) else None
        for i, inst in enumerate(cfg.instruments):
            exchange, forced = wire.kite_exchange(inst.exchange)
            if forced is None and exchange != inst.exchange.upper():
                written = (isinstance(raw, list) and i < len(raw) and isinstance(raw[i], dict)
                           and "exchange" in raw[i])
                choices = ", ".join(wire.KITE_EXCHANGES)
                problems.append((f"instruments[{i}].exchange",
                                 f"{inst.exchange!r} is not a Kite exchange "
                                 f"(one of {choices})" if written else
                                 f"not given, and the default {inst.exchange!r} (IB's smart "
                                 f"router) is not a Kite exchange: set exchange: to one of "
                                 f"{choices}"))
    if problems:
        raise LiveConfigError(source, problems)
    assert cfg is not None
    return cfg, settings


def endpoints(host: str, port: int | None) -> tuple[str, str]:
    """REST root and ticker URL: Zerodha's without --port, a gateway's with one."""
    if port is None:
        return PRODUCTION_ROOT, PRODUCTION_WS
    shown = f"[{host}]" if ":" in host else host
    if port == 443:
        return f"https://{shown}", f"wss://{shown}/ws"
    return f"http://{shown}:{port}", f"ws://{shown}:{port}/ws"
