"""SQS in memory, on the replay clock: the fast transport of :class:`~tradeflow.local.stack.FastLocalStack`.

moto answers each SQS call in about 7 ms, which dominates a run of a few alerts; this model
answers in microseconds and keeps the semantics the pipeline relies on (Amazon SQS Developer
Guide: "FIFO queue delivery logic", "Visibility timeout", "Using dead-letter queues"):

- a FIFO queue returns a group's messages in the order sent, and none of a group while one of
  it is in flight; a message is dropped when its deduplication id was sent in the last 5
  minutes; a standard queue returns in any order;
- a received message is invisible for the queue's visibility timeout (or what
  ChangeMessageVisibility set), then visible again with its receive count kept;
- a message received more than ``max_receive_count`` times moves to the dead-letter queue at
  that receive, as SQS's redrive policy does.

Times are the tradeflow clock's, so a visibility timeout of 5 minutes costs no wall time in a
replay. ``order`` decides which of the visible groups a receive takes first (``random.Random``
for reordering across groups; in sequence by default).
"""

from __future__ import annotations

import hashlib
import itertools
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tradeflow import clock

#: SQS FIFO's deduplication interval.
DEDUPE_SECONDS = 300


@dataclass
class Message:
    """One message: its id, body, FIFO group and deduplication id, receive count, the time
    it becomes visible, and its current receipt handle (None while visible)."""

    message_id: str
    body: str
    group: str | None
    dedupe_id: str | None
    sent_at: datetime
    seq: int
    receives: int = 0
    visible_at: datetime | None = None
    receipt: str | None = None
    source: str | None = None  # the queue it was dead-lettered from

    def as_sqs(self) -> dict:
        """The message as boto3's ``receive_message`` returns it (attributes included)."""
        attributes = {"ApproximateReceiveCount": str(self.receives),
                      "SentTimestamp": str(int(self.sent_at.timestamp() * 1000)),
                      "ApproximateFirstReceiveTimestamp": str(int(self.sent_at.timestamp() * 1000))}
        if self.group is not None:
            attributes |= {"MessageGroupId": self.group, "MessageDeduplicationId": self.dedupe_id or "",
                           "SequenceNumber": str(self.seq)}
        return {"MessageId": self.message_id, "ReceiptHandle": self.receipt, "Body": self.body,
                "MD5OfBody": hashlib.md5(self.body.encode()).hexdigest(), "Attributes": attributes}


@dataclass
class Queue:
    """One queue; ``dead_letter`` is its dead-letter queue's name (None for a DLQ)."""

    name: str
    visibility_seconds: int
    dead_letter: str | None = None
    max_receive_count: int = 5
    messages: list[Message] = field(default_factory=list)
    sent_ids: dict[str, datetime] = field(default_factory=dict)

    @property
    def fifo(self) -> bool:
        return self.name.endswith(".fifo")


