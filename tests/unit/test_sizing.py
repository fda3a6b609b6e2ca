"""Sizing precedence and buying power (domain/sizing.py), recomputed from the stated rules."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tradeflow.domain.alerts import parse_alert
from tradeflow.domain.sizing import SizingError, buying_power, entry_refusal, order_quantity
from tradeflow.domain.strategy import StrategyConfig


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
