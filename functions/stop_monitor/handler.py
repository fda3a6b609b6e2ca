"""stop_monitor Lambda: every minute (EventBridge Scheduler), a few sub-minute ticks that exit
positions whose stop-loss or take-profit is hit and mark every account to market. While the
open-positions flag in the state bucket says 0 it does not touch the database, so an idle
Aurora can pause; outside the NYSE session (MARKET_CALENDAR=NYSE: holidays, after a half day's
13:00 close; NYSE_EXTENDED: the 4:00-20:00 extended session) it does nothing at all."""

import time

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from tradeflow import clock
from tradeflow.adapters import state
from tradeflow.adapters.db import get_connection
from tradeflow.pipeline import stop_monitor
from tradeflow.pipeline.market_data import record_handed_bars
from tradeflow.settings import StopMonitorEnv, env

logger, metrics, tracer = Logger(), Metrics(), Tracer()


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event, context):
    settings = env(StopMonitorEnv)
    if not settings.in_session(clock.now()):
        return {"ticks": 0, "exits": 0, "idle": "outside the NYSE session"}
    exits = 0
    ticks = settings.ticks_per_invocation
    flag = state.open_positions(settings.state_bucket) if settings.state_bucket else None
    if event.get("bars"):  # from market_data or a TradingView bar alert: record (if anything is open), one tick
        ticks = 1
        if flag != 0:
            record_handed_bars(get_connection(settings), event)
    for n in range(ticks):
        if n:
            time.sleep(settings.tick_seconds)
            flag = state.open_positions(settings.state_bucket) if settings.state_bucket else None
        if flag == 0:
            continue  # nothing open: leave the database asleep
        conn = get_connection(settings)
        exits += len(stop_monitor.tick(clock.now(), conn, settings))
        if settings.state_bucket:
            state.sync_open_positions(conn, settings.state_bucket)
    metrics.add_metric(name="StopTriggers", unit=MetricUnit.Count, value=exits)
    return {"ticks": ticks, "exits": exits}
