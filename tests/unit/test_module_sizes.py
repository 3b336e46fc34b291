"""Every Python module of the repository stays small enough to read: one idea per file.

A module past ~600 lines holds several ideas (STYLE.md); split it by concern, as the
fill-semantics tests were split by rule family (their rigs in tests/support/) and
bench/live_latency.py into its gateway rig and its probes. Checked, each group apart so
a failure says where it is: the installed packages (their folders read from pyproject's
package-dir, so a new package is covered without touching this file), the benchmarks,
the tests, and the CI scripts in .ci/ (extensionless: Python by their ``#!`` line).
"""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from conftest import REPO

LIMIT = 600


def package_files(repo: Path = REPO) -> list[Path]:
    """The modules of the installed packages: every folder of pyproject's package-dir
    (a subpackage's own entry and its parent's walk find the same files once)."""
    dirs = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    return sorted({p for d in dirs.values() for p in (repo / d).rglob("*.py")})


def ci_scripts(repo: Path = REPO) -> list[Path]:
    """The Python scripts of .ci/: ``*.py``, or a ``#!`` line naming python."""
    found = []
    for p in sorted((repo / ".ci").iterdir()):
        if not p.is_file():
            continue
        if p.suffix == ".py":
            found.append(p)
            continue
        with p.open("rb") as f:
            first = f.readline()
        if first.startswith(b"#!") and b"python" in first:
            found.append(p)
    return found


GROUPS = {
    "packages": package_files,
    "bench": lambda repo=REPO: sorted((repo / "bench").rglob("*.py")),
    "tests": lambda repo=REPO: sorted((repo / "tests").rglob("*.py")),
    ".ci": ci_scripts,
}
# one module each group must find, so a walk that silently finds nothing fails
KNOWN = {"packages": "kernel/orders.py", "bench": "bench/live_latency.py",
         "tests": "tests/conftest.py", ".ci": ".ci/typecheck"}


def over_limit(paths: list[Path], root: Path = REPO) -> dict[str, int]:
    """Repository-relative path -> line count, for each file over ``LIMIT`` lines."""
    sizes = {p.relative_to(root).as_posix(): len(p.read_text().splitlines()) for p in paths}
    return {name: n for name, n in sizes.items() if n > LIMIT}


def describe(too_long: dict[str, int]) -> str:
    return "\n".join(f"{name}: {n} lines, over the {LIMIT}-line limit; split it by concern"
                     for name, n in sorted(too_long.items()))


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_every_module_is_within_the_limit(group: str) -> None:
    paths = GROUPS[group]()
    assert REPO / KNOWN[group] in paths, f"the {group} walk missed {KNOWN[group]}"
    too_long = over_limit(paths)
    assert not too_long, describe(too_long)


def test_the_limit_is_counted_in_lines(tmp_path: Path) -> None:
    """The check itself: 600 lines pass, 601 fail, and the message names file and length."""
    (tmp_path / "at_limit.py").write_text("x = 1\n" * LIMIT)
    (tmp_path / "over.py").write_text("x = 1\n" * (LIMIT + 1))
    too_long = over_limit(sorted(tmp_path.glob("*.py")), tmp_path)
    assert too_long == {"over.py": LIMIT + 1}
    assert describe(too_long) == f"over.py: {LIMIT + 1} lines, over the {LIMIT}-line limit; split it by concern"
