"""Signals: the trading intent of an alert, and what counts as "the same alert"."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tradeflow.domain.alerts import Alert, parse_alert
from tradeflow.domain.signals import UNTIMED_DEDUPE_SECONDS, intent_of, new_signal, signal_key

RECEIVED = datetime(2024, 3, 1, 15, 30, 20, tzinfo=UTC)


def alert(**fields) -> Alert:
    return Alert(ticker="AAPL", **({"action": "buy"} | fields))


@pytest.mark.parametrize("fields, allow_short, intent", [
    # action + sentiment (TradersPost)
    ({"action": "buy"}, False, "enter_long"),
    ({"action": "buy", "sentiment": "flat"}, True, "exit"),
    ({"action": "sell"}, True, "enter_short"),
    ({"action": "sell"}, False, "exit"),
    ({"action": "sell", "sentiment": "short"}, True, "enter_short"),
    ({"action": "sell", "sentiment": "long"}, True, "exit"),
    ({"action": "sell", "sentiment": "flat"}, True, "exit"),
    ({"action": "exit"}, True, "exit"),
    ({"action": "cancel"}, True, "cancel"),
    ({"action": "cancel", "position_size": Decimal(0)}, True, "cancel"),
    # target position: its side decides; an order toward a smaller position reduces
    ({"action": "sell", "position_size": Decimal(10)}, True, "reduce"),
    ({"action": "buy", "position_size": Decimal(10)}, True, "enter_long"),
    ({"action": "buy", "position_size": Decimal(-5)}, True, "reduce"),
    ({"action": "sell", "position_size": Decimal(-5)}, True, "enter_short"),
    ({"action": "buy", "position_size": Decimal(-5)}, False, "exit"),
    ({"action": "buy", "sentiment": "long", "position_size": Decimal(0)}, True, "exit"),
    ({"action": "exit", "position_size": Decimal(3)}, True, "reduce"),
    # reverse flag
    ({"action": "buy", "reverse": True, "sentiment": "flat"}, True, "enter_long"),
    ({"action": "sell", "reverse": True, "sentiment": "long"}, True, "enter_short"),
    ({"action": "sell", "reverse": True}, False, "exit"),
    ({"action": "exit", "reverse": True}, True, "exit"),
    # the default (allow_short unset): the alert says whether the strategy is short
    ({"action": "sell"}, None, "exit"),
    ({"action": "sell", "sentiment": "short"}, None, "enter_short"),
    ({"action": "sell", "position_size": Decimal(-5)}, None, "enter_short"),
    ({"action": "sell", "sentiment": "long"}, None, "exit"),
    ({"action": "sell", "reverse": True}, None, "enter_short"),
    ({"action": "sell", "position_size": Decimal(-5)}, False, "exit"),
])
def test_intent(fields, allow_short, intent):
    assert intent_of(alert(**fields), allow_short) == intent


def test_same_alert_same_key_and_id():
    one = new_signal("s1", alert(quantity=Decimal(5)), RECEIVED)
    again = new_signal("s1", alert(quantity=Decimal(5)), RECEIVED + timedelta(seconds=5))
    assert (one.dedupe_key, one.signal_id) == (again.dedupe_key, again.signal_id)


@pytest.mark.parametrize("change", [
    {"quantity": Decimal(6)}, {"action": "sell"}, {"stop_loss": Decimal(170)}, {"take_profits": (Decimal(190),)},
    {"reverse": True}, {"position_size": Decimal(0)}, {"order_type": "limit", "limit_price": Decimal(179)},
    {"time_in_force": "gtc"}, {"trailing_stop_pct": Decimal(2)}, {"exchange": "NASDAQ"}, {"delayed": True},
    {"comment": "other"}, {"time": RECEIVED},
])
def test_any_normalised_field_changes_the_key(change):
    base = alert(quantity=Decimal(5))
    assert signal_key("s1", base, RECEIVED) != signal_key("s1", base.model_copy(update=change), RECEIVED)


def test_other_strategy_other_key():
    assert signal_key("s1", alert(), RECEIVED) != signal_key("s2", alert(), RECEIVED)


def test_timed_alert_keyed_by_its_own_time_not_the_arrival():
    timed = alert(time=datetime(2024, 3, 1, 15, 30, 2, tzinfo=UTC))
    assert signal_key("s1", timed, RECEIVED) == signal_key("s1", timed, RECEIVED + timedelta(minutes=5))


def test_untimed_alert_keyed_by_its_arrival_window():
    window = RECEIVED.replace(second=0)
    assert signal_key("s1", alert(), window) == signal_key("s1", alert(), window + timedelta(seconds=59))
    assert signal_key("s1", alert(), window) != signal_key(
        "s1", alert(), window + timedelta(seconds=UNTIMED_DEDUPE_SECONDS))


def test_equal_decimals_in_any_spelling_give_one_key():
    plain = alert(quantity=Decimal("1"), price=Decimal("100"), take_profits=(Decimal("110"),))
    spelled = alert(quantity=Decimal("1.0"), price=Decimal("1E+2"), take_profits=(Decimal("110.000"),))
    assert signal_key("s1", plain, RECEIVED) == signal_key("s1", spelled, RECEIVED)


def test_synonyms_case_and_ignored_fields_give_one_key():
    a = parse_alert('{"ticker":"AAPL","action":"buy","quantity":"50","price":"660.0","passphrase":"one"}')
    b = parse_alert('SYMBOL=aapl\nSIGNAL=BUY\nQTY=50.00\nPRICE=660\nPASSPHRASE=two\nBAR_VOLUME=9')
    assert signal_key("s1", a, RECEIVED) == signal_key("s1", b, RECEIVED)


_NUMBERS = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("99999"), places=3)


@given(quantity=_NUMBERS, price=_NUMBERS, zeros=st.integers(0, 3), size=st.integers(-5, 5))
def test_quoted_bare_and_padded_numbers_give_equal_signal_keys(quantity, price, zeros, size):
    def body(render):
        return (f'{{"ticker":"NQ1!","action":"buy","quantity":{render(quantity)},"price":{render(price)},'
                f'"strategy":{{"position_size":{render(Decimal(size))}}}}}')

    bare = parse_alert(body(str))
    def padded(d):
        return json.dumps(str(d) + ("." if "." not in str(d) and zeros else "") + "0" * zeros)

    quoted = parse_alert(body(padded))
    assert quoted == bare
    assert signal_key("s1", quoted, RECEIVED) == signal_key("s1", bare, RECEIVED)
