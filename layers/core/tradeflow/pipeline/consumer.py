"""What every SQS consumer does with one record, in one place: parse it, run its step, and
sort a failure with :func:`tradeflow.domain.errors.classify`.

- success: the record is acknowledged (the batch processor deletes it);
- permanent error (the body is malformed, or names a strategy, signal or order that does not
  exist): recorded in ``rejected_messages`` with its reason, the trader told (a
  ``message_rejected`` notification; not for the notifications queue itself), and the record
  acknowledged, so neither it nor the valid messages behind it in its FIFO group retry or
  reach the dead-letter queue;
- retryable error (a lost connection, a paused database, a throttle, a lock timeout): the
  record's visibility timeout is set to :func:`retry_delay` of its receive count (SQS
  ChangeMessageVisibility), and the error raised so the processor reports it as a batch item
  failure. Delays grow 30 s, 60 s, 120 s, 240 s, 480 s over the queue's receives, so a
  database that comes back within minutes loses nothing; the dead-letter queue is left for
  what stays broken for longer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import BaseModel

from tradeflow import clock
from tradeflow.adapters import aws, store
from tradeflow.adapters.db import get_connection
from tradeflow.domain.errors import classify, reason_of
from tradeflow.domain.messages import NotificationEvent
from tradeflow.settings import DatabaseEnv

logger = Logger()

#: Seconds before the first retry, doubled on each receive, at most :data:`MAX_RETRY_DELAY`.
FIRST_RETRY_DELAY = 30
#: SQS's largest visibility timeout is 12 hours; tradeflow stops growing at 15 minutes.
MAX_RETRY_DELAY = 900


def retry_delay(receive_count: int) -> int:
    """Seconds a record stays invisible after its ``receive_count``-th receive failed with a
    retryable error: 30 x 2^(n-1), capped at :data:`MAX_RETRY_DELAY`."""
    return min(FIRST_RETRY_DELAY * 2 ** max(0, receive_count - 1), MAX_RETRY_DELAY)


@dataclass(frozen=True)
class Consumer:
    """The consumer of ``queue`` (a name from :mod:`tradeflow.names`): records parsed as
    ``model``; ``settings()`` gives the function's environment (its database, and its
    ``notifications_queue_url`` where it has one); ``notify`` is False for the notifier."""

    queue: str
    model: type[BaseModel]
    settings: Callable[[], DatabaseEnv]
    notify: bool = True

    def __call__(self, record: SQSRecord, step: Callable[[Any, Any, Any], Any]) -> Any:
        """Run ``step(message, connection, settings)`` on the record; see the module docstring.
        Returns what the step returned, or None for a rejected record."""
        message = None
        try:
            message = self.model.model_validate_json(record.body)
            settings = self.settings()
            return step(message, get_connection(settings), settings)
        except Exception as exc:
            if classify(exc) == "retryable":
                self._postpone(record, exc)
                raise
            self._reject(record, message, reason_of(exc))
            return None

    def _postpone(self, record: SQSRecord, exc: Exception) -> None:
        count = int(record.attributes.approximate_receive_count or 1)
        delay = retry_delay(count)
        logger.warning("retryable failure; the message returns to its queue", queue=self.queue,
                       message_id=record.message_id, receive_count=count, retry_in_seconds=delay,
                       error=type(exc).__name__)
        try:
            aws.change_visibility(record.queue_url, record.receipt_handle, delay)
        except aws.DeliveryError:
            pass  # it comes back after the queue's own visibility timeout instead

    def _reject(self, record: SQSRecord, message: BaseModel | None, reason: str) -> None:
        strategy_id = getattr(message, "strategy_id", None) or _strategy_in(record.body)
        key = record.attributes.message_deduplication_id or record.message_id
        settings = self.settings()
        conn = get_connection(settings)
        store.record_rejected_message(conn, self.queue, key, strategy_id, record.body, reason, clock.now())
        logger.error("message rejected: it can never succeed", queue=self.queue, message_id=record.message_id,
                     strategy_id=strategy_id, reason=reason)
        if self.notify:
            aws.send(settings.notifications_queue_url, NotificationEvent(
                key=f"message_rejected:{self.queue}:{key}"[:500], kind="message_rejected",
                strategy_id=strategy_id or "unknown",
                facts={"queue": self.queue, "reason": reason, "symbol": getattr(message, "symbol", None)},
            ))


def _strategy_in(body: str) -> str | None:
    """The ``strategy_id`` a body names, if it is JSON and names one."""
    try:
        value = json.loads(body).get("strategy_id")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and value.isprintable() else None
