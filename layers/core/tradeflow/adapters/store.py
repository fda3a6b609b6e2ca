"""The PostgreSQL store, in trading terms. Every function takes an open psycopg connection;
callers own the transaction. Writes are idempotent through natural keys."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg

from tradeflow.domain.fills import Bar, Resting
from tradeflow.domain.ledger import Position
from tradeflow.domain.orders import OrderRequest
from tradeflow.domain.ports import Bar as PriceBar
from tradeflow.domain.ports import Quote as PriceQuote
from tradeflow.domain.ports import age_seconds
from tradeflow.domain.risk import Decision, RiskSnapshot, TradingState
from tradeflow.domain.risk.breakers import Trip
from tradeflow.domain.signals import Intent, Signal
from tradeflow.domain.strategy import StrategyConfig

Row = dict[str, Any]


# --- strategies and accounts -------------------------------------------------------------

def add_strategy(conn: psycopg.Connection, strategy_id: str, config: StrategyConfig, now: datetime) -> None:
    """Register a strategy and open its paper account with ``config.starting_cash``;
    re-registering replaces the settings (when they changed) but keeps the account."""
    with conn.transaction():
        conn.execute(
            "INSERT INTO strategies (strategy_id, settings, created_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (strategy_id) DO UPDATE SET settings = EXCLUDED.settings "
            "WHERE strategies.settings IS DISTINCT FROM EXCLUDED.settings",
            (strategy_id, config.model_dump_json(), now),
        )
        conn.execute(
            "INSERT INTO accounts (strategy_id, starting_cash, cash, updated_at) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (strategy_id) DO NOTHING",
            (strategy_id, config.starting_cash, config.starting_cash, now),
        )


def strategy(conn: psycopg.Connection, strategy_id: str, lock: bool = False
             ) -> tuple[StrategyConfig, TradingState] | None:
    """(settings, trading state) of a strategy, or None. ``lock`` serialises decisions per strategy."""
    row = conn.execute(
        "SELECT s.settings, coalesce(t.state, 'ACTIVE') AS state FROM strategies s "
        "LEFT JOIN trading_states t ON t.scope = s.strategy_id WHERE s.strategy_id = %s"
        + (" FOR UPDATE OF s" if lock else ""),
        (strategy_id,),
    ).fetchone()
    return None if row is None else (StrategyConfig.model_validate(row["settings"]), TradingState(row["state"]))


def strategy_ids(conn: psycopg.Connection) -> list[str]:
    return [r["strategy_id"] for r in conn.execute("SELECT strategy_id FROM strategies ORDER BY strategy_id")]


# --- trading states and breakers --------------------------------------------------------

def trading_state(conn: psycopg.Connection, scope: str) -> tuple[TradingState, str | None]:
    """(state, reason) of ``scope`` (a strategy id or ``account``); ACTIVE when never set."""
    row = conn.execute("SELECT state, reason FROM trading_states WHERE scope = %s", (scope,)).fetchone()
    return (TradingState.ACTIVE, None) if row is None else (TradingState(row["state"]), row["reason"])


def set_trading_state(conn: psycopg.Connection, scope: str, state: TradingState, who: str, why: str,
                      now: datetime) -> TradingState:
    """Set ``scope``'s state and append the change (who, why, when) to trading_state_changes;
    returns the previous state. Setting the state it has already changes and logs nothing."""
    with conn.transaction():
        conn.execute("INSERT INTO trading_states (scope, state) VALUES (%s, 'ACTIVE') ON CONFLICT DO NOTHING",
                     (scope,))
        previous = TradingState(conn.execute(
            "SELECT state FROM trading_states WHERE scope = %s FOR UPDATE", (scope,)).fetchone()["state"])
        if previous != state:
            conn.execute("UPDATE trading_states SET state = %s, reason = %s, changed_by = %s, changed_at = %s "
                         "WHERE scope = %s", (state.value, why, who, now, scope))
            conn.execute("INSERT INTO trading_state_changes (scope, from_state, to_state, who, why, at) "
                         "VALUES (%s, %s, %s, %s, %s, %s)", (scope, previous.value, state.value, who, why, now))
    return previous


def trading_states(conn: psycopg.Connection) -> dict[str, Row]:
    """scope -> its row (state, reason, changed_by, changed_at) for every scope ever set."""
    return {r["scope"]: r for r in conn.execute("SELECT * FROM trading_states ORDER BY scope")}


def state_changes(conn: psycopg.Connection, scope: str | None = None) -> list[Row]:
    """The append-only log of state changes (of ``scope``, or all), oldest first."""
    return conn.execute(
        "SELECT * FROM trading_state_changes WHERE %(s)s::text IS NULL OR scope = %(s)s ORDER BY change_id",
        {"s": scope},
    ).fetchall()


def record_trip(conn: psycopg.Connection, trip: Trip, now: datetime) -> bool:
    """Record a breaker trip; False when its (scope, key) tripped before (a repeated trigger)."""
    cur = conn.execute(
        "INSERT INTO breaker_trips (scope, breaker, trip_key, symbol, state, reason, tripped_at, until) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (scope, trip_key) DO NOTHING",
        (trip.scope, trip.breaker, trip.key, trip.symbol, trip.state.value, trip.reason, now, trip.until),
    )
    return cur.rowcount == 1


def trips_in_force(conn: psycopg.Connection, scope: str | None, at: datetime) -> list[Trip]:
    """The trips of ``scope`` (or every scope) holding at ``at``: tripped at or before it, not
    reset, and ``until`` later than ``at`` (or none)."""
    return [
        Trip(r["breaker"], r["scope"], r["trip_key"], TradingState(r["state"]), r["until"], r["reason"], r["symbol"])
        for r in conn.execute(
            "SELECT * FROM breaker_trips t WHERE (%(s)s::text IS NULL OR t.scope = %(s)s) AND t.tripped_at <= %(at)s "
            "AND (t.until IS NULL OR t.until > %(at)s) "
            "AND NOT EXISTS (SELECT 1 FROM breaker_resets r WHERE r.trip_id = t.trip_id) ORDER BY t.trip_id",
            {"s": scope, "at": at},
        )
    ]


def reset_trips(conn: psycopg.Connection, scope: str, breaker: str, who: str, why: str, now: datetime) -> int:
    """Reset every trip of ``breaker`` in force for ``scope`` (recorded in breaker_resets with
    who and why); returns how many."""
    cur = conn.execute(
        "INSERT INTO breaker_resets (trip_id, who, why, at) SELECT t.trip_id, %(who)s, %(why)s, %(now)s "
        "FROM breaker_trips t WHERE t.scope = %(s)s AND t.breaker = %(b)s AND t.tripped_at <= %(now)s "
        "AND (t.until IS NULL OR t.until > %(now)s) "
        "AND NOT EXISTS (SELECT 1 FROM breaker_resets r WHERE r.trip_id = t.trip_id)",
        {"who": who, "why": why, "now": now, "s": scope, "b": breaker},
    )
    return cur.rowcount


def trips(conn: psycopg.Connection, scope: str | None = None) -> list[Row]:
    """Every trip (of ``scope`` or all), with its reset if any, oldest first."""
    return conn.execute(
        "SELECT t.*, r.who AS reset_by, r.why AS reset_why, r.at AS reset_at FROM breaker_trips t "
        "LEFT JOIN breaker_resets r USING (trip_id) WHERE %(s)s::text IS NULL OR t.scope = %(s)s ORDER BY t.trip_id",
        {"s": scope},
    ).fetchall()


def equity_before(conn: psycopg.Connection, strategy_id: str, at: datetime) -> Decimal | None:
    """The last equity snapshot (currency) of the strategy strictly before ``at``, or None."""
    row = conn.execute(
        "SELECT equity FROM equity_snapshots WHERE strategy_id = %s AND ts < %s ORDER BY ts DESC LIMIT 1",
        (strategy_id, at),
    ).fetchone()
    return None if row is None else row["equity"]


def peak_equity(conn: psycopg.Connection, strategy_id: str) -> Decimal | None:
    """The highest equity snapshot (currency) of the strategy, or None."""
    return conn.execute("SELECT max(equity) AS peak FROM equity_snapshots WHERE strategy_id = %s",
                        (strategy_id,)).fetchone()["peak"]


def stop_outs(conn: psycopg.Connection, strategy_id: str, since: datetime) -> list[datetime]:
    """When the strategy's stop-loss exits filled since ``since`` (UTC)."""
    return [r["filled_at"] for r in conn.execute(
        "SELECT f.filled_at FROM fills f JOIN orders o USING (order_id) WHERE o.strategy_id = %s "
        "AND o.purpose = 'stop_loss' AND f.filled_at > %s ORDER BY f.filled_at",
        (strategy_id, since),
    )]


