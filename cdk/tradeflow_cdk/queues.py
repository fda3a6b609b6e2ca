"""The pipeline's SQS queues, each with a dead-letter queue, SQS-managed encryption and TLS only.

FIFO queues (signals, orders, executions) keep an entry and its exit in order within a
message group (one account and symbol); the core supplies the deduplication id (the
signal's own key), so content-based deduplication is off.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from tradeflow import names

#: A queue's visibility timeout is 6x its consumer's timeout (AWS guidance for Lambda
#: event source mappings), so a slow batch is never handed to a second consumer.
VISIBILITY_PER_TIMEOUT = 6


class Queues(Construct):
    """``by_name[queue name]`` and ``dead_letters[queue name]`` for every queue in
    :data:`tradeflow.names.QUEUE_CONSUMERS`."""

    def __init__(self, scope: Construct, id: str, *, consumer_timeouts: dict[str, Duration]) -> None:
        super().__init__(scope, id)
        self.by_name: dict[str, sqs.Queue] = {}
        self.dead_letters: dict[str, sqs.Queue] = {}
        for queue_name, consumer in names.QUEUE_CONSUMERS.items():
            fifo = queue_name.endswith(".fifo")
            construct_id = queue_name.removeprefix(f"{names.APP}-").removesuffix(".fifo").capitalize()
            dead_letter = sqs.Queue(
                self,
                f"{construct_id}Dlq",
                queue_name=names.dead_letter_queue(queue_name),
                fifo=fifo or None,
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                retention_period=Duration.days(14),
            )
            timeout = consumer_timeouts[consumer]
            queue = sqs.Queue(
                self,
                construct_id,
                queue_name=queue_name,
                fifo=fifo or None,
                content_based_deduplication=False if fifo else None,
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                retention_period=Duration.days(4),
                visibility_timeout=Duration.seconds(timeout.to_seconds() * VISIBILITY_PER_TIMEOUT),
                dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letter, max_receive_count=names.MAX_RECEIVE_COUNT),
            )
            self.by_name[queue_name] = queue
            self.dead_letters[queue_name] = dead_letter

    @property
    def signals(self) -> sqs.Queue:
        return self.by_name[names.SIGNALS_QUEUE]

    @property
    def orders(self) -> sqs.Queue:
        return self.by_name[names.ORDERS_QUEUE]

    @property
    def executions(self) -> sqs.Queue:
        return self.by_name[names.EXECUTIONS_QUEUE]

    @property
    def notifications(self) -> sqs.Queue:
        return self.by_name[names.NOTIFICATIONS_QUEUE]
