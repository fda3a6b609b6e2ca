"""paper_executor Lambda: executions.fifo -> simulated fills, positions, cash and P&L."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import Json
from tradeflow.adapters.db import get_connection
from tradeflow.domain.messages import ExecutionRequest
from tradeflow.pipeline import paper_executor
from tradeflow.settings import PaperExecutorEnv, env

logger, metrics, tracer = Logger(), Metrics(), Tracer()


class ExecutionRecord(SqsRecordModel):
    body: Json[ExecutionRequest]


processor = SqsFifoPartialProcessor(model=ExecutionRecord, skip_group_on_error=True)


def record_handler(record: ExecutionRecord) -> None:
    settings = env(PaperExecutorEnv)
    logger.append_keys(client_order_id=record.body.client_order_id, strategy_id=record.body.strategy_id)
    status = paper_executor.process(record.body, get_connection(settings), settings)
    if status == "filled":
        metrics.add_metric(name="Fills", unit=MetricUnit.Count, value=1)
        if record.body.trigger != "signal":
            metrics.add_metric(name="StopExits", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event, context):
    env(PaperExecutorEnv)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
