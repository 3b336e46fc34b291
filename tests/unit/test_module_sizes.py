"""Test modules stay small enough to read: one family of rules per file.

A test file past ~600 lines holds several ideas; split it by what it protects (the
fill-semantics tests are split by rule family, their rigs live in tests/support/).
"""
from __future__ import annotations

from conftest import TESTS

LIMIT = 600


def test_every_test_module_is_under_the_limit() -> None:
    sizes = {p.relative_to(TESTS).as_posix(): len(p.read_text().splitlines())
             for p in TESTS.rglob("*.py")}
    assert len(sizes) > 30, sizes  # the walk found the suite
    too_long = {name: n for name, n in sizes.items() if n >= LIMIT}
    assert not too_long, too_long
