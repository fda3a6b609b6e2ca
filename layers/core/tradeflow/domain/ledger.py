"""The ledger: positions with average cost, cash, realised and unrealised P&L.

Conventions: a position's ``quantity`` is signed (+ long, − short) in shares; a buy of ``q``
at ``p`` moves cash by ``−q·p − commission``, a sell by ``+q·p − commission``. Equity is
cash plus the market value ``Σ quantity·price``; realised P&L is gross of fees and fees are
kept apart, so that when flat ``cash − starting cash = realised P&L − fees``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from tradeflow.domain.orders import OrderSide

ZERO = Decimal(0)
#: A partial close releases its share of the cost basis rounded to this many currency units,
#: so that every later sum is exact and nothing is lost to rounding in the books.
COST_PLACES = Decimal("1e-8")


@dataclass(frozen=True)
class Position:
    """An open position: signed ``quantity`` (shares) and signed ``cost`` basis (currency;
    quantity × average price). Keeping the cost rather than the average price keeps the books
    exact: an average such as 1/3 never has to be rounded."""

    symbol: str
    quantity: Decimal = ZERO
    cost: Decimal = ZERO

    @property
    def side(self) -> str | None:
        return "long" if self.quantity > 0 else "short" if self.quantity < 0 else None

    @property
    def avg_price(self) -> Decimal:
        """Average entry price (currency per share); 0 when flat."""
        return self.cost / self.quantity if self.quantity else ZERO

    def market_value(self, price: Decimal) -> Decimal:
        return self.quantity * price

    def unrealised_pnl(self, price: Decimal) -> Decimal:
        return self.quantity * price - self.cost


@dataclass(frozen=True)
class FillEffect:
    """What a fill does: the position after it, the cash change and the realised P&L (gross)."""

    position: Position
    cash_delta: Decimal
    realised_pnl: Decimal


def apply_fill(position: Position, side: OrderSide, quantity: Decimal, price: Decimal, fee: Decimal) -> FillEffect:
    """Apply a fill of ``quantity`` (> 0) shares at ``price`` with commission ``fee``.

    Adding adds ``quantity · price`` to the cost basis (average cost). Reducing releases the
    closed share of the cost basis and realises ``proceeds − released cost``; a fill larger
    than the position closes it and opens the remainder on the other side at ``price``.
    """
    if quantity <= 0 or price <= 0 or fee < 0:
        raise ValueError(f"a fill needs quantity > 0, price > 0 and fee >= 0, got {quantity}, {price}, {fee}")
    signed = quantity if side == "buy" else -quantity
    cash_delta = -signed * price - fee
    held = position.quantity
    if held == 0 or (held > 0) == (signed > 0):
        return FillEffect(Position(position.symbol, held + signed, position.cost + signed * price), cash_delta, ZERO)
    closed = min(quantity, abs(held))
    released = position.cost if closed == abs(held) else (position.cost * closed / abs(held)).quantize(COST_PLACES)
    direction = 1 if held > 0 else -1
    realised = direction * closed * price - released
    remaining = held + signed
    if remaining == 0:
        after = Position(position.symbol)
    elif (remaining > 0) == (held > 0):
        after = Position(position.symbol, remaining, position.cost - released)
    else:
        after = Position(position.symbol, remaining, remaining * price)
    return FillEffect(after, cash_delta, realised)


def equity(cash: Decimal, positions: Iterable[Position], prices: Mapping[str, Decimal]) -> Decimal:
    """Cash plus the market value of ``positions`` at ``prices`` (symbol -> currency per share)."""
    return cash + sum((p.market_value(prices[p.symbol]) for p in positions), ZERO)


@dataclass(frozen=True)
class Lot:
    """An open lot: signed ``quantity`` (shares, + long, − short) bought or sold at ``price``."""

    quantity: Decimal
    price: Decimal


@dataclass(frozen=True)
class LotClose:
    """Part of a lot closed by a fill: ``quantity`` shares (unsigned) opened at ``open_price``
    and closed at ``close_price``, realising ``pnl`` (gross, currency)."""

    quantity: Decimal
    open_price: Decimal
    close_price: Decimal
    pnl: Decimal


def fifo_fill(lots: tuple[Lot, ...], side: OrderSide, quantity: Decimal,
              price: Decimal) -> tuple[tuple[Lot, ...], tuple[LotClose, ...]]:
    """Apply a fill to open ``lots`` first-in, first-out: a fill against the position closes
    the oldest lots first (a lot partly), and any remainder opens a new lot on the other side.
    Returns (lots after, the lot closes). The sum of the closes' P&L equals
    :func:`apply_fill`'s realised P&L when the position is closed completely, and whenever
    every lot was opened at the same price; in between, average cost and FIFO attribute it
    differently over time (tax lots use FIFO; the books use average cost)."""
    if quantity <= 0 or price <= 0:
        raise ValueError(f"a fill needs quantity > 0 and price > 0, got {quantity}, {price}")
    signed = quantity if side == "buy" else -quantity
    remaining, closes, open_lots = signed, [], list(lots)
    while remaining and open_lots and (open_lots[0].quantity > 0) != (remaining > 0):
        lot = open_lots[0]
        closed = min(abs(remaining), abs(lot.quantity))
        direction = 1 if lot.quantity > 0 else -1
        closes.append(LotClose(closed, lot.price, price, direction * closed * (price - lot.price)))
        left = lot.quantity - direction * closed
        open_lots = ([Lot(left, lot.price)] if left else []) + open_lots[1:]
        remaining += direction * closed
    if remaining:
        open_lots.append(Lot(remaining, price))
    return tuple(open_lots), tuple(closes)
