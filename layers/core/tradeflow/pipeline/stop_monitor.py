"""The stop_monitor step: at each tick, check every open position's stop-loss and take-profit
against the latest price, send triggered exits to executions.fifo, and record each
strategy's equity (cash + market value) for the equity curve."""

from __future__ import annotations

from datetime import datetime

import psycopg

from tradeflow.adapters import aws, store
from tradeflow.domain.messages import ExecutionRequest
from tradeflow.domain.stops import exit_trigger
from tradeflow.settings import StopMonitorEnv


def tick(now: datetime, conn: psycopg.Connection, env: StopMonitorEnv) -> list[ExecutionRequest]:
    """One check at ``now``; returns the exits it sent. A triggered leg is sent once per tick
    with its client_order_id as deduplication id; the executor fills it at most once."""
    sent: list[ExecutionRequest] = []
    seen: set[int] = set()
    for p in store.open_positions_with_exits(conn, now):
        if p["position_id"] in seen:
            continue
        trigger = exit_trigger(p["side"], p["price"], p["stop_price"], p["limit_price"])
        if trigger is None:
            continue
        seen.add(p["position_id"])
        request = ExecutionRequest(
            client_order_id=p["sl_id"] if trigger == "stop_loss" else p["tp_id"],
            strategy_id=p["strategy_id"], symbol=p["symbol"], trigger=trigger, trigger_price=p["price"],
        )
        aws.send(env.executions_queue_url, request, f"{p['strategy_id']}:{p['symbol']}", request.client_order_id)
        sent.append(request)
    for strategy_id in store.strategy_ids(conn):
        cash, value = store.mark_to_market(conn, strategy_id, now)
        store.record_equity(conn, strategy_id, now, cash, value)
    return sent
