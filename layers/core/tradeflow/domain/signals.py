"""Signals: an authenticated alert with its identity (key and id) and its trading intent."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from tradeflow.domain.alerts import Alert

Intent = Literal["enter_long", "enter_short", "exit", "reduce", "cancel"]

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
    #: The webhook body as received, every secret replaced by the replay's placeholder (None
    #: from a webhook that did not carry it); kept so the alert can be exported and replayed.
    raw_body: str | None = None
    #: The URL path token it was posted to, redacted likewise ("" for /webhook; None for a
    #: signed alert, whose signature cannot be replayed).
    raw_path: str | None = None

    @property
    def symbol(self) -> str:
        return self.alert.ticker

    @property
    def message_group(self) -> str:
        """FIFO group: one strategy (account) and symbol, so an entry and its exit keep order."""
        return f"{self.strategy_id}:{self.alert.ticker}"


def signal_key(strategy_id: str, alert: Alert, received_at: datetime) -> str:
    """The natural key of an alert, SHA-256 (hex). Two alerts are *the same alert* when all of
    these are equal:

    * the strategy (``strategy_id``: the webhook token or passphrase it authenticated with);
    * the normalised content: every :class:`Alert` field (ticker, exchange, action, sentiment,
      quantity, prices, order type, time in force, stop-loss, take-profits, trailing stop,
      reverse, target position, comment, ...) after normalisation, so field-name synonyms,
      key case, quoted or bare numbers and ``1`` / ``1.0`` / ``1E+0`` make no difference, and
      fields that do not enter the Alert (``passphrase``, the bar's OHLCV, unknown keys) are
      ignored;
    * the time: the alert's own ``time`` (``{{timenow}}``) when it has one, else the arrival
      time floored to :data:`UNTIMED_DEDUPE_SECONDS` (the arrival minute).

    So TradingView's retries and an alert duplicated by accident collapse into one signal,
    while the same template firing at another time is a new signal. An untimed alert sent
    twice across a minute boundary gets two keys; the risk module's dedupe window catches it.
    """
    when = alert.time or datetime.fromtimestamp(
        received_at.timestamp() // UNTIMED_DEDUPE_SECONDS * UNTIMED_DEDUPE_SECONDS, received_at.tzinfo
    )
    content = _canonical(alert.model_copy(update={"time": when}).model_dump(mode="python"))
    return hashlib.sha256(f"{strategy_id}\n{json.dumps(content, sort_keys=True)}".encode()).hexdigest()


def _canonical(value: Any) -> Any:
    """JSON-ready form with one spelling per number: Decimals as their normalised string."""
    if isinstance(value, Decimal):
        return str(value.normalize() + 0)
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value


def new_signal(strategy_id: str, alert: Alert, received_at: datetime, settings: str | None = None) -> Signal:
    """Build the Signal for ``alert``; its ``signal_id`` is derived from the key, so a repeated
    alert gets the same id."""
    key = signal_key(strategy_id, alert, received_at)
    return Signal(signal_id=uuid.UUID(key[:32]), dedupe_key=key, strategy_id=strategy_id, alert=alert,
                  received_at=received_at, settings=settings)


def intent_of(alert: Alert, allow_short: bool | None = None) -> Intent:
    """What the alert asks for, first rule that applies. ``allow_short`` is the strategy's
    setting: None follows the alert, True also reads a bare ``sell`` as a short entry, False
    never goes short.

    0. ``cancel``: cancel the symbol's entry orders not yet filled (a position stays open);
    1. a target position (``position_size``, from ``{{strategy.position_size}}``) decides:
       0 -> ``exit``; > 0 -> ``enter_long``, or ``reduce`` when the order is a sell or exit
       (a long scaled down to the target); < 0 -> ``enter_short``, or ``reduce`` when the
       order is a buy or exit (a short covered down to the target); a short target when
       ``allow_short`` is False -> ``exit`` (the target cannot be reached, flat is nearest);
    2. ``exit`` / ``close``: ``exit``;
    3. ``reverse`` on a buy -> ``enter_long``, on a sell -> ``enter_short`` (``exit`` when
       ``allow_short`` is False); the risk module closes the opposite position first;
    4. then TradersPost's reading of action + sentiment (``{{strategy.market_position}}``):
       sentiment ``flat`` -> ``exit``; ``buy`` -> ``enter_long`` (closing a short first);
       ``sell`` with sentiment ``short`` -> ``enter_short`` (the risk gate refuses it when
       ``allow_short`` is False, saying so); a bare ``sell`` -> ``enter_short`` only when
       ``allow_short`` is True, else ``exit`` (as ``sell`` with sentiment ``long``).
    """
    if alert.action == "cancel":
        return "cancel"
    if alert.position_size is not None:
        if alert.position_size > 0:
            return "reduce" if alert.action in ("sell", "exit") else "enter_long"
        if alert.position_size < 0 and allow_short is not False:
            return "reduce" if alert.action in ("buy", "exit") else "enter_short"
        return "exit"
    if alert.action == "exit":
        return "exit"
    if alert.reverse:
        if alert.action == "buy":
            return "enter_long"
        return "exit" if allow_short is False else "enter_short"
    if alert.sentiment == "flat":
        return "exit"
    if alert.action == "buy":
        return "enter_long"
    if alert.sentiment == "short" or (allow_short is True and alert.sentiment is None):
        return "enter_short"
    return "exit"
