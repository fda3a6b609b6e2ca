"""The webhook step: authenticate, validate and normalise an alert, and queue it as a Signal.

It touches no database: its only dependency is SQS (and SSM for the strategy's secret), so
an alert is never lost while the database is down.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime

from tradeflow.domain.alerts import normalise, read_body
from tradeflow.domain.signals import Signal, new_signal
from tradeflow.domain.strategy import STRATEGY_ID


class Unauthorized(Exception):
    """Missing or wrong webhook secret (HTTP 401). The message never echoes the secret."""


class UnknownStrategy(Exception):
    """The credential names a strategy that is not registered (HTTP 400)."""


def authenticate(credential: str | None, lookup: Callable[[str], str | None]) -> str:
    """The strategy id for ``credential`` (``<strategy>.<secret>``, from the URL path or the
    ``passphrase`` field), compared in constant time with the stored secret."""
    if not credential:
        raise Unauthorized(
            "missing webhook secret: post to /webhook/<strategy>.<secret> or add \"passphrase\": "
            "\"<strategy>.<secret>\" to the alert message (tradeflow strategy add prints both)"
        )
    strategy_id, _, secret = str(credential).partition(".")
    if not STRATEGY_ID.match(strategy_id) or not secret:
        raise Unauthorized("wrong webhook secret: expected <strategy>.<secret> as printed by tradeflow strategy add")
    stored = lookup(strategy_id)
    if stored is None:
        raise UnknownStrategy(f"unknown strategy {strategy_id!r}: register it with tradeflow strategy add {strategy_id}")
    if not hmac.compare_digest(secret.encode(), stored.encode()):
        raise Unauthorized("wrong webhook secret: copy it again from tradeflow strategy add")
    return strategy_id


def accept(
    body: str,
    token: str | None,
    received_at: datetime,
    lookup: Callable[[str], str | None],
    enqueue: Callable[[Signal], None],
    settings: Callable[[str], str | None] = lambda strategy_id: None,
) -> Signal:
    """Turn one webhook request into a queued Signal.

    ``token`` is the URL path credential, if any; ``lookup`` gives a strategy's secret and
    ``settings`` its settings JSON (both from SSM in AWS), which travel with the signal.
    Raises AlertError (400), UnknownStrategy (400) or Unauthorized (401); a queue failure
    propagates (the caller answers 503 so that TradingView retries).
    """
    strategy_id = authenticate(token, lookup) if token else None
    fields = read_body(body)
    if strategy_id is None:
        strategy_id = authenticate(fields.get("passphrase"), lookup)
    signal = new_signal(strategy_id, normalise(fields), received_at, settings(strategy_id))
    enqueue(signal)
    return signal
