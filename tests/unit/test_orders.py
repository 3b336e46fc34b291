"""The order state machine (kernel/orders.py).

The expected table below is written out independently of ``LEGAL_TRANSITIONS``: the
whole state x state product is checked against it, so a change to the kernel's table
that allows something illegal (leaving a terminal state, going back to SUBMITTED,
a reject after an ack...) fails here.
"""
from __future__ import annotations

import itertools

import pytest

from triotrade.kernel.orders import (
    LEGAL_TRANSITIONS,
    TERMINAL_STATES,
    IllegalTransition,
    Order,
    OrderIds,
    OrderState,
    OrderType,
    Overfill,
    Role,
    Side,
)

S = OrderState
# submitted -> accepted -> partially filled -> filled / cancelled / rejected / expired.
# A venue may skip the ack (IB reports fills or cancels before "Submitted"); a reject
# only answers a submission; more partial fills may follow a partial fill.
EXPECTED: dict[OrderState, set[OrderState]] = {
    S.SUBMITTED: {S.ACCEPTED, S.REJECTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED},
    S.ACCEPTED: {S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED},
    S.PARTIALLY_FILLED: {S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED},
    S.FILLED: set(),
    S.CANCELLED: set(),
    S.REJECTED: set(),
    S.EXPIRED: set(),
}
PAIRS = list(itertools.product(OrderState, OrderState))


def order_in(state: OrderState, qty: int = 100) -> Order:
    o = Order("O1", "ACME", Role.ENTRY, Side.BUY, qty, OrderType.LIMIT, 100)
    o.state = state
    return o


def test_table_covers_every_state_and_matches_expected() -> None:
    assert set(LEGAL_TRANSITIONS) == set(OrderState)
    assert {k: set(v) for k, v in LEGAL_TRANSITIONS.items()} == EXPECTED


def test_terminal_states() -> None:
    assert TERMINAL_STATES == {S.FILLED, S.CANCELLED, S.REJECTED, S.EXPIRED}
    for s in OrderState:
        assert s.is_terminal == (s in TERMINAL_STATES)
        assert order_in(s).is_working == (s not in TERMINAL_STATES)


@pytest.mark.parametrize("src,dst", [p for p in PAIRS if p[1] not in EXPECTED[p[0]]],
                         ids=lambda s: s.value)
def test_illegal_transition_raises(src: OrderState, dst: OrderState) -> None:
    o = order_in(src)
    with pytest.raises(IllegalTransition) as info:
        o.transition(dst)
    assert (info.value.src, info.value.dst, info.value.order_id) == (src, dst, "O1")
    assert f"{src.value} -> {dst.value}" in str(info.value)
    assert o.state is src  # unchanged


@pytest.mark.parametrize("src,dst", [p for p in PAIRS if p[1] in EXPECTED[p[0]]],
                         ids=lambda s: s.value)
def test_legal_transition_succeeds(src: OrderState, dst: OrderState) -> None:
    o = order_in(src)
    o.transition(dst)
    assert o.state is dst


def test_the_illegal_set_is_what_we_think() -> None:
    illegal = {p for p in PAIRS if p[1] not in EXPECTED[p[0]]}
    # spot checks that would be the classic mistakes
    for terminal in TERMINAL_STATES:
        assert all((terminal, d) in illegal for d in OrderState)
    assert (S.ACCEPTED, S.SUBMITTED) in illegal
    assert (S.ACCEPTED, S.ACCEPTED) in illegal
    assert (S.ACCEPTED, S.REJECTED) in illegal
    assert (S.PARTIALLY_FILLED, S.ACCEPTED) in illegal
    assert (S.PARTIALLY_FILLED, S.REJECTED) in illegal
    assert all((s, S.SUBMITTED) in illegal for s in OrderState)
    assert len(illegal) == 49 - 14


def test_fills_walk_the_machine() -> None:
    o = order_in(S.SUBMITTED, qty=100)
    o.transition(S.ACCEPTED)
    o.apply_fill(30)
    assert (o.state, o.filled_qty, o.remaining) == (S.PARTIALLY_FILLED, 30, 70)
    o.apply_fill(30)
    assert (o.state, o.filled_qty) == (S.PARTIALLY_FILLED, 60)
    o.apply_fill(40)
    assert (o.state, o.filled_qty, o.remaining, o.is_working) == (S.FILLED, 100, 0, False)


def test_fill_without_ack_is_legal() -> None:
    o = order_in(S.SUBMITTED, qty=10)
    o.apply_fill(10)
    assert o.state is S.FILLED


@pytest.mark.parametrize("state", [S.SUBMITTED, S.ACCEPTED, S.PARTIALLY_FILLED])
def test_overfill_raises_and_changes_nothing(state: OrderState) -> None:
    o = order_in(state, qty=100)
    o.filled_qty = 60 if state is S.PARTIALLY_FILLED else 0
    before = (o.state, o.filled_qty)
    with pytest.raises(Overfill):
        o.apply_fill(o.remaining + 1)
    assert (o.state, o.filled_qty) == before


def test_fill_on_filled_order_is_refused() -> None:
    o = order_in(S.ACCEPTED, qty=10)
    o.apply_fill(10)
    with pytest.raises((Overfill, IllegalTransition)):
        o.apply_fill(1)
    assert o.filled_qty == 10


@pytest.mark.parametrize("state", [S.CANCELLED, S.REJECTED, S.EXPIRED])
def test_fill_after_terminal_state_raises(state: OrderState) -> None:
    o = order_in(state, qty=10)
    with pytest.raises(IllegalTransition):
        o.apply_fill(5)
    assert (o.state, o.filled_qty) == (state, 0)


@pytest.mark.parametrize("qty", [0, -5])
def test_non_positive_fill_raises(qty: int) -> None:
    o = order_in(S.ACCEPTED)
    with pytest.raises(ValueError):
        o.apply_fill(qty)
    assert (o.state, o.filled_qty) == (S.ACCEPTED, 0)


def test_order_ids_are_run_scoped_counters() -> None:
    a, b = OrderIds(), OrderIds("X")
    assert [a.next(), a.next(), a.next()] == ["O1", "O2", "O3"]
    assert b.next() == "X1"
    assert OrderIds().next() == "O1"


def test_sides_and_roles() -> None:
    assert (Side.BUY.sign, Side.SELL.sign) == (1, -1)
    assert {r.value for r in Role} == {"ENTRY", "TAKE_PROFIT", "STOP_LOSS", "EXIT",
                                       "EMERGENCY_EXIT", "DANGLING_SHARES"}
