"""The journal's vocabulary: every event type, its fields, and what each one means.

The journal is the product's record and its test oracle: the digest is its hash, the
``expect:`` block of a scenario matches its events, the invariant checker rebuilds the
world from it, and the docs describe it. All four read this one catalogue, so a field
renamed in the kernel and not here fails loudly instead of making a matcher silently
match nothing. The writer does not consult it on every line (that would be a cost on
the hot path); the invariant checker checks every event of every simulated run, and
``Journal(check=True)`` checks as it writes.

Numbers that are money, prices or quantities are journaled as decimal text
(``"101.25"``, ``"300"``): the journal never holds a float.
"""
from __future__ import annotations

import enum
from typing import Any

import attrs

from .killswitch import KillAction
from .orders import Role, Side
from .signals import SignalSide


class Kind(enum.Enum):
    """How a field's value is written in a journal line."""

    TEXT = "text"
    DECIMAL = "decimal text"  # money, prices, quantities: exact, never a float
    INTEGER = "integer"
    BOOL = "true/false"
    LIST = "list"
    MAP = "mapping"
    TEXT_OR_NULL = "text or null"

    def admits(self, value: Any) -> bool:
        if self is Kind.TEXT or self is Kind.DECIMAL:
            return isinstance(value, str)
        if self is Kind.INTEGER:
            return isinstance(value, int) and not isinstance(value, bool)
        if self is Kind.BOOL:
            return isinstance(value, bool)
        if self is Kind.LIST:
            return isinstance(value, list)
        if self is Kind.MAP:
            return isinstance(value, dict)
        return value is None or isinstance(value, str)


@attrs.frozen
class Field:
    name: str
    kind: Kind
    meaning: str
    required: bool = True
    # the closed set of values the field can hold (None: any value of its kind); an
    # ``expect:`` matcher naming a value outside it could never match, so it is refused
    values: tuple[str, ...] | None = None


@attrs.frozen
class EventType:
    name: str
    meaning: str
    fields: tuple[Field, ...]
    timed: bool = True  # has ts_ns (every event but the header)

    names: frozenset[str] = attrs.field(
        init=False, eq=False, repr=False,
        default=attrs.Factory(lambda self: frozenset(
            ["type"] + (["ts_ns"] if self.timed else []) + [f.name for f in self.fields]),
            takes_self=True))
    required: frozenset[str] = attrs.field(
        init=False, eq=False, repr=False,
        default=attrs.Factory(lambda self: frozenset(
            ["type"] + (["ts_ns"] if self.timed else [])
            + [f.name for f in self.fields if f.required]), takes_self=True))


def _f(name: str, kind: Kind, meaning: str, required: bool = True,
       values: tuple[str, ...] | None = None) -> Field:
    return Field(name, kind, meaning, required, values)


TEXT, DEC, INT = Kind.TEXT, Kind.DECIMAL, Kind.INTEGER

_SYMBOL = _f("symbol", TEXT, "the instrument")
_ORDER_ID = _f("order_id", TEXT, "the kernel's order id")
ROLES = tuple(r.value for r in Role)
ORDER_SIDES = tuple(s.value for s in Side)
SIGNAL_SIDES = tuple(s.value for s in SignalSide)
KILL_ACTIONS = tuple(a.value for a in KillAction)
_ROLE = _f("role", TEXT, "the order's role", values=ROLES)
_ORDER_SIDE = _f("side", TEXT, "the order's side", values=ORDER_SIDES)
_REASON = _f("reason", TEXT, "why, in words")
_VENUE_REASON = _f("reason", TEXT, "the venue's reason, when it gave one", required=False)
_BY = _f("by", TEXT, "who asked from outside the run: ctl (the control socket); absent for "
                     "a scenario's operator act and the kernel's own rules", required=False)


def _order_update(name: str, meaning: str) -> EventType:
    return EventType(name, meaning, (_ORDER_ID, _SYMBOL, _ROLE, _VENUE_REASON))


