"""The journal (kernel/journal.py): canonical JSONL, no floats, digest = sha256 of the bytes."""
from __future__ import annotations

import enum
import hashlib
import io
import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triotrade.kernel.journal import (
    FORMAT_VERSION,
    Journal,
    JournalError,
    canonical,
)
from triotrade.kernel.orders import Role, Side
from triotrade.sim import runner, scenario


def canonical_line(event: dict[str, Any]) -> bytes:
    """The journal line format, spelled out plainly (the writer's fast encoder must agree):
    sorted keys, no spaces, UTF-8, newline-terminated."""
    return (
        json.dumps(canonical(event), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        + "\n"
    ).encode("utf-8")


class Color(enum.Enum):
    RED = "red"


def _no_float(text: str) -> Any:
    raise AssertionError(f"float {text} in a journal line")


def read_back(line: bytes) -> Any:
    return json.loads(line, parse_float=_no_float)


def test_canonical_line_sorted_compact_utf8() -> None:
    line = canonical_line({"type": "fill", "b": 1, "a": "ü", "ts_ns": 5,
                           "nested": {"z": [1, {"y": True, "x": None}], "m": "€"}})
    assert line == ('{"a":"ü","b":1,"nested":{"m":"€","z":[1,{"x":null,"y":true}]},'
                    '"ts_ns":5,"type":"fill"}\n').encode("utf-8")
    assert line.count(b"\n") == 1 and line.endswith(b"\n")


def test_key_order_of_input_does_not_matter() -> None:
    a = canonical_line({"x": 1, "y": {"b": 2, "a": 1}})
    b = canonical_line({"y": {"a": 1, "b": 2}, "x": 1})
    assert a == b


@pytest.mark.parametrize("value,text", [
    (Decimal("100.10"), "100.10"), (Decimal("1E+2"), "100"), (Decimal("-0.5"), "-0.5"),
    (Decimal("0.00000001"), "0.00000001"), (Decimal("-0.00"), "0.00"), (Decimal("-0"), "0"),
    (Side.BUY, "BUY"), (Role.EMERGENCY_EXIT, "EMERGENCY_EXIT"), (Color.RED, "red"),
])
def test_values_become_text(value: Any, text: str) -> None:
    assert canonical({"v": value}) == {"v": text}


def test_enum_and_int_keys_become_text() -> None:
    assert canonical({"m": {Role.ENTRY: 1, 7: "x"}}) == {"m": {"ENTRY": 1, "7": "x"}}


def test_colliding_keys_are_refused() -> None:
    with pytest.raises(JournalError):
        canonical({"m": {1: "a", "1": "b"}})


@pytest.mark.parametrize("bad", [
    1.5, 0.0, float("nan"), Fraction(1, 3), Decimal("NaN"), Decimal("Infinity"), object(),
    b"bytes", {1.5}, [1, [2, 0.5]], {"deep": {"er": 0.1}},
])
def test_floats_and_unjournalable_values_are_refused(bad: Any) -> None:
    with pytest.raises(JournalError):
        canonical({"v": bad})
    j = Journal(io.BytesIO())
    with pytest.raises(JournalError):
        j.emit(1, "x", v=bad)
    assert j.lines == 0  # nothing half-written


@pytest.mark.parametrize("ts", [1.5, "5", None, Decimal(5), True])
def test_ts_ns_must_be_an_integer(ts: Any) -> None:
    j = Journal(io.BytesIO())
    with pytest.raises(JournalError):
        j.emit(ts, "x", a=1)
    assert j.lines == 0


def test_digest_is_sha256_of_the_bytes() -> None:
    sink = io.BytesIO()
    j = Journal(sink)
    j.header(scenario="s", seed=1)
    j.emit(0, "signal", symbol="ACME", side="BUY", accepted=True, reason="entry")
    j.emit(5, "fill", order_id="O1", role=Role.ENTRY, side=Side.BUY, qty="100",
           price=Decimal("100.02"))
    data = sink.getvalue()
    assert j.digest == "sha256:" + hashlib.sha256(data).hexdigest()
    lines = data.splitlines(keepends=True)
    assert len(lines) == j.lines == 3
    assert read_back(lines[0]) == {"type": "header", "format": FORMAT_VERSION, "scenario": "s",
                                   "seed": 1}
    assert read_back(lines[2]) == {"ts_ns": 5, "type": "fill", "order_id": "O1",
                                   "role": "ENTRY", "side": "BUY", "qty": "100",
                                   "price": "100.02"}
    for line in lines:
        assert canonical_line(read_back(line)) == line


def test_digest_without_sink_matches_and_changes_with_content() -> None:
    a, b, c = Journal(), Journal(io.BytesIO()), Journal()
    for j in (a, b, c):
        j.header(seed=1)
        j.emit(1, "x", v="1")
    c.emit(2, "x", v="1")
    assert a.digest == b.digest != c.digest
    empty = Journal()
    assert empty.digest == "sha256:" + hashlib.sha256(b"").hexdigest()


def test_header_must_be_first() -> None:
    j = Journal()
    j.emit(0, "x")
    with pytest.raises(JournalError):
        j.header(seed=1)


def test_listeners_see_the_read_back_form_and_events_are_kept() -> None:
    sink = io.BytesIO()
    j = Journal(sink)
    seen: list[dict[str, Any]] = []
    j.add_listener(seen.append)
    ev = j.emit(3, "order_submitted", role=Role.STOP_LOSS, price=Decimal("1.50"), qty="5")
    assert seen == [ev] == j.events
    assert ev == read_back(sink.getvalue())
    k = Journal(keep=False)
    k.emit(1, "x")
    assert k.events == [] and k.lines == 1


def test_a_real_run_journal_is_canonical_and_float_free(tmp_path: Path) -> None:
    scn = scenario.load(Path(scenario.__file__).parent / "data" / "default.yaml")
    path = tmp_path / "j.jsonl"
    res = runner.run(scn, journal_path=path)
    data = path.read_bytes()
    assert res.digest == "sha256:" + hashlib.sha256(data).hexdigest()
    lines = data.splitlines(keepends=True)
    header = read_back(lines[0])
    assert (header["type"], header["format"], header["seed"]) == ("header", 1, 42)
    last_ts = 0
    for line in lines[1:]:
        ev = read_back(line)
        assert canonical_line(ev) == line
        assert type(ev["ts_ns"]) is int and ev["ts_ns"] >= last_ts
        last_ts = ev["ts_ns"]
    assert read_back(lines[-1])["type"] == "run_finished"
    assert [read_back(x) for x in lines] == res.events


_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
_scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), _text)
_value = st.recursive(_scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(_text, inner, max_size=3)), max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(ts=st.integers(0, 10**18), type_=_text,
       fields=st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True)
                              .filter(lambda k: k not in ("ts_ns", "type")), _value,
                              max_size=6))
def test_written_line_is_exactly_the_canonical_line(ts: int, type_: str,
                                                    fields: dict[str, Any]) -> None:
    """Whatever fast path the journal takes, its bytes are the canonical json.dumps form."""
    sink = io.BytesIO()
    Journal(sink).emit(ts, type_, **fields)
    assert sink.getvalue() == canonical_line({"ts_ns": ts, "type": type_, **fields})
