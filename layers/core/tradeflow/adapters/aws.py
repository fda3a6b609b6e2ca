"""AWS clients (SQS, SNS, SSM, S3, Secrets Manager), created on first use and kept for warm
invocations, configured for functions whose only way out is IPv6.

Every client connects within :data:`CONNECT_TIMEOUT` seconds or gives up (botocore's default
is 60 s), retries in botocore's ``standard`` mode at most :data:`MAX_ATTEMPTS` times, and
follows the SDK's ``use_dualstack_endpoint`` setting (``AWS_USE_DUALSTACK_ENDPOINT=true``, set by
the CDK app with IPv6 egress): endpoints with IPv6 addresses (``sqs.<region>.api.aws``, ...).
With it on, connections are made over IPv6 only (:func:`prefer_ipv6`): in a VPC without an
IPv4 way out an IPv4 attempt would hang until the connect timeout, on every new connection.

SDK errors are re-raised as :class:`DeliveryError` so that callers deal in domain terms.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel


class DeliveryError(RuntimeError):
    """A message could not be handed to SQS or SNS; worth retrying."""


#: Seconds to open a connection (TCP and TLS) before an attempt fails; in-region it takes milliseconds.
CONNECT_TIMEOUT = 2
#: Seconds to wait for a response once connected (no call here long-polls).
READ_TIMEOUT = 10
#: Attempts per call, the first included (botocore "standard" retry mode: throttles and
#: transient errors, with exponential backoff).
MAX_ATTEMPTS = 3


def config() -> Any:
    """The botocore ``Config`` every client is made with (see the module docstring)."""
    from botocore.config import Config

    return Config(connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT,
                  retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS})


@cache
def client(service: str) -> Any:
    """A boto3 client for ``service`` with :func:`config` (boto3 is imported lazily: ~100 ms)."""
    import boto3
    import botocore.session

    if botocore.session.get_session().get_config_variable("use_dualstack_endpoint"):
        prefer_ipv6()
    return boto3.client(service, config=config())


def prefer_ipv6() -> None:
    """Make urllib3 (botocore's HTTP client) resolve names to IPv6 addresses only, for this
    process: the dual-stack endpoints have both, and an IPv4 attempt has no route out of the
    VPC. urllib3's own hook for the address family (``urllib3.util.connection.allowed_gai_family``)."""
    import socket

    import urllib3.util.connection

    urllib3.util.connection.allowed_gai_family = lambda: socket.AF_INET6


def send(queue_url: str, message: BaseModel, group: str | None = None, dedupe_id: str | None = None) -> None:
    """Send ``message`` (as JSON) to an SQS queue; FIFO queues need ``group`` and ``dedupe_id``."""
    kwargs: dict[str, Any] = {"QueueUrl": queue_url, "MessageBody": message.model_dump_json()}
    if group is not None:
        kwargs |= {"MessageGroupId": group, "MessageDeduplicationId": dedupe_id or ""}
    try:
        client("sqs").send_message(**kwargs)
    except Exception as exc:  # botocore.exceptions.* — botocore is not imported here on purpose
        raise DeliveryError(f"could not send to {queue_url.rsplit('/', 1)[-1]}: {exc}") from exc


def send_later(queue_url: str, message: BaseModel, delay_seconds: int) -> None:
    """Send ``message`` (as JSON) to a standard SQS queue, invisible for ``delay_seconds``
    (0-900, SQS DelaySeconds). Raises :class:`DeliveryError`."""
    try:
        client("sqs").send_message(QueueUrl=queue_url, MessageBody=message.model_dump_json(),
                                   DelaySeconds=delay_seconds)
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


def secret_json(secret_arn: str) -> Any:
    """A Secrets Manager secret's JSON value, fetched with this module's client (powertools'
    ``SecretsProvider``, which caches it for 5 minutes)."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return _secrets_provider(SecretsProvider).get(secret_arn, transform="json")


@cache
def _secrets_provider(provider: Any) -> Any:
    return provider(boto3_client=client("secretsmanager"))


def change_visibility(queue_url: str, receipt_handle: str, seconds: int) -> None:
    """Keep a received message invisible for ``seconds`` more (SQS ChangeMessageVisibility),
    so that it is received again only after that delay."""
    try:
        client("sqs").change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt_handle,
                                                VisibilityTimeout=seconds)
    except Exception as exc:
        raise DeliveryError(f"could not delay a message on {queue_url.rsplit('/', 1)[-1]}: {exc}") from exc
