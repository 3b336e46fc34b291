"""YAML read strictly: a key written twice is an error, not "the last one wins".

PyYAML's SafeLoader keeps the last of two equal keys without a word, so a risk limit
written twice silently means the second. Scenario files are composed first, every
duplicate anywhere in the document is reported by key path, and only a clean
document is constructed.
"""
from __future__ import annotations

from typing import Any

import yaml


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of keeping the last one."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (line {mark.line + 1})", mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def duplicate_keys(node: Any, path: str = "", _active: frozenset[int] = frozenset()
                   ) -> list[tuple[str, str]]:
    """Duplicate mapping keys anywhere in a composed YAML document, by key path."""
    if id(node) in _active:  # an alias cycle
        return []
    active = _active | {id(node)}
    out: list[tuple[str, str]] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[tuple[str, str], int] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key = key_node.value
                sub = f"{path}.{key}" if path else key
                line = key_node.start_mark.line + 1
                ident = (key_node.tag, key)
                if ident in seen:
                    out.append((sub, f"duplicate key (lines {seen[ident]} and {line})"))
                else:
                    seen[ident] = line
            else:
                sub = path
            out.extend(duplicate_keys(value_node, sub, active))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out.extend(duplicate_keys(item, f"{path}[{i}]", active))
    return out


def load_strict(text: str) -> tuple[Any, list[tuple[str, str]]]:
    """The document in ``text`` and its duplicate keys; with duplicates, data is None.

    YAML syntax errors propagate as ``yaml.YAMLError``.
    """
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, []
        dups = duplicate_keys(node)
        if dups:
            return None, dups
        return loader.construct_document(node), []
    finally:
        loader.dispose()
