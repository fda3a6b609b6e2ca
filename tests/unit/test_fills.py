"""The bar fill model's rules as tables (backtesting.py 0.6.6 ``_process_orders``), and
the same-bar exit rule."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tradeflow.domain.fills import Bar, Resting, bar_fill, exits_in_entry_bar, exits_to_fill, quote_fill


def D(x):
    return None if x is None else Decimal(str(x))


def bar(o, h, lo, c):
    return Bar(D(o), D(h), D(lo), D(c))


@pytest.mark.parametrize("side, kind, stop, limit, ohlc, price", [
    # market: the bar's open
    ("buy", "market", None, None, (100, 105, 95, 101), 100),
    ("sell", "market", None, None, (100, 105, 95, 101), 100),
    # sell stop (a long's stop-loss): touched when low <= stop, inclusive; worse of open and stop
    ("sell", "stop", 95, None, (100, 105, 95, 101), 95),
    ("sell", "stop", 95, None, (100, 105, 95.01, 101), None),
    ("sell", "stop", 95, None, (93, 96, 92, 94), 93),           # gap down through the stop: the open
    # buy stop (a short's stop-loss, or a breakout entry): high >= stop; worse = higher
    ("buy", "stop", 105, None, (100, 105, 95, 101), 105),
    ("buy", "stop", 105, None, (107, 108, 106, 107), 107),      # gap up: the open
    ("buy", "stop", 105, None, (100, 104.99, 95, 101), None),
    # sell limit (a long's take-profit): high >= limit, inclusive; better of open and limit
    ("sell", "limit", None, 110, (100, 110, 95, 101), 110),
    ("sell", "limit", None, 110, (112, 113, 111, 112), 112),    # gap up through the target: the open
    ("sell", "limit", None, 110, (100, 109.99, 95, 101), None),
    # buy limit: low <= limit; better = lower
    ("buy", "limit", None, 95, (100, 105, 95, 101), 95),
    ("buy", "limit", None, 95, (90, 92, 89, 91), 90),
    ("buy", "limit", None, 95, (100, 105, 95.01, 101), None),
    # trailing stop at its current stop price behaves as a stop
    ("sell", "trailing_stop", 95, None, (96, 97, 94, 95), 95),
    # stop-limit: triggered at the worse of open and stop, filled there if within the limit
    ("buy", "stop_limit", 105, 106, (100, 107, 99, 106), 105),
    ("buy", "stop_limit", 105, 106, (105.5, 107, 105, 106), 105.5),
    ("buy", "stop_limit", 105, 106, (107, 108, 106.5, 107), None),  # gapped past the limit: works on as a limit
    ("sell", "stop_limit", 95, 94, (96, 97, 94, 95), 95),
])
def test_bar_fill_rules(side, kind, stop, limit, ohlc, price):
    assert bar_fill(Resting("x", side, kind, stop_price=D(stop), limit_price=D(limit)), bar(*ohlc)) == D(price)


def test_a_triggered_stop_limit_works_as_a_limit():
    order = Resting("x", "buy", "stop_limit", stop_price=D(105), limit_price=D(106), stop_triggered=True)
    assert bar_fill(order, bar(104, 104.5, 103, 104)) == D(104)  # stop not touched again: still fills


def test_slippage_applies_to_market_and_stop_fills_not_to_limits():
    b = bar(100, 111, 94, 101)
    assert bar_fill(Resting("m", "buy", "market"), b, Decimal(10)) == Decimal("100.1000")
    assert bar_fill(Resting("s", "sell", "stop", stop_price=D(95)), b, Decimal(10)) == Decimal("94.9050")
    assert bar_fill(Resting("t", "sell", "limit", limit_price=D(110)), b, Decimal(10)) == D(110)


LONG_LEGS = [Resting("sl", "sell", "stop", "stop_loss", stop_price=D(95)),
             Resting("tp", "sell", "limit", "take_profit", limit_price=D(110))]


@pytest.mark.parametrize("ohlc, prefer, filled", [
    ((100, 111, 94, 100), "stop_loss", [("sl", 95)]),         # both touched: pessimistic default
    ((100, 111, 94, 100), "take_profit", [("tp", 110)]),      # configurable
    ((100, 111, 96, 100), "stop_loss", [("tp", 110)]),
    ((100, 104, 96, 100), "stop_loss", []),
    ((90, 111, 89, 100), "stop_loss", [("sl", 90)]),          # gap through the stop
])
def test_same_bar_exit(ohlc, prefer, filled):
    hits = exits_to_fill(LONG_LEGS, bar(*ohlc), prefer)
    assert [(leg.key, price) for leg, price in hits] == [(k, D(p)) for k, p in filled]


@pytest.mark.parametrize("entry_type, ohlc, filled", [
    ("market", (100, 111, 96, 100), [("tp", 110)]),      # entered at the open: the rest of the bar counts
    ("market", (100, 111, 94, 100), [("sl", 95)]),
    ("stop", (100, 111, 96, 100), [("tp", 110)]),        # through the entry stop on the way to the high
    ("stop", (100, 111, 94, 100), []),                   # stop-loss touched too: order unknown, next bar
    ("stop", (100, 104, 94, 100), []),                   # a stop-loss alone may have come before the entry
    ("limit", (100, 111, 96, 100), []),                  # a limit entry's legs wait for the next bar
    ("stop_limit", (100, 111, 96, 100), []),
])
def test_exits_in_the_entry_bar(entry_type, ohlc, filled):
    hits = exits_in_entry_bar(entry_type, LONG_LEGS, bar(*ohlc))
    assert [(leg.key, price) for leg, price in hits] == [(k, D(p)) for k, p in filled]


def test_scale_out_targets_can_fill_in_one_bar():
    legs = [Resting("tp1", "sell", "limit", "take_profit", limit_price=D(105)),
            Resting("tp2", "sell", "limit", "take_profit", limit_price=D(110))]
    assert [leg.key for leg, _ in exits_to_fill(legs, bar(100, 111, 99, 110))] == ["tp1", "tp2"]


prices = st.decimals(min_value="1", max_value="1000", places=2)


@given(prices, prices, prices, prices, prices)
def test_a_bar_fill_is_inside_the_bar_and_never_worse_than_a_limit(a, b, c, d, level):
    low, o, close, high = sorted([a, b, c, d])[0], b, c, sorted([a, b, c, d])[-1]
    o, close = min(max(o, low), high), min(max(close, low), high)
    this = Bar(o, high, low, close)
    for side in ("buy", "sell"):
        for kind in ("stop", "limit", "market"):
            order = Resting("x", side, kind, stop_price=level, limit_price=level)
            price = bar_fill(order, this)
            if price is None:
                continue
            assert low <= price <= high
            if kind == "limit":
                assert price <= level if side == "buy" else price >= level
            if kind == "stop":  # a stop never fills better than its stop price
                assert price >= level if side == "buy" else price <= level


@given(prices, prices)
def test_the_quote_model_is_the_bar_model_on_a_flat_bar(quote, level):
    for side in ("buy", "sell"):
        for kind in ("stop", "limit"):
            order = Resting("x", side, kind, stop_price=level, limit_price=level)
            assert quote_fill(order, quote) == bar_fill(order, Bar.flat(quote))


ticks = st.sampled_from([Decimal("0.01"), Decimal("0.05"), Decimal("0.25"), Decimal("0.00001"), Decimal(1)])
quotes = st.decimals(min_value="0.5", max_value="5000", places=6)
bps = st.decimals(min_value="0", max_value="200", places=2)


@given(quotes, bps, ticks, st.sampled_from(["market", "stop", "limit"]), st.sampled_from(["buy", "sell"]))
def test_every_fill_is_on_the_tick_and_rounded_against_the_trader(quote, slippage, tick, kind, side):
    """Recomputed here from the rule: the exact price (quote moved by the slippage for market
    and stop orders, no slippage for a limit) rounded to the next tick against the trader, a
    limit never crossed."""
    level = (quote / tick).to_integral_value() * tick  # a stop or limit on the tick, at the quote
    order = Resting("x", side, kind, stop_price=level, limit_price=level)
    price = quote_fill(order, quote, slippage, tick)
    if price is None:
        return
    sign = 1 if side == "buy" else -1
    base = quote if kind == "market" else (max(quote, level) if side == "buy" else min(quote, level))
    if kind == "limit":
        base = min(quote, level) if side == "buy" else max(quote, level)
    exact = base * (1 + sign * slippage / 10_000) if kind != "limit" else base
    assert price % tick == 0, f"{price} is off the tick {tick}"
    assert 0 <= (price - exact) * sign < tick  # against the trader, by less than one tick
    if kind == "limit":
        assert price <= level if side == "buy" else price >= level


def test_the_off_tick_price_of_the_issue_is_rounded_up_for_a_buy_and_down_for_a_sell():
    market = Resting("m", "buy", "market")
    assert quote_fill(market, Decimal("229.87"), Decimal(5), Decimal("0.01")) == Decimal("229.99")  # 229.984935
    assert quote_fill(Resting("s", "sell", "market"), Decimal("229.87"), Decimal(5), Decimal("0.01")) == \
        Decimal("229.75")  # 229.755065
