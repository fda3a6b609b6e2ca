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


@dataclass(frozen=True)
class Position:
    """An open position: signed ``quantity`` (shares) at ``avg_price`` (currency per share)."""

    symbol: str
    quantity: Decimal = ZERO
    avg_price: Decimal = ZERO

    @property
    def side(self) -> str | None:
        return "long" if self.quantity > 0 else "short" if self.quantity < 0 else None

    def market_value(self, price: Decimal) -> Decimal:
        return self.quantity * price

    def unrealised_pnl(self, price: Decimal) -> Decimal:
        return (price - self.avg_price) * self.quantity


@dataclass(frozen=True)
class FillEffect:
    """What a fill does: the position after it, the cash change and the realised P&L (gross)."""

    position: Position
    cash_delta: Decimal
    realised_pnl: Decimal


def apply_fill(position: Position, side: OrderSide, quantity: Decimal, price: Decimal, fee: Decimal) -> FillEffect:
    """Apply a fill of ``quantity`` (> 0) shares at ``price`` with commission ``fee``.

    Adding moves the average price to the quantity-weighted mean; reducing realises
    ``(price − avg_price) · closed quantity`` (sign of the position); a fill larger than the
    position closes it and opens the remainder on the other side at ``price``.
    """
    if quantity <= 0 or price <= 0 or fee < 0:
        raise ValueError(f"a fill needs quantity > 0, price > 0 and fee >= 0, got {quantity}, {price}, {fee}")
    signed = quantity if side == "buy" else -quantity
    cash_delta = -signed * price - fee
    held = position.quantity
    if held == 0 or (held > 0) == (signed > 0):
        total = held + signed
        avg = (abs(held) * position.avg_price + quantity * price) / abs(total)
        return FillEffect(Position(position.symbol, total, avg), cash_delta, ZERO)
    closed = min(quantity, abs(held))
    direction = 1 if held > 0 else -1
    realised = (price - position.avg_price) * closed * direction
    remaining = held + signed
    if remaining == 0:
        after = Position(position.symbol)
    elif (remaining > 0) == (held > 0):
        after = Position(position.symbol, remaining, position.avg_price)
    else:
        after = Position(position.symbol, remaining, price)
    return FillEffect(after, cash_delta, realised)


def equity(cash: Decimal, positions: Iterable[Position], prices: Mapping[str, Decimal]) -> Decimal:
    """Cash plus the market value of ``positions`` at ``prices`` (symbol -> currency per share)."""
    return cash + sum((p.market_value(prices[p.symbol]) for p in positions), ZERO)
