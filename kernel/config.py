"""The kernel's trading config, and the strict converter that reads it.

The same schema is used in scenario files and live config files. Reading is strict
on purpose: a typo in a risk limit that silently falls back to a default is how a
trader loses money, so unknown keys, wrong types and floats-for-integers are errors
that name the key path.
"""
from __future__ import annotations

import enum
import functools
import typing
from decimal import Decimal
from typing import Any, NewType

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)

from .errors import InputError
from .fees import FeeKind, Fees, Segment, fee_model_problems
from .units import NS_PER_S, UnitError, fmt_duration, parse_decimal, parse_duration, shown, to_units

Duration = NewType("Duration", int)  # nanoseconds
# No timer of the kernel repeats faster: a 1 ns check interval is a busy loop, and a
# stale_after of 0 declares the feed stale again after every tick.
MIN_INTERVAL = 1_000_000  # 1 ms
MAX_MA_WINDOW = 100_000  # ticks a moving average may span (its window is kept in memory)
# built-in strategies that keep a window of ticks in memory, and its parameters
WINDOWED_BUILTINS = {"ma_cross": ("fast", "slow"), "zscore_reversion": ("window",)}
Money = NewType("Money", int)  # price/money units (1e-8)
Price = NewType("Price", int)


def _pct_ratio(pct: Decimal | None) -> tuple[int, int, int] | None:
    """(numerator, denominator of pct / 100, the bound on |ref| below which
    ``ref * pct`` has at most 27 digits: exact in the default 28-digit context)."""
    if pct is None or not pct.is_finite() or not pct:
        return None
    num, den = pct.as_integer_ratio()
    digits = int("".join(map(str, pct.as_tuple().digits)))
    return num, den * 100, 10**27 // digits


@attrs.frozen
class Distance:
    """A price distance: ``"2%"`` of the reference price, or an absolute ``"1.50"``."""

    pct: Decimal | None = None
    units: int | None = None
    # pct / 100 as an exact ratio, for the integer path of ``below``
    _ratio: tuple[int, int, int] | None = attrs.field(
        init=False, eq=False, repr=False, default=attrs.Factory(
            lambda self: _pct_ratio(self.pct), takes_self=True))

    def below(self, ref: int) -> int:
        """The distance in price units from reference ``ref``.

        The position monitor asks on every check: while ``ref`` times the percentage's
        digits fits Decimal's 28 digits, the Decimal expression is exact, so truncated
        integer arithmetic gives the same number without building Decimals; beyond,
        the Decimal expression decides, as always."""
        ratio = self._ratio
        if ratio is not None:
            num, den, limit = ratio
            if -limit < ref < limit:
                product = ref * num
                q = abs(product) // den
                return -q if product < 0 else q
        if self.pct is not None:
            return int(Decimal(ref) * self.pct / 100)
        assert self.units is not None
        return self.units

    def __str__(self) -> str:
        if self.pct is not None:
            return f"{self.pct}%"
        from .units import fmt_units

        return fmt_units(self.units or 0)


def parse_distance(value: object) -> Distance:
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            pct = parse_decimal(value.strip()[:-1])
        except UnitError:  # the message quotes the input as written, not what is left of it
            raise UnitError(f"cannot parse {value!r} as a percentage (e.g. '2%')") from None
        if pct <= 0 or pct >= 100:
            raise UnitError(f"percentage must be between 0 and 100, got {shown(value)}")
        return Distance(pct=pct)
    units = to_units(value)
    if units <= 0:
        raise UnitError(f"distance must be positive, got {shown(value)}")
    return Distance(units=units)


@attrs.frozen
class Tier:
    price_min: Decimal
    price_max: Decimal
    unit_position_size: int
    max_position_size: int


@attrs.frozen
class Sizing:
    unit_position_size: int = 100
    max_position_size: int = 300
    tier_list: list[Tier] = attrs.Factory(list)


@attrs.frozen
class Entries:
    staggered_order_delay: Duration = Duration(8 * NS_PER_S)
    entry_order_ttl: Duration = Duration(5 * NS_PER_S)
    signal_freshness: Duration = Duration(10 * NS_PER_S)
    # additions to v1, off when null (kernel/risk/cooldown.py):
    stop_loss_cooldown: Duration | None = None  # no entry this long after a stop-loss exit
    trade_threshold: Duration | None = None  # adds to an open trade only this long after it opened


