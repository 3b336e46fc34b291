"""The session calendar: when entries are allowed, when positions are flattened, which
session day a moment belongs to.

The kernel's clock counts nanoseconds: virtual ones from the scenario's t=0 in the
simulator, Unix ones live. The calendar is told the Unix time of clock time 0
(``epoch_ns``: the scenario's ``start``, or 0 live) and adds it, so a session changes no
timestamp and a run without one is untouched. Local times are read through ``zoneinfo``,
so a session at "09:30" in America/New_York stays at 09:30 across a daylight-saving
change. A session lies within one local day (open before close); overnight sessions are
not expressed.

Everything here is pure: plain values in, a decision out.
"""
from __future__ import annotations

import datetime as dt
import zoneinfo

import attrs

from ..units import NS_PER_S, UnitError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
NS_PER_MIN = 60 * NS_PER_S
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def parse_hhmm(text: object) -> int:
    """Minutes after local midnight of an "HH:MM" time (00:00..23:59)."""
    if isinstance(text, str):
        hh, sep, mm = text.strip().partition(":")
        if sep and hh.isdigit() and mm.isdigit() and len(mm) == 2 and len(hh) <= 2:
            h, m = int(hh), int(mm)
            if h < 24 and m < 60:
                return h * 60 + m
    raise UnitError(f"expected a time of day HH:MM (00:00..23:59), got {text!r}")


def zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA zone ``name``; UnitError when it is unknown."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise UnitError(f"unknown time zone {name!r} (an IANA name such as "
                        "'America/New_York'; a system without zone files needs the "
                        "'tzdata' package)") from None


def unix_ns(when: dt.datetime) -> int:
    """Integer Unix nanoseconds of an aware datetime (no float on the way)."""
    d = when - _EPOCH
    return (d.days * 86400 + d.seconds) * NS_PER_S + d.microseconds * 1000


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@attrs.frozen
class Calendar:
    """One session, placed on the clock. Minutes are after local midnight."""

    tz: zoneinfo.ZoneInfo
    epoch_ns: int = 0  # Unix ns at clock time 0
    open: int | None = None
    close: int | None = None
    days: tuple[int, ...] | None = None  # weekday numbers, Monday 0
    entry_delay_ns: int = 0
    entry_cutoff: int | None = None
    flatten_at: int | None = None

    @classmethod
    def build(cls, *, timezone: str = "UTC", epoch_ns: int = 0, open: str | None = None,
              close: str | None = None, days: list[str] | None = None, entry_delay: int = 0,
              entry_cutoff: str | None = None, flatten_at: str | None = None) -> "Calendar":
        """From the config's values (already validated by ``session_problems``)."""
        def mins(v: str | None) -> int | None:
            return None if v is None else parse_hhmm(v)

        return cls(zone(timezone), epoch_ns, mins(open), mins(close),
                   None if days is None else tuple(WEEKDAYS.index(d) for d in days),
                   entry_delay, mins(entry_cutoff), mins(flatten_at))

    def local(self, ts: int) -> dt.datetime:
        secs, ns = divmod(ts + self.epoch_ns, NS_PER_S)
        return (_EPOCH + dt.timedelta(seconds=secs, microseconds=ns // 1000)).astimezone(self.tz)

    def day(self, ts: int) -> str:
        """The session day ``ts`` falls in: its local date, ISO."""
        return self.local(ts).date().isoformat()

    def is_trading_day(self, date: dt.date) -> bool:
        return self.days is None or date.weekday() in self.days

    def entry_refusal(self, ts: int) -> str | None:
        """Why an entry may not be opened at ``ts``, or None when it may."""
        when = self.local(ts)
        if not self.is_trading_day(when.date()):
            return f"session: {WEEKDAYS[when.weekday()]} is not a trading day"
        into = ((when.hour * 60 + when.minute) * 60 + when.second) * NS_PER_S \
            + when.microsecond * 1000
        if self.open is not None:
            start = self.open * NS_PER_MIN + self.entry_delay_ns
            if into < start:
                what = "open + entry_delay" if self.entry_delay_ns else "open"
                return f"session: before {what} ({_hhmm(self.open)} {self.tz.key})"
        for name, limit in (("close", self.close), ("entry_cutoff", self.entry_cutoff),
                            ("flatten_at", self.flatten_at)):
            if limit is not None and into >= limit * NS_PER_MIN:
                return f"session: at or after {name} ({_hhmm(limit)} {self.tz.key})"
        return None

    def next_at(self, ts: int, minutes: int) -> int:
        """The first clock time after ``ts`` at local ``minutes`` on a trading day."""
        date = self.local(ts).date()
        for step in range(9):  # a week and a bit: some day of it trades (days is non-empty)
            d = date + dt.timedelta(days=step)
            if not self.is_trading_day(d):
                continue
            at = dt.datetime.combine(d, dt.time(minutes // 60, minutes % 60), self.tz)
            clock = unix_ns(at) - self.epoch_ns
            if clock > ts:
                return clock
        raise AssertionError("no trading day in nine days")  # days is validated non-empty

    def next_day(self, ts: int) -> int:
        """When the next session day begins: local midnight of the next trading day."""
        return self.next_at(ts, 0)


def session_problems(spec: object, path: str) -> list[tuple[str, str]]:
    """What is wrong with a ``config.session`` mapping's values, as (key.path, problem)."""
    out: list[tuple[str, str]] = []
    tzname = getattr(spec, "timezone", "UTC")
    try:
        zone(tzname)
    except UnitError as exc:
        out.append((f"{path}.timezone", str(exc)))
    mins: dict[str, int] = {}
    for key in ("open", "close", "entry_cutoff", "flatten_at"):
        value = getattr(spec, key, None)
        if value is None:
            continue
        try:
            mins[key] = parse_hhmm(value)
        except UnitError as exc:
            out.append((f"{path}.{key}", str(exc)))
    days = getattr(spec, "days", None)
    if days is not None:
        if not days:
            out.append((f"{path}.days", "must name at least one day (omit it for every day)"))
        for i, d in enumerate(days):
            if d not in WEEKDAYS:
                out.append((f"{path}.days[{i}]", f"must be one of {', '.join(WEEKDAYS)}, "
                                                 f"got {d!r}"))
    if "open" in mins:
        for key in ("close", "entry_cutoff", "flatten_at"):
            if key in mins and mins[key] <= mins["open"]:
                out.append((f"{path}.{key}", f"{_hhmm(mins[key])} is not after open "
                                             f"{_hhmm(mins['open'])}"))
    if getattr(spec, "entry_delay", 0) and "open" not in mins:
        out.append((f"{path}.entry_delay", "counts from open: give open too"))
    return out
