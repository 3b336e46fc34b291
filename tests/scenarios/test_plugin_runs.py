"""Strategies and market data plugged into whole simulated runs.

What the loader and the driver promise on their own is tested beside them; this file
protects the wiring: the kernel calls what the scenario names (in every spelling of
``kind``, with identical journals for the same strategy), clips an intent's size to
its caps and journals its reason, feeds fills and bars to the hooks, contains a
strategy that raises or answers nonsense (journaled, no more entries, exits still
working, the run failed), and replays a CSV as the same market as the same ticks
written in the scenario.
"""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from triotrade.kernel.errors import InputError
from triotrade.sim import runner, scenario
from triotrade.venues.live import LiveConfigError, parse_live_config

REPO = Path(__file__).resolve().parents[2]

HEAD = """\
version: 1
name: plug
duration: 20s
instruments:
- {symbol: AAA, tick_size: '0.01'}
"""
WALK = """\
market:
  AAA:
    walk: {every: 100ms, vol_bps: 20, start: '50.00'}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def scn_with(folder: Path, strategy: str, market: str = WALK, config: str = "") -> Any:
    text = HEAD + "config:\n" + config + f"  strategies:\n    AAA: {strategy}\n" + market
    return scenario.load(write(folder, "s.yaml", text))


def events(result: Any, type_: str) -> list[dict[str, Any]]:
    return [e for e in result.events if e["type"] == type_]


def body(result: Any) -> list[dict[str, Any]]:
    return result.events[1:]  # all but the header (it holds the file's hash)


# ------------------------------------------------------------------ kind forms


def test_every_spelling_of_ma_cross_gives_the_same_journal(tmp_path: Path) -> None:
    (tmp_path / "strats").mkdir()
    (tmp_path / "strats" / "mac.py").write_text(
        (REPO / "strategies" / "ma_cross.py").read_text().replace(
            "from ..kernel.signals import SignalSide\nfrom .base import BUY, EXIT, SELL",
            "from triotrade.kernel.signals import SignalSide\n"
            "from triotrade.strategies.base import BUY, EXIT, SELL"))
    kinds = ["{kind: ma_cross, fast: 5, slow: 20}",
             "{kind: ma_cross, params: {fast: 5, slow: 20}}",
             "{kind: 'triotrade.strategies.ma_cross:MovingAverageCross', "
             "params: {fast: 5, slow: 20}}",
             "{kind: 'strats/mac.py:MovingAverageCross', params: {fast: 5, slow: 20}}"]
    results = [runner.run(scn_with(tmp_path, k)) for k in kinds]
    assert events(results[0], "signal"), "the strategy must trade for this to mean anything"
    for r in results[1:]:
        assert body(r) == body(results[0])


@pytest.mark.parametrize("spec, where, text", [
    ("{kind: rsi}", "config.strategies.AAA.kind",
     "unknown strategy 'rsi' (built-in: ema_cross, ma_cross, zscore_reversion"),
    ("{kind: ma_cross, fst: 5}", "config.strategies.AAA.fst", "unknown parameter 'fst'"),
    ("{kind: ma_cross, params: {fast: 5}, slow: 9}", "config.strategies.AAA",
     "unknown key(s) slow beside params"),
    ("{kind: ma_cross, params: {fast: '5'}}", "config.strategies.AAA.params.fast",
     "expected int, got str '5'"),
    ("{kind: 'gone.py:X'}", "config.strategies.AAA.kind", "strategy file not found: gone.py"),
    ("{kind: 'no_such_pkg.mod:X'}", "config.strategies.AAA.kind",
     "cannot import module 'no_such_pkg.mod'"),
])
def test_strategy_spec_errors_are_located(tmp_path: Path, spec: str, where: str,
                                          text: str) -> None:
    with pytest.raises(InputError) as info:
        scn_with(tmp_path, spec)
    line = "\n".join(info.value.lines())
    assert f"{tmp_path / 's.yaml'}: {where}: " in line and text in line, line


def test_an_import_error_names_the_strategy_files_line(tmp_path: Path) -> None:
    write(tmp_path, "broken.py", "import math\n\nx = math.nope\n")
    with pytest.raises(InputError) as info:
        scn_with(tmp_path, "{kind: 'broken.py:X'}")
    assert "broken.py:3: AttributeError" in str(info.value)


# ------------------------------------------------------------------ intents


def test_an_intent_size_is_clipped_to_the_caps_and_its_reason_journaled(tmp_path: Path) -> None:
    write(tmp_path, "big.py", """\
        from triotrade.strategies.base import BUY, Intent

        class Big:
            def __init__(self):
                self.done = False

            def on_price(self, ts_ns, price):
                if self.done:
                    return None
                self.done = True
                return Intent(BUY, size=1000, reason="all in")
        """)
    r = runner.run(scn_with(tmp_path, "{kind: 'big.py:Big'}",
                            config="  sizing: {unit_position_size: 100, max_position_size: 300}\n"))
    [sig] = events(r, "signal")
    assert sig["size"] == "1000" and sig["strategy_reason"] == "all in" and sig["accepted"]
    [order] = [e for e in events(r, "order_submitted") if e["role"] == "ENTRY"]
    assert order["qty"] == "300"  # the kernel's cap, not the strategy's wish
    assert r.max_positions["AAA"] == 300 and r.ok


# ------------------------------------------------------------------ misbehaviour


def test_lowercase_buy_is_a_strategy_error_never_a_short(tmp_path: Path) -> None:
    write(tmp_path, "typo.py", """\
        class Typo:
            def on_price(self, ts_ns, price):
                return "buy"
        """)
    r = runner.run(scn_with(tmp_path, "{kind: 'typo.py:Typo'}"))
    [err] = events(r, "strategy_error")
    assert err["symbol"] == "AAA" and err["hook"] == "on_price"
    assert "'buy'" in err["error"] and "did you mean 'BUY'" in err["error"]
    assert not events(r, "order_submitted") and not events(r, "signal")
    assert not r.ok and r.exit_code == 1 and r.strategy_errors[0][0] == "AAA"
    assert r.summary["AAA"]["strategy_error"] == err["error"]


def test_a_raising_strategy_stops_opening_but_its_exits_still_work(tmp_path: Path) -> None:
    write(tmp_path, "flaky.py", """\
        class Flaky:
            def __init__(self):
                self.n = 0

            def on_price(self, ts_ns, price):
                self.n += 1
                if self.n == 1:
                    return "BUY"
                if self.n == 3:
                    raise ZeroDivisionError("no edge")
                return None
        """)
    market = """\