CATALOGUE: dict[str, EventType] = {e.name: e for e in (
    EventType("header", "the first line: what ran, with which seed and versions", (
        _f("format", INT, "the journal format version"),
        _f("scenario", TEXT, "the scenario's name (live: live:<venue>)"),
        _f("seed", INT, "the run seed (live: 0)"),
        _f("versions", Kind.MAP, "package versions that produced the journal"),
        _f("scenario_sha256", TEXT, "simulated: SHA-256 of the scenario file's bytes", False),
        _f("start", Kind.TEXT_OR_NULL, "simulated: the scenario's wall-clock start", False),
        _f("duration_ns", INT, "simulated: the scenario's duration", False),
        _f("overrides", Kind.LIST, "simulated: the `--set KEY.PATH=VALUE` overrides applied to "
           "the file before validation, in order (absent when none)", False),
        _f("account_cash", DEC, "simulated: the account's starting cash", False),
        _f("live", Kind.BOOL, "live: whether orders were sent (--live)", False),
        _f("start_unix_ns", INT, "live: when the run started", False),
        _f("venue", TEXT, "live: the adapter", False),
        _f("broker", TEXT, "ibkr: host:port", False),
        _f("client_id", INT, "ibkr: the API client id", False),
        _f("endpoint", TEXT, "kite: the REST root", False),
        _f("product", TEXT, "kite: the product orders are placed with", False),
        _f("recording", Kind.MAP, "live: where the recorded quotes are (quotes: the folder of "
           "part files beside the journal; format: parquet or csv)", False),
        _f("config_file", Kind.MAP, "live: the config file (path, sha256 of its bytes)", False),
        _f("config", Kind.MAP, "live: the config file's config section as read", False),
        _f("instruments", Kind.LIST, "live: the config file's instruments as read", False),
        _f("effective_config", Kind.MAP, "live: the trading config in force, every default "
           "filled in (durations in ns)", False),
        _f("strategies", Kind.MAP, "live: per symbol, the strategy's kind and, for a file, its "
           "path and sha256", False),
    ), timed=False),
    EventType("signal", "a strategy, news or scenario intent, and whether it was taken", (
        _SYMBOL,
        _f("side", TEXT, "what it asked for", values=SIGNAL_SIDES),
        _f("accepted", Kind.BOOL, "whether it led to an entry or an exit"),
        _REASON,
        _f("source", TEXT, "scenario, strategy or news (absent when refused before judging)",
           False),
        _f("size", DEC, "strategy: the size the intent asked for (the kernel clips it to "
           "its caps; absent: the configured unit size)", False),
        _f("strategy_reason", TEXT, "strategy: the reason the intent gave", False),
    )),
    EventType("signal_received", "live: a signal as it reached the kernel (journaled after "
              "the kernel judged it, in its signal event)", (
        _SYMBOL, _f("side", TEXT, "what it asked for", values=SIGNAL_SIDES),
        _f("source", TEXT, "where it came from (news, strategy, ctl, ...)"),
        _f("received_ns", INT, "when the kernel received it"),
        _f("published_ns", INT, "news: when it was published", False),
        _f("size", DEC, "the size it asked for", False))),
    EventType("exec_report", "live: an execution report as the venue delivered it "
              "(journaled after the kernel applied it)", (
        _ORDER_ID, _f("kind", TEXT, "ACCEPTED, REJECTED, FILL, CANCELLED, EXPIRED or FEE"),
        _f("received_ns", INT, "when the kernel received it"),
        _f("venue_ts_ns", INT, "the report's own time, as the adapter stamped it"),
        _f("qty", DEC, "fills: quantity, in units of 1"), _f("price", DEC, "fills: the price"),
        _f("reason", TEXT, "the venue's reason, when it gave one"),
        _f("exec_id", TEXT, "fills: the venue's execution id"),
        _f("fee", DEC, "the broker's commission, when it said",
           False))),
    EventType("strategy_error", "a strategy raised or answered something that is not an "
              "intent: it is not called again, its ticker opens nothing more (exits keep "
              "working) and the run fails", (
        _SYMBOL,
        _f("hook", TEXT, "the hook that failed: on_price, on_quote, on_bar or on_fill"),
        _f("error", TEXT, "what it raised (with the strategy file's line) or returned"),
    )),
    EventType("ticker_started", "a ticker's supervisor started after the run began", (
        _SYMBOL, _f("via", TEXT, "how it was found (discovery: a signal named it; reconciliation: "
                        "the venue holds it; restart: the journal held it)"))),
    EventType("signal_dropped", "an entry intent dropped because a higher-priority source had "
              "an opposite intent accepted within config.signal_conflict_window", (
        _SYMBOL,
        _f("side", TEXT, "what it asked for", values=SIGNAL_SIDES),
        _f("source", TEXT, "the source of the dropped intent"),
        _f("by_source", TEXT, "the higher-priority source whose intent stands"))),
    EventType("clip_armed", "the open trade's P&L reached exits.clip_activation: from now it "
              "exits (reason clip) if its P&L falls back to exits.clip_stop_loss", (
        _SYMBOL, _f("pnl", DEC, "the trade's P&L when the clip was armed"))),
    EventType("session_day", "a session day began (config.session): the daily loss limit "
              "counts from here", (
        _f("day", TEXT, "the session day, a local date (YYYY-MM-DD) in session.timezone"),
        _f("realized_pnl", DEC, "the run's realized P&L at the start of the day, from which "
           "the day's P&L counts"))),
    EventType("risk_rejected", "an entry refused by a risk rule before it was sent", (
        _SYMBOL, _REASON,
        _f("limit", TEXT, "a portfolio limit: max_gross_exposure, max_open_positions or "
                          "buying_power (absent for the other rules)", False),
        _f("qty", DEC, "a portfolio limit: the entry's quantity (0: re-checked before "
                       "sending, the entry already counted)", False),
        _f("value", DEC, "a portfolio limit: what the entry would take it to (money, or a "
                         "count of open tickers)", False),
        _f("max", DEC, "a portfolio limit: the limit", False))),
    EventType("entry_dropped", "a queued entry dropped before it was sent", (
        _SYMBOL, _ORDER_SIDE, _f("qty", DEC, "its quantity"), _REASON)),
    EventType("order_submitted", "an order handed to the venue", (
        _ORDER_ID, _SYMBOL, _ROLE, _ORDER_SIDE, _f("qty", DEC, "quantity"),
        _f("order_type", TEXT, "MARKET, LIMIT or STOP"),
        _f("price", DEC, "limit or stop price (not for market orders)", False))),
    _order_update("order_accepted", "the venue acknowledged an order"),
    _order_update("order_rejected", "the venue refused an order, or it could not be sent "
                                    "(reason starts with 'not sent')"),
    _order_update("order_cancelled", "an order left the book on a cancel"),
    _order_update("order_expired", "an order's time in force ran out"),
    EventType("fill", "an execution on one of our orders", (
        _ORDER_ID, _SYMBOL, _ROLE, _ORDER_SIDE, _f("qty", DEC, "filled quantity"),
        _f("price", DEC, "fill price"),
        _f("fee", DEC, "what this fill cost (present when config.fees charges, or the "
                       "broker reported a commission); realized P&L is net of it", False),
        _f("fee_source", TEXT, "model (config.fees) or broker (the broker's commission "
                               "report)", False),
        _f("exec_id", TEXT, "the venue's execution id (live runs and exits.venue_stop: a "
                            "restart knows which executions it has seen)", False))),
    EventType("position_changed", "a ticker's position after a fill", (
        _SYMBOL, _f("qty", DEC, "signed position"), _f("avg_price", DEC, "average entry price"),
        _f("realized_pnl", DEC, "realized P&L of the ticker so far"))),
    EventType("fee_reported", "live: the broker's commission for a fill journaled with the "
                              "model's fee; realized P&L takes the difference", (
        _ORDER_ID, _SYMBOL, _f("exec_id", TEXT, "the fill's execution id"),
        _f("fee", DEC, "the broker's commission"),
        _f("model_fee", DEC, "the fee the fill was charged until now"))),
    EventType("bar", "an OHLC bar of the last trade price (journal.bar_interval; ts_ns is "
                     "its end, or the run's end for the last one)", (
        _SYMBOL, _f("start_ns", INT, "the bar's start (aligned to the interval)"),
        _f("open", DEC, "first trade price in the bar"), _f("high", DEC, "highest"),
        _f("low", DEC, "lowest"), _f("close", DEC, "last"))),
    EventType("report_unknown_order", "a venue report for an order we never sent", (
        _ORDER_ID, _f("kind", TEXT, "the report's kind"))),
    EventType("report_duplicate", "a report already applied (same exec id, or same state)", (
        _ORDER_ID, _f("exec_id", TEXT, "fills: the repeated execution id", False),
        _f("kind", TEXT, "other reports: the repeated kind", False))),
    EventType("report_late", "a report for an order that had already finished", (
        _ORDER_ID, _f("kind", TEXT, "the report's kind"),
        _f("state", TEXT, "the state the order had reached"))),
    EventType("report_inconsistent", "a report the order state machine forbids", (
        _ORDER_ID, _f("detail", TEXT, "what was impossible"))),
    EventType("exit_triggered", "an exit rule fired for an open position", (
        _SYMBOL, _f("reason", TEXT, "the rule (stop_loss, take_profit, gap, kill_switch, "
                                    "operator, ...)"),
        _f("via", TEXT, "what ran the check (tick, gap, timer, operator, ...)", False), _BY)),
    EventType("exit_ignored", "an exit rule fired while another exit was already working", (
        _SYMBOL, _f("reason", TEXT, "the rule"), _f("via", TEXT, "what ran the check", False),
        _f("working_order_id", TEXT, "the exit already working (empty: one being sent)"), _BY)),
    EventType("emergency_started", "the exit could not be placed: market exits until flat", (
        _SYMBOL, _REASON)),
    EventType("emergency_retry", "another emergency exit attempt", (
        _SYMBOL, _f("attempt", INT, "attempt number"))),
    EventType("emergency_finished", "the emergency exit loop ended", (
        _SYMBOL, _f("attempt", INT, "attempts made"))),
    EventType("gap_detected", "a price jump beyond monitor.gap_threshold_pct", (
        _SYMBOL, _f("from_price", DEC, "the previous price"), _f("to_price", DEC, "the new price"),
        _f("pct", DEC, "the jump in percent"))),
    EventType("feed_stale", "no market data for monitor.stale_after", (_SYMBOL,)),
    EventType("feed_resumed", "market data is flowing again after a stale period", (_SYMBOL,)),
    EventType("quote_rejected", "a quote the kernel refused to believe: dropped whole, its "
              "bid, ask and last left as they were (no bar, gap check or strategy saw it)", (
        _SYMBOL, _f("bid", DEC, "the quote's bid (0: that side empty)"),
        _f("ask", DEC, "the quote's ask (0: that side empty)"),
        _f("last", DEC, "the quote's last-trade price"),
        _f("reason", TEXT, "non-positive last price, negative bid or ask, bid above ask "
                           "(crossed quote), or last price outside [bid, ask] widened by "
                           "monitor.bad_print_pct (a bad print)"))),
    EventType("venue_disconnected", "the venue session dropped", (_REASON,)),
    EventType("venue_reconnected", "the venue session is back", (_REASON,)),
    EventType("reconciled", "our books compared with the venue's (at start, periodically, "
                            "after a reconnect)", (
        _f("positions", Kind.MAP, "the venue's positions by symbol"),
        _f("open_orders", DEC, "how many orders the venue lists as open"),
        _f("mismatches", Kind.LIST, "differences working orders cannot explain"),
        _f("when", TEXT, "start (before any entry) or periodic (reconcile.interval); "
                         "absent: after a reconnect", False))),
    EventType("position_adopted", "a position held at the venue that the kernel had not "
                                  "booked, now counted and protected", (
        _SYMBOL, _f("qty", DEC, "the signed quantity adopted"),
        _f("avg_price", DEC, "the price it is booked at (the venue's average, else the mark)"),
        _f("position", DEC, "the signed position after adoption"),
        _f("source", TEXT, "venue (at start), periodic (reconcile.interval)"))),
    EventType("restarted", "the day's state rebuilt from an earlier run's journal", (
        _f("source", TEXT, "the journal it was read from"),
        _f("events", INT, "how many events were read"),
        _f("positions", Kind.MAP, "restored positions by symbol (non-zero only)"),
        _f("books", Kind.MAP, "per symbol: qty, avg_price and realized_pnl as restored"),
        _f("realized_pnl", DEC, "the day's realized P&L so far (loss limits continue)"),
        _f("kill_switch", Kind.LIST, "kill switches still in force: reason (action)"),
        _f("last_order_id", TEXT, "the highest order id used (never handed out again)"),
        _f("working_orders", Kind.LIST, "orders still working when the journal ended"))),
    EventType("order_adopted", "a working order at the venue taken into the kernel's books", (
        _ORDER_ID, _SYMBOL, _ROLE, _f("side", TEXT, "BUY or SELL"), _f("qty", DEC, "quantity"),
        _f("filled", DEC, "quantity already filled"),
        _f("source", TEXT, "own (our role tag, an earlier run) or foreign (adopt policy)"))),
    EventType("reconcile_failed", "the venue could not be asked for its books", (_REASON,)),
    EventType("kill_switch", "the kill switch fired", (
        _f("reason", TEXT, "what fired it"),
        _f("action", TEXT, "what it does", values=KILL_ACTIONS), _BY)),
    EventType("kill_switch_reset", "the kill switch was reset; entries allowed again", (
        _f("by", TEXT, "who reset it (operator: a scenario's operator act, ctl: a person "
                       "through the control socket, reconciliation, data_resumed: the "
                       "stale feeds ticked again and lifted the stale_data switch, leaving "
                       "any other reason in force)"),
        _f("was", TEXT, "the reason it had fired for"))),
    EventType("fault_injected", "simulated: a scenario fault took effect", (
        _f("kind", TEXT, "the fault's kind"),)),
    EventType("news_rejected", "live: a line of the news file that is not a valid alert", (
        _f("source", TEXT, "the news file"), _f("line", INT, "its line number"), _REASON)),
    EventType("invariant_violated", "an invariant broke (simulated: the run fails; live: "
              "a tripwire, the kill switch fires cancel_all)", (
        _f("invariant", TEXT, "the invariant's name"), _f("detail", TEXT, "what was seen"))),
    EventType("shutdown", "the run is ending: entries cancelled, exits left working", (
        _f("exits_left_working", Kind.LIST, "order ids of the protective exits left at the venue"),)),
    EventType("run_finished", "the last line: final positions and P&L", (
        _f("positions", Kind.MAP, "final position by symbol"),
        _f("realized_pnl", Kind.MAP, "realized P&L by symbol"),
        _f("violations", Kind.LIST, "names of the invariants that broke"),
        _f("marks", Kind.MAP, "where each open position was marked at the end, by symbol: "
           "the price an exit would get (bid for a long, ask for a short, else the last "
           "trade); absent when the run ends flat", False))),
    EventType("run_failed", "live: the last line of a run that never got going (the venue "
              "was never reached, or refused the credentials), instead of run_finished", (
        _f("reason", TEXT, "why, in words (the venue's error as the user was shown it)"),)),
)}


