"""Orders: the state machine, deterministic client_order_ids and bracket construction.

A bracket is an entry plus a stop-loss and a take-profit; the two exits form one OCO group
(one cancels the other) and become active when the entry fills. The transition table below
is also loaded into PostgreSQL, which refuses any other transition.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Literal

OrderStatus = Literal["pending", "accepted", "partially_filled", "filled", "cancelled", "rejected", "expired"]
OrderSide = Literal["buy", "sell"]
OrderType = Literal["market", "limit", "stop"]
Purpose = Literal["entry", "exit", "stop_loss", "take_profit"]

#: Allowed order status transitions (from, to). Terminal: filled, cancelled, rejected, expired.
TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
    {
        ("pending", "accepted"),
        ("pending", "rejected"),
        ("pending", "cancelled"),
        ("accepted", "partially_filled"),
        ("accepted", "filled"),
        ("accepted", "cancelled"),
        ("accepted", "expired"),
        ("partially_filled", "partially_filled"),
        ("partially_filled", "filled"),
        ("partially_filled", "cancelled"),
    }
)
OPEN_STATUSES = ("pending", "accepted", "partially_filled")

#: Price increment for equities quoted at $1.00 or more (SEC Rule 612: $0.01).
TICK = Decimal("0.01")


class InvalidTransition(ValueError):
    """An order status change outside :data:`TRANSITIONS`."""


class BracketError(ValueError):
    """A stop-loss or take-profit on the wrong side of the entry price."""


def check_transition(from_status: str, to_status: str) -> None:
    """Raise :class:`InvalidTransition` unless ``from_status -> to_status`` is in the table."""
    if (from_status, to_status) not in TRANSITIONS:
        raise InvalidTransition(f"an order cannot go from {from_status} to {to_status}")


def client_order_id(signal_id: uuid.UUID, leg: str) -> str:
    """Deterministic client_order_id of one leg of the orders a signal creates, so that
    processing the signal twice creates each order once. At most 48 characters."""
    return f"tf-{signal_id.hex[:24]}-{leg}"


@dataclass(frozen=True)
class OrderRequest:
    """An order to create. Prices in quote currency per share; ``quantity`` in shares."""

    client_order_id: str
    symbol: str
    side: OrderSide
    quantity: Decimal
    order_type: OrderType
    purpose: Purpose
    stop_price: Decimal | None = None
    limit_price: Decimal | None = None
    oco_group: str | None = None
    parent_client_order_id: str | None = None


def default_bracket_prices(
    side: OrderSide, reference: Decimal, stop_loss_pct: Decimal | None, take_profit_pct: Decimal | None
) -> tuple[Decimal | None, Decimal | None]:
    """Stop-loss and take-profit prices ``pct`` percent from ``reference``, rounded to the
    tick toward the entry (a stop never risks more than the percent asked)."""
    sign = Decimal(1) if side == "buy" else Decimal(-1)
    stop = take = None
    if stop_loss_pct is not None:
        raw = reference * (1 - sign * stop_loss_pct / 100)
        stop = raw.quantize(TICK, rounding=ROUND_CEILING if side == "buy" else ROUND_FLOOR)
    if take_profit_pct is not None:
        raw = reference * (1 + sign * take_profit_pct / 100)
        take = raw.quantize(TICK, rounding=ROUND_FLOOR if side == "buy" else ROUND_CEILING)
    return stop, take


def bracket(
    signal_id: uuid.UUID,
    symbol: str,
    side: OrderSide,
    quantity: Decimal,
    reference: Decimal,
    stop_loss: Decimal | None,
    take_profit: Decimal | None,
) -> list[OrderRequest]:
    """A market entry and its OCO exits. For a buy, ``stop_loss < reference < take_profit``;
    for a sell the reverse. Raises :class:`BracketError` otherwise."""
    long = side == "buy"
    if stop_loss is not None and (stop_loss >= reference if long else stop_loss <= reference):
        where = "below" if long else "above"
        raise BracketError(f"stop_loss {stop_loss} must be {where} the entry price {reference} for a {side}")
    if take_profit is not None and (take_profit <= reference if long else take_profit >= reference):
        where = "above" if long else "below"
        raise BracketError(f"take_profit {take_profit} must be {where} the entry price {reference} for a {side}")
    entry_id = client_order_id(signal_id, "entry")
    exit_side: OrderSide = "sell" if long else "buy"
    oco = f"tf-{signal_id.hex[:24]}-oco"
    orders = [OrderRequest(entry_id, symbol, side, quantity, "market", "entry")]
    if stop_loss is not None:
        orders.append(
            OrderRequest(client_order_id(signal_id, "sl"), symbol, exit_side, quantity, "stop", "stop_loss",
                         stop_price=stop_loss, oco_group=oco, parent_client_order_id=entry_id)
        )
    if take_profit is not None:
        orders.append(
            OrderRequest(client_order_id(signal_id, "tp"), symbol, exit_side, quantity, "limit", "take_profit",
                         limit_price=take_profit, oco_group=oco, parent_client_order_id=entry_id)
        )
    return orders