market:
  AAA:
    ticks:
    - {t: 0s, last: '50.00'}
    - {t: 1s, last: '50.00'}
    - {t: 2s, last: '50.00'}
    - {t: 3s, last: '50.00'}
    - {t: 10s, last: '45.00'}
signals:
- {t: 5s, symbol: AAA, side: BUY}
"""
    r = runner.run(scn_with(tmp_path, "{kind: 'flaky.py:Flaky'}", market))
    [err] = events(r, "strategy_error")
    assert err["error"] == "on_price raised ZeroDivisionError: no edge (flaky.py:10)"
    [late] = [e for e in events(r, "signal") if e["source"] == "scenario"]
    assert not late["accepted"] and late["reason"] == "strategy error"
    exits = events(r, "exit_triggered")
    assert exits and exits[0]["reason"] == "stop_loss" and exits[0]["ts_ns"] > err["ts_ns"]
    assert r.final_positions["AAA"] == 0 and r.exit_code == 1


# ------------------------------------------------------------------ context hooks


class _Keep:
    kernel: Any = None

    def __call__(self, kernel: Any) -> None:
        self.kernel = kernel


def test_fills_and_bars_reach_the_hooks_with_the_context_current(tmp_path: Path) -> None:
    write(tmp_path, "rich.py", """\
        class Rich:
            bar_interval = "1s"

            def __init__(self):
                self.bars = []
                self.fills = []
                self.quotes = 0

            def on_quote(self, ctx, quote):
                self.quotes += 1
                return "BUY" if self.quotes == 1 else None

            def on_bar(self, ctx, bar):
                self.bars.append(bar)

            def on_fill(self, ctx, fill):
                self.fills.append((fill.qty, fill.side.value, ctx.position, ctx.avg_price))
        """)
    keep = _Keep()
    r = runner.run(scn_with(tmp_path, "{kind: 'rich.py:Rich'}"), kernel_hook=keep)
    strat = keep.kernel.tickers["AAA"].strategy
    assert strat.quotes == r.ticks
    assert strat.fills and strat.fills[0][:3] == (100, "BUY", 100)
    [fill] = events(r, "fill")[:1]
    assert str(strat.fills[0][3] / 10**8) in (fill["price"], fill["price"] + "0")
    assert len(strat.bars) >= 18  # 20 s of 100 ms ticks in 1 s bars (the last is open)
    bar = strat.bars[0]
    assert bar.start_ns == 0 and bar.end_ns == 10**9 and bar.ticks == 10
    assert bar.low <= min(bar.open, bar.close) and bar.high >= max(bar.open, bar.close)


# ------------------------------------------------------------------ data files

TICKS = [(0, "50.00"), (100, "50.01"), (200, "50.03"), (300, "49.98"), (400, "50.10")]


def test_a_csv_replays_as_the_same_ticks_written_in_the_scenario(tmp_path: Path) -> None:
    rows = [(i * 500 + ms, px) for i in range(30) for ms, px in TICKS]
    start = 10**9  # the file's ts are Unix ns; the run starts one second after the epoch
    with open(tmp_path / "d.csv", "w") as f:
        f.write("ts,last\n")
        f.write("5,50.00\n")  # before the start: skipped, counted
        for ms, px in rows:
            f.write(f"{start + ms * 1_000_000},{px}\n")
        f.write(f"{start + 20 * 10**9},51.00\n")  # at the end: skipped, counted
    listed = "market:\n  AAA:\n    ticks:\n" + "".join(
        f"    - {{t: {ms}ms, last: '{px}'}}\n" for ms, px in rows)
    spec = "{kind: ma_cross, params: {fast: 3, slow: 8}}"
    from_yaml = runner.run(scn_with(tmp_path, spec, listed))
    from_file = runner.run(scn_with(tmp_path, spec, "start: '1970-01-01T00:00:01Z'\n"
                                                    "market:\n  AAA: {file: d.csv}\n"))
    assert events(from_yaml, "signal")
    assert body(from_file) == body(from_yaml)
    stats = from_file.data["AAA"]
    assert (stats.replayed, stats.before_start, stats.after_end) == (len(rows), 1, 1)
    assert from_file.summary["AAA"]["data_rows"] == {
        "replayed": str(len(rows)), "before_start": "1", "after_end": "1"}


def test_a_file_market_refuses_ticks_and_walk_and_its_rows_are_checked(tmp_path: Path) -> None:
    write(tmp_path, "d.csv", "ts,bid,ask\n0,10.00,10.01\n1000,10.05,10.01\n2000,10.005,10.01\n")
    with pytest.raises(InputError) as info:
        scn_with(tmp_path, "{kind: ma_cross}", "market:\n  AAA:\n    file: d.csv\n"
                 "    walk: {every: 1s, vol_bps: 1, start: '1'}\n")
    assert "market.AAA.walk: a market with a file takes no ticks or walk" in str(info.value)
    scn = scn_with(tmp_path, "{kind: ma_cross}", "market:\n  AAA: {file: d.csv}\n")
    with pytest.raises(InputError) as info:
        scenario.check_data(scn)
    lines = info.value.lines()
    src = str(tmp_path / "s.yaml")
    assert f"{src}: market.AAA.file: d.csv: row 2: bid: 10.05 is above ask 10.01" in lines
    assert f"{src}: market.AAA.file: d.csv: row 3: bid: 10.005 is not a multiple of the " \
           "tick size 0.01" in lines


def test_gaps_move_a_replayed_file_and_halts_hold_it(tmp_path: Path) -> None:
    with open(tmp_path / "d.csv", "w") as f:
        f.write("ts,last\n")
        for i in range(200):
            f.write(f"{i * 100_000_000},50.00\n")
    market = ("market:\n  AAA:\n    file: d.csv\n    gaps: [{t: 5s, pct: -10}]\n"
              "    halts: [{t: 8s, for: 2s}]\n")
    r = runner.run(scn_with(tmp_path, "{kind: ma_cross}", market))
    [gap] = events(r, "gap_detected")
    assert gap["ts_ns"] == 5 * 10**9 and gap["to_price"] == "45.00"
    assert r.ticks == 200 - 20  # 20 ticks halted (the reopening quote is the 10 s tick)


# ------------------------------------------------------------------ live config


LIVE = """\
instruments:
- {symbol: AAA, tick_size: '0.01'}
config:
  strategies:
    AAA: KIND
"""


def test_a_live_config_resolves_strategy_files_beside_it(tmp_path: Path) -> None:
    write(tmp_path, "mine.py", "class Mine:\n    def on_price(self, ts_ns, price):\n"
                               "        return None\n")
    import yaml

    source = str(tmp_path / "live.yaml")
    cfg = parse_live_config(yaml.safe_load(LIVE.replace("KIND", "{kind: 'mine.py:Mine'}")),
                            source)
    assert cfg.strategy_plans["AAA"].cls.__name__ == "Mine"
    with pytest.raises(LiveConfigError) as info:
        parse_live_config(yaml.safe_load(LIVE.replace("KIND", "{kind: 'mine.py:Nope'}")),
                          source)
    assert f"{source}: config.strategies.AAA.kind: mine.py has no class 'Nope'" \
        in str(info.value)
