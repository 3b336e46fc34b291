"""The session, cooldown, clip and signal-priority rules, as the kernel asks them.

The rules themselves are pure functions in ``kernel/risk/`` (session.py, cooldown.py,
clip.py, priority.py). This object holds what they need to remember between questions
(when a stop-loss exit went flat, whether a trade's clip is armed, the last accepted
intent per ticker) and the two clock timers of the session (``flatten_at``, and the
start of each session day). The kernel builds it only when one of these keys is set
(``RuleBook.wanted``), so a run without them takes none of these paths: its journal,
and its digest, are what they were.
"""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import attrs

from .config import TradingConfig
from .orders import Side
from .positions import Position
from .risk.clip import ClipStep, clip_step
from .risk.cooldown import cooldown_refusal, threshold_refusal
from .risk.priority import PriorityBook
from .risk.session import Calendar
from .signals import Signal
from .units import fmt_units, to_units

if TYPE_CHECKING:
    from .runtime import Kernel


@attrs.define
class RuleMemory:
    """What the rules remember between questions. A restart reads it back from the
    journal (``fold``, called by ``restore.read_day`` for every event), so a restart
    does not reset a cooldown, an armed clip, a priority window or the session day's
    P&L base: each is rebuilt from the events that set it."""

    day: str | None = None
    day_pnl_base: int | Fraction = 0  # realized P&L when the session day began
    stop_exiting: dict[str, bool] = attrs.Factory(dict)  # a stop-loss exit is under way
    stopped_flat: dict[str, int] = attrs.Factory(dict)  # when it left the ticker flat
    clip_armed: dict[str, bool] = attrs.Factory(dict)
    last_accepted: dict[str, tuple[str, str, int]] = attrs.Factory(dict)  # signal priority

    def fold(self, ev: dict[str, Any]) -> None:
        t = ev.get("type")
        if t == "session_day":
            self.day = ev["day"]
            self.day_pnl_base = to_units(Decimal(ev["realized_pnl"]))
        elif t == "exit_triggered" and ev.get("reason") == "stop_loss":
            self.stop_exiting[ev["symbol"]] = True
        elif t == "position_changed" and ev.get("qty") == "0":
            self.went_flat(ev["symbol"], ev["ts_ns"])
        elif t == "clip_armed":
            self.clip_armed[ev["symbol"]] = True
        elif (t == "signal" and ev.get("accepted") is True and ev.get("reason") == "entry"
              and ev.get("side") in ("BUY", "SELL") and "source" in ev):
            self.last_accepted[ev["symbol"]] = (ev["source"], ev["side"], ev["ts_ns"])

    def went_flat(self, symbol: str, ts: int) -> None:
        if self.stop_exiting.pop(symbol, False):
            self.stopped_flat[symbol] = ts
        self.clip_armed.pop(symbol, None)


