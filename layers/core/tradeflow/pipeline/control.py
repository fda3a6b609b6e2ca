"""Control actions on trading: trading states per strategy and for the account, the kill
switch, pause and resume, breaker resets, the flatten, and the risk status read model.

Every change is recorded in the append-only ``trading_state_changes`` (or ``breaker_resets``)
log with who, why and when, and becomes an urgent notification event. Errors: an unknown
strategy raises :class:`UnknownStrategy` (a LookupError), a bad state, breaker or empty reason
:class:`BadControlRequest` (a ValueError); the cockpit maps them to 404 and 400.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg

from tradeflow.adapters import aws, store
from tradeflow.domain import calendar, fills
from tradeflow.domain.messages import NotificationEvent
from tradeflow.domain.orders import OrderRequest
from tradeflow.domain.risk import breakers
from tradeflow.domain.risk.states import TradingState, stricter
from tradeflow.domain.strategy import StrategyConfig
from tradeflow.settings import ControlEnv

ACCOUNT = "account"


class UnknownStrategy(LookupError):
    """No strategy of that id is registered."""


class BadControlRequest(ValueError):
    """A state, breaker or reason that cannot be acted on; the message says which and how to fix it."""


def set_trading_state(conn: psycopg.Connection, scope: str, state: TradingState | str, who: str, why: str,
                      now: datetime, *, flatten: bool = False) -> dict[str, Any]:
    """Set ``scope`` (a strategy id or ``"account"``) to ``state`` (ACTIVE, REDUCING or HALTED).

    Leaving ACTIVE cancels the scope's working entries (an entry approved or working when the
    state changes never fills afterwards; the executor refuses those still on their way).
    ``flatten`` also closes every open position of the scope at market: real fills at the
    latest quote with the strategy's slippage and commission, booked here in one transaction
    per strategy. Returns {"scope", "state", "previous", "flattened_positions" (count),
    "cancelled_orders" (count), "unpriced" (symbols with no quote, left open), "events"}.
    Raises UnknownStrategy or BadControlRequest."""
    state = _state(state)
    if not why or not why.strip():
        raise BadControlRequest("give a reason (why) for the change, e.g. --reason 'news event'")
    strategies = _scope_strategies(conn, scope)
    previous = store.set_trading_state(conn, scope, state, who, why, now)
    events = []
    if previous != state:
        events.append(NotificationEvent(
            key=f"state:{scope}:{now.isoformat()}:{state.value}", kind="trading_state", strategy_id=scope,
            facts={"scope": scope, "state": state.value, "previous": previous.value, "who": who, "why": why},
        ))
    cancelled = flattened = 0
    unpriced: list[str] = []
    if state != TradingState.ACTIVE or flatten:
        for strategy_id in strategies:
            c, f, u = _wind_down(conn, strategy_id, f"{scope} {state.value}: {why}", now, flatten)
            cancelled, flattened, unpriced = cancelled + c, flattened + f, unpriced + u
    _send(events)
    return {"scope": scope, "state": state.value, "previous": previous.value, "flattened_positions": flattened,
            "cancelled_orders": cancelled, "unpriced": unpriced, "events": [e.model_dump() for e in events]}


def kill_switch(conn: psycopg.Connection, on: bool, who: str, why: str, now: datetime, *,
                flatten: bool = False) -> dict[str, Any]:
    """The kill switch: the account HALTED (on) or ACTIVE (off); see :func:`set_trading_state`."""
    return set_trading_state(conn, ACCOUNT, TradingState.HALTED if on else TradingState.ACTIVE, who, why, now,
                             flatten=flatten)


def pause(conn: psycopg.Connection, strategy_id: str, who: str, why: str, now: datetime) -> dict[str, Any]:
    """Pause a strategy: HALTED (nothing new; its working exits stay)."""
    return set_trading_state(conn, strategy_id, TradingState.HALTED, who, why, now)


def resume(conn: psycopg.Connection, strategy_id: str, who: str, why: str, now: datetime) -> dict[str, Any]:
    """Resume a strategy: ACTIVE (breaker trips in force still refuse entries until they end or are reset)."""
    return set_trading_state(conn, strategy_id, TradingState.ACTIVE, who, why, now)


def reset_breaker(conn: psycopg.Connection, scope: str, breaker: str, who: str, why: str,
                  now: datetime) -> dict[str, Any]:
    """Lift every trip of ``breaker`` (one of :data:`tradeflow.domain.risk.breakers.BREAKERS`)
    in force for ``scope``, recorded with who and why. Returns {"scope", "breaker", "reset"
    (count), "events"}; resetting nothing tripped is not an error (reset 0)."""
    if breaker not in breakers.BREAKERS:
        raise BadControlRequest(f"unknown breaker {breaker!r}; use one of {', '.join(breakers.BREAKERS)}")
    if not why or not why.strip():
        raise BadControlRequest("give a reason for the reset, e.g. --reason 'checked the fills'")
    _scope_strategies(conn, scope)
    with conn.transaction():
        count = store.reset_trips(conn, scope, breaker, who, why, now)
    events = [NotificationEvent(key=f"reset:{scope}:{breaker}:{now.isoformat()}", kind="breaker_reset",
                                strategy_id=scope, facts={"breaker": breaker, "who": who, "why": why})] if count else []
    _send(events)
    return {"scope": scope, "breaker": breaker, "reset": count, "events": [e.model_dump() for e in events]}


def risk_status(conn: psycopg.Connection, now: datetime) -> dict[str, Any]:
    """The account's and each strategy's trading state (and its effective state once breaker
    trips count), the trips in force with until-when (UTC, None = until reset), and today's
    P&L (currency: equity now minus at the session's open) against the daily loss limit."""
    states = store.trading_states(conn)

    def state_of(scope: str) -> dict[str, Any]:
        row = states.get(scope)
        return {"state": row["state"] if row else "ACTIVE", "reason": row["reason"] if row else None,
                "changed_by": row["changed_by"] if row else None, "changed_at": row["changed_at"] if row else None}

    opened = calendar.last_session_open(now)
    out: dict[str, Any] = {"at": now, "session_open": opened, "account": state_of(ACCOUNT), "strategies": {}}
    for strategy_id in store.strategy_ids(conn):
        config, state = store.strategy(conn, strategy_id)
        trips = store.trips_in_force(conn, strategy_id, now)
        effective = state
        for trip in trips:
            if trip.symbol is None:
                effective = stricter(effective, trip.state)
        cash, value = store.mark_to_market(conn, strategy_id, now)
        start = start_of_day_equity(conn, strategy_id, opened)
        out["strategies"][strategy_id] = {
            **state_of(strategy_id), "effective": stricter(effective, TradingState(out["account"]["state"])).value,
            "trips": [{"breaker": t.breaker, "symbol": t.symbol, "until": t.until, "reason": t.reason} for t in trips],
            "equity": cash + value, "start_of_day_equity": start, "pnl_today": cash + value - start,
            "daily_loss_limit": breakers.daily_loss_limit(config, start),
        }
    return out


def start_of_day_equity(conn: psycopg.Connection, strategy_id: str, session_open: datetime) -> Decimal:
    """The equity (currency) the session started with: the last mark before its open, else
    the account's starting cash."""
    before = store.equity_before(conn, strategy_id, session_open)
    return before if before is not None else store.account(conn, strategy_id)["starting_cash"]


def close_positions(conn: psycopg.Connection, strategy_id: str, config: StrategyConfig, reason: str,
                    now: datetime, symbols: set[str] | None = None) -> tuple[int, list[str]]:
    """Close the strategy's open positions (those in ``symbols``, or all) at market now: an
    exit order ``flatten:<position id>`` filled at the latest quote with the strategy's
    slippage and commission, its other exits cancelled. Returns (closed, symbols without a
    quote, left open). The caller holds the strategy's account lock (one fill at a time)."""
    from tradeflow.pipeline import paper_executor

    closed, unpriced = 0, []
    for position in store.open_positions(conn, strategy_id):
        symbol = position["symbol"]
        if symbols is not None and symbol not in symbols:
            continue
        quote = store.latest_quote(conn, symbol, now)
        if quote is None:
            unpriced.append(symbol)
            continue
        side = "sell" if position["side"] == "long" else "buy"
        key = f"flatten:{position['position_id']}"
        store.insert_order(conn, strategy_id, None, OrderRequest(key, symbol, side, position["quantity"], "market",
                                                                 "exit"), now)
        order = store.order(conn, key, lock=True)
        if order["status"] != "pending":
            continue
        store.transition(conn, order["order_id"], "pending", "accepted", reason, now)
        order = {**order, "status": "accepted"}
        reference = fills.quote_price(side, quote["price"], quote["bid"], quote["ask"])
        price = fills.slipped(reference, side, config.slippage_bps, config.instrument(symbol).tick_size)
        paper_executor.fill(conn, order, config, price, reference, "flatten", None, now)
        closed += 1
    return closed, unpriced


def _wind_down(conn, strategy_id: str, reason: str, now: datetime, flatten: bool) -> tuple[int, int, list[str]]:
    """Cancel the strategy's working entries (and their legs), and with ``flatten`` close its
    positions; one transaction under the strategy's account lock."""
    with conn.transaction():
        store.account(conn, strategy_id, lock=True)
        cancelled = 0
        for entry in store.working_entries(conn, strategy_id):
            store.transition(conn, entry["order_id"], entry["status"], "cancelled", reason, now)
            cancelled += 1
            for leg in store.bracket_legs(conn, entry["client_order_id"]):
                if leg["status"] == "pending":
                    store.transition(conn, leg["order_id"], "pending", "cancelled", "entry cancelled: " + reason, now)
        closed, unpriced = 0, []
        if flatten:
            config, _ = store.strategy(conn, strategy_id)
            closed, unpriced = close_positions(conn, strategy_id, config, reason, now)
    return cancelled, closed, unpriced


def _scope_strategies(conn, scope: str) -> list[str]:
    if scope == ACCOUNT:
        return store.strategy_ids(conn)
    if store.strategy(conn, scope) is None:
        raise UnknownStrategy(f"no strategy {scope!r}; add it with tradeflow strategy add {scope}, or use 'account'")
    return [scope]


def _state(state: TradingState | str) -> TradingState:
    try:
        return state if isinstance(state, TradingState) else TradingState.parse(state)
    except ValueError as exc:
        raise BadControlRequest(str(exc)) from None


def _send(events: list[NotificationEvent]) -> None:
    url = ControlEnv().notifications_queue_url
    for event in events:
        if url:
            aws.send(url, event)
