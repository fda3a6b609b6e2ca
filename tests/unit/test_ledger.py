"""The ledger's invariants, as hypothesis properties."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tradeflow.domain.fills import Resting, commission, quote_fill
from tradeflow.domain.ledger import Position, apply_fill, equity
from tradeflow.domain.strategy import StrategyConfig

prices = st.decimals(min_value="0.01", max_value="5000", places=2)
quantities = st.integers(min_value=1, max_value=1000).map(Decimal)
fills = st.lists(st.tuples(st.sampled_from(["buy", "sell"]), quantities, prices, st.decimals("0", "20", places=2)),
                 min_size=1, max_size=30)


@given(fills, prices)
def test_cash_plus_market_value_is_starting_cash_plus_pnl_minus_fees(sequence, mark):
    """equity = cash + Σ quantity·price, and also = start + realised + unrealised − fees."""
    start = Decimal("100000")
    cash, position, realised, fees = start, Position("X"), Decimal(0), Decimal(0)
    for side, quantity, price, fee in sequence:
        effect = apply_fill(position, side, quantity, price, fee)
        cash += effect.cash_delta
        realised += effect.realised_pnl
        fees += fee
        position = effect.position
    assert equity(cash, [position], {"X": mark}) == start + realised + position.unrealised_pnl(mark) - fees


@given(fills, prices)
def test_when_flat_cash_change_is_realised_pnl_minus_fees(sequence, exit_price):
    cash, position, realised, fees = Decimal(0), Position("X"), Decimal(0), Decimal(0)
    for side, quantity, price, fee in sequence:
        effect = apply_fill(position, side, quantity, price, fee)
        cash, realised, fees, position = cash + effect.cash_delta, realised + effect.realised_pnl, fees + fee, effect.position
    if position.quantity:
        close = "sell" if position.quantity > 0 else "buy"
        effect = apply_fill(position, close, abs(position.quantity), exit_price, Decimal(0))
        cash, realised, position = cash + effect.cash_delta, realised + effect.realised_pnl, effect.position
    assert position.quantity == 0
    assert cash == realised - fees


def test_round_trip_long():
    opened = apply_fill(Position("AAPL"), "buy", Decimal(10), Decimal(100), Decimal(1))
    closed = apply_fill(opened.position, "sell", Decimal(10), Decimal(110), Decimal(1))
    assert closed.realised_pnl == Decimal(100) and closed.position.quantity == 0
    assert opened.cash_delta + closed.cash_delta == Decimal(98)


def test_adding_averages_the_entry_price():
    first = apply_fill(Position("AAPL"), "buy", Decimal(10), Decimal(100), Decimal(0)).position
    second = apply_fill(first, "buy", Decimal(30), Decimal(120), Decimal(0)).position
    assert (second.quantity, second.avg_price, second.cost) == (Decimal(40), Decimal(115), Decimal(4600))


@given(prices, st.decimals("0", "100", places=1))
def test_slippage_always_costs_the_trader(quote, bps):
    assert quote_fill(Resting("b", "buy", "market"), quote, bps) >= quote
    assert quote_fill(Resting("s", "sell", "market"), quote, bps) <= quote


@given(prices, prices)
def test_a_limit_order_never_fills_worse_than_its_limit(quote, limit):
    sell = quote_fill(Resting("s", "sell", "limit", limit_price=limit), quote, Decimal(50))
    buy = quote_fill(Resting("b", "buy", "limit", limit_price=limit), quote, Decimal(50))
    assert sell is None or sell >= limit
    assert buy is None or buy <= limit
    assert (sell is None) == (quote < limit) and (buy is None) == (quote > limit)


@pytest.mark.parametrize("settings, quantity, price, fee", [
    ({"commission_bps": 1}, 100, "100", "1.00"),
    ({"commission_bps": "2.5"}, 1, "12345.67", "3.09"),
    ({"commission_bps": 0, "commission_per_share": "0.005", "commission_minimum": 1}, 100, "50", "1.00"),
    ({"commission_bps": 0, "commission_per_share": "0.005", "commission_minimum": 1}, 1000, "50", "5.00"),
    ({"commission_bps": 0, "commission_per_order": "4.95"}, 3, "10", "4.95"),
    ({"commission_bps": "1.5", "commission_to_cent": False}, 7, "33.33", "0.03499650"),
])
def test_commission_models(settings, quantity, price, fee):
    assert commission(Decimal(quantity), Decimal(price), StrategyConfig(**settings)) == Decimal(fee)


@given(fills, prices)
def test_fifo_lots_hold_the_position_and_realise_the_same_pnl_once_flat(sequence, exit_price):
    from tradeflow.domain.ledger import fifo_fill

    position, lots, realised, fifo_realised = Position("X"), (), Decimal(0), Decimal(0)
    for side, quantity, price, _ in sequence:
        effect = apply_fill(position, side, quantity, price, Decimal(0))
        lots, closes = fifo_fill(lots, side, quantity, price)
        position, realised = effect.position, realised + effect.realised_pnl
        fifo_realised += sum(c.pnl for c in closes)
        assert sum(lot.quantity for lot in lots) == position.quantity
        assert all((lot.quantity > 0) == (position.quantity > 0) for lot in lots)  # one side at a time
    if position.quantity:
        close = "sell" if position.quantity > 0 else "buy"
        realised += apply_fill(position, close, abs(position.quantity), exit_price, Decimal(0)).realised_pnl
        lots, closes = fifo_fill(lots, close, abs(position.quantity), exit_price)
        fifo_realised += sum(c.pnl for c in closes)
    assert lots == ()
    assert abs(fifo_realised - realised) <= Decimal("1e-6")  # average cost rounds a partial release to 1e-8


def test_fifo_closes_the_oldest_lot_first():
    from tradeflow.domain.ledger import Lot, LotClose, fifo_fill

    lots, _ = fifo_fill((), "buy", Decimal(10), Decimal(100))
    lots, _ = fifo_fill(lots, "buy", Decimal(10), Decimal(110))
    lots, closes = fifo_fill(lots, "sell", Decimal(15), Decimal(120))
    assert closes == (LotClose(Decimal(10), Decimal(100), Decimal(120), Decimal(200)),
                      LotClose(Decimal(5), Decimal(110), Decimal(120), Decimal(50)))
    assert lots == (Lot(Decimal(5), Decimal(110)),)
    lots, closes = fifo_fill(lots, "sell", Decimal(8), Decimal(100))  # reverse: close 5, open 3 short
    assert lots == (Lot(Decimal(-3), Decimal(100)),) and closes[0].pnl == Decimal(-50)
