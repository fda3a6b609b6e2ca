"""Brackets, the order state machine, sizing and the risk gates."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tradeflow.domain.fills import Bar, Resting, exits_to_fill
from tradeflow.domain.orders import (
    TRANSITIONS,
    BracketError,
    InvalidTransition,
    bracket,
    check_transition,
    default_bracket_prices,
)
from tradeflow.domain.risk import RiskSnapshot, TradingState, decide
from tradeflow.domain.sizing import SizingError, order_quantity
from tradeflow.domain.strategy import StrategyConfig

NOW = datetime(2024, 3, 1, 21, tzinfo=UTC)
entries = st.decimals(min_value="1.00", max_value="10000", places=2)
percents = st.decimals(min_value="0.1", max_value="50", places=1)


@given(entries, percents, percents)
def test_a_long_stop_is_below_entry_and_its_target_above(entry, stop_pct, take_pct):
    stop, take = default_bracket_prices("buy", entry, stop_pct, take_pct)
    if stop >= entry or take <= entry:  # rounding to the cent can reach the entry on tiny distances
        with pytest.raises(BracketError):
            bracket(uuid.uuid4(), "X", "buy", Decimal(1), entry, stop, take)
        return
    orders = bracket(uuid.uuid4(), "X", "buy", Decimal(1), entry, stop, take)
    legs = {o.purpose: o for o in orders}
    assert legs["stop_loss"].stop_price < entry < legs["take_profit"].limit_price
    assert legs["stop_loss"].oco_group == legs["take_profit"].oco_group
    assert entry - stop <= entry * stop_pct / 100  # a stop never risks more than asked


@given(entries, percents)
def test_a_short_stop_is_above_entry_or_the_bracket_is_refused(entry, pct):
    stop, _ = default_bracket_prices("sell", entry, pct, None)
    if stop <= entry:
        with pytest.raises(BracketError, match="must be above the entry price"):
            bracket(uuid.uuid4(), "X", "sell", Decimal(1), entry, stop, None)
    else:
        assert entry < stop <= entry * (1 + pct / 100)


def test_bracket_refuses_a_stop_above_a_long_entry():
    with pytest.raises(BracketError, match="must be below the entry price"):
        bracket(uuid.uuid4(), "AAPL", "buy", Decimal(1), Decimal(100), Decimal(101), None)


def test_client_order_ids_are_deterministic():
    sid = uuid.uuid4()
    first = [o.client_order_id for o in bracket(sid, "X", "buy", Decimal(1), Decimal(100), Decimal(95), Decimal(110))]
    again = [o.client_order_id for o in bracket(sid, "X", "buy", Decimal(1), Decimal(100), Decimal(95), Decimal(110))]
    assert first == again and len(set(first)) == 3


@given(st.sampled_from(["pending", "accepted", "partially_filled", "filled", "cancelled", "rejected", "expired"]),
       st.sampled_from(["pending", "accepted", "partially_filled", "filled", "cancelled", "rejected", "expired"]))
def test_transitions_outside_the_table_are_refused(a, b):
    if (a, b) in TRANSITIONS:
        check_transition(a, b)
    else:
        with pytest.raises(InvalidTransition):
            check_transition(a, b)


def test_filled_is_terminal():
    assert not [t for t in TRANSITIONS if t[0] in ("filled", "cancelled", "rejected", "expired")]


def test_sizing_uses_the_alert_quantity_then_the_strategy():
    config = StrategyConfig(fixed_notional=Decimal(1000))
    assert order_quantity(config, Decimal(7), Decimal(100), Decimal(10**5)) == 7
    assert order_quantity(config, None, Decimal(300), Decimal(10**5)) == 3
    pct = StrategyConfig(position_sizing="percent_of_equity", percent_of_equity=Decimal(10))
    assert order_quantity(pct, None, Decimal(100), Decimal(50000)) == 50
    with pytest.raises(SizingError, match="rounds to zero"):
        order_quantity(config, None, Decimal(5000), Decimal(10**5))


def _exits(side, price, stop, take):
    exit_side = "sell" if side == "long" else "buy"
    legs = [Resting("sl", exit_side, "stop", "stop_loss", stop_price=Decimal(stop)),
            Resting("tp", exit_side, "limit", "take_profit", limit_price=Decimal(take))]
    return [leg.purpose for leg, _ in exits_to_fill(legs, Bar.flat(Decimal(price)))]


def test_at_a_quote_the_stop_loss_wins_when_both_could_trigger():
    assert _exits("long", 90, 95, 80) == ["stop_loss"]
    assert _exits("long", 111, 95, 110) == ["take_profit"]
    assert _exits("short", 106, 105, 90) == ["stop_loss"]
    assert _exits("long", 100, 95, 110) == []


CONFIG = StrategyConfig(max_open_positions=2, dedupe_window_seconds=60, allow_short=False)


@pytest.mark.parametrize("intent, state, approved, legs, reason", [
    ("enter_long", RiskSnapshot(account_state=TradingState.HALTED), False, (), "account is HALTED"),
    ("enter_long", RiskSnapshot(strategy_state=TradingState.HALTED), False, (), "strategy is HALTED"),
    ("exit", RiskSnapshot(), False, (), "no open position in AAPL"),
    ("exit", RiskSnapshot(open_positions={"AAPL": "long"}), True, ("exit",), "exit long"),
    ("enter_long", RiskSnapshot(open_positions={"AAPL": "long"}), False, (), "already long"),
    ("enter_long", RiskSnapshot(open_positions={"MSFT": "long", "IBM": "long"}), False, (), "max open positions"),
    ("enter_long", RiskSnapshot(open_positions={"AAPL": "short"}), True, ("exit", "entry"), "reverse"),
    ("enter_short", RiskSnapshot(), False, (), "short entries are off"),
    ("enter_long", RiskSnapshot(last_same_signal_at=NOW - timedelta(seconds=30)), False, (), "duplicate"),
    ("enter_long", RiskSnapshot(last_same_signal_at=NOW - timedelta(seconds=90)), True, ("entry",), "open long"),
])
def test_risk_gates(intent, state, approved, legs, reason):
    decision = decide(intent, "AAPL", CONFIG, state, NOW)
    assert decision.approved is approved and decision.legs == legs
    assert reason in decision.reasons[0]


@given(st.sampled_from(["buy", "sell"]), entries,
       st.lists(st.tuples(entries, entries), min_size=1, max_size=30),
       st.one_of(st.tuples(st.decimals("0.01", "50", places=2), st.none()),
                 st.tuples(st.none(), st.decimals("0.1", "30", places=1))))
def test_a_trailing_stop_never_loosens(side, entry, moves, trail):
    from tradeflow.domain.stops import new_high_water_mark, tighten, trail_stop

    amount, percent = trail
    mark, stop = entry, trail_stop(side, entry, amount, percent)
    for a, b in moves:
        mark = new_high_water_mark(side, mark, max(a, b), min(a, b))
        moved = tighten(side, stop, trail_stop(side, mark, amount, percent))
        assert moved >= stop if side == "buy" else moved <= stop
        stop = moved
    best = trail_stop(side, mark, amount, percent)
    assert stop == best  # the high-water mark only improves, so the stop sits one trail from it


@given(st.decimals("1", "1000", places=0), st.integers(1, 5), st.sampled_from([Decimal(1), Decimal("0.5")]))
def test_scale_out_legs_add_up_to_the_entry(quantity, parts, lot):
    from tradeflow.domain.orders import split_quantity

    try:
        legs = split_quantity(quantity, parts, lot)
    except BracketError:
        assert quantity / parts < lot
        return
    assert sum(legs) == quantity and len(legs) == parts and len(set(legs[:-1])) <= 1 and legs[-1] >= legs[0]


def test_day_orders_expire_at_the_next_trading_days_session_close():
    from tradeflow.domain.orders import day_order_expiry

    friday_evening = datetime(2024, 3, 1, 22, tzinfo=UTC)  # 17:00 New York
    assert day_order_expiry(friday_evening) == datetime(2024, 3, 4, 21, tzinfo=UTC)  # Monday 16:00 EST
    summer = datetime(2024, 7, 1, 13, tzinfo=UTC)
    assert day_order_expiry(summer) == datetime(2024, 7, 1, 20, tzinfo=UTC)  # 16:00 EDT
    thanksgiving_eve = datetime(2026, 11, 25, 22, tzinfo=UTC)  # Wednesday 17:00; Thursday the NYSE is shut
    # Friday after Thanksgiving is a half day: the session closes at 13:00 EST
    assert day_order_expiry(thanksgiving_eve) == datetime(2026, 11, 27, 18, tzinfo=UTC)
    good_friday = datetime(2024, 3, 29, 14, tzinfo=UTC)
    assert day_order_expiry(good_friday) == datetime(2024, 4, 1, 20, tzinfo=UTC)  # Monday 16:00 EDT