def account(conn: psycopg.Connection, strategy_id: str, lock: bool = False) -> Row:
    """The strategy's paper account: starting_cash, cash, realised_pnl, fees (currency)."""
    return conn.execute(
        "SELECT * FROM accounts WHERE strategy_id = %s" + (" FOR UPDATE" if lock else ""), (strategy_id,)
    ).fetchone()


def update_account(conn: psycopg.Connection, strategy_id: str, cash_delta: Decimal, realised: Decimal,
                   fee: Decimal, now: datetime) -> None:
    conn.execute(
        "UPDATE accounts SET cash = cash + %s, realised_pnl = realised_pnl + %s, fees = fees + %s, updated_at = %s "
        "WHERE strategy_id = %s",
        (cash_delta, realised, fee, now, strategy_id),
    )


# --- prices ------------------------------------------------------------------------------

#: A quote (or bar) row: ts (the close), price (last or close), bid, ask, open, high, low, opened_at, source.
_QUOTE = "SELECT ts, price, bid, ask, open, high, low, opened_at, source FROM quotes "

def record_quote(conn: psycopg.Connection, symbol: str, ts: datetime, price: Decimal, source: str,
                 bid: Decimal | None = None, ask: Decimal | None = None, open: Decimal | None = None,
                 high: Decimal | None = None, low: Decimal | None = None, opened_at: datetime | None = None) -> None:
    """Add a price to the feed; a second price for the same symbol and time is ignored, except
    that a bar replaces a plain last-trade quote (e.g. an alert's ``{{close}}``) at its close.
    A bar is recorded with ``ts`` its CLOSE time, ``price`` its close, open/high/low, and
    ``opened_at`` its open time when known."""
    conn.execute(
        "INSERT INTO quotes (symbol, ts, price, bid, ask, source, open, high, low, opened_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (symbol, ts) DO UPDATE SET "
        "price = EXCLUDED.price, bid = EXCLUDED.bid, ask = EXCLUDED.ask, source = EXCLUDED.source, "
        "open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, opened_at = EXCLUDED.opened_at "
        "WHERE quotes.open IS NULL AND EXCLUDED.open IS NOT NULL",
        (symbol, ts, price, bid, ask, source, open, high, low, opened_at),
    )


