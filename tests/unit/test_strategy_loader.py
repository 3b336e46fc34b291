"""strategies/loader.py and the intent contract of strategies/base.py.

Every way a strategy spec can be wrong is an InputError at its key, before anything
runs; each test pins the message a user reads. The base tests pin that a strategy's
answer is never guessed (a lowercase "buy" is an error, not a short).
"""
from __future__ import annotations

import sys
import textwrap
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from triotrade.kernel.errors import InputError
from triotrade.kernel.instruments import Instrument
from triotrade.strategies import loader
from triotrade.strategies.base import (Action, ContextWriter, Intent, IntentError,
                                       validate_intent)
from triotrade.strategies.ma_cross import MovingAverageCross

SRC = "scn.yaml"
KEY = "config.strategies.ACME"


def _write(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body))
    return path


def _problems(kind: object, params: object = None, base: Path | str = ".",
              **kw: object) -> list[str]:
    with pytest.raises(InputError) as info:
        loader.load_strategy(kind, params, base_dir=base, source=SRC, path=KEY, **kw)
    assert info.value.source == SRC
    return info.value.lines()


MINE = """\
    from decimal import Decimal

    class Helper:
        pass

    class Mine:
        def __init__(self, window: int, level: Decimal = Decimal("1.5"),
                     ratio: float = 0.5, label: str = "x", short: bool = False,
                     cap: int | None = None) -> None:
            self.window, self.level, self.ratio = window, level, ratio
            self.label, self.short, self.cap = label, short, cap
            if window < 1:
                raise ValueError("window must be at least 1")

        def on_price(self, ts_ns, price):
            return None

        def on_fill(self, ctx, fill):
            return None
"""


# ------------------------------------------------------------------ resolving the kind


def test_builtin_names_resolve_to_their_classes() -> None:
    plan = loader.load_strategy("ma_cross", {"fast": 5, "slow": 9}, base_dir=".")
    assert plan.cls is MovingAverageCross
    a, b = plan("ACME"), plan("BETA")
    assert isinstance(a, MovingAverageCross) and a is not b  # one instance per ticker
    assert (a.fast, a.slow) == (5, 9)
    assert set(loader.BUILTINS) == {"ma_cross", "ema_cross", "zscore_reversion"}


def test_unknown_builtin_lists_the_valid_ones() -> None:
    assert _problems("rsi") == [
        f"{SRC}: {KEY}.kind: unknown strategy 'rsi' (built-in: ema_cross, ma_cross, "
        "zscore_reversion; or 'path/to/file.py:ClassName' or 'package.module:ClassName')"]


def test_kind_that_is_not_a_string() -> None:
    assert _problems(12) == [f"{SRC}: {KEY}.kind: expected a strategy name or "
                             "'path/to/file.py:ClassName' or 'package.module:ClassName', got 12"]


def test_file_strategy_relative_to_the_base_folder(tmp_path: Path) -> None:
    _write(tmp_path, "strats/mine.py", MINE)
    plan = loader.load_strategy("strats/mine.py:Mine", {"window": 3}, base_dir=tmp_path)
    inst = plan("ACME")
    assert inst.window == 3 and inst.level == Decimal("1.5")
    assert plan.caps == loader.Capabilities(uses_on_price=True, uses_on_quote=False,
                                            uses_on_bar=False, uses_on_fill=True)
    assert plan.caps.uses_context


def test_file_not_found_names_where_it_looked(tmp_path: Path) -> None:
    assert _problems("nope.py:Mine", base=tmp_path) == [
        f"{SRC}: {KEY}.kind: strategy file not found: nope.py (looked for {tmp_path / 'nope.py'})"]


def test_import_error_points_at_the_strategy_files_own_line(tmp_path: Path) -> None:
    _write(tmp_path, "bad.py", """\
        import math

        X = math.sqrt(4)
        Y = undefined_name + 1

        class Mine:
            def on_price(self, ts_ns, price):
                return None
    """)
    assert _problems("bad.py:Mine", base=tmp_path) == [
        f"{SRC}: {KEY}.kind: cannot import bad.py: bad.py:4: NameError: "
        "name 'undefined_name' is not defined"]


