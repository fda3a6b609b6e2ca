"""paper_executor Lambda: executions.fifo -> simulated fills, positions, cash and P&L."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from tradeflow import names
from tradeflow.domain.messages import ExecutionRequest
from tradeflow.pipeline import paper_executor
from tradeflow.pipeline.consumer import Consumer
from tradeflow.settings import PaperExecutorEnv, env

logger, metrics, tracer = Logger(), Metrics(), Tracer()
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
consume = Consumer(names.EXECUTIONS_QUEUE, ExecutionRequest, lambda: env(PaperExecutorEnv))


def step(request: ExecutionRequest, conn, settings: PaperExecutorEnv) -> None:
    logger.append_keys(client_order_id=request.client_order_id, strategy_id=request.strategy_id)
    status = paper_executor.process(request, conn, settings)
    if status == "filled":
        metrics.add_metric(name="Fills", unit=MetricUnit.Count, value=1)
        if request.trigger != "signal":
            metrics.add_metric(name="StopExits", unit=MetricUnit.Count, value=1)


def record_handler(record) -> None:
    consume(record, step)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event, context):
    env(PaperExecutorEnv)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
