"""signal_processor Lambda: signals.fifo -> persist, dedupe, risk gates -> orders.fifo."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from tradeflow import names
from tradeflow.domain.signals import Signal
from tradeflow.pipeline import signal_processor
from tradeflow.pipeline.consumer import Consumer
from tradeflow.settings import SignalProcessorEnv, env

logger, metrics, tracer = Logger(), Metrics(), Tracer()
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
consume = Consumer(names.SIGNALS_QUEUE, Signal, lambda: env(SignalProcessorEnv))


def step(signal: Signal, conn, settings: SignalProcessorEnv) -> None:
    logger.append_keys(signal_id=str(signal.signal_id), strategy_id=signal.strategy_id)
    approved = signal_processor.process(signal, conn, settings)
    metrics.add_metric(name="SignalsApproved" if approved else "SignalsRefused", unit=MetricUnit.Count, value=1)


def record_handler(record) -> None:
    consume(record, step)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event, context):
    env(SignalProcessorEnv)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