def test_import_error_in_a_module_it_imports_shows_the_importing_line(tmp_path: Path) -> None:
    _write(tmp_path, "uses.py", """\
        import json
        import no_such_module_for_triotrade_tests

        class Mine:
            pass
    """)
    assert _problems("uses.py:Mine", base=tmp_path) == [
        f"{SRC}: {KEY}.kind: cannot import uses.py: uses.py:2: ModuleNotFoundError: "
        "No module named 'no_such_module_for_triotrade_tests'"]


def test_syntax_error_has_its_line(tmp_path: Path) -> None:
    _write(tmp_path, "syn.py", "class Mine:\n    def on_price(self, ts_ns, price)\n        pass\n")
    (line,) = _problems("syn.py:Mine", base=tmp_path)
    assert line.startswith(f"{SRC}: {KEY}.kind: cannot import syn.py: syn.py:2: SyntaxError: ")


def test_failed_import_is_not_cached(tmp_path: Path) -> None:
    path = _write(tmp_path, "later.py", "raise RuntimeError('not yet')\n")
    assert _problems("later.py:Mine", base=tmp_path) == [
        f"{SRC}: {KEY}.kind: cannot import later.py: later.py:1: RuntimeError: not yet"]
    path.write_text("class Mine:\n    def on_price(self, ts_ns, price):\n        return None\n")
    assert loader.load_strategy("later.py:Mine", base_dir=tmp_path).cls.__name__ == "Mine"


def test_class_missing_lists_what_the_file_defines(tmp_path: Path) -> None:
    _write(tmp_path, "mine.py", MINE)
    assert _problems("mine.py:Other", base=tmp_path) == [
        f"{SRC}: {KEY}.kind: mine.py has no class 'Other' (classes defined there: Helper, Mine)"]
    _write(tmp_path, "empty.py", "from decimal import Decimal\nX = 1\n")
    assert _problems("empty.py:Mine", base=tmp_path) == [
        f"{SRC}: {KEY}.kind: empty.py has no class 'Mine' (it defines no classes)"]


def test_name_that_is_not_a_class(tmp_path: Path) -> None:
    _write(tmp_path, "fn.py", "def Mine():\n    pass\n")
    assert _problems("fn.py:Mine", base=tmp_path) == [
        f"{SRC}: {KEY}.kind: 'Mine' in fn.py is a function, not a class"]


def test_class_without_market_hooks(tmp_path: Path) -> None:
    _write(tmp_path, "deaf.py", "class Deaf:\n    def on_fill(self, ctx, fill):\n        pass\n")
    assert _problems("deaf.py:Deaf", base=tmp_path) == [
        f"{SRC}: {KEY}.kind: Deaf defines none of on_price, on_quote, on_bar: "
        "it would never see the market"]


def test_module_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "site"
    _write(pkg, "tt_pkg_ok/__init__.py", "")
    _write(pkg, "tt_pkg_ok/signals.py", MINE)
    _write(pkg, "tt_pkg_broken.py", "x = 1\nraise ValueError('broken on purpose')\n")
    monkeypatch.syspath_prepend(str(pkg))
    plan = loader.load_strategy("tt_pkg_ok.signals:Mine", {"window": 2}, base_dir=".")
    assert plan.cls.__module__ == "tt_pkg_ok.signals"
    assert _problems("tt_pkg_missing_zz:Mine") == [
        f"{SRC}: {KEY}.kind: cannot import module 'tt_pkg_missing_zz': "
        "ModuleNotFoundError: No module named 'tt_pkg_missing_zz'"]
    assert _problems("tt_pkg_broken:Mine") == [
        f"{SRC}: {KEY}.kind: cannot import module 'tt_pkg_broken': "
        "tt_pkg_broken.py:2: ValueError: broken on purpose"]
    assert _problems("tt_pkg_ok.signals:Nope") == [
        f"{SRC}: {KEY}.kind: module 'tt_pkg_ok.signals' has no class 'Nope' "
        "(classes defined there: Helper, Mine)"]
    sys.modules.pop("tt_pkg_broken", None)