@attrs.frozen
class Exits:
    stop_loss: Distance | None = Distance(pct=Decimal(2))
    take_profit: Distance | None = None
    trailing_stop: Distance | None = None
    hold_threshold: Duration | None = None
    exit_order_ttl: Duration = Duration(10 * NS_PER_S)
    # a resting stop kept at the venue for the whole position (kernel/venue_stop.py):
    # the backstop for a dead process; None: off
    venue_stop: Distance | None = None
    # additions to v1, both or neither (kernel/risk/clip.py): once the trade's P&L has
    # reached clip_activation, it exits (reason clip) if its P&L falls back to clip_stop_loss
    clip_activation: Money | None = None
    clip_stop_loss: Money | None = None


@attrs.frozen
class Monitor:
    check_interval: Duration = Duration(NS_PER_S)
    gap_threshold_pct: Decimal = Decimal(2)
    # addition to v1: a last-trade print outside its own quote's [bid, ask] widened by
    # this many percent is refused (quote_rejected), like a crossed or non-positive quote
    bad_print_pct: Decimal = Decimal(5)
    stale_after: Duration = Duration(60 * NS_PER_S)


@attrs.frozen
class Emergency:
    retry_interval: Duration = Duration(10 * NS_PER_S)


@attrs.frozen
class Risk:
    max_loss_per_trade: Money | None = None
    max_loss_cumulative: Money | None = None
    daily_loss_limit: Money | None = None
    max_order_rate: int = 10
    # additions to format v1 (defaults keep v1 meaning):
    max_errors: int = 20  # venue rejects/inconsistent reports before kill switch cancel_all
    stale_kill_switch: bool = True  # every feed stale => kill switch stop_new_trades
    # a clean reconciliation after a reconnect lifts the disconnect kill switch (journaled
    # as kill_switch_reset by "reconciliation"); off by default: a human decides
    resume_after_reconnect: bool = False
    # portfolio limits across every ticker (kernel/risk/portfolio.py); each null = off
    max_gross_exposure: Money | None = None
    max_open_positions: int | None = None
    buying_power: bool | None = None
    max_drawdown_pct: Decimal | None = None


FOREIGN_ORDER_POLICIES = ("adopt", "cancel", "halt")


@attrs.frozen
class Reconcile:
    """Addition to v1: how a live kernel squares its books with the venue's.

    ``foreign_orders``: what to do with working orders at the venue that carry no role
    tag of ours (placed by hand or by another program): ``adopt`` them, ``cancel``
    them, or ``halt`` (kill switch stop_new_trades until a human decides).
    ``interval``: how often positions are compared with the venue while running.
    """

    foreign_orders: str = "halt"
    interval: Duration = Duration(30 * NS_PER_S)


@attrs.frozen
class StrategySpec:
    """Which strategy drives a ticker (in addition to scenario/news signals).

    Two spellings of one thing, both read forever::

        {kind: ma_cross, params: {fast: 20, slow: 50}, bar_interval: 1m}
        {kind: ma_cross, fast: 20, slow: 50}       # parameters beside kind

    The second, the original form, keeps working; ``legacy`` records which one the
    file used so error paths name the key the file wrote. ``kind`` is resolved and
    ``params`` checked by ``strategies.loader`` (a built-in name, a
    ``path/file.py:Class`` or a ``package.module:Class``), which needs the config
    file's folder and so runs where the file is read.
    """

    kind: str
    params: dict[str, Any] = attrs.Factory(dict)
    bar_interval: Any = None  # a duration such as "1m", checked by the loader
    legacy: bool = False

    def loader_spec(self) -> dict[str, Any]:
        """The ``{kind, params, bar_interval?}`` mapping ``strategies.loader`` reads."""
        out: dict[str, Any] = {"kind": self.kind, "params": dict(self.params)}
        if self.bar_interval is not None:
            out["bar_interval"] = self.bar_interval
        return out


_SPEC_KEYS = ("kind", "params", "bar_interval")


def _strategy_spec(value: Any, _: type) -> StrategySpec:
    if not isinstance(value, dict):
        raise UnitError(f"expected a mapping with kind and params, got {_type_name(value)}")
    if "kind" not in value:
        raise KeyError("kind")
    kind = value["kind"]
    if not isinstance(kind, str):
        raise UnitError(f"kind: expected a strategy name or 'file.py:Class', got {kind!r}")
    extra = {k: v for k, v in value.items() if k not in _SPEC_KEYS}
    if "params" in value:
        if extra:
            names = ", ".join(sorted(map(str, extra)))
            raise UnitError(f"unknown key(s) {names} beside params "
                            "(put every parameter under params)")
        params = value["params"]
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise UnitError(f"params: expected a mapping, got {_type_name(params)}")
        return StrategySpec(kind, dict(params), value.get("bar_interval"), False)
    return StrategySpec(kind, extra, value.get("bar_interval"), True)


