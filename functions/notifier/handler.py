"""notifier Lambda: the notifications queue -> SNS email topic and SMS; and, on the 16:30
America/New_York schedule ({"summary": "daily"}), each strategy's daily summary."""

from typing import Literal

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from pydantic import BaseModel
from tradeflow import names
from tradeflow.adapters.aws import DeliveryError
from tradeflow.adapters.db import get_connection
from tradeflow.domain.messages import NotificationEvent
from tradeflow.pipeline import notifier
from tradeflow.pipeline.consumer import Consumer
from tradeflow.settings import NotifierEnv, env

logger, metrics, tracer = Logger(), Metrics(), Tracer()


class DailySummaryInvocation(BaseModel):
    summary: Literal["daily"]


processor = BatchProcessor(event_type=EventType.SQS)
consume = Consumer(names.NOTIFICATIONS_QUEUE, NotificationEvent, lambda: env(NotifierEnv), notify=False)


def step(event: NotificationEvent, conn, settings: NotifierEnv) -> None:
    try:
        sent = notifier.deliver(event, conn, settings)
    except DeliveryError:
        metrics.add_metric(name="NotificationsFailed", unit=MetricUnit.Count, value=1)
        raise
    metrics.add_metric(name="NotificationsSent", unit=MetricUnit.Count, value=int(sent))


def record_handler(record) -> None:
    consume(record, step)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event, context):
    settings = env(NotifierEnv)
    if "Records" in event:
        return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    DailySummaryInvocation.model_validate(event)
    sent = notifier.daily_summary(get_connection(settings), settings)
    metrics.add_metric(name="NotificationsSent", unit=MetricUnit.Count, value=sent)
    return {"summaries": sent}