class MemoryQueues:
    """The queues by name; queue URLs end in the queue's name, as SQS's do."""

    def __init__(self, order: random.Random | None = None) -> None:
        self.queues: dict[str, Queue] = {}
        self.order = order
        self._seq = itertools.count(1)

    def create(self, name: str, visibility_seconds: int = 30, dead_letter: str | None = None,
               max_receive_count: int = 5) -> str:
        """Create a queue (idempotent); returns its URL."""
        self.queues.setdefault(name, Queue(name, visibility_seconds, dead_letter, max_receive_count))
        return self.url(name)

    @staticmethod
    def url(name: str) -> str:
        return f"memory://sqs/{name}"

    def _queue(self, url: str) -> Queue:
        return self.queues[url.rsplit("/", 1)[-1]]

    def send(self, url: str, body: str, group: str | None = None, dedupe_id: str | None = None) -> str | None:
        """Send a message; returns its id, or None when a FIFO queue dropped it as a duplicate."""
        queue, now = self._queue(url), clock.now()
        if queue.fifo:
            if group is None or not dedupe_id:
                raise ValueError(f"{queue.name} is FIFO: a message needs a group and a deduplication id")
            seen = queue.sent_ids.get(dedupe_id)
            if seen is not None and (now - seen).total_seconds() < DEDUPE_SECONDS:
                return None
            queue.sent_ids[dedupe_id] = now
        message = Message(str(uuid.uuid4()), body, group, dedupe_id, now, next(self._seq))
        queue.messages.append(message)
        return message.message_id

    def _visible(self, message: Message, now: datetime) -> bool:
        return message.visible_at is None or message.visible_at <= now

    def receive(self, url: str, max_messages: int = 10) -> list[dict]:
        """Receive up to ``max_messages``, moving those past their receive limit to the DLQ."""
        queue, now = self._queue(url), clock.now()
        for message in queue.messages:
            if message.receipt is not None and self._visible(message, now):
                message.receipt = None  # its visibility timeout ran out
        if queue.fifo:
            busy = {m.group for m in queue.messages if m.receipt is not None}
            groups: dict[str, list[Message]] = {}
            for message in queue.messages:
                if message.group not in busy:
                    groups.setdefault(message.group, []).append(message)
            names = list(groups)
            if self.order is not None:
                self.order.shuffle(names)
            candidates = [m for name in names for m in groups[name]]
        else:
            candidates = [m for m in queue.messages if m.receipt is None]
            if self.order is not None:
                self.order.shuffle(candidates)
        taken: list[Message] = []
        for message in candidates:
            if len(taken) == max_messages:
                break
            if message.receives >= queue.max_receive_count and queue.dead_letter:
                queue.messages.remove(message)
                message.source, message.visible_at = queue.name, None
                self.queues[queue.dead_letter].messages.append(message)
                continue
            message.receives += 1
            message.receipt = uuid.uuid4().hex
            message.visible_at = now + timedelta(seconds=queue.visibility_seconds)
            taken.append(message)
        return [m.as_sqs() for m in taken]

    def _by_receipt(self, url: str, receipt: str) -> Message | None:
        return next((m for m in self._queue(url).messages if m.receipt == receipt), None)

    def delete(self, url: str, receipt: str) -> None:
        """Delete a received message (a stale receipt handle deletes nothing)."""
        message = self._by_receipt(url, receipt)
        if message is not None:
            self._queue(url).messages.remove(message)

    def change_visibility(self, url: str, receipt: str, seconds: int) -> None:
        """Make a received message visible ``seconds`` from now."""
        message = self._by_receipt(url, receipt)
        if message is not None:
            message.visible_at = clock.now() + timedelta(seconds=seconds)
            if seconds == 0:
                message.receipt = None

    def depth(self, name: str) -> int:
        """Messages in the queue, visible or in flight."""
        return len(self.queues[name].messages)

    def next_visible_at(self, name: str) -> datetime | None:
        """When a receive of ``name`` can next return something, if only in-flight messages
        hold it back: the earliest visibility timeout, or on a FIFO queue the earliest time a
        group has no message in flight any more (the last of its visibility timeouts)."""
        now = clock.now()
        queue = self.queues[name]
        flying = [m for m in queue.messages if m.receipt is not None and not self._visible(m, now)]
        if not flying:
            return None
        if not queue.fifo:
            return min(m.visible_at for m in flying)
        free: dict[str | None, datetime] = {}
        for m in flying:
            free[m.group] = max(free.get(m.group, m.visible_at), m.visible_at)
        return min(free.values())

    def has_visible(self, name: str) -> bool:
        now = clock.now()
        queue = self.queues[name]
        if not queue.fifo:
            return any(m.receipt is None or self._visible(m, now) for m in queue.messages)
        busy = {m.group for m in queue.messages if m.receipt is not None and not self._visible(m, now)}
        return any(m.group not in busy for m in queue.messages)
