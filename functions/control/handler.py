"""control Lambda: the cockpit's API under /api/ on the HTTP API (payload v2), and its dashboard.

Every route but the page itself (GET /api/, a static file with no data in it) needs
``Authorization: Bearer <token>``, the token ``tradeflow api-token`` stored in SSM; without it
the answer is 401 and nothing more. Errors map to statuses in one place (the exception handlers
below); a database that does not answer within CONNECT_SECONDS (Aurora resuming from a pause)
is a 503 with Retry-After. GET /api/openapi.json serves this API's OpenAPI document.
"""

import json
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated

import psycopg
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, Field
from tradeflow import clock
from tradeflow.adapters import api_token, read_models
from tradeflow.adapters.db import get_connection
from tradeflow.adapters.parameters import ParametersUnavailable
from tradeflow.pipeline import cockpit
from tradeflow.settings import ControlApiEnv, env

logger = Logger()
app = APIGatewayHttpResolver(enable_validation=True)

#: Seconds to wait for PostgreSQL before answering 503 (API Gateway gives up at 30 s).
CONNECT_SECONDS = 8
#: Retry-After (seconds) on a cold database: Aurora Serverless v2 resumes in about 15 s.
WAKE_SECONDS = 15
PAGE = Path(__file__).with_name("dashboard.html")
PUBLIC = {"/api", "/api/", "/api/dashboard"}
UNAUTHORIZED = {"statusCode": 401, "headers": {"Content-Type": "application/json", "WWW-Authenticate": "Bearer"},
                "body": json.dumps({"message": "Unauthorized"})}


class DatabaseWaking(Exception):
    """PostgreSQL did not answer in time (a paused Aurora resuming)."""


def conn() -> psycopg.Connection:
    try:
        return get_connection(env(ControlApiEnv), CONNECT_SECONDS, retry=False)
    except psycopg.OperationalError as exc:
        raise DatabaseWaking from exc


def who() -> str:
    """The caller as recorded with an action: the X-Tradeflow-User header (the CLI sends the
    login name), else the source IP."""
    event = app.current_event
    return (event.headers.get("x-tradeflow-user") or f"api {event.request_context.http.source_ip}")[:100]


# --- request models ------------------------------------------------------------------------

class Reason(BaseModel):
    """Why the trader acts; recorded with the action."""

    why: str = Field(min_length=1, max_length=500, description="the reason, recorded with the action")


class Destructive(Reason):
    confirm: str | None = Field(None, description='type "FLATTEN" to confirm an action that closes positions')


class KillSwitch(Destructive):
    on: bool = Field(description="true halts all trading, false lifts the kill switch")
    flatten: bool = Field(False, description="also close every position (needs confirm)")


class BreakerReset(Reason):
    scope: str = Field(min_length=1, description='"account" or a strategy id')
    breaker: str = Field(min_length=1, description="the breaker's name, as the status lists it")


class MoveStop(Reason):
    price: Decimal = Field(gt=0, description="the new stop (or take-profit limit) price, currency per share")


# --- one exception-to-status mapping -------------------------------------------------------

def _error(status: int, message: str, headers: dict | None = None) -> Response:
    return Response(status, "application/json", json.dumps({"error": message}), headers)


@app.exception_handler(LookupError)
def _not_found(exc: LookupError) -> Response:
    return _error(404, str(exc.args[0]) if exc.args else "not found")  # KeyError's str() adds quotes


@app.exception_handler(ValueError)
def _bad_request(exc: ValueError) -> Response:
    return _error(400, str(exc))


@app.exception_handler(RequestValidationError)
def _invalid(exc: RequestValidationError) -> Response:
    detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors())
    return _error(422, detail)


@app.exception_handler(DatabaseWaking)
def _waking(exc: DatabaseWaking) -> Response:
    return _error(503, f"waking the database, retry in {WAKE_SECONDS} s", {"Retry-After": str(WAKE_SECONDS)})


@app.exception_handler(cockpit.GuardianMissing)
def _missing(exc: cockpit.GuardianMissing) -> Response:
    return _error(501, str(exc))


@app.exception_handler(ParametersUnavailable)
def _ssm_down(exc: ParametersUnavailable) -> Response:
    return _error(503, "the token store (SSM) did not answer, retry in a few seconds", {"Retry-After": "5"})


# --- reads ---------------------------------------------------------------------------------