# (type, keys in the event's order) -> the catalogue's fields present in such an event,
# for a shape whose keys are all known and required ones all there: a checked event
# then costs one kind test per field (the invariant checker checks every event)
_SHAPES: dict[tuple[Any, ...], tuple[tuple[str, Kind], ...]] = {}
_MAX_SHAPES = 4096


def event_problems(event: dict[str, Any]) -> list[str]:
    """What is wrong with ``event`` against the catalogue (empty: nothing)."""
    name = event.get("type")
    if type(name) is not str:
        return _problems(event)
    shape = (name, *event)
    fields = _SHAPES.get(shape)
    if fields is not None:
        for key, kind in fields:
            if not kind.admits(event[key]):
                break
        else:
            return []
    problems = _problems(event)
    if not problems and fields is None and len(_SHAPES) < _MAX_SHAPES:
        spec = CATALOGUE[event["type"]]
        _SHAPES[shape] = tuple((f.name, f.kind) for f in spec.fields if f.name in event)
    return problems


def _problems(event: dict[str, Any]) -> list[str]:
    spec = CATALOGUE.get(event.get("type"))  # type: ignore[arg-type]
    if spec is None:
        return [f"unknown event type {event.get('type')!r}"]
    keys = event.keys()
    out = [f"{spec.name}: unknown field {k!r}" for k in sorted(keys - spec.names)]
    out += [f"{spec.name}: missing field {k!r}" for k in sorted(spec.required - keys)]
    for f in spec.fields:
        if f.name in event and not f.kind.admits(event[f.name]):
            out.append(f"{spec.name}.{f.name}: expected {f.kind.value}, "
                       f"got {event[f.name]!r}")
    return out


