"""order_creator Lambda: orders.fifo -> sized orders with stop-loss/take-profit brackets -> executions.fifo."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from tradeflow import names
from tradeflow.domain.messages import OrderInstruction
from tradeflow.pipeline import order_creator
from tradeflow.pipeline.consumer import Consumer
from tradeflow.settings import OrderCreatorEnv, env

logger, metrics, tracer = Logger(), Metrics(), Tracer()
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
consume = Consumer(names.ORDERS_QUEUE, OrderInstruction, lambda: env(OrderCreatorEnv))


def step(instruction: OrderInstruction, conn, settings: OrderCreatorEnv) -> None:
    logger.append_keys(signal_id=str(instruction.signal_id), strategy_id=instruction.strategy_id)
    sent = order_creator.process(instruction, conn, settings)
    metrics.add_metric(name="OrdersSent", unit=MetricUnit.Count, value=len(sent))


def record_handler(record) -> None:
    consume(record, step)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event, context):
    env(OrderCreatorEnv)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
