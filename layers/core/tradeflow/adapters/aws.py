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


def send_sms(phone_number: str, message: str) -> None:
    """Send an SMS through SNS to an E.164 number (transactional, so it is not throttled as marketing)."""
    try:
        client("sns").publish(
            PhoneNumber=phone_number,
            Message=message,
            MessageAttributes={"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}},
        )
    except Exception as exc:
        raise DeliveryError(f"could not send an SMS: {exc}") from exc


def change_visibility(queue_url: str, receipt_handle: str, seconds: int) -> None:
    """Keep a received message invisible for ``seconds`` more (SQS ChangeMessageVisibility),
    so that it is received again only after that delay."""
    try:
        client("sqs").change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt_handle,
                                                VisibilityTimeout=seconds)
    except Exception as exc:
        raise DeliveryError(f"could not delay a message on {queue_url.rsplit('/', 1)[-1]}: {exc}") from exc
