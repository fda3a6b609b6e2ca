"""Signals: an authenticated alert with its identity (key and id) and its trading intent."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from tradeflow.domain.alerts import Alert

Intent = Literal["enter_long", "enter_short", "exit"]

#: Without a time in the alert, alerts received in the same window of this many seconds
#: with the same content are the same alert (TradingView retries a 5xx within ~15 s).
UNTIMED_DEDUPE_SECONDS = 60


class Signal(BaseModel):
    """The message on ``signals.fifo``: one alert, authenticated and normalised."""

    model_config = ConfigDict(frozen=True)

    signal_id: uuid.UUID
    dedupe_key: str
    strategy_id: str
    alert: Alert
    received_at: datetime
    #: The strategy's settings (StrategyConfig JSON) as the webhook read them from SSM.
    settings: str | None = None

    @property
    def symbol(self) -> str:
        return self.alert.ticker

    @property
    def message_group(self) -> str:
        """FIFO group: one strategy (account) and symbol, so an entry and its exit keep order."""
        return f"{self.strategy_id}:{self.alert.ticker}"


def signal_key(strategy_id: str, alert: Alert, received_at: datetime) -> str:
    """The natural key of an alert: SHA-256 (hex) of the strategy, the normalised alert and
    its time — the alert's own ``time`` when it has one, else the received time floored to
    :data:`UNTIMED_DEDUPE_SECONDS`. Two deliveries of one alert share a key."""
    when = alert.time or datetime.fromtimestamp(
        received_at.timestamp() // UNTIMED_DEDUPE_SECONDS * UNTIMED_DEDUPE_SECONDS, received_at.tzinfo
    )
    content = alert.model_copy(update={"time": when}).model_dump_json()
    return hashlib.sha256(f"{strategy_id}\n{content}".encode()).hexdigest()


def new_signal(strategy_id: str, alert: Alert, received_at: datetime, settings: str | None = None) -> Signal:
    """Build the Signal for ``alert``; its ``signal_id`` is derived from the key, so a repeated
    alert gets the same id."""
    key = signal_key(strategy_id, alert, received_at)
    return Signal(signal_id=uuid.UUID(key[:32]), dedupe_key=key, strategy_id=strategy_id, alert=alert,
                  received_at=received_at, settings=settings)


def intent_of(alert: Alert, allow_short: bool) -> Intent:
    """What the alert asks for, in TradersPost's reading of action + sentiment:

    * ``exit`` / ``close``, or any action with sentiment ``flat``: close the position;
    * ``buy``: go long (closing a short first);
    * ``sell`` with sentiment ``short``, or bare ``sell`` when shorts are allowed: go short;
      a bare ``sell`` in a long-only strategy closes the long.
    """
    if alert.action == "exit" or alert.sentiment == "flat":
        return "exit"
    if alert.action == "buy":
        return "enter_long"
    if alert.sentiment == "short" or (allow_short and alert.sentiment is None):
        return "enter_short"
    return "exit"