@attrs.frozen
class SessionSpec:
    """Addition to v1: the trading session (kernel/risk/session.py reads it).

    Times are "HH:MM" in ``timezone`` (an IANA name); ``days`` are mon..sun. Every key
    is optional: what is not given does not restrict.
    """

    timezone: str = "UTC"
    open: str | None = None
    close: str | None = None
    days: list[str] | None = None
    entry_delay: Duration = Duration(0)
    entry_cutoff: str | None = None
    flatten_at: str | None = None


@attrs.frozen
class JournalConfig:
    """What the journal records beyond the kernel's own events."""

    # per-symbol OHLC bars of the last trade price; 0 turns them off
    bar_interval: Duration = Duration(NS_PER_S)


@attrs.frozen
class TradingConfig:
    tickers: list[str] = attrs.Factory(list)
    sizing: Sizing = Sizing()
    entries: Entries = Entries()
    exits: Exits = Exits()
    monitor: Monitor = Monitor()
    emergency: Emergency = Emergency()
    risk: Risk = Risk()
    strategies: dict[str, StrategySpec] = attrs.Factory(dict)
    fees: Fees = Fees()
    journal: JournalConfig = JournalConfig()
    reconcile: Reconcile = Reconcile()
    # additions to v1, off when null: the session calendar, and which signal source
    # wins a conflict (kernel/risk/session.py, kernel/risk/priority.py)
    session: SessionSpec | None = None
    signal_priority: list[str] | None = None
    signal_conflict_window: Duration | None = None


class ConfigError(InputError):
    """An invalid trading or live config: ``problems`` holds (key.path, message) pairs."""


# ---------------------------------------------------------------- converter


def _strict_int(value: Any, _: type) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UnitError(f"expected an integer, got {shown(value)}")
    return value


def _nonneg(kind: str, value: int) -> int:
    if value < 0:
        raise UnitError(f"{kind} must not be negative, got {value}")
    return value


def _strict_str(value: Any, _: type) -> str:
    if not isinstance(value, str):
        raise UnitError(f"expected a string, got {shown(value)}")
    return value


def _strict_bool(value: Any, _: type) -> bool:
    if not isinstance(value, bool):
        raise UnitError(f"expected true or false, got {shown(value)}")
    return value


def _decimal(value: Any, _: type) -> Decimal:
    return parse_decimal(value)


def _duration(value: Any, _: type) -> int:
    return parse_duration(value)


def _money(value: Any, _: type) -> int:
    units = to_units(value)
    return _nonneg("amount", units)


def _distance(value: Any, _: type) -> Distance:
    return parse_distance(value)


def _enum_hook(cls: type[enum.Enum]) -> Any:
    choices = ", ".join(str(m.value) for m in cls)

    def hook(value: Any, _: type) -> enum.Enum:
        for member in cls:
            if isinstance(value, str) and value == member.value:
                return member
        raise UnitError(f"expected one of {choices}, got {value!r}")

    return hook


