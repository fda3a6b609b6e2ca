"""The guardian: trips the breakers where the facts change — after each fill (the paper
executor) and each mark (the stop monitor) — rather than when the next signal arrives.

:func:`watch` evaluates the strategy's daily loss, maximum drawdown and stop-loss guard
(:mod:`tradeflow.domain.risk.breakers`) and records each trip once per trigger key, so a
redelivered tick or fill trips nothing twice; it returns the urgent notification events of
the trips it recorded. :func:`watch_positions` (stop monitor) creates the market exits of a
position past its maximum loss and of the end-of-day flatten, for the executor to fill. The trips live in PostgreSQL and survive cold starts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

from tradeflow.adapters import store
from tradeflow.domain import calendar
from tradeflow.domain.messages import ExecutionRequest, NotificationEvent
from tradeflow.domain.orders import OrderRequest
from tradeflow.domain.risk import breakers
from tradeflow.domain.risk.states import TradingState
from tradeflow.domain.strategy import StrategyConfig


def watches(config: StrategyConfig) -> bool:
    """Whether the strategy sets a limit the guardian checks on fills or marks."""
    return any(x is not None for x in (config.daily_loss_limit, config.daily_loss_limit_pct, config.max_drawdown_pct,
                                       config.stop_loss_guard, config.max_position_loss, config.flatten_at))


def watch(conn: psycopg.Connection, strategy_id: str, config: StrategyConfig, now: datetime) -> list[NotificationEvent]:
    """Check the strategy's breakers against its books at ``now``; record and return new trips."""
    if config.daily_loss_limit is None and config.daily_loss_limit_pct is None and config.max_drawdown_pct is None \
            and config.stop_loss_guard is None:
        return []
    from tradeflow.pipeline.control import start_of_day_equity

    cash, value = store.mark_to_market(conn, strategy_id, now)
    equity = cash + value
    tripped = [breakers.daily_loss(config, strategy_id, start_of_day_equity(conn, strategy_id,
                                                                            calendar.last_session_open(now)), equity, now)]
    if config.max_drawdown_pct is not None:
        peak = max(store.peak_equity(conn, strategy_id) or equity, equity,
                   store.account(conn, strategy_id)["starting_cash"])
        tripped.append(breakers.max_drawdown(config, strategy_id, peak, equity))
    if config.stop_loss_guard is not None:
        since = now - timedelta(minutes=config.stop_loss_guard.window_minutes)
        tripped.append(breakers.stop_loss_guard(config, strategy_id, store.stop_outs(conn, strategy_id, since), now))
    return record(conn, [t for t in tripped if t is not None], now)


def record(conn: psycopg.Connection, trips: list[breakers.Trip], now: datetime) -> list[NotificationEvent]:
    """Record ``trips``; the events of those not recorded before."""
    events = []
    for trip in trips:
        if store.record_trip(conn, trip, now):
            events.append(trip_event(trip))
    return events


def trip_event(trip: breakers.Trip) -> NotificationEvent:
    """The urgent notification of a trip (one per scope and trigger key)."""
    return NotificationEvent(
        key=f"trip:{trip.scope}:{trip.key}", kind="breaker_tripped", strategy_id=trip.scope,
        facts={"breaker": trip.breaker, "symbol": trip.symbol, "state": trip.state.value,
               "until": trip.until.isoformat() if trip.until else None, "reason": trip.reason},
    )


def watch_positions(conn: psycopg.Connection, strategy_id: str, config: StrategyConfig,
                    now: datetime) -> tuple[list[NotificationEvent], list[ExecutionRequest]]:
    """Close at market a position whose unrealised loss reaches ``max_position_loss`` (and
    cool its symbol down for ``cooldown_after_loss_minutes``), and every position once the
    day's ``flatten_at`` has passed on a trading day. Returns the trip events and the
    executions of the exit orders created (``flatten:<position id>``, once per position)."""
    events: list[NotificationEvent] = []
    closing: dict[str, dict] = {}
    if config.max_position_loss is not None:
        for r in store.open_positions(conn, strategy_id, now):
            if breakers.position_loss(config, r["unrealised"]):
                closing[r["symbol"]] = r
                until = now + timedelta(minutes=config.cooldown_after_loss_minutes)
                events += record(conn, [breakers.Trip(
                    "position_loss", strategy_id, f"position_loss:{r['position_id']}", TradingState.REDUCING, until,
                    f"{r['symbol']} lost {-r['unrealised']:.2f} (max_position_loss {config.max_position_loss}): "
                    f"closed; no entry in it until {until:%Y-%m-%d %H:%M}Z", r["symbol"])], now)
    when = breakers.flatten_time(config, calendar.trading_day(now))
    if when is not None and now >= when:
        for r in store.open_positions(conn, strategy_id):
            closing.setdefault(r["symbol"], r)
    requests = []
    for symbol, position in sorted(closing.items()):
        key = f"flatten:{position['position_id']}"
        side = "sell" if position["side"] == "long" else "buy"
        store.insert_order(conn, strategy_id, None, OrderRequest(key, symbol, side, position["quantity"], "market",
                                                                 "exit"), now)
        requests.append(ExecutionRequest(client_order_id=key, strategy_id=strategy_id, symbol=symbol))
    return events, requests