def latest_quote(conn: psycopg.Connection, symbol: str, at: datetime) -> Row | None:
    """The last quote for ``symbol`` at or before ``at`` (ts, price, bid, ask, open, high,
    low, opened_at), or None."""
    return conn.execute(
        _QUOTE + "WHERE symbol = %s AND ts <= %s ORDER BY ts DESC LIMIT 1",
        (symbol, at),
    ).fetchone()


def as_bar(quote: Row) -> Bar:
    """A quote row as a bar; a plain last-trade quote is a flat bar at its price."""
    price = quote["price"]
    return Bar(quote["open"] or price, quote["high"] or price, quote["low"] or price, price)


def bar_at(conn: psycopg.Connection, symbol: str, ts: datetime) -> Row | None:
    """The quote (bar) of ``symbol`` that closed at ``ts``, or None."""
    return conn.execute(
        _QUOTE + "WHERE symbol = %s AND ts = %s", (symbol, ts)
    ).fetchone()


def first_bar_after(conn: psycopg.Connection, symbol: str, after: datetime, until: datetime) -> Row | None:
    """The first quote (bar) of ``symbol`` closing after ``after`` and at or before ``until``."""
    return conn.execute(
        _QUOTE + "WHERE symbol = %s AND ts > %s AND ts <= %s ORDER BY ts LIMIT 1",
        (symbol, after, until),
    ).fetchone()


