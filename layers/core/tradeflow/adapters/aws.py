"""AWS clients (SQS, SNS, SSM), created on first use and kept for warm invocations.

SDK errors are re-raised as :class:`DeliveryError` so that callers deal in domain terms.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel


class DeliveryError(RuntimeError):
    """A message could not be handed to SQS or SNS; worth retrying."""


@cache
def client(service: str) -> Any:
    """A boto3 client for ``service`` (imported lazily: boto3 costs ~100 ms to import)."""
    import boto3

    return boto3.client(service)


def send(queue_url: str, message: BaseModel, group: str | None = None, dedupe_id: str | None = None) -> None:
    """Send ``message`` (as JSON) to an SQS queue; FIFO queues need ``group`` and ``dedupe_id``."""
    kwargs: dict[str, Any] = {"QueueUrl": queue_url, "MessageBody": message.model_dump_json()}
    if group is not None:
        kwargs |= {"MessageGroupId": group, "MessageDeduplicationId": dedupe_id or ""}
    try:
        client("sqs").send_message(**kwargs)
    except Exception as exc:  # botocore.exceptions.* — botocore is not imported here on purpose
        raise DeliveryError(f"could not send to {queue_url.rsplit('/', 1)[-1]}: {exc}") from exc


def publish(topic_arn: str, subject: str, message: str) -> None:
    """Publish to an SNS topic (email subscribers see ``subject``, at most 100 characters)."""
    try:
        client("sns").publish(TopicArn=topic_arn, Subject=subject[:100], Message=message)
    except Exception as exc:
        raise DeliveryError(f"could not publish to {topic_arn.rsplit(':', 1)[-1]}: {exc}") from exc


def send_sms(topic_arn: str, message: str) -> None:
    """Text ``message`` to the SMS subscriptions of the SNS topic ``topic_arn`` (the urgent
    topic), as a transactional SMS so it is not throttled as marketing (SNS attribute
    ``AWS.SNS.SMS.SMSType``). Raises :class:`DeliveryError`."""
    try:
        client("sns").publish(
            TopicArn=topic_arn,
            Message=message,
            MessageAttributes={"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}},
        )
    except Exception as exc:
        raise DeliveryError(f"could not send an SMS: {exc}") from exc
