"""The control protocol's request parser: every line is a Request or a clear refusal.

The server answers whatever a client sends; these tests pin that a malformed, unknown
or oversized request is refused with a sentence that names the problem, and that the
requests ``triotrade ctl`` sends parse back to what it meant.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from triotrade.kernel.killswitch import KillAction
from triotrade.wire.control import (MAX_LINE, Command, Request, RequestError, control_path,
                                    encode, parse_request, refused)


@pytest.mark.parametrize("request_", [
    Request(Command.STATUS),
    Request(Command.KILL),
    Request(Command.KILL, mode=KillAction.CANCEL_ALL),
    Request(Command.RESET),
    Request(Command.FLATTEN, symbol="ACME"),
])
def test_what_the_client_sends_parses_back(request_: Request) -> None:
    line = encode(request_.to_json())
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert parse_request(line.rstrip(b"\n")) == request_
    assert parse_request(line) == request_  # the newline is optional


def test_kill_mode_is_optional_and_exact() -> None:
    assert parse_request(b'{"cmd": "kill"}').mode is None
    for mode in KillAction:
        assert parse_request(json.dumps({"cmd": "kill", "mode": mode.value}).encode()).mode is mode


@pytest.mark.parametrize("line, words", [
    (b"", "empty request"),
    (b"   ", "empty request"),
    (b"status", "not JSON"),
    (b'{"cmd": "status"', "not JSON"),
    (b"\xff\xfe", "not UTF-8"),
    (b"[1, 2]", "JSON object"),
    (b'"status"', "JSON object"),
    (b"{}", "missing 'cmd'"),
    (b'{"cmd": "explode"}', "unknown command 'explode'"),
    (b'{"cmd": 7}', "unknown command 7"),
    (b'{"cmd": "STATUS"}', "unknown command 'STATUS'"),
    (b'{"cmd": "status", "cmd": "kill"}', "given twice"),
    (b'{"cmd": "status", "verbose": true}', "unknown key(s) 'verbose'"),
    (b'{"cmd": "reset", "mode": "close_all"}', "unknown key(s) 'mode'"),
    (b'{"cmd": "kill", "mode": "everything"}', "mode must be stop_new_trades, cancel_all or close_all"),
    (b'{"cmd": "kill", "mode": 1}', "mode must be"),
    (b'{"cmd": "kill", "symbol": "ACME"}', "unknown key(s) 'symbol'"),
    (b'{"cmd": "flatten"}', "flatten: missing 'symbol'"),
    (b'{"cmd": "flatten", "symbol": ""}', "non-empty string"),
    (b'{"cmd": "flatten", "symbol": ["ACME"]}', "non-empty string"),
    (b'{"cmd": "flatten", "symbol": "' + b"A" * 65 + b'"}', "longer than 64"),
    (b'{"cmd": "kill", "mode": NaN}', "NaN is not a JSON value"),
    (b"[" * 100_000, "request longer than"),
    (b"[" * 4000, "nested too deep"),
])
def test_malformed_requests_are_refused_with_the_reason(line: bytes, words: str) -> None:
    with pytest.raises(RequestError) as err:
        parse_request(line)
    assert words in str(err.value), str(err.value)


def test_the_size_bound_is_on_bytes() -> None:
    pad = " " * (MAX_LINE - len(b'{"cmd": "status"}'))
    assert parse_request(('{"cmd": "status"}' + pad).encode()).command is Command.STATUS
    with pytest.raises(RequestError, match="longer than 4096 bytes"):
        parse_request(('{"cmd": "status"}' + pad + " ").encode())


def test_responses_are_one_canonical_line() -> None:
    assert encode(refused("nope")) == b'{"error":"nope","ok":false}\n'


def test_the_socket_sits_next_to_the_journal() -> None:
    assert control_path("runs/live-ibkr-1.jsonl") == Path("runs/live-ibkr-1.jsonl.ctl")