def record_bars(conn: psycopg.Connection, bars: list[PriceBar]) -> None:
    """Add bars (:class:`tradeflow.domain.ports.Bar`) to the feed with their source, each under
    its close time with its open time, as :func:`record_quote` records one bar (a bar already
    there for the symbol and close time is kept)."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO quotes (symbol, ts, price, source, open, high, low, opened_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (symbol, ts) DO UPDATE SET "
            "price = EXCLUDED.price, bid = NULL, ask = NULL, source = EXCLUDED.source, open = EXCLUDED.open, "
            "high = EXCLUDED.high, low = EXCLUDED.low, opened_at = EXCLUDED.opened_at "
            "WHERE quotes.open IS NULL",
            [(b.symbol, b.closes_at, b.close, b.source, b.open, b.high, b.low, b.opened_at) for b in bars],
        )


class QuotesFeed:
    """The :class:`~tradeflow.domain.ports.PriceFeed` over the ``quotes`` table (the store of
    record) on ``conn``: the latest bar (a row with open, high, low and open time) or quote of
    a symbol at or before a time, with its source. Bars come back without volume, which the
    table does not keep."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def latest_bar(self, symbol: str, at: datetime) -> PriceBar | None:
        row = self.conn.execute(
            _QUOTE + "WHERE symbol = %s AND ts <= %s AND open IS NOT NULL AND opened_at IS NOT NULL "
            "ORDER BY ts DESC LIMIT 1", (symbol, at),
        ).fetchone()
        if row is None:
            return None
        return PriceBar(symbol, row["opened_at"], row["ts"], row["open"], row["high"], row["low"], row["price"],
                        row["source"])

    def latest_quote(self, symbol: str, at: datetime) -> PriceQuote | None:
        row = latest_quote(self.conn, symbol, at)
        return None if row is None else PriceQuote(symbol, row["price"], row["ts"], row["source"], row["bid"],
                                                   row["ask"])


# --- signals and decisions ---------------------------------------------------------------

def insert_signal(conn: psycopg.Connection, signal: Signal) -> bool:
    """Persist a signal; False if its dedupe key is already stored (a repeated alert)."""
    a = signal.alert
    cur = conn.execute(
        "INSERT INTO signals (signal_id, dedupe_key, strategy_id, symbol, exchange, action, alert, alert_time, "
        "received_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (signal.signal_id, signal.dedupe_key, signal.strategy_id, a.ticker, a.exchange, a.action,
         a.model_dump_json(), a.time, signal.received_at),
    )
    return cur.rowcount == 1


def decision(conn: psycopg.Connection, signal_id: uuid.UUID) -> Row | None:
    return conn.execute("SELECT * FROM decisions WHERE signal_id = %s", (signal_id,)).fetchone()


