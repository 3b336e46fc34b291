"""The control protocol of a live run: what ``triotrade ctl`` may ask, as bytes.

A person reaches a running kernel through a Unix socket next to its journal
(``<journal>.ctl``). The exchange is one JSON object per line each way: a request
``{"cmd": "status"}``, ``{"cmd": "kill", "mode": "cancel_all"}``, ``{"cmd": "reset"}``,
``{"cmd": "flatten", "symbol": "ACME"}``, and a response ``{"ok": true, ...}`` or
``{"ok": false, "error": "..."}``.

Both ends share this module so the client cannot send what the server will not read.
Parsing is strict and total: any byte string either becomes a ``Request`` or raises
``RequestError`` with a sentence a person can act on, so the server never has to guess
what a malformed line meant, and a refused request changes nothing. Codec only: the
socket lives in ``venues/control.py`` (server) and ``triotrade/cli/ctl.py`` (client).
"""
from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Any

import attrs

from ..kernel.killswitch import KillAction

MAX_LINE = 4096  # bytes of one request, newline included: anything longer is refused
MAX_SYMBOL = 64
SUFFIX = ".ctl"
DEFAULT_KILL = KillAction.CLOSE_ALL  # as a scenario's operator kill_switch act


class Command(enum.StrEnum):
    STATUS = "status"
    KILL = "kill"
    RESET = "reset"
    FLATTEN = "flatten"


# the keys each command takes besides "cmd", and whether they are required
_KEYS: dict[Command, dict[str, bool]] = {
    Command.STATUS: {},
    Command.KILL: {"mode": False},
    Command.RESET: {},
    Command.FLATTEN: {"symbol": True},
}


class RequestError(ValueError):
    """A request the server refuses; the message says why."""


class ControlUnreachable(Exception):
    """No run answers on the control socket (absent, refused, or silent)."""


@attrs.frozen
class Request:
    command: Command
    mode: KillAction | None = None  # kill: the action (default DEFAULT_KILL)
    symbol: str | None = None  # flatten: the symbol

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"cmd": self.command.value}
        if self.mode is not None:
            out["mode"] = self.mode.value
        if self.symbol is not None:
            out["symbol"] = self.symbol
        return out


def control_path(journal: str | Path) -> Path:
    """Where the run writing ``journal`` listens: the journal's path plus ``.ctl``."""
    return Path(str(journal) + SUFFIX)


def _either(values: list[str]) -> str:
    return ", ".join(values[:-1]) + f" or {values[-1]}" if len(values) > 1 else values[0]


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise RequestError(f"key {k!r} given twice")
        out[k] = v
    return out


def _no_constant(name: str) -> Any:
    raise RequestError(f"{name} is not a JSON value")


def parse_request(line: bytes) -> Request:
    """One request line (its newline optional) as a Request, or RequestError."""
    if len(line) > MAX_LINE:
        raise RequestError(f"request longer than {MAX_LINE} bytes")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError("request is not UTF-8 text") from None
    if not text.strip():
        raise RequestError('empty request: send a JSON object such as {"cmd": "status"}')
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise RequestError(f"not JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise RequestError("not JSON: nested too deep") from None
    if not isinstance(data, dict):
        raise RequestError('a request is a JSON object such as {"cmd": "status"}')
    names = [c.value for c in Command]
    cmd = data.get("cmd")
    if cmd is None:
        raise RequestError(f"missing 'cmd' (one of {_either(names)})")
    if not isinstance(cmd, str) or cmd not in names:
        raise RequestError(f"unknown command {cmd!r}: must be {_either(names)}")
    command = Command(cmd)
    keys = _KEYS[command]
    extra = sorted(k for k in data if k != "cmd" and k not in keys)
    if extra:
        takes = ", ".join(keys) or "no other keys"
        raise RequestError(f"{cmd}: unknown key(s) {', '.join(map(repr, extra))} ({cmd} takes "
                           f"{takes})")
    missing = [k for k, required in keys.items() if required and k not in data]
    if missing:
        raise RequestError(f"{cmd}: missing {', '.join(map(repr, missing))}")
    mode = None
    if "mode" in data:
        modes = [a.value for a in KillAction]
        if not isinstance(data["mode"], str) or data["mode"] not in modes:
            raise RequestError(f"kill: mode must be {_either(modes)}, got {data['mode']!r}")
        mode = KillAction(data["mode"])
    symbol = None
    if "symbol" in data:
        symbol = data["symbol"]
        if not isinstance(symbol, str) or not symbol.strip():
            raise RequestError(f"{cmd}: symbol must be a non-empty string, got {symbol!r}")
        if len(symbol) > MAX_SYMBOL:
            raise RequestError(f"{cmd}: symbol longer than {MAX_SYMBOL} characters")
    return Request(command, mode, symbol)


def encode(message: dict[str, Any]) -> bytes:
    """One response or request line: compact JSON with sorted keys, then a newline."""
    return json.dumps(message, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def refused(error: str) -> dict[str, Any]:
    return {"ok": False, "error": error}
