"""Dead-letter queues: list what waits in them, and replay it to the queue it came from.

Works on any boto3 SQS client (real SQS, or moto in the local stack). A redrive sends each
dead-lettered message back to its source queue with its body, its FIFO group and a
deduplication id of its own (``<original>:redrive:<message id>``), then deletes it from the
dead-letter queue: run twice (or after a crash between the send and the delete), SQS drops
the second copy within its 5-minute deduplication interval, and every consumer is idempotent
through natural keys in any case, so a message is replayed once. (The original deduplication
id cannot be reused: within 5 minutes of the first send SQS would drop the replay.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tradeflow import names

#: How long a listed message stays hidden from another reader (seconds).
PEEK_VISIBILITY = 30


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered message: its queue of origin, id, FIFO group, receives, and body."""

    source: str
    message_id: str
    group: str | None
    receives: int
    body: str


def queue_url(sqs: Any, name: str) -> str:
    return sqs.get_queue_url(QueueName=name)["QueueUrl"]


def _receive(sqs: Any, url: str, visibility: int) -> list[dict]:
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"],
                               VisibilityTimeout=visibility, WaitTimeSeconds=0).get("Messages", [])


def show(sqs: Any, limit: int = 100) -> list[DeadLetter]:
    """Up to ``limit`` messages from every dead-letter queue; they are left in place (each
    made visible again once read). A FIFO group of more than 10 messages shows its first 10."""
    out: list[DeadLetter] = []
    for source in names.QUEUE_CONSUMERS:
        url = queue_url(sqs, names.dead_letter_queue(source))
        received: list[dict] = []
        while len(out) < limit and (batch := _receive(sqs, url, PEEK_VISIBILITY)):
            received += batch
            for m in batch:
                attributes = m.get("Attributes", {})
                out.append(DeadLetter(source, m["MessageId"], attributes.get("MessageGroupId"),
                                      int(attributes.get("ApproximateReceiveCount", 0)), m["Body"]))
        for start in range(0, len(received), 10):
            sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for n, m in enumerate(received[start:start + 10])])
    return out[:limit]


def redrive(sqs: Any, sources: tuple[str, ...] | None = None) -> dict[str, int]:
    """Move every message of the dead-letter queues of ``sources`` (default: all) back to its
    source queue; returns how many were moved per source queue."""
    moved: dict[str, int] = {}
    for source in sources or tuple(names.QUEUE_CONSUMERS):
        dlq_url, source_url = queue_url(sqs, names.dead_letter_queue(source)), queue_url(sqs, source)
        moved[source] = 0
        while batch := _receive(sqs, dlq_url, PEEK_VISIBILITY):
            for m in batch:
                attributes = m.get("Attributes", {})
                kwargs: dict[str, Any] = {"QueueUrl": source_url, "MessageBody": m["Body"]}
                if source.endswith(".fifo"):
                    original = attributes.get("MessageDeduplicationId") or m["MessageId"]
                    kwargs |= {"MessageGroupId": attributes.get("MessageGroupId", "redrive"),
                               "MessageDeduplicationId": f"{original}:redrive:{m['MessageId']}"[-128:]}
                sqs.send_message(**kwargs)
                sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=m["ReceiptHandle"])
                moved[source] += 1
    return moved