def risk_snapshot(conn: psycopg.Connection, strategy_id: str, strategy_state: TradingState, symbol: str,
                  intent: Intent, before: datetime, session_open: datetime) -> RiskSnapshot:
    """The inputs of the risk gates for a signal received at ``before``: the account's and the
    strategy's trading states, the strategy's open positions and approved entries not yet
    filled (symbol -> side), the last approved signal with the same symbol and intent, the
    breaker trips in force, each symbol's last exit and last losing exit, the entries approved
    since ``session_open`` and the orders created in the last minute."""
    account_state, account_reason = trading_state(conn, "account")
    _, strategy_reason = trading_state(conn, strategy_id)
    held = {
        r["symbol"]: r["side"]
        for r in conn.execute(
            "SELECT symbol, side FROM positions WHERE strategy_id = %s AND status = 'open' "
            "UNION ALL "
            "SELECT s.symbol, CASE d.intent WHEN 'enter_long' THEN 'long' ELSE 'short' END "
            "FROM decisions d JOIN signals s USING (signal_id) "
            "WHERE s.strategy_id = %s AND d.approved AND 'entry' = ANY (d.legs) AND NOT EXISTS ("
            "  SELECT 1 FROM orders o WHERE o.signal_id = d.signal_id AND o.purpose = 'entry' "
            "  AND o.status IN ('filled', 'cancelled', 'rejected', 'expired'))",
            (strategy_id, strategy_id),
        )
    }
    last = conn.execute(
        "SELECT max(s.received_at) AS at FROM decisions d JOIN signals s USING (signal_id) "
        "WHERE s.strategy_id = %s AND s.symbol = %s AND d.intent = %s AND d.approved AND s.received_at < %s",
        (strategy_id, symbol, intent, before),
    ).fetchone()["at"]
    exits = conn.execute(
        "SELECT max(closed_at) AS any_exit, max(closed_at) FILTER (WHERE realised_pnl - fees < 0) AS losing "
        "FROM positions WHERE strategy_id = %s AND symbol = %s AND status = 'closed'",
        (strategy_id, symbol),
    ).fetchone()
    losing = exits["losing"]
    counts = conn.execute(
        "SELECT (SELECT count(*) FROM decisions d JOIN signals s USING (signal_id) WHERE s.strategy_id = %(s)s "
        "        AND d.approved AND 'entry' = ANY (d.legs) AND s.received_at >= %(open)s "
        "        AND s.received_at < %(at)s) AS entries, "
        "       (SELECT count(*) FROM orders WHERE strategy_id = %(s)s AND parent_client_order_id IS NULL "
        "        AND created_at > %(minute)s AND created_at <= %(at)s) AS orders",
        {"s": strategy_id, "open": session_open, "at": before, "minute": before - timedelta(minutes=1)},
    ).fetchone()
    reason = account_reason if account_state != TradingState.ACTIVE else strategy_reason
    return RiskSnapshot(
        account_state=account_state, strategy_state=strategy_state, state_reason=reason, open_positions=held,
        last_same_signal_at=last, trips=tuple(trips_in_force(conn, strategy_id, before)),
        last_exit_at={symbol: exits["any_exit"]} if exits["any_exit"] else {},
        last_losing_exit_at={symbol: losing} if losing else {},
        entries_this_session=counts["entries"], orders_last_minute=counts["orders"],
    )


def insert_decision(conn: psycopg.Connection, signal_id: uuid.UUID, intent: Intent, d: Decision,
                    inputs: dict[str, Any], config_hash: str, now: datetime) -> None:
    conn.execute(
        "INSERT INTO decisions (signal_id, approved, intent, legs, reasons, inputs, config_hash, decided_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (signal_id, d.approved, intent, list(d.legs), json.dumps(list(d.reasons)), json.dumps(inputs, default=str),
         config_hash, now),
    )


def note_decision(conn: psycopg.Connection, signal_id: uuid.UUID, note: str) -> None:
    """Append ``note`` (e.g. how an exposure cap shrank the entry) to the decision's reasons."""
    conn.execute("UPDATE decisions SET reasons = reasons || %s::jsonb WHERE signal_id = %s",
                 (json.dumps([note]), signal_id))


def signal_with_decision(conn: psycopg.Connection, signal_id: uuid.UUID) -> Row | None:
    return conn.execute(
        "SELECT s.*, d.approved, d.intent, d.legs FROM signals s JOIN decisions d USING (signal_id) "
        "WHERE s.signal_id = %s",
        (signal_id,),
    ).fetchone()


# --- orders ------------------------------------------------------------------------------

def insert_order(conn: psycopg.Connection, strategy_id: str, signal_id: uuid.UUID | None, o: OrderRequest,
                 now: datetime) -> bool:
    """Create an order in ``pending``; False if its client_order_id exists already."""
    cur = conn.execute(
        "INSERT INTO orders (client_order_id, strategy_id, signal_id, symbol, side, quantity, order_type, purpose, "
        "stop_price, limit_price, oco_group, parent_client_order_id, time_in_force, expires_at, trail_amount, "
        "trail_percent, breakeven_after_target, working_since, created_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (client_order_id) DO NOTHING",
        (o.client_order_id, strategy_id, signal_id, o.symbol, o.side, o.quantity, o.order_type, o.purpose,
         o.stop_price, o.limit_price, o.oco_group, o.parent_client_order_id, o.time_in_force, o.expires_at,
         o.trail_amount, o.trail_percent, o.breakeven_after_target,
         None if o.parent_client_order_id else now, now),
    )
    return cur.rowcount == 1


