"""Every link in the README and docs/ resolves inside the repository.

A clone (or a browser of the repository) must be able to follow every link: no
``../shared/...`` pointing outside the tree, no renamed file left dangling, no anchor to
a heading that no longer exists. External ``http(s)://`` links are not followed (no
network here); everything else must resolve to a path under the repository root.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import REPO

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
DOCS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def anchors(path: Path) -> set[str]:
    """GitHub-style heading anchors of a markdown file."""
    out = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            slug = re.sub(r"[^\w\- ]", "", title).replace(" ", "-")
            out.add(slug)
    return out


def broken_links(doc: Path) -> list[str]:
    bad = []
    for target in LINK.findall(doc.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+://", target) or target.startswith("mailto:"):
            continue
        path_part, _, anchor = target.partition("#")
        dest = (doc.parent / path_part).resolve() if path_part else doc
        if REPO.resolve() not in (dest, *dest.parents):
            bad.append(f"{target}: points outside the repository")
        elif not dest.exists():
            bad.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            bad.append(f"{target}: no heading #{anchor} in {dest.name}")
    return bad


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_link_resolves_inside_the_repository(doc: Path) -> None:
    assert broken_links(doc) == []


def test_the_checker_catches_a_link_outside_and_a_missing_file(tmp_path: Path) -> None:
    doc = REPO / "docs" / "__probe__.md"
    try:
        doc.write_text("[a](../../outside.md) [b](missing.md) [c](SCENARIO_FORMAT.md#no-such) "
                       "[d](https://example.org/x)\n")
        bad = broken_links(doc)
    finally:
        doc.unlink()
    assert [b.split(":")[0] for b in bad] == ["../../outside.md", "missing.md",
                                               "SCENARIO_FORMAT.md#no-such"]


def test_the_format_document_lives_in_the_repository() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert "(docs/SCENARIO_FORMAT.md)" in text


def test_the_docs_event_table_is_the_code_catalogue() -> None:
    """docs/SCENARIO_FORMAT.md part 3 is generated from kernel/events.py; the two never drift."""
    from triotrade.kernel.events import markdown_table

    text = (REPO / "docs" / "SCENARIO_FORMAT.md").read_text(encoding="utf-8")
    table = text.split("<!-- catalogue:start -->\n", 1)[1].split("<!-- catalogue:end -->", 1)[0]
    assert table.rstrip("\n") == markdown_table().rstrip("\n"), (
        "regenerate part 3 with `python -m triotrade.kernel.events`")