@app.get("/api/", include_in_schema=False)
@app.get("/api", include_in_schema=False)
@app.get("/api/dashboard", summary="The dashboard page (static; it asks for the token)", tags=["dashboard"])
def dashboard():
    return Response(200, "text/html; charset=utf-8", PAGE.read_text(),
                    {"Cache-Control": "no-store", "Content-Security-Policy": "default-src 'self' 'unsafe-inline'"})


@app.get("/api/openapi.json", summary="This API's OpenAPI document", tags=["meta"])
def openapi():
    return Response(200, "application/json", openapi_json())


@app.get("/api/status", summary="Trading states, kill switch, equity, cash, last alert, price ages", tags=["read"])
def get_status() -> dict:
    return cockpit.status(conn(), clock.now())


@app.get("/api/positions", summary="Open positions with unrealised P&L and live stop and take-profit", tags=["read"])
def get_positions(strategy: Annotated[str | None, Query()] = None, symbol: Annotated[str | None, Query()] = None,
                  ) -> dict:
    return {"positions": cockpit.plain(read_models.positions(conn(), clock.now(), strategy, symbol))}


@app.get("/api/orders", summary="Working orders, newest first", tags=["read"])
def get_orders(strategy: Annotated[str | None, Query()] = None, symbol: Annotated[str | None, Query()] = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 100, offset: Annotated[int, Query(ge=0)] = 0) -> dict:
    return {"orders": cockpit.plain(read_models.working_orders(conn(), strategy, symbol, limit, offset))}


@app.get("/api/trades", summary="Closed trades with their FIFO lots, by close time", tags=["read"])
def get_trades(strategy: Annotated[str | None, Query()] = None, symbol: Annotated[str | None, Query()] = None,
               since: Annotated[str | None, Query(description="ISO-8601 UTC, inclusive")] = None,
               until: Annotated[str | None, Query(description="ISO-8601 UTC, exclusive")] = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100, offset: Annotated[int, Query(ge=0)] = 0) -> dict:
    trades = read_models.closed_trades(conn(), strategy, symbol, _time(since, "since"), _time(until, "until"),
                                       limit, offset)
    return {"trades": cockpit.plain(trades)}


@app.get("/api/strategies/<strategy_id>/equity", summary="Equity curve, drawdown and daily P&L", tags=["read"])
def get_equity(strategy_id: str, since: Annotated[str | None, Query()] = None,
               until: Annotated[str | None, Query()] = None) -> dict:
    return cockpit.equity(conn(), strategy_id, _time(since, "since"), _time(until, "until"))


@app.get("/api/strategies/<strategy_id>/metrics", summary="Performance metrics (backtesting.py's conventions)",
         tags=["read"])
def get_metrics(strategy_id: str) -> dict:
    return cockpit.strategy_metrics(conn(), strategy_id)


@app.get("/api/strategies/<strategy_id>/settings", summary="Current settings and their history", tags=["read"])
def get_settings(strategy_id: str) -> dict:
    return cockpit.settings(conn(), strategy_id)


@app.get("/api/signals", summary="Recent alerts and their decisions, newest first", tags=["read"])
def get_signals(strategy: Annotated[str | None, Query()] = None, symbol: Annotated[str | None, Query()] = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0)] = 0) -> dict:
    return {"signals": cockpit.plain(read_models.signals(conn(), strategy, symbol, limit, offset))}


@app.get("/api/signals/<signal_id>/audit", summary="One alert's trail: signal, decision, orders, fills", tags=["read"])
def get_audit(signal_id: str) -> dict:
    return cockpit.audit(conn(), signal_id)


@app.get("/api/notifications", summary="Notifications, newest first", tags=["read"])
def get_notifications(strategy: Annotated[str | None, Query()] = None, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                      offset: Annotated[int, Query(ge=0)] = 0) -> dict:
    return {"notifications": cockpit.plain(read_models.notifications(conn(), strategy, limit, offset))}


#: The export pages' window and cursor (query parameters).
Since = Annotated[str, Query(description="ISO-8601 UTC, inclusive")]
Until = Annotated[str, Query(description="ISO-8601 UTC, exclusive")]
After = Annotated[str | None, Query(description="the previous page's next")]


@app.get("/api/export/alerts", summary="One page of a strategy's alerts received, as tradeflow replay --alerts "
                                     "reads them (raw bodies, secrets replaced)", tags=["export"])