def orders_for_signal(conn: psycopg.Connection, signal_id: uuid.UUID) -> list[Row]:
    return conn.execute("SELECT * FROM orders WHERE signal_id = %s ORDER BY order_id", (signal_id,)).fetchall()


def order(conn: psycopg.Connection, client_order_id: str, lock: bool = False) -> Row | None:
    return conn.execute(
        "SELECT * FROM orders WHERE client_order_id = %s" + (" FOR UPDATE" if lock else ""), (client_order_id,)
    ).fetchone()


def transition(conn: psycopg.Connection, order_id: int, from_status: str, to_status: str, reason: str | None,
               now: datetime) -> None:
    """Move an order to ``to_status`` through the append-only event log (the database checks
    the transition table and that the order is in ``from_status``)."""
    conn.execute(
        "INSERT INTO order_events (order_id, from_status, to_status, reason, at) VALUES (%s, %s, %s, %s, %s)",
        (order_id, from_status, to_status, reason, now),
    )


def bracket_legs(conn: psycopg.Connection, entry_client_order_id: str) -> list[Row]:
    return conn.execute(
        "SELECT * FROM orders WHERE parent_client_order_id = %s ORDER BY order_id FOR UPDATE",
        (entry_client_order_id,),
    ).fetchall()


def open_exit_orders(conn: psycopg.Connection, position_id: int) -> list[Row]:
    return conn.execute(
        "SELECT * FROM orders WHERE position_id = %s AND status IN ('pending', 'accepted', 'partially_filled') "
        "ORDER BY order_id FOR UPDATE",
        (position_id,),
    ).fetchall()


def attach_to_position(conn: psycopg.Connection, order_id: int, position_id: int) -> None:
    conn.execute("UPDATE orders SET position_id = %s WHERE order_id = %s", (position_id, order_id))


def as_resting(order: Row) -> Resting:
    """The matcher's view of an order row."""
    return Resting(order["client_order_id"], order["side"], order["order_type"], order["purpose"],
                   order["stop_price"], order["limit_price"], order["stop_triggered_at"] is not None)


def start_working(conn: psycopg.Connection, order_id: int, since: datetime, high_water_mark: Decimal | None) -> None:
    """An exit leg becomes active at ``since`` (the bar model matches bars closing after it);
    a trailing stop starts its high-water mark."""
    conn.execute("UPDATE orders SET working_since = %s, high_water_mark = %s WHERE order_id = %s",
                 (since, high_water_mark, order_id))


def set_high_water_mark(conn: psycopg.Connection, order_id: int, mark: Decimal) -> None:
    conn.execute("UPDATE orders SET high_water_mark = %s WHERE order_id = %s", (mark, order_id))


def mark_stop_triggered(conn: psycopg.Connection, order_id: int, at: datetime) -> None:
    """A stop-limit's stop was touched at ``at``: it works on as a limit order (idempotent)."""
    conn.execute("UPDATE orders SET stop_triggered_at = %s WHERE order_id = %s AND stop_triggered_at IS NULL",
                 (at, order_id))


def amend(conn: psycopg.Connection, order_id: int, field: str, value: Decimal, reason: str, now: datetime) -> None:
    """Replace an open order's ``stop_price`` or ``limit_price`` through the append-only
    order_amendments log (the database refuses it for an order no longer open)."""
    conn.execute(
        "INSERT INTO order_amendments (order_id, field, new_value, reason, at) VALUES (%s, %s, %s, %s, %s)",
        (order_id, field, value, reason, now),
    )


def working_entries(conn: psycopg.Connection, strategy_id: str, symbol: str) -> list[Row]:
    """The strategy's entries in ``symbol`` not yet filled (pending or accepted), locked."""
    return conn.execute(
        "SELECT * FROM orders WHERE strategy_id = %s AND symbol = %s AND purpose = 'entry' "
        "AND status IN ('pending', 'accepted') ORDER BY order_id FOR UPDATE",
        (strategy_id, symbol),
    ).fetchall()