def test_malformed_kind_with_colon() -> None:
    assert _problems("mine.py:") == [
        f"{SRC}: {KEY}.kind: cannot read 'mine.py:': expected "
        "'path/to/file.py:ClassName' or 'package.module:ClassName'"]


def test_a_file_is_imported_once_for_many_tickers(tmp_path: Path) -> None:
    log = tmp_path / "imports.log"
    _write(tmp_path, "counted.py", f"""\
        with open({str(log)!r}, "a") as f:
            f.write("imported\\n")

        class Mine:
            def on_price(self, ts_ns, price):
                return None
    """)
    plans = loader.load_strategies(
        {"ACME": {"kind": "counted.py:Mine"}, "BETA": {"kind": "./counted.py:Mine"}},
        base_dir=tmp_path, source=SRC)
    make = loader.factory(plans)
    a, b = make("ACME"), make("BETA")
    assert type(a) is type(b) and a is not b
    assert make("GAMMA") is None
    assert log.read_text() == "imported\n"


def test_two_files_with_the_same_name_do_not_collide(tmp_path: Path) -> None:
    body = "class S:\n    V = {v}\n    def on_price(self, ts_ns, price):\n        return None\n"
    _write(tmp_path, "a/strategy.py", body.format(v=1))
    _write(tmp_path, "b/strategy.py", body.format(v=2))
    one = loader.load_strategy("a/strategy.py:S", base_dir=tmp_path).cls
    two = loader.load_strategy("b/strategy.py:S", base_dir=tmp_path).cls
    assert (one.V, two.V) == (1, 2)


# ------------------------------------------------------------------ parameters


def test_unknown_params_list_the_accepted_ones() -> None:
    assert _problems("ma_cross", {"fastt": 3, "slow": 9}) == [
        f"{SRC}: {KEY}.params.fastt: unknown parameter 'fastt' "
        "(MovingAverageCross accepts: fast, slow, allow_short)"]


def test_wrongly_typed_params_against_the_annotations(tmp_path: Path) -> None:
    _write(tmp_path, "mine.py", MINE)
    lines = _problems("mine.py:Mine", {"window": True, "level": [1], "ratio": "0.5",
                                       "label": 3, "short": 1, "cap": 2.5}, base=tmp_path)
    assert lines == [
        f"{SRC}: {KEY}.params.window: expected int, got bool True",  # a bool is not an int
        f"{SRC}: {KEY}.params.level: expected Decimal, got list [1]",
        f"{SRC}: {KEY}.params.ratio: expected float, got str '0.5'",
        f"{SRC}: {KEY}.params.label: expected str, got int 3",
        f"{SRC}: {KEY}.params.short: expected bool, got int 1",
        f"{SRC}: {KEY}.params.cap: expected int, got float 2.5",
    ]


def test_decimal_params_are_read_exactly_and_ints_pass_as_floats(tmp_path: Path) -> None:
    _write(tmp_path, "mine.py", MINE)
    plan = loader.load_strategy("mine.py:Mine", {"window": 2, "level": "0.1", "ratio": 1,
                                                 "cap": None}, base_dir=tmp_path)
    assert plan.params["level"] == Decimal("0.1") and type(plan.params["level"]) is Decimal
    inst = plan()
    assert inst.ratio == 1 and inst.cap is None
    assert _problems("mine.py:Mine", {"window": 2, "level": "1.2.3"}, base=tmp_path) == [
        f"{SRC}: {KEY}.params.level: expected Decimal: cannot parse '1.2.3' as a decimal number"]


