"""Which room may import which: the layering of the installed package, checked.

Imports point one way. The kernel knows no venue, simulator or server, so the code
that trades live is the code the simulator tests; the simulator and the servers never
reach into a live adapter; the wire codecs belong to neither side; only the CLI wires
everything together. This test reads every module of the package with ``ast`` (so it
sees imports inside functions and under ``TYPE_CHECKING`` too, and never runs module
code), resolves relative imports to absolute names, and checks each against ``MAY_IMPORT``.

The rooms are found through pyproject's ``package-dir``: a new subpackage of a room
(``venues/ibkr/``) is checked as part of that room without touching this file.
"""
from __future__ import annotations

import ast
import tomllib
from pathlib import Path
from typing import Iterable, Iterator

import attrs
import pytest

from conftest import REPO

PACKAGE = "triotrade"

# room -> the rooms its modules may import (besides third-party code)
MAY_IMPORT: dict[str, frozenset[str]] = {
    "kernel": frozenset({"kernel", "strategies"}),
    "strategies": frozenset({"strategies", "kernel"}),
    "wire": frozenset({"wire", "kernel"}),
    "sim": frozenset({"sim", "kernel", "strategies", "wire"}),
    "gateways": frozenset({"gateways", "sim", "kernel", "strategies", "wire"}),
    "venues": frozenset({"venues", "kernel", "strategies", "wire"}),
    # what a user reads after a run: the journal reader and the reports built on it
    "journal": frozenset({"journal", "kernel"}),
    "report": frozenset({"report", "journal", "kernel"}),
    # parameter sweeps: grids of simulated runs, judged by the report's metrics
    "sweep": frozenset({"sweep", "sim", "kernel", "strategies", "report", "journal"}),
    # replaying a recorded live journal: read it, build a scenario, run it in the simulator
    "replay": frozenset({"replay", "sim", "kernel", "strategies"}),
    "cli": frozenset({"cli", "kernel", "strategies", "wire", "sim", "gateways", "venues",
                      "journal", "report", "sweep", "distributed", "replay"}),
    # the Dask side of sweeps and fuzzing: it imports nothing of ours
    "distributed": frozenset({"distributed"}),
    # the package root (triotrade/__init__.py) holds the version, which every room may
    # read (journal headers carry it): so it must import nothing of ours itself
    "triotrade": frozenset(),
}
EVERYONE_MAY_IMPORT = frozenset({"triotrade"})
ROOM_DIRS = ("kernel", "strategies", "wire", "sim", "gateways", "venues")


@attrs.frozen
class Module:
    name: str  # dotted, as installed: triotrade.kernel.runtime
    path: Path
    is_package: bool  # an __init__.py: its relative imports start at itself


@attrs.frozen
class Violation:
    path: Path
    line: int
    module: str
    target: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.module} imports {self.target}: {self.why}"


def package_dirs(repo: Path = REPO) -> dict[str, Path]:
    """Installed package name -> source directory, from pyproject's package-dir
    (subpackages without an entry of their own live under their parent's directory)."""
    cfg = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["setuptools"]
    return {name: repo / d for name, d in cfg["package-dir"].items()}