def working_orders(conn: psycopg.Connection) -> list[Row]:
    """Every accepted (working) order with its strategy's settings, by strategy, symbol and
    order id."""
    return conn.execute(
        "SELECT o.*, s.settings FROM orders o JOIN strategies s USING (strategy_id) "
        "WHERE o.status IN ('accepted', 'partially_filled') ORDER BY o.strategy_id, o.symbol, o.order_id"
    ).fetchall()


# --- fills and positions -----------------------------------------------------------------

def insert_fill(conn: psycopg.Connection, order_id: int, quantity: Decimal, price: Decimal, quote_price: Decimal,
                slippage_bps: Decimal, fee: Decimal, realised: Decimal, now: datetime,
                priced_by: Row | None = None, booked_at: datetime | None = None) -> None:
    """Record the order's first fill (sequence 1); a second attempt violates UNIQUE(order_id, seq).
    ``priced_by`` is the quote (or bar) row that priced it: its source and as-of time are kept
    with the price's age in seconds at ``booked_at`` (default ``now``)."""
    as_of = priced_by["ts"] if priced_by else None
    age = age_seconds(as_of, booked_at or now) if as_of else None
    conn.execute(
        "INSERT INTO fills (order_id, seq, quantity, price, quote_price, slippage_bps, commission, realised_pnl, "
        "filled_at, price_source, price_as_of, price_age_seconds) VALUES (%s, 1, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (order_id, quantity, price, quote_price, slippage_bps, fee, realised, now,
         priced_by["source"] if priced_by else None, as_of, age),
    )


def open_position(conn: psycopg.Connection, strategy_id: str, symbol: str, lock: bool = False) -> Row | None:
    return conn.execute(
        "SELECT * FROM positions WHERE strategy_id = %s AND symbol = %s AND status = 'open'"
        + (" FOR UPDATE" if lock else ""),
        (strategy_id, symbol),
    ).fetchone()


def save_position(conn: psycopg.Connection, strategy_id: str, row: Row | None, after: Position, realised: Decimal,
                  fee: Decimal, price: Decimal, reason: str, now: datetime) -> int:
    """Write the position after a fill: open a new one, update it, or close it. Returns its id."""
    if row is None:
        return conn.execute(
            "INSERT INTO positions (strategy_id, symbol, side, quantity, cost_basis, avg_entry_price, status, "
            "opened_at, fees) VALUES (%s, %s, %s, %s, %s, %s, 'open', %s, %s) RETURNING position_id",
            (strategy_id, after.symbol, after.side, abs(after.quantity), abs(after.cost), after.avg_price, now, fee),
        ).fetchone()["position_id"]
    if after.quantity == 0:
        conn.execute(
            "UPDATE positions SET quantity = 0, cost_basis = 0, status = 'closed', closed_at = %s, exit_price = %s, "
            "exit_reason = %s, "
            "realised_pnl = realised_pnl + %s, fees = fees + %s WHERE position_id = %s",
            (now, price, reason, realised, fee, row["position_id"]),
        )
    else:
        conn.execute(
            "UPDATE positions SET quantity = %s, cost_basis = %s, avg_entry_price = %s, "
            "realised_pnl = realised_pnl + %s, fees = fees + %s WHERE position_id = %s",
            (abs(after.quantity), abs(after.cost), after.avg_price, realised, fee, row["position_id"]),
        )
    return row["position_id"]


def mark_to_market(conn: psycopg.Connection, strategy_id: str, at: datetime) -> tuple[Decimal, Decimal]:
    """(cash, market value) of the strategy's account at ``at``: open positions valued at the
    latest price (a position with no price yet at its entry price)."""
    cash = account(conn, strategy_id)["cash"]
    value = conn.execute(
        "SELECT coalesce(sum(CASE p.side WHEN 'long' THEN 1 ELSE -1 END * p.quantity "
        "  * coalesce(q.price, p.avg_entry_price)), 0) AS value "
        "FROM positions p LEFT JOIN LATERAL (SELECT price FROM quotes WHERE symbol = p.symbol AND ts <= %s "
        "  ORDER BY ts DESC LIMIT 1) q ON true WHERE p.strategy_id = %s AND p.status = 'open'",
        (at, strategy_id),
    ).fetchone()["value"]
    return cash, value


