"""order_creator Lambda: orders.fifo -> sized orders with stop-loss/take-profit brackets -> executions.fifo."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import Json
from tradeflow.adapters.db import get_connection
from tradeflow.domain.messages import OrderInstruction
from tradeflow.pipeline import order_creator
from tradeflow.settings import OrderCreatorEnv, env

logger, metrics, tracer = Logger(), Metrics(), Tracer()


class OrderInstructionRecord(SqsRecordModel):
    body: Json[OrderInstruction]


processor = SqsFifoPartialProcessor(model=OrderInstructionRecord, skip_group_on_error=True)


def record_handler(record: OrderInstructionRecord) -> None:
    settings = env(OrderCreatorEnv)
    logger.append_keys(signal_id=str(record.body.signal_id), strategy_id=record.body.strategy_id)
    sent = order_creator.process(record.body, get_connection(settings), settings)
    metrics.add_metric(name="OrdersSent", unit=MetricUnit.Count, value=len(sent))


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event, context):
    env(OrderCreatorEnv)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
