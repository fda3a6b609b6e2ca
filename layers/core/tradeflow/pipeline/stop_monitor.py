"""The stop_monitor step: at each tick, match every working order against the price feed,
send what fills to executions.fifo, move trailing stops, expire day orders, and record each
strategy's equity (cash + market value) for the equity curve.

One set-based pass: one statement reads the working orders with the latest quote or bar of
their symbols, the rules of :mod:`tradeflow.domain.monitor` decide in memory, and only what
was hit or moved is written, in batches, with every strategy's equity mark in one more
statement, all in one transaction. The executions are sent after it commits, per strategy and
symbol on the same FIFO group, entries and exits before legs. The executor recomputes the
price itself from the same bar, so a repeated tick fills nothing twice.

In the same transaction, the open positions whose symbol has no price fresher than their
strategy's ``max_price_age_seconds`` are found (:func:`tradeflow.domain.ports.stale_exposures`):
the trader is told once per symbol and episode (a ``stale_price`` notification, not sent again
once the notifier claimed its key), and with ``close_on_stale_price`` the position gets an
exit market order (``stale:<position id>``) sent with the trigger ``stale_price``, which the
executor fills at the last price.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

from tradeflow.adapters import aws, store
from tradeflow.domain.messages import ExecutionRequest, NotificationEvent
from tradeflow.domain.monitor import plan_tick
from tradeflow.domain.orders import OrderRequest
from tradeflow.domain.ports import StalePrice, stale_exposures
from tradeflow.domain.strategy import StrategyConfig
from tradeflow.pipeline import guardian
from tradeflow.settings import StopMonitorEnv


def tick(now: datetime, conn: psycopg.Connection, env: StopMonitorEnv) -> list[ExecutionRequest]:
    """One check at ``now``; returns the executions it sent. A matched order is sent with its
    client_order_id (and bar) as deduplication id; the executor fills it at most once."""
    with conn.transaction():
        orders = store.working_orders(conn, now)
        configs = store.strategy_configs(conn)
        plan = plan_tick(orders, configs.__getitem__, now)
        store.apply_tick(conn, plan, now)
        store.record_equity_marks(conn, now)
        stale = _stale(conn, configs, now, env)
        closes = [_close(conn, found, now) for found in stale if found.close]
    for request in [*plan.executions, *closes]:
        dedupe = f"{request.client_order_id}:{request.bar_ts.isoformat()}" if request.bar_ts else None
        aws.send(env.executions_queue_url, request, f"{request.strategy_id}:{request.symbol}",
                 dedupe or request.client_order_id)
    for found in stale:
        aws.send(env.notifications_queue_url, NotificationEvent(
            key=found.key, kind="stale_price", strategy_id=found.exposure.strategy_id, facts=found.facts))
    return [*plan.executions, *closes] + _guard(conn, now, env)


def _stale(conn: psycopg.Connection, configs: dict[str, StrategyConfig], now: datetime,
           env: StopMonitorEnv) -> list[StalePrice]:
    """The open exposures without a fresh price that the trader has not been told about (on
    the NYSE calendar, ages count from the session's open)."""
    if not configs:
        return []
    shortest = min(c.max_price_age_seconds for c in configs.values())
    exposures = store.stale_exposures(conn, now, now - timedelta(seconds=shortest))
    found = stale_exposures(exposures, lambda s: configs[s].max_price_age_seconds,
                            lambda s: configs[s].close_on_stale_price, now,
                            env.session_open(now))
    told = store.notified(conn, [f.key for f in found])
    return [f for f in found if f.key not in told]


def _close(conn: psycopg.Connection, found: StalePrice, now: datetime) -> ExecutionRequest:
    """Create (once per position) the exit market order of a position left without a fresh
    price; returns its execution request."""
    e = found.exposure
    key = f"stale:{e.position_id}"
    store.insert_order(conn, e.strategy_id, None, OrderRequest(
        client_order_id=key, symbol=e.symbol, side="sell" if e.side == "long" else "buy", quantity=e.quantity,
        order_type="market", purpose="exit"), now)
    return ExecutionRequest(client_order_id=key, strategy_id=e.strategy_id, symbol=e.symbol, trigger="stale_price",
                            trigger_price=e.price)


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