def gross_exposure(conn: psycopg.Connection, strategy_id: str, at: datetime) -> Decimal:
    """The sum of the absolute market values (currency) of the strategy's open positions at
    ``at``, valued as :func:`mark_to_market` values them."""
    return conn.execute(
        "SELECT coalesce(sum(p.quantity * coalesce(q.price, p.avg_entry_price)), 0) AS gross "
        "FROM positions p LEFT JOIN LATERAL (SELECT price FROM quotes WHERE symbol = p.symbol AND ts <= %s "
        "  ORDER BY ts DESC LIMIT 1) q ON true WHERE p.strategy_id = %s AND p.status = 'open'",
        (at, strategy_id),
    ).fetchone()["gross"]


def portfolio_heat(conn: psycopg.Connection, strategy_id: str, at: datetime) -> Decimal:
    """Portfolio heat (currency): the sum over the strategy's open positions of quantity x the
    distance from the latest price to the position's working stop-loss (its whole value when
    it has none), the loss if every stop were hit now."""
    return conn.execute(
        "SELECT coalesce(sum(p.quantity * coalesce(abs(q.price - s.stop), q.price)), 0) AS heat "
        "FROM positions p JOIN LATERAL (SELECT coalesce((SELECT price FROM quotes WHERE symbol = p.symbol "
        "  AND ts <= %s ORDER BY ts DESC LIMIT 1), p.avg_entry_price) AS price) q ON true "
        "LEFT JOIN LATERAL (SELECT min(o.stop_price) AS stop FROM orders o WHERE o.position_id = p.position_id "
        "  AND o.purpose = 'stop_loss' AND o.status IN ('accepted', 'partially_filled')) s ON true "
        "WHERE p.strategy_id = %s AND p.status = 'open'",
        (at, strategy_id),
    ).fetchone()["heat"]


def record_equity(conn: psycopg.Connection, strategy_id: str, at: datetime, cash: Decimal, value: Decimal) -> None:
    conn.execute(
        "INSERT INTO equity_snapshots (strategy_id, ts, cash, market_value, equity) VALUES (%s, %s, %s, %s, %s) "
        "ON CONFLICT DO NOTHING",
        (strategy_id, at, cash, value, cash + value),
    )


# --- notifications -----------------------------------------------------------------------

def claim_notification(conn: psycopg.Connection, key: str, kind: str, strategy_id: str, subject: str, message: str,
                       now: datetime) -> bool:
    """Record a notification as pending; False if it was already sent (a redelivery)."""
    conn.execute(
        "INSERT INTO notifications (notification_key, kind, strategy_id, subject, message, status, created_at) "
        "VALUES (%s, %s, %s, %s, %s, 'pending', %s) ON CONFLICT DO NOTHING",
        (key, kind, strategy_id, subject, message, now),
    )
    row = conn.execute("SELECT status FROM notifications WHERE notification_key = %s", (key,)).fetchone()
    return row["status"] != "sent"


def finish_notification(conn: psycopg.Connection, key: str, channels: list[str], error: str | None,
                        now: datetime) -> None:
    conn.execute(
        "UPDATE notifications SET status = %s, channels = %s, error = %s, sent_at = %s WHERE notification_key = %s",
        ("failed" if error else "sent", channels, error, None if error else now, key),
    )


def day_summary(conn: psycopg.Connection, strategy_id: str, start: datetime, end: datetime) -> Row:
    """Fills and realised P&L (gross) of fills in [start, end), and open positions now."""
    return conn.execute(
        "SELECT (SELECT count(*) FROM fills f JOIN orders o USING (order_id) "
        "        WHERE o.strategy_id = %(s)s AND f.filled_at >= %(a)s AND f.filled_at < %(b)s) AS fills, "
        "       (SELECT coalesce(sum(f.realised_pnl - f.commission), 0) FROM fills f JOIN orders o USING (order_id) "
        "        WHERE o.strategy_id = %(s)s AND f.filled_at >= %(a)s AND f.filled_at < %(b)s) AS realised_pnl, "
        "       (SELECT count(*) FROM positions WHERE strategy_id = %(s)s AND status = 'open') AS open_positions",
        {"s": strategy_id, "a": start, "b": end},
    ).fetchone()
