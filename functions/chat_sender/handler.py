"""chat_sender Lambda (outside the VPC, no database): each record of the chat topic (SNS) is
one message for one chat channel (tradeflow.adapters.chat.ChatMessage), posted to Telegram,
Discord or Slack with the channel's credentials from SSM. A failure raises: Lambda's
asynchronous retries post that one message again (never the other channels'), and after the
last one the event goes to the chat dead-letter queue, which alarms."""

import time
from functools import lru_cache

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from tradeflow.adapters import chat
from tradeflow.domain.errors import Permanent

logger, metrics = Logger(), Metrics()


@lru_cache
def http():
    """This container's HTTP client, kept warm."""
    return chat.http_client()


def send(message: chat.ChatMessage) -> None:
    """Post one message with its channel's stored credentials; raises Permanent when none are stored."""
    found = chat.credentials(message.channel)
    if found is None:
        raise Permanent(f"no {message.channel} credentials: run tradeflow notify set-chat {message.channel} --aws")
    chat.post(http(), message.channel, found, message.text, sleep=time.sleep)


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event, context):
    records = event.get("Records", [])
    for record in records:
        message = chat.ChatMessage.model_validate_json(record["Sns"]["Message"])
        try:
            send(message)
        except Exception as exc:
            metrics.add_metric(name="ChatFailed", unit=MetricUnit.Count, value=1)
            logger.error("chat message not posted", channel=message.channel, key=message.key, error=str(exc))
            raise
        metrics.add_metric(name="ChatSent", unit=MetricUnit.Count, value=1)
        logger.info("chat message posted", channel=message.channel, key=message.key)
    return {"sent": len(records)}