def matcher_problems(matcher: dict[str, Any], path: str, meta: tuple[str, ...]
                     ) -> list[tuple[str, str]]:
    """An ``expect:`` matcher that names an unknown type or a field its type lacks.

    ``meta`` are the matcher's own keys (after, before, min, max), not event fields.
    """
    name = matcher.get("type")
    if not isinstance(name, str):
        return []  # the loader reports the missing type
    spec = CATALOGUE.get(name)
    if spec is None:
        return [(f"{path}.type", f"unknown event type {name!r}")]
    out = []
    by_name = {f.name: f for f in spec.fields}
    for key, value in matcher.items():
        if key not in spec.names and key not in meta:
            fields = ", ".join(sorted(spec.names - {"type"}))
            out.append((f"{path}.{key}", f"not a field of {name} events (fields: {fields})"))
            continue
        values = by_name[key].values if key in by_name else None
        if values is not None and value not in values:
            word = key.replace("_", " ")
            article = "an" if word[0] in "aeiou" else "a"
            out.append((f"{path}.{key}",
                        f"{value!r} is not {article} {word} (one of: {', '.join(values)})"))
    return out


def markdown_table() -> str:
    """The catalogue as the docs' table: one row per field, grouped by event type."""
    rows = ["| event | field | kind | meaning |", "|---|---|---|---|"]
    for spec in CATALOGUE.values():
        rows.append(f"| `{spec.name}` | | | {spec.meaning} |")
        common = [] if not spec.timed else [Field("ts_ns", Kind.INTEGER,
                                                  "when, in nanoseconds of run time")]
        for f in common + list(spec.fields):
            kind = f.kind.value + ("" if f.required else ", optional")
            meaning = f.meaning if f.values is None else (
                f"{f.meaning}: " + ", ".join(f"`{v}`" for v in f.values))
            rows.append(f"| | `{f.name}` | {kind} | {meaning} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":  # the docs' table: python -m triotrade.kernel.events
    print(markdown_table(), end="")
