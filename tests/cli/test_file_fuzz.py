"""Fuzzing the files the product reads: exit 0, 1, 2 (3 for a live run), never a traceback.

Every shipped scenario and a live config are mutated (hostile scalars written over a
value, lines duplicated, dropped or cut, bytes inserted, indentation broken) and
handed to the real CLI entry in-process through click's CliRunner: ``triotrade
check`` for scenarios, then ``triotrade run`` when check accepted it (so "check
accepts it" is held to "run finishes"); ``triotrade run --venue ibkr --config`` for
live configs, pointed at a closed loopback port (a valid config gets exit 3). An
example that takes longer than ``HANG_S`` is a hang and fails the test: the bound is
a SIGALRM, not a timing assertion, and is far above any real run.

Profiles: the default (CI) tries ``FUZZ_EXAMPLES`` files; the long profile is the
same test with more, from the command line::

    TRIOTRADE_FILE_FUZZ_EXAMPLES=3000 .venv/bin/python -m pytest tests/cli/test_file_fuzz.py -s

(``-s`` shows the count of files tried and the exit codes seen).
"""
from __future__ import annotations

import collections
import os
import signal
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import REPO, SCENARIOS

FUZZ_EXAMPLES = int(os.environ.get("TRIOTRADE_FILE_FUZZ_EXAMPLES", "60"))
HANG_S = 120
SEEDS = sorted(SCENARIOS.rglob("*.yaml")) + [REPO / "sim" / "data" / "default.yaml"]
LIVE_SEED = """\
instruments:
  - {symbol: ACME, tick_size: "0.01", lot_size: 1, currency: USD}
config:
  tickers: [ACME]
  sizing: {unit_position_size: 100, max_position_size: 300}
  risk: {daily_loss_limit: "500", max_order_rate: 10}
  monitor: {check_interval: 1s, stale_after: 60s}
  strategies: {ACME: {kind: ma_cross, fast: 5, slow: 20}}
duration: 1s
"""
HOSTILE = [
    "1:40", '!!int "abc"', "!!python/object/apply:os.system [ls]", "1e5000", "9" * 5000,
    '"' + "9" * 5000 + '"', '"1e5000"', '"1e30"', "&x [*x]", "*undefined", ".nan", "-.inf",
    "0s", "1ns", "0", "-1", "1000d", "1e310s", "2025-02-30T14:30:00Z", '"2025-01-01T00:00:00+25:00"',
    "? [a, b]", "[", "{", '"', "'", "~", "[]", "{}", "yes", "0x7fffffffffffffffffff", "", "\t",
    "é", "٥", '"٥"', "1_000", "'100.00'", '"0.000000001"', "1000000000000", "!custom x",
    "[" * 200 + "]" * 200, "&a [1]", "<<: *a", "{a: 1, a: 2}",
]
SEEN: collections.Counter[str] = collections.Counter()


class Hang(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise Hang(f"an example ran longer than {HANG_S}s")


def _invoke(args: list[str]) -> Any:
    from click.testing import CliRunner

    from triotrade.cli import main

    return CliRunner().invoke(main, args, catch_exceptions=True)


@st.composite
def mutated(draw: st.DrawFn, text: str) -> bytes:
    lines = text.splitlines()
    for _ in range(draw(st.integers(1, 3))):
        if not lines:
            lines = [""]
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["value", "value", "value", "dup", "drop", "cut", "bytes",
                                   "indent"]))
        line = lines[i]
        if op == "value" and ":" in line:
            key, _, _ = line.partition(":")
            lines[i] = f"{key}: {draw(st.sampled_from(HOSTILE))}"
        elif op == "value":
            lines[i] = f"{line} {draw(st.sampled_from(HOSTILE))}"
        elif op == "dup":
            lines.insert(i, line)
        elif op == "drop":
            lines.pop(i)
        elif op == "cut":
            lines[i] = line[:draw(st.integers(0, len(line)))]
            lines = lines[:i + 1]
        elif op == "bytes":
            lines[i] = line + draw(st.text(max_size=8)).replace("\r", "")
        else:
            lines[i] = " " * draw(st.integers(0, 5)) + line.lstrip()
    raw = "\n".join(lines) + "\n"
    if draw(st.booleans()) and draw(st.booleans()):
        return raw.encode() + draw(st.binary(max_size=4))
    return raw.encode()


def _outcome(res: Any, allowed: tuple[int, ...], what: str) -> int:
    assert res.exception is None or isinstance(res.exception, SystemExit), (
        what, res.exc_info, res.output[-2000:])
    assert res.exit_code in allowed, (what, res.exit_code, res.output[-2000:])
    assert "Traceback" not in res.output, (what, res.output[-2000:])
    return res.exit_code


@pytest.fixture
def guard() -> Iterator[None]:
    old = signal.signal(signal.SIGALRM, _alarm)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)
    files = sum(n for k, n in SEEN.items() if not k.startswith("run"))
    print(f"\nfile fuzz: {files} files tried, outcomes {dict(sorted(SEEN.items()))}")


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_mutated_scenarios_exit_0_1_or_2(guard: None, tmp_path_factory: pytest.TempPathFactory,
                                          data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from(SEEDS))
    raw = data.draw(mutated(seed.read_text(encoding="utf-8")))
    d = tmp_path_factory.mktemp("fz")
    f = d / "scenario.yaml"
    f.write_bytes(raw)
    signal.alarm(HANG_S)
    try:
        code = _outcome(_invoke(["check", "--max-ticks", "200000", str(f)]), (0, 2), "check")
        SEEN[f"check {code}"] += 1
        if code == 0:
            code = _outcome(_invoke(["run", "-q", "--max-ticks", "200000", str(f), "--journal",
                                     str(d / "j.jsonl")]), (0, 1), "run")
            SEEN[f"run {code}"] += 1
    finally:
        signal.alarm(0)


@settings(max_examples=max(10, FUZZ_EXAMPLES // 3), deadline=None, derandomize=True,
          database=None, suppress_health_check=list(HealthCheck))
@given(raw=mutated(LIVE_SEED))
def test_mutated_live_configs_exit_2_or_3(guard: None, tmp_path_factory: pytest.TempPathFactory,
                                          raw: bytes) -> None:
    d = tmp_path_factory.mktemp("fzl")
    f = d / "live.yaml"
    f.write_bytes(raw)
    signal.alarm(HANG_S)
    try:
        # port 9 on loopback: nobody listens, so a valid config ends as "unreachable" (3)
        code = _outcome(_invoke(["run", "--venue", "ibkr", "--config", str(f), "--port", "9",
                                 "--journal", str(d / "j.jsonl")]), (2, 3), "live")
        SEEN[f"live {code}"] += 1
    finally:
        signal.alarm(0)
