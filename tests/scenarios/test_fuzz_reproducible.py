"""The fuzzer generates the same examples for the same seed in any process, whatever the
process imported before.

Hypothesis now and then draws a literal it scanned from the source of a *local* module
(any module in ``sys.modules`` outside the stdlib and site-packages) instead of a random
value. So the derandomized CI profile, and a campaign seed, generated other examples in
a full pytest run (which had imported the gateways, the reports, the CLI...) than when
run alone or in a fresh ``triotrade fuzz`` process: the teeth hunt for
``fill_time_exposure_check`` needed 422 examples in one and 45 in the other.
``fuzz.seed_only_generation`` switches that pool off; ``run_batch`` runs under it, and so
do the Hypothesis tests of ``test_fuzz.py``.

Each check runs in fresh processes, once plain and once after importing a local module
full of integer literals (as an earlier test importing more of the project would).
And a batch whose shrink budget runs out reports what it found, not "nondeterminism".
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import parallel, run_python
from triotrade.sim import fuzz

PROGRAM = r'''
import hashlib, json, sys
noise, isolated = sys.argv[1], sys.argv[2] == "isolated"
if noise != "-":
    sys.path.insert(0, noise)
    import literal_noise  # noqa: F401 - a local module: its literals join Hypothesis's pool
import contextlib
from hypothesis import Phase, given, settings
from triotrade.sim import fuzz, fuzz_strategies

seen = []

@settings(fuzz.PROFILES[fuzz.CI_PROFILE], max_examples=60, phases=[Phase.generate])
@given(fuzz_strategies.scenarios())
def generate(data):
    seen.append(json.dumps(data, sort_keys=True))

with fuzz.seed_only_generation() if isolated else contextlib.nullcontext():
    generate()
out = {"generated": hashlib.sha256("\n".join(seen).encode()).hexdigest()}
if isolated:
    b = fuzz.run_batch(fuzz.BatchJob(0, 5, 25))
    out["batch"] = [b.examples, b.runs, sorted(b.coverage.items()), sorted(b.hits.items())]
print(json.dumps(out))
'''


def _noise_module(tmp_path: Path) -> Path:
    d = tmp_path / "noise"
    d.mkdir(parents=True)
    # integers below 100 are never collected (Hypothesis favours small ones anyway)
    values = ", ".join(str(v) for v in range(100, 3000, 10))
    (d / "literal_noise.py").write_text(f"VALUES = ({values},)\n")
    return d


def _runs(tmp_path: Path, mode: str) -> list[dict[str, Any]]:
    noise = str(_noise_module(tmp_path / mode))
    procs = parallel([lambda n=n: run_python(PROGRAM, n, mode, cwd=tmp_path, timeout=300)
                      for n in ("-", noise)])
    for p in procs:
        assert p.returncode == 0, p.stdout + p.stderr
    return [json.loads(p.stdout.splitlines()[-1]) for p in procs]


def test_generation_and_a_batch_do_not_depend_on_what_the_process_imported(tmp_path: Path
                                                                           ) -> None:
    plain, noisy = _runs(tmp_path, "isolated")
    assert plain["generated"] == noisy["generated"]
    assert plain["batch"] == noisy["batch"]


def test_without_the_guard_the_imports_do_change_what_hypothesis_generates(tmp_path: Path
                                                                           ) -> None:
    """The check above has teeth: the noise module does reach plain Hypothesis."""
    from hypothesis.internal.conjecture import providers

    if not hasattr(providers, "_get_local_constants"):
        return  # a Hypothesis without local constants: nothing to guard against
    plain, noisy = _runs(tmp_path, "raw")
    assert plain["generated"] != noisy["generated"]


@pytest.mark.slow  # ~360 simulated runs
def test_a_spent_shrink_budget_is_not_reported_as_nondeterminism() -> None:
    """Once the shrink budget is spent, new candidates are refused; one that had already
    run (and passed) used to be refused too when the shrinker came back to it, Hypothesis
    saw the same choices turn invalid and called it flaky, and the batch reported a
    "nondeterminism" find for a scenario that gives one digest every time. This batch
    of a teeth hunt (campaign seed 5, batch 1; re-pinned when the generator grew
    the venue stop, session and portfolio knobs) spends its shrink budget the same way."""
    job = fuzz.BatchJob(1, 14885856364425251043, 250, "fill_time_exposure_check",
                        shrink_runs=200)
    res = fuzz.run_batch(job)
    assert [f.invariant for f in res.finds] == ["exposure_cap"], res.finds
    find = res.finds[0]
    first = fuzz.run_example(find.data, job.weaken)
    assert "exposure_cap" in {v["invariant"] for v in first.violations}
    assert fuzz.run_example(find.data, job.weaken).digest == first.digest
