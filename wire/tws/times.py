"""TWS date-times: the text IB puts on the wire for execution and good-till times.

TWS writes ``YYYYMMDD HH:MM:SS <zone>`` and accepts ``YYYYMMDD-HH:MM:SS`` (UTC) from
clients; both ends of the wire read and write the same text, so it lives with the
codec. Instants in here are Unix nanoseconds.
"""
from __future__ import annotations

import datetime as dt

from ...kernel.units import NS_PER_S


def fmt_ib_time(wall_ns: int) -> str:
    t = dt.datetime.fromtimestamp(wall_ns // NS_PER_S, dt.timezone.utc)
    return t.strftime("%Y%m%d %H:%M:%S") + " UTC"


def parse_ib_time(text: str) -> int | None:
    """TWS date-times -> Unix ns. ``YYYYMMDD-HH:MM:SS`` is UTC; a trailing zone name is
    honoured; no zone means the gateway's zone, which is UTC."""
    s = text.strip()
    if not s:
        return None
    zone: dt.tzinfo = dt.timezone.utc
    if "-" in s[8:9]:
        date_part, clock = s[:8], s[9:]
    else:
        parts = s.split()
        if len(parts) == 1 and len(s) == 8:
            date_part, clock = s, "23:59:59"
        elif len(parts) >= 2:
            date_part, clock = parts[0], parts[1]
            if len(parts) >= 3:
                name = parts[2]
                if name.upper() not in ("UTC", "GMT"):
                    from zoneinfo import ZoneInfo

                    zone = ZoneInfo(name)
        else:
            raise ValueError(f"cannot read {text!r} as a TWS date-time")
    t = dt.datetime.strptime(date_part + clock, "%Y%m%d%H:%M:%S").replace(tzinfo=zone)
    return int(t.timestamp()) * NS_PER_S
