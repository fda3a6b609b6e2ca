"""Messages carried between the Lambdas on SQS (the Signal itself is in ``signals``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class OrderInstruction(BaseModel):
    """``orders.fifo``: an approved signal for order_creator to turn into orders."""

    model_config = ConfigDict(frozen=True)

    signal_id: uuid.UUID
    strategy_id: str
    symbol: str


class ExecutionRequest(BaseModel):
    """``executions.fifo``: fill this order. ``trigger`` says why now: the signal that created
    it, a stop-loss / take-profit hit at ``trigger_price`` (currency per share), or a working
    entry or exit that the stop monitor matched (``working``). ``bar_ts``: the close time of
    the bar it was matched on (bar fill model); the executor recomputes the price from it."""

    model_config = ConfigDict(frozen=True)

    client_order_id: str
    strategy_id: str
    symbol: str
    trigger: Literal["signal", "stop_loss", "take_profit", "working", "stale_price"] = "signal"
    trigger_price: Decimal | None = None
    bar_ts: datetime | None = None


NotificationKind = Literal["fill", "signal_refused", "order_rejected", "daily_summary", "alert_refused",
                           "message_rejected", "breaker_tripped", "breaker_reset", "trading_state",
                           "weekly_digest", "notify_test", "stale_price"]


class NotificationEvent(BaseModel):
    """``notifications``: something the trader hears about. ``key`` makes it idempotent;
    ``facts`` holds the values the message is written from."""

    model_config = ConfigDict(frozen=True)

    key: str
    kind: NotificationKind
    strategy_id: str
    facts: dict[str, Any]
