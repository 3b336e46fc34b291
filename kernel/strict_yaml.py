"""Every YAML file the product reads (scenarios, live configs), read strictly and boundedly.

A config file is input from a person, sometimes a hostile or careless one, and a
trading tool must neither guess what it meant nor be made to hang by it. PyYAML's
SafeLoader does both: it keeps the last of two equal keys without a word (a risk
limit written twice silently means the second), reads YAML 1.1 (``1:40`` is the
sexagesimal 100, ``2025-02-30T14:30:00Z`` an implicit timestamp that raises from
inside the constructor), honours explicit tags (``!!int "abc"`` is a traceback),
builds complex keys, recurses once per nesting level, expands aliases without limit
(the 580-byte "billion laughs" file), and reads whatever path it is given to the end
(``/dev/zero``) or forever (a FIFO).

So here, in one place:

* the file is ``stat``-ed first and only a regular file is opened (non-blocking, so
  a FIFO swapped in between cannot block), and at most ``max_bytes`` are read;
* the YAML 1.2 core schema: ``true/false``, ``null``, decimal/``0o``/``0x``
  integers and decimal floats; everything else (``1:40``, dates, ``yes``) is a
  string that our own validators parse and locate;
* any explicit tag, a non-scalar key, a key written twice, nesting deeper than
  ``max_depth``, an alias to its own ancestor, or a document whose aliases expand
  to more than ``max_nodes`` nodes is refused while composing (each node is counted
  once: linear work), with the line and column;
* a number with more than ``MAX_NUMBER_CHARS`` characters is refused before it is
  converted (Python's int conversion is quadratic and capped), and so is an integer
  with a leading zero (``010``: octal 8 in YAML 1.1, ten in 1.2; we do not guess).

Errors are ``YamlProblem`` (a ``yaml.YAMLError``), whose message never repeats the
document's values.
"""
from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import attrs
import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, MappingEndEvent, ScalarEvent, SequenceEndEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

MAX_NUMBER_CHARS = 40  # no seed, price, size or count needs more


@attrs.frozen
class YamlLimits:
    """How much a YAML file may make us read and build."""

    max_bytes: int = 2 * 1024 * 1024
    max_depth: int = 64
    max_nodes: int = 500_000  # after alias expansion


class YamlProblem(yaml.YAMLError):
    """A document refused by the strict reader; ``where`` is ``line L, column C`` or ''."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where
        self.message = message


def _where(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


# ---------------------------------------------------------------- YAML 1.2 core schema


class _CoreResolver(BaseResolver):
    """The YAML 1.2 core schema's implicit types, nothing of YAML 1.1's."""


_CoreResolver.yaml_implicit_resolvers = {}
_CoreResolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"))
_CoreResolver.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_CoreResolver.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"))
_CoreResolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
                  |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


class _CoreConstructor(SafeConstructor):
    """SafeConstructor's containers and strings; numbers read by the 1.2 rules, bounded."""

    def _number_text(self, node: ScalarNode) -> str:
        text = str(self.construct_scalar(node))
        if len(text) > MAX_NUMBER_CHARS:
            raise YamlProblem(_where(node.start_mark),
                              f"a number with {len(text)} characters "
                              f"(at most {MAX_NUMBER_CHARS})")
        return text

    def construct_core_int(self, node: ScalarNode) -> int:
        text = self._number_text(node)
        if text.startswith("0o"):
            return int(text[2:], 8)
        if text.startswith("0x"):
            return int(text[2:], 16)
        return int(text, 10)

    def construct_core_float(self, node: ScalarNode) -> float:
        text = self._number_text(node).lower()
        if text.endswith(".inf"):
            return float("-inf") if text.startswith("-") else float("inf")
        if text == ".nan":
            return float("nan")
        return float(text)


# (the stubs type add_constructor's callback for the base loader only)
_CoreConstructor.add_constructor(  # type: ignore[type-var]
    "tag:yaml.org,2002:int", _CoreConstructor.construct_core_int)
_CoreConstructor.add_constructor(  # type: ignore[type-var]
    "tag:yaml.org,2002:float", _CoreConstructor.construct_core_float)


# ---------------------------------------------------------------- the bounded composer

_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_LEADING_ZERO = re.compile(r"^[-+]?0[0-9]+$")


