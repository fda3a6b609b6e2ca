"""Exit triggers: when a stop-loss or take-profit is hit by the latest price."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

Trigger = Literal["stop_loss", "take_profit"]


def exit_trigger(side: str, price: Decimal, stop_loss: Decimal | None, take_profit: Decimal | None) -> Trigger | None:
    """Which exit ``price`` triggers for a ``long`` or ``short`` position, if any.

    A long's stop triggers at or below the stop price and its take-profit at or above the
    target; a short's the other way round. If both could trigger, the stop-loss wins
    (pessimistic, as TradingView's broker emulator assumes for an ambiguous bar).
    """
    long = side == "long"
    if stop_loss is not None and (price <= stop_loss if long else price >= stop_loss):
        return "stop_loss"
    if take_profit is not None and (price >= take_profit if long else price <= take_profit):
        return "take_profit"
    return None