def get_export_alerts(strategy: Annotated[str, Query()], since: Since, until: Until, after: After = None,
                      limit: Annotated[int, Query(ge=1, le=cockpit.EXPORT_ALERTS_PAGE)] = cockpit.EXPORT_ALERTS_PAGE,
                      ) -> dict:
    return cockpit.export_alerts(conn(), strategy, _time(since, "since"), _time(until, "until"), after, limit)


@app.get("/api/export/bars", summary="One page of the bars recorded for a strategy's symbols, as tradeflow replay "
                                   "--bars reads them", tags=["export"])
def get_export_bars(strategy: Annotated[str, Query()], since: Since, until: Until, after: After = None,
                    limit: Annotated[int, Query(ge=1, le=cockpit.EXPORT_BARS_PAGE)] = cockpit.EXPORT_BARS_PAGE,
                    ) -> dict:
    return cockpit.export_bars(conn(), strategy, _time(since, "since"), _time(until, "until"), after, limit)


# --- actions -------------------------------------------------------------------------------

@app.post("/api/strategies/<strategy_id>/pause", summary="Pause a strategy (no new entries)", tags=["act"])
def post_pause(strategy_id: str, body: Reason) -> dict:
    return cockpit.plain(cockpit.pause(conn(), strategy_id, who(), body.why, clock.now()))


@app.post("/api/strategies/<strategy_id>/resume", summary="Resume a paused strategy", tags=["act"])
def post_resume(strategy_id: str, body: Reason) -> dict:
    return cockpit.plain(cockpit.resume(conn(), strategy_id, who(), body.why, clock.now()))


@app.post("/api/strategies/<strategy_id>/flatten", summary="Close every position of a strategy", tags=["act"])
def post_flatten_strategy(strategy_id: str, body: Destructive) -> dict:
    return cockpit.plain(cockpit.flatten(conn(), strategy_id, who(), body.why, clock.now(), body.confirm))


@app.post("/api/flatten", summary="Close every position of the account (kill switch on)", tags=["act"])
def post_flatten(body: Destructive) -> dict:
    return cockpit.plain(cockpit.flatten(conn(), None, who(), body.why, clock.now(), body.confirm))


@app.post("/api/kill-switch", summary="Kill switch on or off, optionally flattening", tags=["act"])
def post_kill_switch(body: KillSwitch) -> dict:
    return cockpit.plain(cockpit.kill_switch(conn(), body.on, who(), body.why, clock.now(), body.flatten,
                                             body.confirm))


@app.post("/api/breakers/reset", summary="Reset a tripped breaker", tags=["act"])
def post_reset_breaker(body: BreakerReset) -> dict:
    return cockpit.plain(cockpit.reset_breaker(conn(), body.scope, body.breaker, who(), body.why, clock.now()))


@app.post("/api/orders/<client_order_id>/cancel", summary="Cancel a working order", tags=["act"])
def post_cancel(client_order_id: str, body: Reason) -> dict:
    return cockpit.cancel_order(conn(), client_order_id, who(), body.why, clock.now())


@app.post("/api/orders/<client_order_id>/stop", summary="Move a stop-loss (or take-profit) price", tags=["act"])
def post_move_stop(client_order_id: str, body: MoveStop) -> dict:
    return cockpit.move_stop(conn(), client_order_id, body.price, who(), body.why)


def _time(text: str | None, name: str):
    from datetime import UTC, datetime

    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name} must be an ISO-8601 time such as 2026-01-31T00:00:00Z, got {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@lru_cache
def openapi_json() -> str:
    """The OpenAPI document of these routes (docs/control-openapi.json is a copy of it)."""
    return app.get_openapi_json_schema(
        title="tradeflow control API", version="1",
        description="The cockpit: read the books and steer trading. Every route needs "
                    "Authorization: Bearer <token> (tradeflow api-token).")


def authorised(event: dict) -> bool:
    """True when the request carries the stored bearer token (constant-time comparison)."""
    header = {k.lower(): v for k, v in (event.get("headers") or {}).items()}.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return api_token.matches(presented.strip(), api_token.stored_token(env(ControlApiEnv).api_token_parameter))


@logger.inject_lambda_context
def handler(event, context):
    if event.get("rawPath") not in PUBLIC or event.get("requestContext", {}).get("http", {}).get("method") != "GET":
        try:
            if not authorised(event):
                return UNAUTHORIZED
        except ParametersUnavailable:
            return {"statusCode": 503, "headers": {"Content-Type": "application/json", "Retry-After": "5"},
                    "body": json.dumps({"error": "the token store (SSM) did not answer, retry in a few seconds"})}
    return app.resolve(event, context)