class _StrictComposer(Composer, _CoreResolver):
    """Composes with every structural check, counting each node once.

    The events come from whichever parser it is mixed with: libyaml's when PyYAML has
    it (a 2 MB flow list parses in a second instead of a minute), else PyYAML's own."""

    limits: YamlLimits

    if TYPE_CHECKING:  # provided by the parser it is mixed with
        def peek_event(self) -> Any: ...
        def get_event(self) -> Any: ...
        def check_event(self, *choices: Any) -> bool: ...

    def _strict_init(self, limits: YamlLimits) -> None:
        self.limits = limits
        self._depth = 0
        self._open: set[int] = set()  # nodes being composed: an alias to one is a cycle
        self._size: dict[int, int] = {}  # node id -> expanded node count
        self._path: list[str] = []  # the key path being composed

    def _problem(self, mark: Any, message: str, *, outermost: bool = False) -> YamlProblem:
        """Located by key path when there is one (the line in the message), else by
        line; ``outermost``: by the top-level key only (a path 64 levels deep helps nobody)."""
        segments = self._path[:1] if outermost else self._path
        path = "".join(seg if seg.startswith("[") else f".{seg}" for seg in segments)
        path = path.lstrip(".")
        if not path:
            return YamlProblem(_where(mark), message)
        return YamlProblem(path, f"{message} ({_where(mark)})" if mark is not None else message)

    def _expanded(self, node: Node) -> int:
        return self._size.get(id(node), 1)

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self.check_event(AliasEvent):
            event = self.peek_event()
            node = self.anchors.get(event.anchor)
            if node is not None and id(node) in self._open:
                raise self._problem(event.start_mark,
                                  f"alias *{event.anchor} refers to a node that contains it "
                                  f"(a recursive structure)")
            return cast(Node, super().compose_node(parent, index))
        event = self.peek_event()
        mark = event.start_mark
        tag = getattr(event, "tag", None)
        if tag is not None:
            raise self._problem(mark, f"explicit tag {tag[:60]!r} (tags are not accepted; "
                                    f"quote the value if it is text)")
        if isinstance(event, ScalarEvent) and event.implicit[0] \
                and self.resolve(ScalarNode, event.value, (True, False)) in _NUMBER_TAGS:
            if len(event.value) > MAX_NUMBER_CHARS:
                raise self._problem(mark, f"a number with {len(event.value)} characters "
                                          f"(at most {MAX_NUMBER_CHARS})")
            if _LEADING_ZERO.match(event.value):
                # YAML 1.1 read 010 as octal 8, YAML 1.2 as 10: neither is guessed
                raise self._problem(mark, f"integer {event.value!r} has a leading zero "
                                          f"(write it without, or 0o... for octal)")
        self._depth += 1
        if self._depth > self.limits.max_depth:
            raise self._problem(mark, f"nested deeper than {self.limits.max_depth} levels",
                                outermost=True)
        try:
            return cast(Node, super().compose_node(parent, index))
        finally:
            self._depth -= 1

    def compose_sequence_node(self, anchor: Any) -> SequenceNode:
        start_event = self.peek_event()
        node = SequenceNode(self.resolve(SequenceNode, None, start_event.implicit), [],
                            start_event.start_mark, None, flow_style=start_event.flow_style)
        self.get_event()
        if anchor is not None:
            self.anchors[anchor] = node
        self._open.add(id(node))
        size = 1
        while not self.check_event(SequenceEndEvent):
            self._path.append(f"[{len(node.value)}]")
            item = self.compose_node(node, len(node.value))
            self._path.pop()
            node.value.append(item)
            size = self._grow(size, item, node)
        node.end_mark = self.get_event().end_mark
        self._open.discard(id(node))
        self._size[id(node)] = size
        return node

    def compose_mapping_node(self, anchor: Any) -> MappingNode:
        start_event = self.peek_event()
        node = MappingNode(self.resolve(MappingNode, None, start_event.implicit), [],
                           start_event.start_mark, None, flow_style=start_event.flow_style)
        self.get_event()
        if anchor is not None:
            self.anchors[anchor] = node
        self._open.add(id(node))
        size = 1
        seen: dict[tuple[str, str], int] = {}
        while not self.check_event(MappingEndEvent):
            key_event = self.peek_event()
            if not isinstance(key_event, (ScalarEvent, AliasEvent)):
                raise self._problem(key_event.start_mark,
                                    "a mapping key must be a plain value, not a list or mapping")
            key = self.compose_node(node, None)
            if not isinstance(key, ScalarNode):
                raise self._problem(key_event.start_mark,
                                    "a mapping key must be a plain value, not a list or mapping")
            line = key_event.start_mark.line + 1 if key_event.start_mark is not None else 0
            ident = (key.tag, key.value)
            shown = key.value if len(key.value) <= 60 else key.value[:57] + "..."
            self._path.append(shown)
            if ident in seen:
                raise YamlProblem(self._problem(None, "").where or _where(key_event.start_mark),
                                  f"duplicate key (lines {seen[ident]} and {line})")
            seen[ident] = line
            value = self.compose_node(node, key)
            self._path.pop()
            node.value.append((key, value))
            size = self._grow(self._grow(size, key, node), value, node)
        node.end_mark = self.get_event().end_mark
        self._open.discard(id(node))
        self._size[id(node)] = size
        return node

    def _grow(self, size: int, child: Node, node: Node) -> int:
        size += self._expanded(child)
        if size > self.limits.max_nodes:
            raise self._problem(node.start_mark,
                              f"expands to more than {self.limits.max_nodes} values "
                              f"(aliases repeat what they refer to)")
        return size