def make_converter() -> cattrs.Converter:
    """A converter that refuses what it does not understand."""
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    conv.register_structure_hook(int, _strict_int)
    conv.register_structure_hook(str, _strict_str)
    conv.register_structure_hook(bool, _strict_bool)
    conv.register_structure_hook(Decimal, _decimal)
    conv.register_structure_hook(Duration, _duration)
    conv.register_structure_hook(Money, _money)
    conv.register_structure_hook(Price, lambda v, _: to_units(v))
    conv.register_structure_hook(Distance, _distance)
    conv.register_structure_hook(StrategySpec, _strategy_spec)

    def is_str_dict(t: Any) -> bool:
        return typing.get_origin(t) is dict and typing.get_args(t)[:1] == (str,)

    def is_list(t: Any) -> bool:
        return typing.get_origin(t) is list

    def str_dict_factory(t: Any) -> Any:
        value_type = typing.get_args(t)[1]

        def hook(value: Any, _: Any) -> dict[str, Any]:
            if not isinstance(value, dict):
                raise UnitError(f"expected a mapping, got {type(value).__name__}")
            out: dict[str, Any] = {}
            errors: list[Exception] = []
            for key, item in value.items():
                try:
                    out[_strict_str(key, str)] = conv.structure(item, value_type)
                except Exception as exc:  # noqa: BLE001 - regrouped with its path below
                    exc.add_note(IterableValidationNote(f"@ key {key!r}", key, value_type))
                    errors.append(exc)
            if errors:
                raise IterableValidationError("invalid mapping", errors, t)
            return out

        return hook

    def list_factory(t: Any) -> Any:
        (elem_type,) = typing.get_args(t) or (Any,)

        def hook(value: Any, _: Any) -> list[Any]:
            # cattrs alone would iterate a string or a mapping: refuse both
            if not isinstance(value, list):
                raise UnitError(f"expected a list, got {type(value).__name__}")
            out: list[Any] = []
            errors: list[Exception] = []
            for i, item in enumerate(value):
                try:
                    out.append(conv.structure(item, elem_type))
                except Exception as exc:  # noqa: BLE001
                    exc.add_note(IterableValidationNote(f"@ index {i}", i, elem_type))
                    errors.append(exc)
            if errors:
                raise IterableValidationError("invalid list", errors, t)
            return out

        return hook

    def attrs_factory(cls: Any) -> Any:
        # cattrs alone would try `key in 5` and report "argument of type 'int' is not
        # iterable": say what the file got wrong instead
        inner = make_dict_structure_fn(cls, conv)

        def hook(value: Any, t: Any) -> Any:
            if not isinstance(value, dict):
                raise UnitError(f"expected a mapping, got {_type_name(value)}")
            return inner(value, t)

        return hook

    # an enum is a closed set: its values, nothing else (a str-enum would otherwise
    # take the plain string hook and let a typo through as a bare string)
    for closed in (FeeKind, Segment):
        conv.register_structure_hook(closed, _enum_hook(closed))
    conv.register_structure_hook_factory(is_str_dict, str_dict_factory)
    conv.register_structure_hook_factory(is_list, list_factory)
    conv.register_structure_hook_factory(attrs.has, attrs_factory)
    return conv


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    return {str: "a string", int: "an integer", float: "a number", bool: "true/false",
            list: "a list"}.get(type(value), type(value).__name__)


def flatten_errors(exc: BaseException, path: str = "") -> list[tuple[str, str]]:
    """Turn cattrs' exception groups into ``(key.path, problem)`` pairs."""
    out: list[tuple[str, str]] = []
    if isinstance(exc, (ClassValidationError, IterableValidationError)):
        with_notes, without = exc.group_exceptions()
        for sub, note in with_notes:
            if isinstance(note, AttributeValidationNote):
                sub_path = f"{path}.{note.name}" if path else note.name
            elif isinstance(note, IterableValidationNote):
                idx = note.index
                sub_path = f"{path}.{idx}" if isinstance(idx, str) else f"{path}[{idx}]"
            else:
                sub_path = path
            out.extend(flatten_errors(sub, sub_path))
        for sub in without:
            out.extend(flatten_errors(sub, path))
    elif isinstance(exc, ForbiddenExtraKeysError):
        for key in sorted(exc.extra_fields):
            out.append((f"{path}.{key}" if path else key, "unknown key"))
    elif isinstance(exc, KeyError):
        out.append((path, f"required key {exc.args[0]!r} is missing"))
    elif isinstance(exc, UnitError):
        out.append((path, str(exc)))
    elif isinstance(exc, TypeError) and "missing" in str(exc) and "argument" in str(exc):
        out.append((path, "required key missing: " + str(exc).split(":")[-1].strip()))
    else:
        out.append((path, str(exc) or type(exc).__name__))
    return out


@functools.cache
def converter() -> cattrs.Converter:
    """The strict converter, built once on first use. Nobody registers hooks on it:
    a reader that needs more types builds its own from ``make_converter``."""
    return make_converter()


def structure(data: Any, cls: type, path: str = "", source: str = "") -> Any:
    """Structure ``data`` as ``cls`` or raise ConfigError naming every bad key path."""
    try:
        return converter().structure(data, cls)
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(source, flatten_errors(exc, path)) from None


