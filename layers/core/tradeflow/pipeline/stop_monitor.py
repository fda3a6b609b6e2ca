"""The stop_monitor step: at each tick, match every working order against the price feed,
send what fills to executions.fifo, move trailing stops, expire day orders, and record each
strategy's equity (cash + market value) for the equity curve.

One set-based pass: one statement reads the working orders with the latest quote or bar of
their symbols, the rules of :mod:`tradeflow.domain.monitor` decide in memory, and only what
was hit or moved is written, in batches, with every strategy's equity mark in one more
statement, all in one transaction. The executions are sent after it commits, per strategy and
symbol on the same FIFO group, entries and exits before legs. The executor recomputes the
price itself from the same bar, so a repeated tick fills nothing twice.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from tradeflow.adapters import aws, store
from tradeflow.domain.messages import ExecutionRequest
from tradeflow.domain.monitor import plan_tick
from tradeflow.pipeline import guardian
from tradeflow.settings import StopMonitorEnv


def tick(now: datetime, conn: psycopg.Connection, env: StopMonitorEnv) -> list[ExecutionRequest]:
    """One check at ``now``; returns the executions it sent. A matched order is sent with its
    client_order_id (and bar) as deduplication id; the executor fills it at most once."""
    with conn.transaction():
        orders = store.working_orders(conn, now)
        configs = store.strategy_configs(conn) if orders else {}
        plan = plan_tick(orders, configs.__getitem__, now)
        store.apply_tick(conn, plan, now)
        store.record_equity_marks(conn, now)
    for request in plan.executions:
        dedupe = f"{request.client_order_id}:{request.bar_ts.isoformat()}" if request.bar_ts else None
        aws.send(env.executions_queue_url, request, f"{request.strategy_id}:{request.symbol}",
                 dedupe or request.client_order_id)
    return plan.executions + _guard(conn, now, env)


def _guard(conn: psycopg.Connection, now: datetime, env: StopMonitorEnv) -> list[ExecutionRequest]:
    """Each mark may trip a breaker, or close a position past its maximum loss or at the
    end-of-day flatten (:mod:`tradeflow.pipeline.guardian`), for the strategies that set
    one of those limits: sends the trips' urgent notifications and the exits' executions;
    returns the executions."""
    guarded = {s: c for s, c in store.strategy_configs(conn).items() if guardian.watches(c)}
    if not guarded:
        return []
    with conn.transaction():
        events, requests = [], []
        for strategy_id, config in sorted(guarded.items()):
            more, closing = guardian.watch_positions(conn, strategy_id, config, now)
            events += more + guardian.watch(conn, strategy_id, config, now)
            requests += closing
    for request in requests:
        aws.send(env.executions_queue_url, request, f"{request.strategy_id}:{request.symbol}",
                 request.client_order_id)
    for event in events:
        aws.send(env.notifications_queue_url, event)
    return requests