class _PyStrictLoader(Reader, Scanner, Parser, _StrictComposer, _CoreConstructor):
    def __init__(self, text: str, limits: YamlLimits) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _CoreConstructor.__init__(self)
        _CoreResolver.__init__(self)
        self._strict_init(limits)


_StrictLoader: Any = _PyStrictLoader
try:
    from yaml._yaml import CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml: the same checks, slower
    pass
else:
    class _CStrictLoader(_StrictComposer, CParser, _CoreConstructor):
        """libyaml scans and parses; composing (every check above) stays ours."""

        def __init__(self, text: str, limits: YamlLimits) -> None:
            CParser.__init__(self, text)
            Composer.__init__(self)
            _CoreConstructor.__init__(self)
            _CoreResolver.__init__(self)
            self._strict_init(limits)

    _StrictLoader = _CStrictLoader


# ---------------------------------------------------------------- entry points


def load_strict(text: str, limits: YamlLimits = YamlLimits()) -> Any:
    """The single document in ``text``; anything refused raises ``yaml.YAMLError``
    (``YamlProblem`` for the checks above, PyYAML's own errors for bad syntax)."""
    loader = _StrictLoader(text, limits)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        return loader.construct_document(node)
    finally:
        loader.dispose()


class FileRefused(Exception):
    """A path that is not a regular, readable file of bounded size (``reason`` says why)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_bounded(path: str | Path, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; anything else: FileRefused.

    The path is stat-ed before it is opened, and opened non-blocking with
    ``O_NOFOLLOW``-free semantics (a symlink to a regular file is fine), so a
    directory, a device or a FIFO is refused without reading it, and a FIFO swapped
    in between the stat and the open cannot block."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise FileRefused(f"cannot read file: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise FileRefused(f"not a regular file ({_kind(st.st_mode)})")
    if st.st_size > max_bytes:
        raise FileRefused(f"file is {st.st_size} bytes (at most {max_bytes})")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise FileRefused(f"cannot read file: {exc.strerror or exc}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise FileRefused(f"not a regular file ({_kind(os.fstat(fd).st_mode)})")
        chunks: list[bytes] = []
        total = 0
        while True:
            try:
                chunk = os.read(fd, min(1 << 16, max_bytes + 1 - total))
            except OSError as exc:
                if exc.errno == errno.EAGAIN:
                    raise FileRefused("file would block") from None
                raise FileRefused(f"cannot read file: {exc.strerror or exc}") from None
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise FileRefused(f"file is larger than {max_bytes} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def read_yaml_file(path: str | Path, limits: YamlLimits = YamlLimits()) -> tuple[Any, bytes]:
    """A YAML file read strictly, and its bytes (for hashing): refusals as
    ``(where, message)`` problems through ``YamlFileError``."""
    try:
        raw = read_bounded(path, limits.max_bytes)
    except FileRefused as exc:
        raise YamlFileError([("", exc.reason)]) from None
    return load_bytes(raw, limits), raw


class YamlFileError(Exception):
    """Why a YAML document was refused, as ``(where, message)`` pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{w}: {m}" if w else m for w, m in problems))
        self.problems = problems


def load_bytes(raw: bytes, limits: YamlLimits = YamlLimits()) -> Any:
    """``raw`` as strict YAML; every refusal as ``YamlFileError``."""
    if len(raw) > limits.max_bytes:
        raise YamlFileError([("", f"document is {len(raw)} bytes (at most {limits.max_bytes})")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise YamlFileError([("", "file is not UTF-8 text")]) from None
    try:
        return load_strict(text, limits)
    except YamlProblem as exc:
        raise YamlFileError([(exc.where or "YAML", exc.message)]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        if isinstance(exc, yaml.reader.ReaderError):
            problem = f"{exc.reason} (character {exc.position + 1})"
        else:
            problem = getattr(exc, "problem", None) or str(exc)
        problem = " ".join(str(problem).split())[:200]  # one line, whatever PyYAML said
        raise YamlFileError([(_where(mark) or "YAML", f"invalid YAML: {problem}")]) from None
    except RecursionError:  # pragma: no cover - max_depth keeps the composer shallow
        raise YamlFileError([("YAML", "nested too deeply")]) from None
