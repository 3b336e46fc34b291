"""TWS API framing: the handshake and length-prefixed, NUL-terminated field lists.

After a handshake (``API\\0`` + a length-prefixed ``v<min>..<max>[ options]``) every
message is a 4-byte big-endian length followed by NUL-terminated text fields. The
server answers the handshake with ``<version>\\0<time>\\0``; from then on the field
layout of each message depends on that negotiated version. We negotiate
``SERVER_VERSION`` (178, the highest ``ib_async`` 2.1 offers: a real gateway would pick
the same) and encode the version-dependent fields for 164..178 only.

Field encoding refuses floats: a price reaches the wire as text formatted from exact
units or a ``Decimal``, never through a binary float.
"""
from __future__ import annotations

import enum
import struct
from decimal import Decimal
from typing import Iterable

SERVER_VERSION = 178
MIN_CLIENT_VERSION = 164  # below this the contract-details layout changes; not encoded
HEADER = b"API\0"


class ProtocolError(Exception):
    """The peer sent something that is not the TWS API."""


Field = "str | int | bool | Decimal | None"


def _enc(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, str)):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, enum.Enum):
        return _enc(value.value)
    # floats would be lossy and Fractions are not wire values: refuse both loudly
    raise TypeError(f"cannot put a {type(value).__name__} on the TWS wire: {value!r}")


def join_fields(texts: list[str]) -> str:
    """The body of one message: each field's text followed by a NUL.

    The one definition of the field framing, used by ``frame`` here and by the IB
    adapter's fast encoder (whose length prefix ib_async adds).
    """
    return "\0".join(texts) + "\0" if texts else ""


def frame(fields: Iterable[object]) -> bytes:
    """One message: length prefix + NUL-terminated fields."""
    body = join_fields([_enc(f) for f in fields]).encode("utf-8")
    return struct.pack(">I", len(body)) + body


def server_hello(version: int, conn_time: str) -> bytes:
    body = f"{version}\0{conn_time}\0".encode()
    return struct.pack(">I", len(body)) + body


class FrameReader:
    """Incremental parser: the handshake first, then length-prefixed field lists."""

    MAX_MESSAGE = 1 << 20  # the largest request ib_async sends is a few kB

    def __init__(self) -> None:
        self._buf = bytearray()
        self.handshake_done = False

    def feed(self, data: bytes | bytearray) -> None:
        self._buf += data

    def handshake(self) -> tuple[int, int, str] | None:
        """``(min_version, max_version, options)`` once the client hello is complete."""
        if len(self._buf) < 8:
            return None
        if bytes(self._buf[:4]) != HEADER:
            raise ProtocolError("expected the TWS API handshake ('API\\0')")
        (n,) = struct.unpack(">I", self._buf[4:8])
        if n > 1024:
            raise ProtocolError("oversized handshake")
        if len(self._buf) < 8 + n:
            return None
        text = bytes(self._buf[8:8 + n]).decode("ascii", errors="replace")
        del self._buf[:8 + n]
        self.handshake_done = True
        spec, _, options = text.partition(" ")
        if not spec.startswith("v") or ".." not in spec:
            raise ProtocolError(f"bad version range {text!r}")
        lo, _, hi = spec[1:].partition("..")
        try:
            return int(lo), int(hi), options
        except ValueError:
            raise ProtocolError(f"bad version range {text!r}") from None

    def messages(self) -> list[list[str]]:
        out: list[list[str]] = []
        buf = self._buf
        while len(buf) >= 4:
            (n,) = struct.unpack(">I", buf[:4])
            if n > self.MAX_MESSAGE:
                raise ProtocolError(f"message of {n} bytes")
            if len(buf) < 4 + n:
                break
            text = bytes(buf[4:4 + n]).decode("utf-8", errors="replace")
            del buf[:4 + n]
            fields = text.split("\0")
            if fields and fields[-1] == "":
                fields.pop()
            if fields:
                out.append(fields)
        return out

