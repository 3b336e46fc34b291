"""sim/idset.py: the checker's set of order ids answers like a set and stays small."""
from __future__ import annotations

import random

from triotrade.sim.idset import IdSet


def test_answers_like_a_set_for_any_mix_of_ids() -> None:
    rng = random.Random(3)
    forms = ["O", "X", "", "Q-"]
    odd = ["O007", "abc", "O", "0", "00", "O0", "7x"]
    for _ in range(200):
        ids, ref = IdSet(), set()
        for _ in range(150):
            oid = (rng.choice(forms) + str(rng.randrange(60)) if rng.random() < 0.9
                   else rng.choice(odd))
            assert (oid in ids) == (oid in ref), oid
            ids.add(oid)
            ref.add(oid)
            probe = rng.choice(forms) + str(rng.randrange(70))
            assert (probe in ids) == (probe in ref), probe


def test_consecutive_ids_in_any_order_are_one_run() -> None:
    ids = IdSet()
    numbers = list(range(1, 5001))
    random.Random(1).shuffle(numbers)
    for n in numbers:
        ids.add(f"O{n}")
    starts, ends = ids._runs["O"]  # noqa: SLF001 - the compactness is the point
    assert (starts, ends) == ([1], [5000])
    assert "O5000" in ids and "O0" not in ids and "O5001" not in ids and "O01" not in ids