def test_builtin_params_are_checked_too() -> None:
    assert _problems("zscore_reversion", {"window": "20", "entry_z": "2"}) == [
        f"{SRC}: {KEY}.params.window: expected int, got str '20'"]
    plan = loader.load_strategy("zscore_reversion", {"entry_z": "2.5", "exit_z": 0.25},
                                base_dir=".")
    assert plan().entry_z == Fraction(5, 2) and plan().exit_z == Fraction(1, 4)


def test_missing_required_param(tmp_path: Path) -> None:
    _write(tmp_path, "mine.py", MINE)
    assert _problems("mine.py:Mine", {}, base=tmp_path) == [
        f"{SRC}: {KEY}.params.window: missing: Mine requires it"]


def test_params_the_constructor_refuses() -> None:
    assert _problems("ma_cross", {"fast": 9, "slow": 5}) == [
        f"{SRC}: {KEY}.params: MovingAverageCross(fast=9, slow=5) refused its parameters: "
        "ValueError: need 0 < fast < slow"]


def test_params_not_a_mapping() -> None:
    assert _problems("ma_cross", [1, 2]) == [
        f"{SRC}: {KEY}.params: expected a mapping of parameter names to values, got list"]


def test_class_without_constructor_takes_no_params(tmp_path: Path) -> None:
    _write(tmp_path, "bare.py", "class Bare:\n    def on_price(self, ts_ns, price):\n"
                                "        return None\n")
    assert _problems("bare.py:Bare", {"x": 1}, base=tmp_path) == [
        f"{SRC}: {KEY}.params.x: unknown parameter 'x' (Bare takes no parameters)"]


def test_kwargs_constructor_takes_any_name(tmp_path: Path) -> None:
    _write(tmp_path, "kw.py", """\
        class Kw:
            def __init__(self, **opts):
                self.opts = opts
            def on_price(self, ts_ns, price):
                return None
    """)
    assert loader.load_strategy("kw.py:Kw", {"anything": 1}, base_dir=tmp_path)().opts == {
        "anything": 1}


# ------------------------------------------------------------------ specs and bars


def test_spec_mapping_keys_are_checked() -> None:
    with pytest.raises(InputError) as info:
        loader.load_strategy_spec({"kind": "ma_cross", "parmas": {}}, base_dir=".",
                                  source=SRC, path=KEY)
    assert info.value.lines() == [
        f"{SRC}: {KEY}.parmas: unknown key (allowed: kind, params, bar_interval)"]
    with pytest.raises(InputError) as info:
        loader.load_strategy_spec({"params": {}}, base_dir=".", source=SRC, path=KEY)
    assert info.value.lines()[0].startswith(f"{SRC}: {KEY}.kind: missing")


def test_load_strategies_reports_every_ticker() -> None:
    with pytest.raises(InputError) as info:
        loader.load_strategies({"ACME": {"kind": "rsi"}, "BETA": {"kind": "ma_cross",
                                                                   "params": {"x": 1}}},
                               base_dir=".", source=SRC)
    assert [p for p, _ in info.value.problems] == ["config.strategies.ACME.kind",
                                                   "config.strategies.BETA.params.x"]


def test_bar_interval_from_spec_or_class(tmp_path: Path) -> None:
    _write(tmp_path, "barry.py", """\
        class WithDefault:
            bar_interval = "5m"
            def on_bar(self, ctx, bar):
                return None

        class NoDefault:
            def on_bar(self, ctx, bar):
                return None
    """)
    assert loader.load_strategy("barry.py:WithDefault", base_dir=tmp_path).bar_interval_ns \
        == 300_000_000_000
    assert loader.load_strategy("barry.py:NoDefault", base_dir=tmp_path,
                                bar_interval="1s").bar_interval_ns == 1_000_000_000
    assert _problems("barry.py:NoDefault", base=tmp_path) == [
        f"{SRC}: {KEY}.bar_interval: NoDefault has on_bar: give a bar interval such as '1m' "
        "(here or as its class attribute bar_interval)"]
    assert _problems("barry.py:NoDefault", base=tmp_path, bar_interval="1 minute") == [
        f"{SRC}: {KEY}.bar_interval: cannot parse duration '1 minute' "
        "(integer + unit: ms, s, m, h)"]
    assert _problems("ma_cross", base=tmp_path, bar_interval="1m") == [
        f"{SRC}: {KEY}.bar_interval: MovingAverageCross has no on_bar, so no bars to make"]


