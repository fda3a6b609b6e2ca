"""Sizing precedence and buying power (domain/sizing.py), recomputed from the stated rules."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tradeflow.domain.alerts import parse_alert
from tradeflow.domain.sizing import SizingError, buying_power, cap_exposure, entry_refusal, order_quantity
from tradeflow.domain.strategy import ConfidenceTier, StrategyConfig


def test_the_alert_quantity_wins_then_the_strategy_sizing_and_never_the_bar_volume():
    config = StrategyConfig(position_sizing="percent_of_equity", percent_of_equity=Decimal(100))
    sized = parse_alert('{"ticker": "AAPL", "action": "buy", "volume": "4500", "price": "112.10"}')
    assert order_quantity(config, sized.quantity, sized.price, Decimal(100_000)) == 892  # 100000 / 112.10
    given_ = parse_alert('{"ticker": "AAPL", "action": "buy", "quantity": "40", "price": "112.10"}')
    assert order_quantity(config, given_.quantity, given_.price, Decimal(100_000)) == 40
    off = config.model_copy(update={"use_alert_quantity": False})
    assert order_quantity(off, given_.quantity, given_.price, Decimal(100_000)) == 892
    with pytest.raises(SizingError, match="rounds to zero"):
        order_quantity(config, None, Decimal(200_000), Decimal(100_000))


@given(st.decimals(min_value="1", max_value="1000000", places=2), st.decimals(min_value="0", max_value="500000", places=2),
       st.sampled_from([Decimal(1), Decimal(2), Decimal(4)]))
def test_buying_power_is_multiplier_times_equity_less_exposure(equity, exposure, multiplier):
    power = buying_power(equity, exposure, multiplier)
    assert power == max(Decimal(0), equity * multiplier - exposure)
    assert buying_power(equity, Decimal(0), Decimal(1)) == equity  # a flat cash account: its cash


def test_an_entry_the_account_cannot_pay_for_is_refused_with_the_numbers():
    assert entry_refusal(Decimal(892), Decimal("112.10"), Decimal("6.80"), Decimal(100_000), "AAPL") is None  # 100000.00
    reason = entry_refusal(Decimal(892), Decimal("112.20"), Decimal("10.01"), Decimal(100_000), "AAPL")
    assert reason and "892 x 112.20 + commission 10.01 = 100092.41 exceeds buying power 100000.00" in reason
    assert entry_refusal(Decimal(892), Decimal("112.20"), Decimal("10.01"), buying_power(
        Decimal(100_000), Decimal(0), Decimal(2)), "AAPL") is None  # a Reg T margin account pays for it


# --- the sizing modes and the exposure caps, each recomputed from its definition ---------

prices = st.decimals("1", "1000", places=2)


@given(prices, st.decimals("0.05", "50", places=2), st.decimals("10", "5000", places=0), st.booleans())
def test_risk_per_position_loses_at_most_the_risk_at_the_stop(price, distance, risk, short):
    config = StrategyConfig(position_sizing="risk_per_position", risk_amount=risk, use_alert_quantity=False)
    stop = price + distance if short else price - distance
    if stop <= 0:
        return
    try:
        quantity = order_quantity(config, None, price, Decimal(100_000), stop=stop)
    except SizingError as exc:
        assert risk / distance < 1 and "rounds to zero" in str(exc)
        return
    assert quantity == int(risk / distance)  # whole shares, rounded down
    assert quantity * distance <= risk < (quantity + 1) * distance


def test_each_sizing_mode():
    equity, price = Decimal(50_000), Decimal(40)
    fixed = StrategyConfig(position_sizing="fixed_quantity", fixed_quantity=Decimal(25), use_alert_quantity=False)
    assert order_quantity(fixed, Decimal(3), price, equity) == 25
    pct_risk = StrategyConfig(position_sizing="risk_per_position", risk_pct=Decimal(1), use_alert_quantity=False)
    assert order_quantity(pct_risk, None, price, equity, stop=Decimal(38)) == 250  # 500 / 2
    with pytest.raises(SizingError, match="needs a stop-loss"):
        order_quantity(pct_risk, None, price, equity)
    half = StrategyConfig(position_sizing="alert_quantity", alert_quantity_multiplier=Decimal("0.5"))
    assert order_quantity(half, Decimal(31), price, equity) == 15
    with pytest.raises(SizingError, match="alert has no quantity"):
        order_quantity(half, None, price, equity)
    amount = StrategyConfig(fixed_notional=Decimal(1000), use_alert_quantity=False)
    assert order_quantity(amount, None, price, equity) == 25


def test_confidence_tiers_scale_the_size_and_refuse_below_the_lowest():
    config = StrategyConfig(fixed_notional=Decimal(1000), use_alert_quantity=False, confidence_tiers=(
        ConfidenceTier(min_confidence=Decimal("0.5"), multiplier=Decimal("0.5")),
        ConfidenceTier(min_confidence=Decimal("0.8"), multiplier=Decimal(2))))
    price, equity = Decimal(10), Decimal(10**5)
    assert order_quantity(config, None, price, equity, confidence=Decimal("0.9")) == 200
    assert order_quantity(config, None, price, equity, confidence=Decimal("0.8")) == 200
    assert order_quantity(config, None, price, equity, confidence=Decimal("0.6")) == 50
    for low in (Decimal("0.4"), None):
        with pytest.raises(SizingError, match="below the lowest tier"):
            order_quantity(config, None, price, equity, confidence=low)


def test_exposure_caps_shrink_or_refuse_with_the_numbers():
    shrink = StrategyConfig(max_position_notional=Decimal(5000), max_heat_pct=Decimal(1), exposure_action="shrink")
    # notional cap: 5000 / 50 = 100 shares; heat: 1 % of 100000 - 400 open = 600 / (50 - 45) = 120
    assert cap_exposure(shrink, Decimal(300), Decimal(50), Decimal(45), Decimal(10**5), Decimal(0), Decimal(400),
                        Decimal(1), "AAPL")[0] == 100
    quantity, note = cap_exposure(shrink, Decimal(300), Decimal(50), Decimal(49), Decimal(10**5), Decimal(0),
                                  Decimal(400), Decimal(1), "AAPL")
    assert quantity == 100 and "max_position_notional" in note
    quantity, note = cap_exposure(shrink, Decimal(300), Decimal(50), Decimal(40), Decimal(10**5), Decimal(0),
                                  Decimal(400), Decimal(1), "AAPL")
    assert quantity == 60 and "max_heat_pct" in note  # 600 / 10
    assert cap_exposure(shrink, Decimal(50), Decimal(50), Decimal(49), Decimal(10**5), Decimal(0), Decimal(0),
                        Decimal(1), "AAPL") == (Decimal(50), None)
    refuse = StrategyConfig(max_gross_exposure_pct=Decimal(100))
    with pytest.raises(SizingError, match="max_gross_exposure_pct 100 %.*at most 20 fits"):
        cap_exposure(refuse, Decimal(300), Decimal(50), None, Decimal(10**5), Decimal(99_000), Decimal(0),
                     Decimal(1), "AAPL")


def test_the_config_hash_survives_a_round_trip_through_reordered_json():
    # Given settings with nested mappings, written and read back with their keys in another order
    import json

    from tradeflow.domain.strategy import StrategyConfig

    config = StrategyConfig(instruments={"MSFT": {"tick_size": "0.01"}, "AAPL": {"lot_size": "1"}})
    reordered = json.dumps(json.loads(config.model_dump_json()), sort_keys=True)  # as jsonb may return it
    shuffled = dict(reversed(list(json.loads(reordered).items())))
    # Then the hash recorded with every decision is the same
    assert StrategyConfig.model_validate(shuffled).config_hash() == config.config_hash()
