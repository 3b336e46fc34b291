"""A fuzzing find written down: the shrunk example as a scenario file that reproduces it.

The file's ``expect:`` block says the invariant must not be violated, so
``triotrade run FILE`` exits 1 while the bug is there (with the same digest in any
process) and 0 once it is fixed: the file can then go into ``scenarios/regressions/``
as it is. Each written file is run again at once to check that it reproduces the find,
and ``finds.json`` indexes what a campaign wrote.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterable

import attrs
import yaml

from ..kernel.strict_yaml import load_bytes
from . import runner, scenario
from .fuzz_example import Find
from .weakenings import WEAKENINGS, weakening


class _Dumper(yaml.SafeDumper):
    """Block style for the structure, flow style for small all-scalar mappings."""


def _represent_dict(dumper: yaml.SafeDumper, data: dict[str, Any]) -> Any:
    flat = all(not isinstance(v, (dict, list)) for v in data.values())
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(),
                                    flow_style=flat and len(data) <= 8)


_Dumper.add_representer(dict, _represent_dict)


def scenario_yaml(data: dict[str, Any]) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=100,
                     default_flow_style=False, allow_unicode=True)


def find_document(find: Find, *, weaken: str | None, campaign_seed: int | None) -> str:
    """The shrunk example as a scenario file that states the invariant."""
    data = dict(find.data)
    body_hash = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:10]
    data["name"] = f"fuzz-{find.invariant}-{body_hash}"
    data["description"] = (
        f"Found by triotrade fuzz and shrunk by Hypothesis: {find.detail}")
    if find.invariant in ("crash", "nondeterminism"):
        data.pop("expect", None)  # nothing a journal matcher can state
    else:
        data["expect"] = {"no_events": [{"type": "invariant_violated",
                                         "invariant": find.invariant}]}
    # key order: the header fields first, as a person would write them
    order = ["version", "name", "description", "seed", "start", "duration", "instruments", "account",
             "config", "market", "signals", "faults", "operator", "expect"]
    data = {k: data[k] for k in order if k in data}
    how = (f"triotrade fuzz --seed {campaign_seed}" if campaign_seed is not None
           else "the fuzzer") + f" (batch {find.batch}, Hypothesis seed {find.batch_seed})"
    lines = [
        f"# Invariant broken: {find.invariant}",
        f"# Found by {how}, after {find.found_after} example(s); "
        f"{find.shrink_runs} shrinking run(s).",
    ]
    if find.invariant == "nondeterminism":
        lines += ["# The same scenario and seed gave two different runs: run it twice and",
                  "# compare the digests (determinism is broken somewhere)."]
    if weaken is not None:
        what = WEAKENINGS[weaken].removes
        lines += [
            f"# Against a kernel WEAKENED with {weaken!r} ({what}).",
            "# The real kernel passes this file; with the weakening it exits 1.",
        ]
    else:
        lines += [
            "# `triotrade run` on this file exits 1 while the bug is present and 0",
            "# once it is fixed; then copy it into scenarios/regressions/.",
        ]
    return "\n".join(lines) + "\n" + scenario_yaml(data)


@attrs.define
class Written:
    invariant: str
    path: str
    digest: str
    reproduced: bool
    violations: list[str]
    lines: int


def verify_file(path: str | Path, weaken: str | None = None) -> tuple[str, list[str], int]:
    """Run a scenario file as ``triotrade run`` would: (digest, violated names, exit code)."""
    result = runner.run(scenario.load(path), weakening=weakening(weaken))
    names = [v["invariant"] for v in result.violations]
    return result.digest, names, result.exit_code


def write_find(find: Find, out_dir: str | Path, *, weaken: str | None = None,
               campaign_seed: int | None = None) -> Written:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = find_document(find, weaken=weaken, campaign_seed=campaign_seed)
    name = load_bytes(doc.encode())["name"].removeprefix("fuzz-")
    path = out / f"{name}.yaml"
    path.write_text(doc, encoding="utf-8")
    if find.invariant == "crash":
        try:
            verify_file(path, weaken)
        except Exception:  # noqa: BLE001
            return Written(find.invariant, str(path), "", True, ["crash"], doc.count("\n"))
        return Written(find.invariant, str(path), "", False, [], doc.count("\n"))
    if find.invariant == "nondeterminism":  # reproduced when two runs disagree
        (d1, n1, _), (d2, n2, _) = verify_file(path, weaken), verify_file(path, weaken)
        return Written(find.invariant, str(path), d1, d1 != d2, sorted(set(n1) | set(n2)),
                       doc.count("\n"))
    digest, names, code = verify_file(path, weaken)
    ok = code == 1 and find.invariant in names
    return Written(find.invariant, str(path), digest, ok, names, doc.count("\n"))


def record_index(out_dir: str | Path, entries: Iterable[dict[str, Any]]) -> Path:
    """Append the finds to ``OUT/finds.json`` (file, invariant, digest, seed, weakening)."""
    path = Path(out_dir) / "finds.json"
    old: list[dict[str, Any]] = []
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError):
            old = []
    keep = {e["file"]: e for e in old}
    for e in entries:
        keep[e["file"]] = e
    path.write_text(json.dumps(sorted(keep.values(), key=lambda e: e["file"]), indent=2,
                               sort_keys=True) + "\n")
    return path