def modules(repo: Path = REPO) -> list[Module]:
    """Every module of the installed package, named as it is imported."""
    found: dict[str, Module] = {}
    for pkg, root in package_dirs(repo).items():
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(root).with_suffix("")
            parts = list(rel.parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            name = ".".join([pkg, *parts])
            # a subpackage mapped by its own package-dir entry wins over its parent's walk
            found.setdefault(name, Module(name, path, is_package))
    return sorted(found.values(), key=lambda m: m.name)


def room_of(name: str) -> str | None:
    """The room an absolute module name belongs to; None for code that is not ours."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    if len(parts) > 1 and parts[1] == "__main__":
        return "cli"  # ``python -m triotrade``: the CLI's entry point
    if len(parts) > 1 and parts[1] in MAY_IMPORT:
        return parts[1]
    return "triotrade"  # the root itself, or a name defined in it (__version__)


def _resolve(module: Module, level: int, target: str | None) -> str:
    base = module.name.split(".")
    if not module.is_package:
        base = base[:-1]  # a plain module's relative imports start at its package
    if level > 1:
        if level - 1 > len(base) - 1:
            raise ValueError(f"{module.path}: relative import beyond the top-level package")
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def imports(module: Module, source: str | None = None) -> Iterator[tuple[int, str]]:
    """(line, absolute name) for each import anywhere in the module, lazy ones included.

    ``from X import y`` yields X and X.y (y may be a submodule); a constant string given
    to ``importlib.import_module`` or ``__import__`` counts as an import too."""
    tree = ast.parse(source if source is not None else module.path.read_text(),
                     str(module.path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = (_resolve(module, node.level, node.module) if node.level
                    else node.module or "")
            yield node.lineno, base
            for alias in node.names:
                if alias.name != "*":
                    yield node.lineno, f"{base}.{alias.name}"
        elif isinstance(node, ast.Call) and node.args:
            fn = node.func
            called = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", None)
            arg = node.args[0]
            if (called in ("import_module", "__import__") and isinstance(arg, ast.Constant)
                    and isinstance(arg.value, str)):
                yield node.lineno, arg.value


def violations(mods: Iterable[Module],
               sources: dict[str, str] | None = None) -> list[Violation]:
    out: list[Violation] = []
    for m in mods:
        room = room_of(m.name)
        assert room is not None, m
        allowed = MAY_IMPORT[room] | EVERYONE_MAY_IMPORT
        seen: set[tuple[int, str]] = set()
        for line, target in imports(m, (sources or {}).get(m.name)):
            top = target.split(".")[0]
            if top in ROOM_DIRS:
                key = top
                why = f"import it as {PACKAGE}.{target}: the bare name only works from a checkout"
            else:
                other = room_of(target)
                if other is None or other in allowed:
                    continue
                key = other
                why = f"{room} may import only {', '.join(sorted(MAY_IMPORT[room]))}"
            if (line, key) in seen:  # one report per line and room, not per imported name
                continue
            seen.add((line, key))
            out.append(Violation(m.path, line, m.name, target, why))
    return out


# ---------------------------------------------------------------- the package itself


def test_every_room_is_found() -> None:
    mods = modules()
    rooms = {room_of(m.name) for m in mods}
    assert rooms == set(MAY_IMPORT), rooms
    names = {m.name for m in mods}
    assert {"triotrade.kernel.runtime", "triotrade.cli", "triotrade.sim.engine"} <= names


def test_imports_point_one_way() -> None:
    found = violations(modules())
    assert not found, "\n".join(map(str, found))


# ---------------------------------------------------------------- the checker itself


def _fake(name: str, source: str, is_package: bool = False) -> tuple[Module, dict[str, str]]:
    path = Path("/synthetic") / (name.replace(".", "/") + ("/__init__.py" if is_package else ".py"))
    return Module(name, path, is_package), {name: source}


@pytest.mark.parametrize(("name", "source", "target"), [
    # a lazy, relative import inside a function
    ("triotrade.kernel.runtime", "def f():\n    from ..venues import ibkr\n",
     "triotrade.venues"),
    ("triotrade.kernel.runtime", "from triotrade.sim.engine import Engine\n",
     "triotrade.sim.engine"),
    ("triotrade.kernel", "from ..gateways.tws import serve\n", "triotrade.gateways.tws"),
    ("triotrade.kernel.x", "from .. import cli\n", "triotrade.cli"),
    ("triotrade.kernel.x", "import importlib\nimportlib.import_module('triotrade.wire.kite')\n",
     "triotrade.wire.kite"),
    ("triotrade.strategies.ma", "from ..venues.news import tail_jsonl\n", "triotrade.venues"),
    ("triotrade.strategies.ma", "from triotrade import sim\n", "triotrade.sim"),
    ("triotrade.sim.runner", "if TYPE_CHECKING:\n    from ..venues.live import run_live\n",
     "triotrade.venues"),
    ("triotrade.gateways.tws", "import triotrade.venues.ibkr\n", "triotrade.venues.ibkr"),
    ("triotrade.wire.tws", "from ..sim.exchange import Exchange\n", "triotrade.sim"),
    ("triotrade.venues.kite", "from ..gateways import kite\n", "triotrade.gateways"),
    ("triotrade.venues.ibkr.orders", "from ...sim import engine\n", "triotrade.sim"),
    ("triotrade.sim.venue", "from ..cli.exits import Exit\n", "triotrade.cli"),
    ("triotrade.kernel.x", "from kernel.orders import Side\n", "kernel.orders"),
    ("triotrade", "from .sim import runner\n", "triotrade.sim"),
])
def test_the_checker_catches_a_bad_import(name: str, source: str, target: str) -> None:
    mod, src = _fake(name, source, is_package=name in ("triotrade", "triotrade.kernel"))
    found = violations([mod], src)
    assert found, f"{name}: {source!r} passed the checker"
    assert found[0].target.startswith(target), found


@pytest.mark.parametrize(("name", "source"), [
    ("triotrade.kernel.runtime", "from ..strategies.base import Strategy\nfrom .orders import Side\n"),
    ("triotrade.kernel", "from . import orders\nfrom .journal import Journal\n"),
    ("triotrade.strategies.ma", "from ..kernel.signals import Signal\nimport decimal\n"),
    ("triotrade.wire.kite", "from ..kernel.units import to_units\nimport struct\n"),
    ("triotrade.gateways.tws", "from ..sim.exchange import Exchange\nfrom ..wire import tws\n"),
    ("triotrade.venues.ibkr.session", "from ...wire.tws import encode\nfrom . import orders\n"),
    ("triotrade.cli", "from ..venues.ibkr import IbkrVenue\nfrom ..gateways import tws\n"),
    ("triotrade.__main__", "from .cli import main\n"),
    ("triotrade.sim.runner", "from .. import __version__\n"),
])
def test_the_checker_passes_a_good_import(name: str, source: str) -> None:
    mod, src = _fake(name, source, is_package=name in ("triotrade.kernel", "triotrade.cli"))
    assert violations([mod], src) == []


def test_relative_imports_resolve_from_modules_and_packages() -> None:
    plain = Module("triotrade.venues.ibkr.orders", Path("x.py"), False)
    package = Module("triotrade.venues.ibkr", Path("x/__init__.py"), True)
    assert _resolve(plain, 1, "session") == "triotrade.venues.ibkr.session"
    assert _resolve(plain, 2, "live") == "triotrade.venues.live"
    assert _resolve(package, 1, "session") == "triotrade.venues.ibkr.session"
    assert _resolve(package, 2, None) == "triotrade.venues"
    with pytest.raises(ValueError):
        _resolve(plain, 5, "x")
