"""The session calendar (kernel/risk/session.py): entry window, flatten time, session day."""
from __future__ import annotations

import datetime as dt

import pytest

from triotrade.kernel.risk.session import Calendar, parse_hhmm, unix_ns, zone
from triotrade.kernel.units import NS_PER_S, UnitError

NY = "America/New_York"
MIN = 60 * NS_PER_S


def _epoch(y: int, mo: int, d: int, h: int, mi: int, tz: str = NY) -> int:
    return unix_ns(dt.datetime(y, mo, d, h, mi, tzinfo=zone(tz)))


def _cal(**kw: object) -> Calendar:
    base = dict(timezone=NY, epoch_ns=_epoch(2026, 3, 2, 9, 0), open="09:30", close="16:00",
                days=["mon", "tue", "wed", "thu", "fri"], entry_delay=15 * MIN,
                entry_cutoff="15:30", flatten_at="15:55")
    base.update(kw)
    return Calendar.build(**base)  # type: ignore[arg-type]


def test_entry_window_edges() -> None:
    cal = _cal()  # t=0 is Monday 09:00 New York
    assert cal.entry_refusal(0) == "session: before open + entry_delay (09:30 America/New_York)"
    assert cal.entry_refusal(45 * MIN - 1) is not None  # 09:44:59.999...
    assert cal.entry_refusal(45 * MIN) is None  # 09:45 exactly: open + delay
    assert cal.entry_refusal(390 * MIN - 1) is None  # just before the 15:30 cutoff
    assert cal.entry_refusal(390 * MIN) == "session: at or after entry_cutoff (15:30 America/New_York)"


def test_close_and_flatten_refuse_entries_too() -> None:
    cal = _cal(entry_cutoff=None)
    assert cal.entry_refusal(400 * MIN) is None  # 15:40
    assert cal.entry_refusal(415 * MIN) == "session: at or after flatten_at (15:55 America/New_York)"
    cal = _cal(entry_cutoff=None, flatten_at=None)
    assert cal.entry_refusal(420 * MIN).startswith("session: at or after close")  # type: ignore[union-attr]


def test_days_not_in_the_list_refuse() -> None:
    cal = _cal(days=["tue"])
    assert cal.entry_refusal(60 * MIN) == "session: mon is not a trading day"
    assert cal.entry_refusal(24 * 60 * MIN + 60 * MIN) is None  # Tuesday 10:00


def test_no_keys_no_restriction() -> None:
    cal = Calendar.build(timezone="UTC")
    assert cal.entry_refusal(0) is None and cal.entry_refusal(5 * 86400 * NS_PER_S) is None


def test_next_flatten_skips_days_off_and_follows_daylight_saving() -> None:
    # Friday 2026-03-06 16:00 New York; the clocks go forward on Sunday 2026-03-08
    cal = _cal(epoch_ns=_epoch(2026, 3, 6, 16, 0))
    assert cal.flatten_at is not None
    nxt = cal.next_at(0, cal.flatten_at)
    assert cal.local(nxt).isoformat() == "2026-03-09T15:55:00-04:00"  # Monday, EDT
    assert nxt == _epoch(2026, 3, 9, 15, 55) - cal.epoch_ns


def test_session_day_and_its_start() -> None:
    cal = Calendar.build(timezone="UTC", epoch_ns=_epoch(2026, 3, 2, 23, 50, "UTC"))
    assert cal.day(0) == "2026-03-02"
    assert cal.next_day(0) == 10 * MIN
    assert cal.day(10 * MIN) == "2026-03-03"
    assert cal.day(10 * MIN - 1) == "2026-03-02"


def test_epoch_zero_is_live_unix_time() -> None:
    cal = Calendar.build(timezone="UTC")
    assert cal.day(_epoch(2026, 3, 2, 12, 0, "UTC")) == "2026-03-02"


@pytest.mark.parametrize("text", ["25:00", "9:60", "0930", "", "09:3", "-1:00", 930])
def test_bad_times_are_refused(text: object) -> None:
    with pytest.raises(UnitError, match="HH:MM"):
        parse_hhmm(text)


def test_good_times() -> None:
    assert parse_hhmm("00:00") == 0 and parse_hhmm("23:59") == 1439 and parse_hhmm("9:30") == 570


def test_unknown_zone() -> None:
    with pytest.raises(UnitError, match="unknown time zone 'Mars/Olympus'"):
        zone("Mars/Olympus")
