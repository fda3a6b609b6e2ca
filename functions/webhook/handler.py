"""webhook Lambda: API Gateway HTTP API (payload v2) -> authenticated, normalised Signal on
signals.fifo -> 202 {"signal_id"}. No database: an alert is never lost while it is down."""

import json

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.metrics import MetricUnit

from tradeflow import clock
from tradeflow.adapters import aws
from tradeflow.adapters.parameters import strategy_secret, strategy_settings
from tradeflow.domain.alerts import MAX_BODY_BYTES, AlertError
from tradeflow.names import SIGNALS_QUEUE
from tradeflow.pipeline.webhook import Unauthorized, UnknownStrategy, accept
from tradeflow.settings import WebhookEnv, env

logger, metrics, tracer = Logger(), Metrics(), Tracer()
app = APIGatewayHttpResolver()


def _json(status: int, **body) -> Response:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body))


def _receive(token: str | None) -> Response:
    settings = env(WebhookEnv)
    event = app.current_event
    allowed = {ip.strip() for ip in settings.allowed_source_ips.split(",") if ip.strip()}
    if allowed and event.request_context.http.source_ip not in allowed:
        metrics.add_metric(name="AlertsForbidden", unit=MetricUnit.Count, value=1)
        return _json(403, error=f"source address {event.request_context.http.source_ip} is not allowed")
    body = event.decoded_body or ""
    if len(body.encode()) > MAX_BODY_BYTES:
        return _json(413, error=f"the alert is larger than {MAX_BODY_BYTES} bytes", field="body")
    signal = accept(
        body, token, clock.now(), strategy_secret,
        lambda s: aws.send(settings.signals_queue_url, s, s.message_group, s.dedupe_key[:128]),
        strategy_settings,
    )
    metrics.add_metric(name="AlertsAccepted", unit=MetricUnit.Count, value=1)
    logger.info("alert accepted", signal_id=str(signal.signal_id), strategy_id=signal.strategy_id,
                symbol=signal.symbol, queue=SIGNALS_QUEUE)
    return _json(202, signal_id=str(signal.signal_id))


@app.post("/webhook/<token>")
def webhook_with_token(token: str) -> Response:
    return _receive(token)


@app.post("/webhook")
def webhook_with_passphrase() -> Response:
    return _receive(None)


@app.exception_handler(AlertError)
def _bad_alert(exc: AlertError) -> Response:
    metrics.add_metric(name="AlertsRefused", unit=MetricUnit.Count, value=1)
    logger.info("alert refused", field=exc.field, reason=exc.message)
    return _json(400, error=exc.message, field=exc.field)


@app.exception_handler(UnknownStrategy)
def _unknown_strategy(exc: UnknownStrategy) -> Response:
    metrics.add_metric(name="AlertsRefused", unit=MetricUnit.Count, value=1)
    return _json(400, error=str(exc), field="strategy")


@app.exception_handler(Unauthorized)
def _unauthorized(exc: Unauthorized) -> Response:
    metrics.add_metric(name="AlertsUnauthorized", unit=MetricUnit.Count, value=1)
    logger.warning("alert unauthorized", source_ip=app.current_event.request_context.http.source_ip)
    return _json(401, error=str(exc))


@app.exception_handler(aws.DeliveryError)
def _queue_down(exc: aws.DeliveryError) -> Response:
    logger.exception("could not queue the alert")
    return _json(503, error="the alert could not be queued; TradingView will retry")


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event, context):
    return app.resolve(event, context)
