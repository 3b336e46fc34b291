"""Strategy specs to strategy factories, with every mistake found before a run starts.

A spec names a strategy and its parameters::

    kind: ma_cross                          # a built-in (BUILTINS below)
    kind: strategies/mean_revert.py:Revert  # a file, relative to the config's folder
    kind: mypackage.signals:Revert          # an importable module
    params: {window: 20, entry_z: "2.0"}    # keyword arguments of the class

``load_strategy`` resolves one into a ``StrategyPlan``: the class, its checked
parameters and its ``Capabilities`` (which hooks it defines, probed once here so the
kernel's tick path never asks ``getattr``). Calling a plan makes a fresh instance,
one per ticker. Everything that can be wrong is an ``InputError`` naming the key:
a file that is not there, a file that fails to import (with its own file:line), a
class that is not in it (with what is), an unknown parameter (with the accepted
ones), a parameter of the wrong type (checked against the class's annotations), or
parameters the class's constructor refuses (it is called once, here, to find out).

A file is imported once per path, however many tickers use it, under a private
module name (``triotrade_strategy_<hash>``) so two files called ``strategy.py`` in
different folders do not collide. It is not put on ``sys.path``: a strategy that
spans several modules is a package, named by its module path.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
import traceback
import types
import typing
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping

import attrs

from ..kernel.errors import InputError
from ..kernel.units import UnitError, parse_decimal, parse_duration
from .base import HOOKS, MARKET_HOOKS
from .ema_cross import EmaCross
from .ma_cross import MovingAverageCross
from .zscore_reversion import ZScoreReversion

BUILTINS: dict[str, type] = {
    "ema_cross": EmaCross,
    "ma_cross": MovingAverageCross,
    "zscore_reversion": ZScoreReversion,
}

SPEC_KEYS = ("kind", "params", "bar_interval")
_FORMS = "'path/to/file.py:ClassName' or 'package.module:ClassName'"


@attrs.frozen
class Capabilities:
    """Which hooks a strategy class defines; the kernel dispatches on these flags."""

    uses_on_price: bool
    uses_on_quote: bool
    uses_on_bar: bool
    uses_on_fill: bool

    @property
    def uses_context(self) -> bool:
        """Whether the kernel has to keep a ``StrategyContext`` current for it."""
        return self.uses_on_quote or self.uses_on_bar or self.uses_on_fill


_CAPS: dict[type, Capabilities] = {}


def capabilities(cls: type) -> Capabilities:
    """The hooks ``cls`` defines (a callable attribute, inherited or not), cached."""
    caps = _CAPS.get(cls)
    if caps is None:
        flags = [callable(getattr(cls, hook, None)) for hook in HOOKS]
        caps = Capabilities(*flags)
        _CAPS[cls] = caps
    return caps


@attrs.frozen
class StrategyPlan:
    """A resolved strategy: call it (with the ticker's symbol) for a fresh instance."""

    kind: str
    cls: type
    params: Mapping[str, Any]
    caps: Capabilities
    bar_interval_ns: int | None = None  # set when the class has on_bar

    def __call__(self, symbol: str | None = None) -> Any:
        return self.cls(**self.params)

    def make(self) -> Any:
        return self.cls(**self.params)


# ------------------------------------------------------------------ entry points


def load_strategy_spec(spec: object, *, base_dir: str | Path, source: str = "",
                       path: str = "strategy") -> StrategyPlan:
    """A raw mapping ``{kind, params?, bar_interval?}`` (as read from YAML) to a plan."""
    if not isinstance(spec, Mapping):
        raise InputError(source, [(path, f"expected a mapping with 'kind' and 'params', "
                                         f"got {type(spec).__name__}")])
    unknown = [k for k in spec if k not in SPEC_KEYS]
    if unknown:
        raise InputError(source, [(f"{path}.{k}", f"unknown key (allowed: {', '.join(SPEC_KEYS)})")
                                  for k in unknown])
    if "kind" not in spec:
        raise InputError(source, [(f"{path}.kind", "missing (a built-in name or " + _FORMS + ")")])
    return load_strategy(spec["kind"], spec.get("params"), base_dir=base_dir, source=source,
                         path=path, bar_interval=spec.get("bar_interval"))


def load_strategy(kind: object, params: object = None, *, base_dir: str | Path,
                  source: str = "", path: str = "strategy",
                  bar_interval: object = None) -> StrategyPlan:
    """Resolve ``kind`` and check ``params``; raise ``InputError`` at ``path.*``."""
    cls = resolve_class(kind, base_dir=base_dir, source=source, path=f"{path}.kind")
    caps = capabilities(cls)
    if not any(getattr(caps, f"uses_{hook}") for hook in MARKET_HOOKS):
        raise InputError(source, [(f"{path}.kind", f"{cls.__name__} defines none of "
                                   f"{', '.join(MARKET_HOOKS)}: it would never see the market")])
    checked = check_params(cls, params, source=source, path=f"{path}.params")
    interval = _bar_interval(cls, caps, bar_interval, source, path)
    try:
        cls(**checked)
    except Exception as exc:  # noqa: BLE001 - any refusal is the user's to read
        args = ", ".join(f"{k}={v!r}" for k, v in checked.items())
        raise InputError(source, [(f"{path}.params", f"{cls.__name__}({args}) refused its "
                                   f"parameters: {type(exc).__name__}: {exc}")]) from None
    return StrategyPlan(str(kind), cls, types.MappingProxyType(checked), caps, interval)


def load_strategies(specs: Mapping[str, object], *, base_dir: str | Path, source: str = "",
                    path: str = "config.strategies") -> dict[str, StrategyPlan]:
    """Every ticker's spec; all problems of all tickers in one ``InputError``."""
    plans: dict[str, StrategyPlan] = {}
    problems: list[tuple[str, str]] = []
    for sym, spec in specs.items():
        try:
            plans[sym] = load_strategy_spec(spec, base_dir=base_dir, source=source,
                                            path=f"{path}.{sym}")
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(source, problems)
    return plans


class PlanFactory:
    """A kernel ``strategy_factory``: symbol -> a new instance, or None (no strategy);
    ``bar_interval_ns(symbol)`` tells the kernel the bar interval configured for it."""

    __slots__ = ("plans",)

    def __init__(self, plans: Mapping[str, StrategyPlan]) -> None:
        self.plans = plans

    def __call__(self, symbol: str) -> Any:
        plan = self.plans.get(symbol)
        return plan.make() if plan is not None else None

    def bar_interval_ns(self, symbol: str) -> int | None:
        plan = self.plans.get(symbol)
        return plan.bar_interval_ns if plan is not None else None


def factory(plans: Mapping[str, StrategyPlan]) -> PlanFactory:
    """A kernel ``strategy_factory`` over resolved plans."""
    return PlanFactory(plans)


def bar_interval_of(cls: type) -> int | None:
    """The class attribute ``bar_interval`` in ns, for a strategy handed to the kernel
    without a plan (tests, embedding); None when it has no on_bar or no interval."""
    if not capabilities(cls).uses_on_bar:
        return None
    value = getattr(cls, "bar_interval", None)
    if value is None:
        return None
    return value if type(value) is int else parse_duration(value)


# ------------------------------------------------------------------ resolving a kind


def resolve_class(kind: object, *, base_dir: str | Path, source: str = "",
                  path: str = "kind") -> type:
    if not isinstance(kind, str) or not kind.strip():
        raise InputError(source, [(path, f"expected a strategy name or {_FORMS}, got {kind!r}")])
    kind = kind.strip()
    if ":" not in kind:
        cls = BUILTINS.get(kind)
        if cls is None:
            raise InputError(source, [(path, f"unknown strategy {kind!r} (built-in: "
                                       f"{', '.join(sorted(BUILTINS))}; or {_FORMS})")])
        return cls
    where, _, name = kind.rpartition(":")
    if not where or not name.isidentifier():
        raise InputError(source, [(path, f"cannot read {kind!r}: expected {_FORMS}")])
    if where.endswith(".py") or "/" in where or "\\" in where:
        module = _import_file(Path(base_dir), where, source, path)
        shown = where
    else:
        module = _import_module(where, source, path)
        shown = f"module {where!r}"
    obj = getattr(module, name, None)
    if obj is None:
        found = _classes_of(module)
        listing = f"classes defined there: {', '.join(found)}" if found else "it defines no classes"
        raise InputError(source, [(path, f"{shown} has no class {name!r} ({listing})")])
    if not isinstance(obj, type):
        raise InputError(source, [(path, f"{name!r} in {shown} is a "
                                   f"{type(obj).__name__}, not a class")])
    return obj


_FILE_MODULES: dict[Path, types.ModuleType] = {}


def _import_file(base: Path, rel: str, source: str, path: str) -> types.ModuleType:
    file = (base / rel).resolve()
    cached = _FILE_MODULES.get(file)
    if cached is not None:
        return cached
    if not file.is_file():
        what = "is a folder" if file.is_dir() else "not found"
        raise InputError(source, [(path, f"strategy file {what}: {rel} (looked for {file})")])
    digest = hashlib.sha256(str(file).encode()).hexdigest()[:16]
    modname = f"triotrade_strategy_{digest}"
    spec = importlib.util.spec_from_file_location(modname, file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # registered while it runs: dataclasses, pickling and typing look modules up by name
    sys.modules[modname] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - report whatever the file raised
        sys.modules.pop(modname, None)
        raise InputError(source, [(path, f"cannot import {rel}: "
                                   f"{_located(exc, file, rel)}")]) from None
    _FILE_MODULES[file] = module
    return module


def _import_module(name: str, source: str, path: str) -> types.ModuleType:
    try:
        return importlib.import_module(name)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - report whatever it raised
        origin = _module_file(exc)
        where = _located(exc, origin, origin.name) if origin else _exc_text(exc)
        raise InputError(source, [(path, f"cannot import module {name!r}: {where}")]) from None


def _exc_text(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _located(exc: BaseException, file: Path | None, shown: str) -> str:
    """``shown:LINE: Type: message``, LINE being the failing line of ``file`` itself
    (for an error raised deeper, in a module the file imports, the line of the file
    that led there)."""
    if isinstance(exc, SyntaxError) and exc.filename and file is not None \
            and Path(exc.filename).resolve() == file:
        return f"{shown}:{exc.lineno}: {type(exc).__name__}: {exc.msg}"
    line = None
    if file is not None:
        for frame in traceback.extract_tb(exc.__traceback__):
            if frame.filename and Path(frame.filename).resolve() == file:
                line = frame.lineno
    if line is None:
        return _exc_text(exc)
    return f"{shown}:{line}: {_exc_text(exc)}"


def _module_file(exc: BaseException) -> Path | None:
    """The file a failed ``import_module`` was executing when it raised, if any."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return Path(exc.filename).resolve()
    machinery = (Path(__file__).resolve(), Path(importlib.__file__).resolve())
    frames = [Path(f.filename).resolve() for f in traceback.extract_tb(exc.__traceback__)
              if f.filename and not f.filename.startswith("<")]
    frames = [f for f in frames if f not in machinery]
    return frames[-1] if frames else None


def _classes_of(module: types.ModuleType) -> list[str]:
    """Classes defined in the module itself (not the ones it imported)."""
    own = module.__name__
    return sorted(n for n, v in vars(module).items()
                  if isinstance(v, type) and not n.startswith("_")
                  and (v.__module__ == own or v.__module__.startswith(own + ".")))


# ------------------------------------------------------------------ parameters

_CHECKED = {int: "int", float: "float", Decimal: "Decimal", str: "str", bool: "bool"}
_BY_NAME = {name: t for t, name in _CHECKED.items()}


def check_params(cls: type, params: object, *, source: str = "",
                 path: str = "params") -> dict[str, Any]:
    """``params`` checked against ``cls.__init__``'s signature; Decimals converted.

    Names must be parameters of the constructor (unless it takes ``**kwargs``);
    required parameters must be given; values must match annotations of ``int``,
    ``float``, ``Decimal``, ``str`` or ``bool`` (optionally ``| None``). A bool is
    never an int; an int is a float; a ``Decimal`` parameter takes a number or a
    numeric string (YAML has no decimals) and receives it as an exact ``Decimal``.
    Other annotations are not checked.
    """
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise InputError(source, [(path, f"expected a mapping of parameter names to values, "
                                         f"got {type(params).__name__}")])
    try:
        sig = inspect.signature(cls)
    except (TypeError, ValueError):  # builtins without a signature: trust the caller
        return dict(params)
    accepted = [p for p in sig.parameters.values()
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    open_kwargs = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    names = {p.name for p in accepted}
    hints = _hints(cls)
    problems: list[tuple[str, str]] = []
    out: dict[str, Any] = {}
    listing = (f"{cls.__name__} accepts: {', '.join(p.name for p in accepted)}" if accepted
               else f"{cls.__name__} takes no parameters")
    for key, value in params.items():
        if not isinstance(key, str) or (key not in names and not open_kwargs):
            problems.append((f"{path}.{key}", f"unknown parameter {key!r} ({listing})"))
            continue
        try:
            out[key] = _check_value(value, hints.get(key))
        except _TypeProblem as exc:
            problems.append((f"{path}.{key}", str(exc)))
    for p in accepted:
        if p.default is p.empty and p.name not in params:
            problems.append((f"{path}.{p.name}", f"missing: {cls.__name__} requires it"))
    if problems:
        raise InputError(source, problems)
    return out


class _TypeProblem(Exception):
    pass


def _hints(cls: type) -> dict[str, Any]:
    init = cls.__init__  # type: ignore[misc]
    if init is object.__init__:
        return {}
    try:
        return typing.get_type_hints(init)
    except Exception:  # noqa: BLE001 - unresolvable string annotations: read them as text
        return dict(getattr(init, "__annotations__", {}))


def _allowed(hint: Any) -> tuple[list[type], bool] | None:
    """(types, None allowed) for a checkable annotation, else None."""
    if isinstance(hint, str):  # an annotation that did not resolve: "int | None", "Decimal"
        parts = [p.strip() for p in hint.replace("Optional[", "").rstrip("]").split("|")]
        allowed = [_BY_NAME.get(p.rsplit(".", 1)[-1]) for p in parts if p != "None"]
        if not allowed or any(t is None for t in allowed):
            return None
        return [t for t in allowed if t is not None], "None" in parts or "Optional[" in hint
    if hint in _CHECKED:
        return [hint], False
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        args = typing.get_args(hint)
        real = [a for a in args if a is not type(None)]
        if real and all(a in _CHECKED for a in real):
            return list(real), len(real) < len(args)
    return None


def _check_value(value: object, hint: Any) -> object:
    allowed = _allowed(hint) if hint is not None else None
    if allowed is None:
        return value
    kinds, none_ok = allowed
    if value is None:
        if none_ok:
            return None
        raise _TypeProblem(f"expected {_names(kinds)}, got null")
    for t in kinds:
        if t is bool and type(value) is bool:
            return value
        if t is int and type(value) is int:
            return value
        if t is float and type(value) in (int, float):
            return value
        if t is str and isinstance(value, str):
            return value
        if t is Decimal and not isinstance(value, bool) \
                and isinstance(value, (int, float, str, Decimal)):
            try:
                return parse_decimal(value)
            except UnitError as exc:
                raise _TypeProblem(f"expected {_names(kinds)}: {exc}") from None
    raise _TypeProblem(f"expected {_names(kinds)}, got {type(value).__name__} {value!r}")


def _names(kinds: list[type]) -> str:
    return " or ".join(_CHECKED[t] for t in kinds)


def _bar_interval(cls: type, caps: Capabilities, value: object, source: str,
                  path: str) -> int | None:
    """The bar interval (ns) of a class with ``on_bar``: the spec's ``bar_interval``,
    else the class attribute ``bar_interval``; a duration like ``"1m"``."""
    key = f"{path}.bar_interval"
    if value is None:
        value = getattr(cls, "bar_interval", None)
        key = f"{path}.kind"
        if value is None:
            if caps.uses_on_bar:
                raise InputError(source, [(f"{path}.bar_interval", f"{cls.__name__} has on_bar: "
                                           "give a bar interval such as '1m' (here or as its "
                                           "class attribute bar_interval)")])
            return None
    elif not caps.uses_on_bar:
        raise InputError(source, [(key, f"{cls.__name__} has no on_bar, so no bars to make")])
    try:
        ns = parse_duration(value)
    except UnitError as exc:
        raise InputError(source, [(key, str(exc))]) from None
    if ns <= 0:
        raise InputError(source, [(key, "bar_interval must be positive")])
    return ns


__all__ = [
    "BUILTINS", "Capabilities", "PlanFactory", "StrategyPlan", "bar_interval_of", "capabilities",
    "check_params", "factory", "load_strategies", "load_strategy", "load_strategy_spec", "resolve_class",
]
