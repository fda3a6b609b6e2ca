"""signal_processor Lambda: signals.fifo -> persist, dedupe, risk gates -> orders.fifo."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import Json
from tradeflow.adapters.db import get_connection
from tradeflow.domain.signals import Signal
from tradeflow.pipeline import signal_processor
from tradeflow.settings import SignalProcessorEnv, env

logger, metrics, tracer = Logger(), Metrics(), Tracer()


class SignalRecord(SqsRecordModel):
    body: Json[Signal]


processor = SqsFifoPartialProcessor(model=SignalRecord, skip_group_on_error=True)


def record_handler(record: SignalRecord) -> None:
    settings = env(SignalProcessorEnv)
    logger.append_keys(signal_id=str(record.body.signal_id), strategy_id=record.body.strategy_id)
    approved = signal_processor.process(record.body, get_connection(settings), settings)
    metrics.add_metric(name="SignalsApproved" if approved else "SignalsRefused", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event, context):
    env(SignalProcessorEnv)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
