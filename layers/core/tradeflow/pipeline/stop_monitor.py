"""The stop_monitor step: at each tick, match every working order against the price feed,
send what fills to executions.fifo, move trailing stops, expire day orders, and record each
strategy's equity (cash + market value) for the equity curve.

Working orders are entries and exits waiting for a price (a limit or stop entry, or under the
bar model a market order waiting for the next bar's open) and the active exit legs of open
positions. Under the quote model they are matched against the latest quote; under the bar
model against the latest bar, if it closed after the order began to work. Per strategy and
symbol the entries and exits are sent first, then the legs, on the same FIFO group, so an
exit at the bar's open precedes a stop hit later in the bar. The executor recomputes the
price itself from the same bar, so a repeated tick fills nothing twice.
"""

from __future__ import annotations

from datetime import datetime
from itertools import groupby

import psycopg

from tradeflow.adapters import aws, store
from tradeflow.adapters.store import as_bar, as_resting
from tradeflow.domain import calendar, fills, stops
from tradeflow.domain.messages import ExecutionRequest
from tradeflow.domain.strategy import StrategyConfig
from tradeflow.pipeline import guardian
from tradeflow.settings import StopMonitorEnv

LEG_PURPOSES = ("stop_loss", "take_profit")


def tick(now: datetime, conn: psycopg.Connection, env: StopMonitorEnv) -> list[ExecutionRequest]:
    """One check at ``now``; returns the executions it sent. A matched order is sent with its
    client_order_id (and bar) as deduplication id; the executor fills it at most once."""
    sent: list[ExecutionRequest] = []
    rows = store.working_orders(conn)
    for (strategy_id, symbol), group in groupby(rows, key=lambda r: (r["strategy_id"], r["symbol"])):
        orders = list(group)
        config = StrategyConfig.model_validate(orders[0]["settings"])
        with conn.transaction():
            requests = _match(conn, config, strategy_id, symbol, orders, now)
        for request in requests:
            dedupe = f"{request.client_order_id}:{request.bar_ts.isoformat()}" if request.bar_ts else None
            aws.send(env.executions_queue_url, request, f"{strategy_id}:{symbol}", dedupe or request.client_order_id)
        sent += requests
    for strategy_id in store.strategy_ids(conn):
        cash, value = store.mark_to_market(conn, strategy_id, now)
        store.record_equity(conn, strategy_id, now, cash, value)
        sent += _guard(conn, strategy_id, now, env)
    return sent


def _guard(conn, strategy_id: str, now: datetime, env: StopMonitorEnv) -> list[ExecutionRequest]:
    """Each mark may trip a breaker, or close a position past its maximum loss or at the
    end-of-day flatten (:mod:`tradeflow.pipeline.guardian`): sends the trips' urgent
    notifications and the exits' executions; returns the executions."""
    with conn.transaction():
        config, _ = store.strategy(conn, strategy_id)
        events, requests = guardian.watch_positions(conn, strategy_id, config, now)
        events += guardian.watch(conn, strategy_id, config, now)
    for request in requests:
        aws.send(env.executions_queue_url, request, f"{strategy_id}:{request.symbol}", request.client_order_id)
    for event in events:
        aws.send(env.notifications_queue_url, event)
    return requests


def _match(conn, config: StrategyConfig, strategy_id: str, symbol: str, orders: list[dict],
           now: datetime) -> list[ExecutionRequest]:
    quote = store.latest_quote(conn, symbol, now)
    if quote is None:
        _expire(conn, orders, set(), now)
        return []
    bar_model = config.fill_model == "bar"
    bar = as_bar(quote) if bar_model else fills.Bar.flat(quote["price"])
    bar_ts = quote["ts"] if bar_model else None

    def fresh(order: dict) -> bool:  # the bar model matches a bar only once it closed after the order began
        return not bar_model or (order["working_since"] is not None and quote["ts"] > order["working_since"])

    held = config.market_hours == "hold" and not calendar.is_open(now)  # entries wait for the open
    requests: list[ExecutionRequest] = []
    for order in orders:
        if order["purpose"] in LEG_PURPOSES or not fresh(order) or (held and order["purpose"] == "entry"):
            continue
        price = _price_for(order, quote, bar, bar_model, config)
        if price is not None:
            requests.append(ExecutionRequest(client_order_id=order["client_order_id"], strategy_id=strategy_id,
                                             symbol=symbol, trigger="working", trigger_price=price, bar_ts=bar_ts))
        elif order["order_type"] == "stop_limit" and fills.stop_touched(order["side"], order["stop_price"], bar):
            store.mark_stop_triggered(conn, order["order_id"], quote["ts"])
        elif order["time_in_force"] == "ioc":
            store.transition(conn, order["order_id"], order["status"], "cancelled", "ioc: not filled at once", now)
    legs = [o for o in orders if o["purpose"] in LEG_PURPOSES and fresh(o)]
    for _position, group in groupby(sorted(legs, key=lambda o: o["position_id"]), key=lambda o: o["position_id"]):
        group = list(group)
        hits = fills.exits_to_fill([as_resting(o) for o in group], bar, config.same_bar_exit, config.slippage_bps)
        hit_keys = {terms.key for terms, _ in hits}
        for terms, price in hits:
            requests.append(ExecutionRequest(client_order_id=terms.key, strategy_id=strategy_id, symbol=symbol,
                                             trigger=terms.purpose, trigger_price=price, bar_ts=bar_ts))
        for order in group:
            if order["order_type"] == "trailing_stop" and order["client_order_id"] not in hit_keys:
                _trail(conn, config, order, bar, now)
    _expire(conn, orders, {r.client_order_id for r in requests}, now)
    return requests


def _price_for(order, quote, bar, bar_model, config):
    if bar_model:
        return fills.bar_fill(as_resting(order), bar, config.slippage_bps)
    reference = fills.quote_price(order["side"], quote["price"], quote["bid"], quote["ask"])
    return fills.quote_fill(as_resting(order), reference, config.slippage_bps)


def _trail(conn, config: StrategyConfig, order: dict, bar: fills.Bar, now: datetime) -> None:
    """Move a trailing stop after a bar (or quote) that did not hit it: the high-water mark
    takes the bar's high (long) or low (short) and the stop follows, only ever tightening."""
    entry_side = "sell" if order["side"] == "buy" else "buy"
    mark = stops.new_high_water_mark(entry_side, order["high_water_mark"], bar.high, bar.low)
    if mark != order["high_water_mark"]:
        store.set_high_water_mark(conn, order["order_id"], mark)
    tick_size = config.instrument(order["symbol"]).tick_size
    proposed = stops.trail_stop(entry_side, mark, order["trail_amount"], order["trail_percent"], tick_size)
    moved = stops.tighten(entry_side, order["stop_price"], proposed)
    if moved != order["stop_price"]:
        store.amend(conn, order["order_id"], "stop_price", moved, f"trailing stop, high-water mark {mark}", now)


def _expire(conn, orders: list[dict], sending: set[str], now: datetime) -> None:
    """Expire the day orders past their session close that are not being sent now."""
    for order in orders:
        if order["expires_at"] is not None and order["expires_at"] <= now and order["client_order_id"] not in sending:
            current = store.order(conn, order["client_order_id"])
            if current["status"] == "accepted":
                store.transition(conn, order["order_id"], "accepted", "expired", "day order: session closed", now)