def test_capabilities_are_probed_once_per_class() -> None:
    class Q:
        def on_quote(self, ctx, quote):  # noqa: ANN001, ANN201
            return None

    caps = loader.capabilities(Q)
    assert caps == loader.Capabilities(False, True, False, False)
    assert loader.capabilities(Q) is caps


# ------------------------------------------------------------------ intents


def test_validate_intent_accepts_exactly_the_documented_values() -> None:
    assert validate_intent(None) is None
    assert validate_intent("BUY") == Intent(Action.BUY)
    assert validate_intent("SELL").side is Action.SELL
    assert validate_intent(Action.EXIT) == Intent(Action.EXIT)
    sized = Intent(Action.BUY, size=250, reason="breakout")
    assert validate_intent(sized) is sized
    assert validate_intent("BUY") is validate_intent("BUY")  # shared, not allocated per tick


@pytest.mark.parametrize(("value", "message"), [
    ("buy", "returned 'buy': expected 'BUY', 'SELL', 'EXIT', an Action, an Intent or None "
            "(did you mean 'BUY'? sides are upper case)"),
    ("LONG", "returned 'LONG': expected 'BUY', 'SELL', 'EXIT', an Action, an Intent or None"),
    (1, "returned 1 (int): expected 'BUY', 'SELL', 'EXIT', an Action, an Intent or None"),
    (True, "returned True (bool): expected 'BUY', 'SELL', 'EXIT', an Action, an Intent or None"),
    (("BUY", 10), "returned ('BUY', 10) (tuple): expected 'BUY', 'SELL', 'EXIT', an Action, "
                  "an Intent or None"),
])
def test_anything_else_is_an_error_never_a_short(value: object, message: str) -> None:
    with pytest.raises(IntentError) as info:
        validate_intent(value)
    assert str(info.value) == message


def test_intent_fields_are_validated_when_built() -> None:
    with pytest.raises(TypeError, match="Intent.size must be a positive int or None, got bool"):
        Intent(Action.BUY, size=True)
    with pytest.raises(ValueError, match="Intent.size must be positive, got 0"):
        Intent(Action.BUY, size=0)
    with pytest.raises(TypeError):
        Intent("BUY")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Intent(Action.BUY, reason=5)  # type: ignore[arg-type]


# ------------------------------------------------------------------ the context


def test_context_is_read_only_and_tracks_what_the_kernel_writes() -> None:
    inst = Instrument("ACME", Decimal("0.01"))
    writer = ContextWriter(inst)
    ctx = writer.ctx
    assert (ctx.symbol, ctx.instrument, ctx.position, ctx.avg_price) == ("ACME", inst, 0, 0)
    with pytest.raises(AttributeError, match="read-only"):
        ctx.position = 5  # type: ignore[misc]
    with pytest.raises(AttributeError, match="read-only"):
        ctx._qty = 5  # noqa: SLF001
    # long 3 at an average of 100.333...: the kernel's Position figures, exactly
    writer.position(3, 301, 0)
    writer.quote(7, bid=99, ask=101, last=100)
    assert ctx.now_ns == 7 and ctx.mark == 99  # a long is marked at the bid
    assert ctx.avg_price == Fraction(301, 3)
    assert ctx.unrealized_pnl == 3 * 99 - 301
    writer.position(-2, -200, 12)
    writer.quote(8, bid=98, ask=102, last=100)
    assert ctx.mark == 102 and ctx.avg_price == 100  # a short at the ask
    assert ctx.unrealized_pnl == -2 * 102 + 200 and ctx.realized_pnl == 12
    writer.position(0, 0, 12)
    writer.quote(9, bid=98, ask=102, last=100)
    assert ctx.unrealized_pnl == 0 and ctx.mark == 100
