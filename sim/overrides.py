"""Scenario values set from the command line: ``--set config.exits.stop_loss=3%``.

An override is applied to the file's raw YAML mapping *before* validation, so a value
set this way means exactly what the same text written into the file would mean: the
value is parsed as YAML (``10`` is an integer, ``3%`` a text, ``null`` none,
``[1, 2]`` a list) and the loader then judges the result as it judges any file. A
sweep (``sweep.py``) is a grid of such overrides, so this one function is what makes
a sweep's cell and a single ``triotrade run --set ...`` the same run.

Key paths are dotted mapping keys with ``[i]`` for list items
(``signals[0].t``, ``config.strategies.ACME.fast``); missing mappings on the way are
created (``config.exits`` need not be in the file). A path that walks into a value
that is not a mapping or list, an item beyond a list's end or a value that is not
YAML is refused here, located; an unknown key is refused by the loader, like a typo
in the file, and its problem says which ``--set`` put it there.
"""
from __future__ import annotations

import copy
import re
from typing import Any, Iterable

import attrs

from ..kernel.errors import InputError
from ..kernel.strict_yaml import YamlFileError, load_bytes

Key = str | int
SOURCE = "--set"


class OverrideError(InputError):
    """A ``--set`` that cannot be applied: each problem is (key.path, message)."""


_PATH = re.compile(r"[^.\[\]]+(\[\d+\])*(\.[^.\[\]]+(\[\d+\])*)*")
_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_path(path: str) -> tuple[Key, ...]:
    """``a.b[2].c`` -> ``("a", "b", 2, "c")``; ValueError for a malformed path."""
    text = path.strip()
    if not _PATH.fullmatch(text):
        raise ValueError(f"malformed key path {path!r} (keys are a.b.c, items [0])")
    return tuple(m.group(1) if m.group(1) is not None else int(m.group(2))
                 for m in _SEGMENT.finditer(text))


def format_path(keys: Iterable[Key]) -> str:
    out = ""
    for k in keys:
        out += f"[{k}]" if isinstance(k, int) else (f".{k}" if out else k)
    return out


@attrs.frozen
class Override:
    """One ``PATH=VALUE``: the path as keys, the value's text and its YAML value."""

    keys: tuple[Key, ...]
    text: str
    value: Any = attrs.field(eq=False)

    @property
    def path(self) -> str:
        return format_path(self.keys)

    @property
    def spelled(self) -> str:
        """As the journal header records it (and as ``--set`` takes it back)."""
        return f"{self.path}={self.text}"


def parse_value(text: str, where: str = "") -> Any:
    """``text`` read as a YAML value, strictly (OverrideError when it is not YAML)."""
    try:
        return load_bytes(text.encode("utf-8"))
    except YamlFileError as exc:
        problem = "; ".join(msg for _, msg in exc.problems)
        raise OverrideError(SOURCE, [(where, f"the value {text!r} is not YAML: {problem}")]
                            ) from None


def parse_override(spec: str) -> Override:
    """``PATH=VALUE`` as given to ``--set`` (OverrideError, located, when malformed)."""
    path, eq, text = spec.partition("=")
    if not eq:
        raise OverrideError(SOURCE, [(spec.strip(), "expected KEY.PATH=VALUE")])
    try:
        keys = parse_path(path)
    except ValueError as exc:
        raise OverrideError(SOURCE, [(path.strip(), str(exc))]) from None
    where = format_path(keys)
    return Override(keys, text, parse_value(text, where))


def parse_overrides(specs: Iterable[str]) -> list[Override]:
    """Every spec parsed; all problems reported together."""
    out: list[Override] = []
    problems: list[tuple[str, str]] = []
    for spec in specs:
        try:
            out.append(parse_override(spec))
        except OverrideError as exc:
            problems.extend(exc.problems)
    if problems:
        raise OverrideError(SOURCE, problems)
    return out


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a text"
    return f"a {type(value).__name__}"


def apply(data: Any, overrides: Iterable[Override]) -> Any:
    """A copy of the raw scenario mapping with every override set, in order.

    Missing (or null) mappings on the way are created; lists are indexed, never grown."""
    overrides = list(overrides)
    if not overrides:
        return data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return data  # the loader says a scenario must be a mapping
    root = copy.deepcopy(data)
    problems: list[tuple[str, str]] = []
    for ov in overrides:
        problem = _set(root, ov)
        if problem is not None:
            problems.append((ov.path, problem))
    if problems:
        raise OverrideError(SOURCE, problems)
    return root


def _set(root: dict[str, Any], ov: Override) -> str | None:
    node: Any = root
    for depth, key in enumerate(ov.keys):
        last = depth == len(ov.keys) - 1
        here = format_path(ov.keys[:depth]) or "the scenario"
        if isinstance(key, int):
            if not isinstance(node, list):
                return f"{here} is {_kind(node)}, not a list: [{key}] cannot apply"
            if key >= len(node):
                return f"{here} has {len(node)} item(s): no [{key}]"
            if last:
                node[key] = copy.deepcopy(ov.value)
                return None
            nxt = node[key]
            if nxt is None:
                nxt = node[key] = {}
        else:
            if not isinstance(node, dict):
                return f"{here} is {_kind(node)}, not a mapping: it has no key {key!r}"
            if last:
                node[key] = copy.deepcopy(ov.value)
                return None
            nxt = node.get(key)
            if nxt is None:
                nxt = node[key] = {}
        node = nxt
    return None


def blame(problems: list[tuple[str, str]], overrides: Iterable[Override]
          ) -> list[tuple[str, str]]:
    """The loader's problems, each under a path some override set, marked with it."""
    overrides = list(overrides)
    out = []
    for path, msg in problems:
        for ov in overrides:
            p = ov.path
            if path == p or path.startswith(p + ".") or path.startswith(p + "["):
                msg = f"{msg} (set by --set {ov.spelled})"
                break
        out.append((path, msg))
    return out