def validate_config(cfg: TradingConfig, path: str = "config") -> list[tuple[str, str]]:
    """Cross-field checks the types cannot express."""
    problems: list[tuple[str, str]] = []
    s = cfg.sizing
    for key in ("unit_position_size", "max_position_size"):
        if getattr(s, key) <= 0:
            problems.append((f"{path}.sizing.{key}", "must be positive"))
    if s.unit_position_size > s.max_position_size > 0:
        problems.append((f"{path}.sizing.unit_position_size", "is above max_position_size"))
    for i, tier in enumerate(s.tier_list):
        if tier.price_min > tier.price_max:
            problems.append((f"{path}.sizing.tier_list[{i}]", "price_min is above price_max"))
        if tier.unit_position_size <= 0 or tier.max_position_size <= 0:
            problems.append((f"{path}.sizing.tier_list[{i}]", "sizes must be positive"))
    for key, value in (("monitor.check_interval", cfg.monitor.check_interval),
                       ("monitor.stale_after", cfg.monitor.stale_after),
                       ("emergency.retry_interval", cfg.emergency.retry_interval)):
        if value < MIN_INTERVAL:
            problems.append((f"{path}.{key}", f"{fmt_duration(value) if value else '0s'} is "
                                              f"below the minimum {fmt_duration(MIN_INTERVAL)}"))
    if cfg.monitor.gap_threshold_pct <= 0:
        problems.append((f"{path}.monitor.gap_threshold_pct", "must be positive"))
    if not 0 <= cfg.monitor.bad_print_pct < 100:
        problems.append((f"{path}.monitor.bad_print_pct", "must be at least 0 and below 100"))
    if cfg.entries.entry_order_ttl <= 0:
        problems.append((f"{path}.entries.entry_order_ttl", "must be positive"))
    if cfg.exits.exit_order_ttl <= 0:
        problems.append((f"{path}.exits.exit_order_ttl", "must be positive"))
    if cfg.risk.max_errors <= 0:
        problems.append((f"{path}.risk.max_errors", "must be positive"))
    if cfg.risk.max_order_rate <= 0:
        problems.append((f"{path}.risk.max_order_rate", "must be positive"))
    if cfg.risk.max_open_positions is not None and cfg.risk.max_open_positions <= 0:
        problems.append((f"{path}.risk.max_open_positions", "must be positive"))
    dd = cfg.risk.max_drawdown_pct
    if dd is not None and not 0 < dd < 100:
        problems.append((f"{path}.risk.max_drawdown_pct", "must be above 0 and below 100"))
    if cfg.reconcile.foreign_orders not in FOREIGN_ORDER_POLICIES:
        problems.append((f"{path}.reconcile.foreign_orders",
                         f"must be {', '.join(FOREIGN_ORDER_POLICIES[:-1])} or "
                         f"{FOREIGN_ORDER_POLICIES[-1]}, got {cfg.reconcile.foreign_orders!r}"))
    if cfg.reconcile.interval <= 0:
        problems.append((f"{path}.reconcile.interval", "must be positive"))
    if cfg.journal.bar_interval < 0:
        problems.append((f"{path}.journal.bar_interval", "must not be negative (0: no bars)"))
    from .risk.rules_config import rule_problems  # it reads this module's classes

    problems += rule_problems(cfg, path)
    problems += fee_model_problems(cfg.fees.default, f"{path}.fees.default")
    for sym, model in cfg.fees.symbols.items():
        problems += fee_model_problems(model, f"{path}.fees.symbols.{sym}")
    # strategies: resolved and checked by strategies.loader (load_strategy_plans), which
    # needs the folder of the file the config came from. One check stays here, before a
    # class is ever built: the built-in averages keep their window in memory, so a window
    # of a trillion ticks must be refused, not attempted.
    for sym, spec in cfg.strategies.items():
        for key in WINDOWED_BUILTINS.get(spec.kind, ()):
            window = spec.params.get(key)
            if isinstance(window, int) and not isinstance(window, bool) and window > MAX_MA_WINDOW:
                where = f"{path}.strategies.{sym}." + (key if spec.legacy else f"params.{key}")
                problems.append((where, f"must be at most {MAX_MA_WINDOW} ticks, got {window}"))
    return problems


def load_strategy_plans(cfg: TradingConfig, *, base_dir: Any, source: str = "",
                        path: str = "config.strategies") -> dict[str, Any]:
    """Every ticker's strategy resolved (``strategies.loader.StrategyPlan``); all
    problems as one ``ConfigError`` whose paths name the keys the file wrote."""
    from ..strategies.loader import load_strategies

    try:
        return load_strategies({s: spec.loader_spec() for s, spec in cfg.strategies.items()},
                               base_dir=base_dir, source=source, path=path)
    except InputError as exc:
        problems = []
        for key, text in exc.problems:
            for sym, spec in cfg.strategies.items():
                prefix = f"{path}.{sym}.params"
                if spec.legacy and (key == prefix or key.startswith(prefix + ".")):
                    key = f"{path}.{sym}" + key[len(prefix):]
            problems.append((key, text))
        raise ConfigError(source, problems) from None
