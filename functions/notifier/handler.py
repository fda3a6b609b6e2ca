"""notifier Lambda: the notifications queue -> SNS email topic, SMS and the chat topic, each
channel on its own, bursts merged (a burst's timer, {"flush": time}, arrives on the same queue
with a delay); on the 16:30 America/New_York schedule ({"summary": "daily"}) the account's daily
summary, and on the Friday 16:45 schedule ({"summary": "weekly"}) each strategy's weekly digest."""

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


class SummaryInvocation(BaseModel):
    summary: Literal["daily", "weekly"]


processor = BatchProcessor(event_type=EventType.SQS)
consume = Consumer(names.NOTIFICATIONS_QUEUE, NotificationEvent, lambda: env(NotifierEnv), notify=False)
consume_flush = Consumer(names.NOTIFICATIONS_QUEUE, notifier.FlushRequest, lambda: env(NotifierEnv), notify=False)


def step(event: NotificationEvent, conn, settings: NotifierEnv, receive_count: int = 1) -> None:
    try:
        sent = notifier.deliver(event, conn, settings, receive_count)
    except DeliveryError:
        metrics.add_metric(name="NotificationsFailed", unit=MetricUnit.Count, value=1)
        raise
    metrics.add_metric(name="NotificationsSent", unit=MetricUnit.Count, value=int(sent))


def flush_step(request: notifier.FlushRequest, conn, settings: NotifierEnv) -> None:
    sent = notifier.flush_step(request, conn, settings)
    metrics.add_metric(name="NotificationsSent", unit=MetricUnit.Count, value=sent)


def record_handler(record) -> None:
    if record.body.startswith('{"flush"'):
        consume_flush(record, flush_step)
    else:  # the receive count tells a redelivery after a crash (notifier.deliver)
        count = int(record.attributes.approximate_receive_count or 1)
        consume(record, lambda event, conn, settings: step(event, conn, settings, count))


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event, context):
    settings = env(NotifierEnv)
    if "Records" in event:
        return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    if "flush" in event:  # {"flush": time}: send the bursts due by then (a manual run)
        sent = notifier.flush_step(notifier.FlushRequest.model_validate(event), get_connection(settings), settings)
        metrics.add_metric(name="NotificationsSent", unit=MetricUnit.Count, value=sent)
        return {"bursts": sent}
    which = SummaryInvocation.model_validate(event).summary
    run = notifier.daily_summary if which == "daily" else notifier.weekly_digest
    sent = run(get_connection(settings), settings)
    metrics.add_metric(name="NotificationsSent", unit=MetricUnit.Count, value=sent)
    return {"summaries": sent}
