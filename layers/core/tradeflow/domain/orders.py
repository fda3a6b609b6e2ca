"""Orders: the state machine, deterministic client_order_ids and bracket construction.

A bracket is an entry plus a stop-loss and a take-profit; the two exits form one OCO group
(one cancels the other) and become active when the entry fills (one-triggers-the-other: an
entry with a single exit leg is an OTO). Several take-profit targets scale out: the quantity
is split evenly across the targets (in whole lots, the last leg takes the remainder) and each
target is paired with its own stop-loss of the same quantity in its own OCO group, as brokers
build scale-out brackets, so no OCO group can ever fill twice. The transition table below is
also loaded into PostgreSQL, which refuses any other transition.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from typing import Literal

from tradeflow.domain import calendar
from tradeflow.domain.stops import TICK, to_tick, trail_stop

OrderStatus = Literal["pending", "accepted", "partially_filled", "filled", "cancelled", "rejected", "expired"]
OrderSide = Literal["buy", "sell"]
OrderType = Literal["market", "limit", "stop", "stop_limit", "trailing_stop"]
TimeInForce = Literal["day", "gtc", "ioc"]
Purpose = Literal["entry", "exit", "reduce", "stop_loss", "take_profit"]

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
    time_in_force: TimeInForce = "gtc"
    expires_at: datetime | None = None
    #: trailing stop distance: currency per share, or percent of the high-water mark
    trail_amount: Decimal | None = None
    trail_percent: Decimal | None = None
    #: on a stop-loss: move the stop to the entry price once a take-profit of the position fills
    breakeven_after_target: bool = False


def default_bracket_prices(
    side: OrderSide, reference: Decimal, stop_loss_pct: Decimal | None, take_profit_pct: Decimal | None,
    tick: Decimal = TICK,
) -> tuple[Decimal | None, Decimal | None]:
    """Stop-loss and take-profit prices ``pct`` percent from ``reference``, rounded to the
    ``tick`` toward the entry (a stop never risks more than the percent asked)."""
    sign = Decimal(1) if side == "buy" else Decimal(-1)
    stop = take = None
    if stop_loss_pct is not None:
        raw = reference * (1 - sign * stop_loss_pct / 100)
        stop = to_tick(raw, tick, ROUND_CEILING if side == "buy" else ROUND_FLOOR)
    if take_profit_pct is not None:
        raw = reference * (1 + sign * take_profit_pct / 100)
        take = to_tick(raw, tick, ROUND_FLOOR if side == "buy" else ROUND_CEILING)
    return stop, take


def split_quantity(quantity: Decimal, parts: int, lot: Decimal = Decimal(1)) -> list[Decimal]:
    """``quantity`` split into ``parts`` legs: equal whole lots, the last leg the remainder.
    Raises :class:`BracketError` if a leg would be empty."""
    each = (quantity / parts / lot).quantize(Decimal(1), rounding=ROUND_DOWN) * lot
    legs = [each] * (parts - 1) + [quantity - each * (parts - 1)]
    if each <= 0:
        raise BracketError(f"{quantity} shares cannot be split across {parts} take-profit targets in lots of {lot}")
    return legs


def bracket(
    signal_id: uuid.UUID,
    symbol: str,
    side: OrderSide,
    quantity: Decimal,
    reference: Decimal,
    stop_loss: Decimal | None,
    take_profit: Decimal | None,
    *,
    take_profits: Sequence[Decimal] = (),
    entry_type: OrderType = "market",
    limit_price: Decimal | None = None,
    stop_price: Decimal | None = None,
    time_in_force: TimeInForce = "gtc",
    expires_at: datetime | None = None,
    trail_amount: Decimal | None = None,
    trail_percent: Decimal | None = None,
    breakeven_after_target: bool = False,
    lot: Decimal = Decimal(1),
) -> list[OrderRequest]:
    """An entry and its exits. The entry is a market, limit, stop or stop-limit order with
    ``time_in_force``; ``reference`` is its expected price (the limit or stop when given).
    Exits: a stop-loss at ``stop_loss`` (a trailing stop when ``trail_amount`` or
    ``trail_percent`` is given, starting at ``stop_loss`` or one trail from ``reference``), and
    take-profits at ``take_profits`` (or the single ``take_profit``); with several targets
    the legs scale out (module docstring). For a buy, ``stop_loss < reference < targets``;
    for a sell the reverse. Raises :class:`BracketError` otherwise."""
    long = side == "buy"
    targets = tuple(take_profits) or ((take_profit,) if take_profit is not None else ())
    if entry_type in ("limit", "stop_limit") and limit_price is None:
        raise BracketError(f"a {entry_type} entry needs a limit_price")
    if entry_type in ("stop", "stop_limit") and stop_price is None:
        raise BracketError(f"a {entry_type} entry needs a stop_price")
    trailing = trail_amount is not None or trail_percent is not None
    if trailing and stop_loss is None:
        stop_loss = trail_stop(side, reference, trail_amount, trail_percent)
    if stop_loss is not None and (stop_loss >= reference if long else stop_loss <= reference):
        where = "below" if long else "above"
        raise BracketError(f"stop_loss {stop_loss} must be {where} the entry price {reference} for a {side}")
    for target in targets:
        if target <= reference if long else target >= reference:
            where = "above" if long else "below"
            raise BracketError(f"take_profit {target} must be {where} the entry price {reference} for a {side}")
    entry_id = client_order_id(signal_id, "entry")
    exit_side: OrderSide = "sell" if long else "buy"
    orders = [OrderRequest(entry_id, symbol, side, quantity, entry_type, "entry",
                           stop_price=stop_price if entry_type in ("stop", "stop_limit") else None,
                           limit_price=limit_price if entry_type in ("limit", "stop_limit") else None,
                           time_in_force=time_in_force, expires_at=expires_at)]
    several = len(targets) > 1
    sizes = split_quantity(quantity, len(targets), lot) if several else [quantity]
    for n, size in enumerate(sizes, start=1):
        suffix = str(n) if several else ""
        oco = f"tf-{signal_id.hex[:24]}-oco{suffix}"
        if stop_loss is not None:
            orders.append(OrderRequest(
                client_order_id(signal_id, f"sl{suffix}"), symbol, exit_side, size,
                "trailing_stop" if trailing else "stop", "stop_loss", stop_price=stop_loss, oco_group=oco,
                parent_client_order_id=entry_id, trail_amount=trail_amount, trail_percent=trail_percent,
                breakeven_after_target=breakeven_after_target and several))
        if targets:
            orders.append(OrderRequest(
                client_order_id(signal_id, f"tp{suffix}"), symbol, exit_side, size, "limit", "take_profit",
                limit_price=targets[n - 1], oco_group=oco, parent_client_order_id=entry_id))
    return orders


def day_order_expiry(created_at: datetime) -> datetime:
    """When a ``day`` order created at ``created_at`` expires (UTC): the close of the NYSE
    session that has not closed yet (:func:`tradeflow.domain.calendar.next_close`): 16:00
    America/New_York on a trading day, 13:00 on a half day."""
    return calendar.next_close(created_at)