class RuleBook:
    """State and timers of the rules in ``kernel/risk/`` for one kernel."""

    @staticmethod
    def wanted(cfg: TradingConfig) -> bool:
        e, x = cfg.entries, cfg.exits
        return (cfg.session is not None or cfg.signal_priority is not None
                or e.stop_loss_cooldown is not None or e.trade_threshold is not None
                or x.clip_activation is not None)

    def __init__(self, k: "Kernel", epoch_ns: int) -> None:
        self.k = k
        cfg = k.config
        s = cfg.session
        self.calendar: Calendar | None = None if s is None else Calendar.build(
            timezone=s.timezone, epoch_ns=epoch_ns, open=s.open, close=s.close, days=s.days,
            entry_delay=s.entry_delay, entry_cutoff=s.entry_cutoff, flatten_at=s.flatten_at)
        self.mem: RuleMemory = RuleMemory() if k.restore is None else k.restore.rules
        self.priority: PriorityBook | None = None
        if cfg.signal_priority is not None and cfg.signal_conflict_window is not None:
            self.priority = PriorityBook(tuple(cfg.signal_priority), cfg.signal_conflict_window,
                                         self.mem.last_accepted)
        self.cooldown = cfg.entries.stop_loss_cooldown
        self.threshold = cfg.entries.trade_threshold
        act, stop = cfg.exits.clip_activation, cfg.exits.clip_stop_loss
        self.clip: tuple[int, int] | None = None if act is None or stop is None else (act, stop)
        self._day_timer: Any = None
        self._flatten_timer: Any = None

    # ------------------------------------------------------------ entries

    def block_reason(self, now: int) -> str | None:
        """Kernel-wide: outside the session's entry window (asked with the kill switch,
        at the signal and again when a queued entry is sent)."""
        return None if self.calendar is None else self.calendar.entry_refusal(now)

    def entry_refusal(self, symbol: str, position: Position, side: Side, now: int
                      ) -> str | None:
        """Per ticker: the stop-loss cooldown and the trade threshold."""
        why = cooldown_refusal(now, self.mem.stopped_flat.get(symbol), self.cooldown)
        if why is None:
            why = threshold_refusal(now, position.qty, side is Side.BUY, position.opened_ns,
                                    self.threshold)
        return why

    # ------------------------------------------------------------ signal priority

    def dropped(self, sig: Signal, now: int) -> bool:
        """A lower-priority intent against one that stands: journaled, and dropped."""
        if self.priority is None:
            return False
        by = self.priority.judge(sig.symbol, sig.source, sig.side.value, now)
        if by is None:
            return False
        self.k.journal.emit(now, "signal_dropped", symbol=sig.symbol, side=sig.side.value,
                            source=sig.source, by_source=by)
        return True

    def accepted(self, sig: Signal, now: int) -> None:
        if self.priority is not None:
            self.priority.accepted(sig.symbol, sig.source, sig.side.value, now)

    # ------------------------------------------------------------ exits

    def exit_triggered(self, symbol: str, reason: str) -> None:
        if reason == "stop_loss":
            self.mem.stop_exiting[symbol] = True

    def went_flat(self, symbol: str, ts: int) -> None:
        """The ticker's position is flat: a stop-loss exit starts its cooldown; the next
        trade gets a clip of its own."""
        self.mem.went_flat(symbol, ts)

    def clip_exit(self, symbol: str, pnl: int | Fraction, now: int) -> bool:
        """Whether the clip exits the trade now (arming it, journaled, on the way)."""
        assert self.clip is not None
        act, stop = self.clip
        step = clip_step(self.mem.clip_armed.get(symbol, False), pnl, act, stop)
        if step is ClipStep.ARM:
            self.mem.clip_armed[symbol] = True
            self.k.journal.emit(now, "clip_armed", symbol=symbol, pnl=fmt_units(pnl))
        return step is ClipStep.EXIT

    # ------------------------------------------------------------ the session's timers

    def start(self) -> None:
        """At the kernel's start: the first session day, and the timers of the next."""
        cal = self.calendar
        if cal is None:
            return
        now = self.k.clock.now_ns()
        self._new_day(now)
        self._arm_day(now)
        if cal.flatten_at is not None:
            self._arm_flatten(now)

    def _arm_day(self, now: int) -> None:
        assert self.calendar is not None
        self._day_timer = self.k.clock.call_at(self.calendar.next_day(now), self._day_fire)

    def _day_fire(self, _: object = None) -> None:
        now = self.k.clock.now_ns()
        self._new_day(now)
        self._arm_day(now)

    def _new_day(self, now: int) -> None:
        """A session day begins: the daily loss limit counts from here, journaled.

        A daily_loss_limit kill switch that fired on an earlier day stays in force:
        loss-based kill switches are reset by a person. (A drawdown limit's peak, when
        one exists, restarts here too: this is the one place a session day begins.)
        """
        assert self.calendar is not None
        k, mem = self.k, self.mem
        day = self.calendar.day(now)
        if day == mem.day:  # a restart within the day it journaled: its base stands
            if k.protections.session_day_resets_daily_loss:
                k.day_pnl_base = mem.day_pnl_base
            return
        mem.day = day
        mem.day_pnl_base = k.realized_total
        if k.protections.session_day_resets_daily_loss:
            k.day_pnl_base = k.realized_total
        k.journal.emit(now, "session_day", day=day, realized_pnl=fmt_units(k.realized_total))

    def _arm_flatten(self, now: int) -> None:
        cal = self.calendar
        assert cal is not None and cal.flatten_at is not None
        self._flatten_timer = self.k.clock.call_at(cal.next_at(now, cal.flatten_at),
                                                   self._flatten_fire)

    def _flatten_fire(self, _: object = None) -> None:
        """flatten_at: every position exits (reason session_end) by the ordinary exit
        path, so the single-exit lock holds; working entries are cancelled."""
        for t in self.k.tickers.values():
            if t.position.qty or t.entries or t.pending_entries:
                t.request_exit("session_end", "session")
        self._arm_flatten(self.k.clock.now_ns())
