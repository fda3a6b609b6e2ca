"""The PostgreSQL store, in trading terms. Every function takes an open psycopg connection;
callers own the transaction. Writes are idempotent through natural keys."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.rows import tuple_row

from tradeflow.domain.fills import Resting
from tradeflow.domain.ledger import Position
from tradeflow.domain.monitor import TickPlan, WorkingOrder
from tradeflow.domain.orders import OrderRequest
from tradeflow.domain.ports import Bar as PriceBar
from tradeflow.domain.ports import Exposure, age_seconds
from tradeflow.domain.ports import Quote as PriceQuote
from tradeflow.domain.risk import Decision, RiskSnapshot, TradingState
from tradeflow.domain.risk.breakers import Trip
from tradeflow.domain.signals import Intent, Signal
from tradeflow.domain.strategy import StrategyConfig

Row = dict[str, Any]


# --- strategies and accounts -------------------------------------------------------------

def add_strategy(conn: psycopg.Connection, strategy_id: str, config: StrategyConfig, now: datetime) -> None:
    """Register a strategy and open its paper account with ``config.starting_cash``;
    re-registering replaces the current settings (when they changed) but keeps the account.
    Each change is appended to ``strategy_settings_history`` (the settings, their hash, when)."""
    with conn.transaction():
        changed = conn.execute(
            "INSERT INTO strategies (strategy_id, settings, created_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (strategy_id) DO UPDATE SET settings = EXCLUDED.settings "
            "WHERE strategies.settings IS DISTINCT FROM EXCLUDED.settings",
            (strategy_id, config.model_dump_json(), now),
        ).rowcount
        if changed:
            conn.execute(
                "INSERT INTO strategy_settings_history (strategy_id, config_hash, settings, changed_at) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (strategy_id, config.config_hash(), config.model_dump_json(), now),
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


def account_and_strategy_states(conn: psycopg.Connection, strategy_id: str
                                ) -> tuple[tuple[TradingState, str | None], tuple[TradingState, str | None]]:
    """((state, reason) of the account, (state, reason) of ``strategy_id``), as
    :func:`trading_state` gives each, in one statement."""
    rows = {r["scope"]: r for r in conn.execute(
        "SELECT scope, state, reason FROM trading_states WHERE scope IN ('account', %s)", (strategy_id,))}
    return tuple((TradingState.ACTIVE, None) if (row := rows.get(scope)) is None
                 else (TradingState(row["state"]), row["reason"]) for scope in ("account", strategy_id))


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


def set_kill_switch(conn: psycopg.Connection, on: bool, reason: str | None, now: datetime,
                    cancel_reason: str = "kill switch turned on", who: str = "tradeflow") -> int:
    """Turn the kill switch on (the account HALTED) or off (ACTIVE), logged as a state change
    by ``who``. Turning it on also cancels every entry not yet filled (pending or accepted;
    their exit legs end with them), so none fills after the switch even if it is turned off
    later; returns how many were cancelled."""
    with conn.transaction():
        set_trading_state(conn, "account", TradingState.HALTED if on else TradingState.ACTIVE, who,
                          reason or ("kill switch on" if on else "kill switch off"), now)
        if not on:
            return 0
        entries = conn.execute("SELECT order_id, status FROM orders WHERE purpose = 'entry' "
                               "AND status IN ('pending', 'accepted') ORDER BY order_id FOR UPDATE").fetchall()
        for entry in entries:
            transition(conn, entry["order_id"], entry["status"], "cancelled", cancel_reason, now)
    return len(entries)


def account(conn: psycopg.Connection, strategy_id: str, lock: bool = False) -> Row:
    """The strategy's paper account: starting_cash, cash, realised_pnl, fees (currency)."""
    return conn.execute(
        "SELECT * FROM accounts WHERE strategy_id = %s" + (" FOR UPDATE" if lock else ""), (strategy_id,)
    ).fetchone()


def lock_account_of_order(conn: psycopg.Connection, client_order_id: str) -> bool:
    """Lock (FOR UPDATE) the paper account of the strategy that owns order ``client_order_id``,
    in one statement; False when there is no such order."""
    return conn.execute(
        "SELECT 1 FROM accounts WHERE strategy_id = (SELECT strategy_id FROM orders WHERE client_order_id = %s) "
        "FOR UPDATE", (client_order_id,)
    ).fetchone() is not None


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

    def closed_at(self, symbol: str, at: datetime) -> PriceBar | PriceQuote | None:
        row = self.conn.execute(_QUOTE + "WHERE symbol = %s AND ts = %s", (symbol, at)).fetchone()
        return None if row is None else _price_of(symbol, row)

    def first_closed_after(self, symbol: str, after: datetime, until: datetime) -> PriceBar | PriceQuote | None:
        row = self.conn.execute(_QUOTE + "WHERE symbol = %s AND ts > %s AND ts <= %s ORDER BY ts LIMIT 1",
                                (symbol, after, until)).fetchone()
        return None if row is None else _price_of(symbol, row)


def _price_of(symbol: str, row: Row) -> PriceBar | PriceQuote:
    """A feed row as the port's bar (open, high, low and open time all kept) or plain quote."""
    if row["open"] is not None and row["opened_at"] is not None:
        return PriceBar(symbol, row["opened_at"], row["ts"], row["open"], row["high"], row["low"], row["price"],
                        row["source"])
    return PriceQuote(symbol, row["price"], row["ts"], row["source"], row["bid"], row["ask"])


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


def keep_alert_body(conn: psycopg.Connection, signal_id: uuid.UUID, body: str, path: str | None) -> None:
    """Keep a signal's raw webhook ``body`` and URL ``path`` token, secrets already replaced
    (:func:`tradeflow.pipeline.webhook.redact_for_replay`); the first kept for a signal stays."""
    conn.execute("INSERT INTO alert_bodies (signal_id, body, path) VALUES (%s, %s, %s) "
                 "ON CONFLICT (signal_id) DO NOTHING", (signal_id, body, path))


def decision(conn: psycopg.Connection, signal_id: uuid.UUID) -> Row | None:
    return conn.execute("SELECT * FROM decisions WHERE signal_id = %s", (signal_id,)).fetchone()


def kill_switch(conn: psycopg.Connection) -> bool:
    """Whether the kill switch is on (the account HALTED)."""
    return trading_state(conn, "account")[0] is TradingState.HALTED


#: What counts as a position for the risk gates (symbol, side), each query bounded by the
#: strategy and an index: open positions (positions_one_open); entries created and working
#: (orders_strategy_entries), a pending one only while younger than the deadline; approved
#: entry decisions whose orders do not exist yet, only while younger than the deadline
#: (decisions_approved_entries, then orders_signal for the NOT EXISTS).
_HELD = (
    "SELECT symbol, side FROM positions WHERE strategy_id = %(s)s AND status = 'open' "
    "UNION ALL "
    "SELECT symbol, CASE side WHEN 'buy' THEN 'long' ELSE 'short' END FROM orders "
    "WHERE strategy_id = %(s)s AND purpose = 'entry' AND status IN ('pending', 'accepted', 'partially_filled') "
    "AND (status <> 'pending' OR created_at >= %(deadline)s) "
    "UNION ALL "
    "SELECT s.symbol, CASE d.intent WHEN 'enter_long' THEN 'long' ELSE 'short' END "
    "FROM decisions d JOIN signals s USING (signal_id) "
    "WHERE d.approved AND d.expired_at IS NULL AND d.decided_at >= %(deadline)s AND s.strategy_id = %(s)s "
    "AND 'entry' = ANY (d.legs) "
    "AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.signal_id = d.signal_id AND o.purpose = 'entry')"
)


def risk_snapshot(conn: psycopg.Connection, strategy_id: str, config: StrategyConfig, strategy_state: TradingState,
                  symbol: str, intent: Intent, before: datetime, deadline: datetime,
                  session_open: datetime) -> RiskSnapshot:
    """The inputs of the risk gates for a signal received at ``before``: the account's and the
    strategy's trading states, what the strategy holds or is about to hold (symbol -> side:
    open positions, entries working, and entries approved or created after ``deadline`` that
    have not reached the executor yet; see :data:`_HELD`), the last approved signal with the same symbol and intent, the
    breaker trips in force, and, only when ``config`` sets the limit that needs them, the
    symbol's last exit and last losing exit, the entries approved since ``session_open`` and
    the orders created in the last minute."""
    (account_state, account_reason), (_, strategy_reason) = account_and_strategy_states(conn, strategy_id)
    held = {r["symbol"]: r["side"] for r in conn.execute(_HELD, {"s": strategy_id, "deadline": deadline})}
    last = conn.execute(
        "SELECT s.received_at AS at FROM signals s JOIN decisions d USING (signal_id) "
        "WHERE s.strategy_id = %s AND s.symbol = %s AND s.received_at < %s AND d.intent = %s AND d.approved "
        "ORDER BY s.received_at DESC LIMIT 1",
        (strategy_id, symbol, before, intent),
    ).fetchone()
    last_exit = losing = None
    if config.cooldown_after_exit_minutes or config.cooldown_after_loss_minutes:  # positions_closed, backwards
        exits = "SELECT closed_at FROM positions WHERE strategy_id = %s AND symbol = %s AND status = 'closed' "
        row = conn.execute(exits + "ORDER BY closed_at DESC LIMIT 1", (strategy_id, symbol)).fetchone()
        last_exit = row and row["closed_at"]
        row = conn.execute(exits + "AND realised_pnl - fees < 0 ORDER BY closed_at DESC LIMIT 1",
                           (strategy_id, symbol)).fetchone()
        losing = row and row["closed_at"]
    entries = orders = 0
    if config.max_entries_per_session:  # signals_strategy_received
        entries = conn.execute(
            "SELECT count(*) AS n FROM decisions d JOIN signals s USING (signal_id) WHERE s.strategy_id = %s "
            "AND d.approved AND 'entry' = ANY (d.legs) AND s.received_at >= %s AND s.received_at < %s",
            (strategy_id, session_open, before)).fetchone()["n"]
    if config.max_orders_per_minute:  # orders_strategy_created
        orders = conn.execute(
            "SELECT count(*) AS n FROM orders WHERE strategy_id = %s AND parent_client_order_id IS NULL "
            "AND created_at > %s AND created_at <= %s",
            (strategy_id, before - timedelta(minutes=1), before)).fetchone()["n"]
    reason = account_reason if account_state != TradingState.ACTIVE else strategy_reason
    return RiskSnapshot(
        account_state=account_state, strategy_state=strategy_state, state_reason=reason, open_positions=held,
        last_same_signal_at=last["at"] if last else None, trips=tuple(trips_in_force(conn, strategy_id, before)),
        last_exit_at={symbol: last_exit} if last_exit else {},
        last_losing_exit_at={symbol: losing} if losing else {},
        entries_this_session=entries, orders_last_minute=orders,
    )


#: How far back before the deadline :func:`expire_stale_entries` looks (seconds). It runs on every
#: signal of the strategy, so an hour covers any strategy that alerts at least hourly; an older
#: stray decision already stopped counting as held at its deadline (:data:`_HELD`), it is only
#: not marked expired. The bound keeps the work per alert to the last hour's entries, however
#: long the history (tests/integration/test_query_plans.py).
EXPIRY_LOOKBACK_SECONDS = 3600


def expire_stale_entries(conn: psycopg.Connection, strategy_id: str, deadline: datetime, now: datetime,
                         reason: str) -> list[Row]:
    """Expire what never materialised before ``deadline``: approved entry decisions with no
    entry order (the decision is marked expired with ``reason``), and entries still
    ``pending`` (never executed: cancelled with ``reason``). Returns the expired items as rows
    with signal_id, symbol and client_order_id (None for a decision). Locks what it changes;
    the caller holds the strategy lock."""
    since = deadline - timedelta(seconds=EXPIRY_LOOKBACK_SECONDS)
    expired: list[Row] = []
    candidates = conn.execute(
        "SELECT d.signal_id, s.symbol FROM decisions d JOIN signals s USING (signal_id) "
        "WHERE d.approved AND d.expired_at IS NULL AND d.decided_at >= %s AND d.decided_at < %s "
        "AND s.strategy_id = %s AND 'entry' = ANY (d.legs) "
        "AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.signal_id = d.signal_id AND o.purpose = 'entry') "
        "ORDER BY d.decided_at FOR UPDATE OF d",
        (since, deadline, strategy_id),
    ).fetchall()
    for row in candidates:  # re-checked after the lock: order_creator may have just created them
        if conn.execute("SELECT 1 FROM orders WHERE signal_id = %s AND purpose = 'entry'",
                        (row["signal_id"],)).fetchone() is None:
            conn.execute("UPDATE decisions SET expired_at = %s, expiry_reason = %s WHERE signal_id = %s",
                         (now, reason, row["signal_id"]))
            expired.append({**row, "client_order_id": None})
    for order in conn.execute(
        "SELECT * FROM orders WHERE strategy_id = %s AND purpose = 'entry' AND status = 'pending' "
        "AND created_at >= %s AND created_at < %s ORDER BY order_id FOR UPDATE",
        (strategy_id, since, deadline),
    ).fetchall():
        transition(conn, order["order_id"], "pending", "cancelled", reason, now)
        expired.append({"signal_id": order["signal_id"], "symbol": order["symbol"],
                        "client_order_id": order["client_order_id"]})
    return expired


def insert_decision(conn: psycopg.Connection, signal_id: uuid.UUID, intent: Intent, d: Decision,
                    inputs: dict[str, Any], config_hash: str, now: datetime) -> Row | None:
    """Record the decision on a signal once; returns the row inserted (as :func:`decision`
    reads it), or None when the signal already had a decision."""
    return conn.execute(
        "INSERT INTO decisions (signal_id, approved, intent, legs, reasons, inputs, config_hash, decided_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING *",
        (signal_id, d.approved, intent, list(d.legs), json.dumps(list(d.reasons)), json.dumps(inputs, default=str),
         config_hash, now),
    ).fetchone()


def note_decision(conn: psycopg.Connection, signal_id: uuid.UUID, note: str) -> None:
    """Append ``note`` (e.g. how an exposure cap shrank the entry) to the decision's reasons."""
    conn.execute("UPDATE decisions SET reasons = reasons || %s::jsonb WHERE signal_id = %s",
                 (json.dumps([note]), signal_id))


def signal_with_decision(conn: psycopg.Connection, signal_id: uuid.UUID, lock: bool = False) -> Row | None:
    """The signal with its decision (approved, intent, legs, expired_at, expiry_reason), or
    None; ``lock`` locks the decision row (order_creator against the expiry sweep)."""
    return conn.execute(
        "SELECT s.*, d.approved, d.intent, d.legs, d.expired_at, d.expiry_reason FROM signals s "
        "JOIN decisions d USING (signal_id) WHERE s.signal_id = %s" + (" FOR UPDATE OF d" if lock else ""),
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


def amend(conn: psycopg.Connection, order_id: int, field: str, value: Decimal, reason: str, now: datetime) -> None:
    """Replace an open order's ``stop_price`` or ``limit_price`` through the append-only
    order_amendments log (the database refuses it for an order no longer open)."""
    conn.execute(
        "INSERT INTO order_amendments (order_id, field, new_value, reason, at) VALUES (%s, %s, %s, %s, %s)",
        (order_id, field, value, reason, now),
    )


def working_entries(conn: psycopg.Connection, strategy_id: str, symbol: str | None = None) -> list[Row]:
    """The strategy's entries (in ``symbol``, or in every symbol) not yet filled (pending or
    accepted), locked, oldest first."""
    return conn.execute(
        "SELECT * FROM orders WHERE strategy_id = %(s)s AND (%(sym)s::text IS NULL OR symbol = %(sym)s) "
        "AND purpose = 'entry' AND status IN ('pending', 'accepted') ORDER BY order_id FOR UPDATE",
        {"s": strategy_id, "sym": symbol},
    ).fetchall()


#: The working orders (accepted or partially filled) that the latest quote or bar of their
#: symbol at %(at)s can affect, with that quote (columns in :class:`WorkingOrder` order). An
#: exit leg resting at a plain stop or limit is read only when the price range of the quote or
#: bar (low to high, with last, bid and ask) has reached it, since no fill rule can fill it
#: otherwise (:func:`tradeflow.domain.fills.stop_touched` and ``limit_touched`` are inclusive,
#: and every reference price lies in that range); each side and type is an index range per
#: symbol (migration 0004). Every other working order (entries, exits, trailing stops,
#: stop-limits, ioc, day orders due) is always read. So a tick reads the orders near the
#: market, not every open bracket; ``everything`` reads all (to check the pruning).
_WORKING_NOW = "o.status IN ('accepted', 'partially_filled')"
_RESTING = _WORKING_NOW + " AND o.purpose IN ('stop_loss', 'take_profit') AND o.order_type = '{0}' AND o.side = '{1}'"
_WORKING = (
    "WITH q AS (SELECT l.* FROM (SELECT DISTINCT symbol FROM orders o WHERE " + _WORKING_NOW + ") s "
    "  CROSS JOIN LATERAL (SELECT symbol, ts, price, bid, ask, open, high, low, least(low, price, bid, ask) AS lo, "
    "  greatest(high, price, bid, ask) AS hi FROM quotes "
    "  WHERE quotes.symbol = s.symbol AND ts <= %(at)s ORDER BY ts DESC LIMIT 1) l), "
    "near AS ("
    "  SELECT o.order_id FROM orders o WHERE " + _WORKING_NOW + " AND (%(everything)s OR NOT ("
    "    o.purpose IN ('stop_loss', 'take_profit') AND o.order_type IN ('stop', 'limit') "
    "    AND o.time_in_force <> 'ioc')) "
    "  UNION SELECT o.order_id FROM orders o WHERE " + _WORKING_NOW + " AND o.expires_at <= %(at)s "
    "  UNION SELECT o.order_id FROM q JOIN orders o ON o.symbol = q.symbol AND " + _RESTING.format("stop", "sell")
    + " AND o.stop_price >= q.lo "
    "  UNION SELECT o.order_id FROM q JOIN orders o ON o.symbol = q.symbol AND " + _RESTING.format("stop", "buy")
    + " AND o.stop_price <= q.hi "
    "  UNION SELECT o.order_id FROM q JOIN orders o ON o.symbol = q.symbol AND " + _RESTING.format("limit", "sell")
    + " AND o.limit_price <= q.hi "
    "  UNION SELECT o.order_id FROM q JOIN orders o ON o.symbol = q.symbol AND " + _RESTING.format("limit", "buy")
    + " AND o.limit_price >= q.lo) "
    "SELECT o.order_id, o.client_order_id, o.strategy_id, o.symbol, o.side, o.order_type, o.purpose, o.status, "
    "  o.stop_price, o.limit_price, o.stop_triggered_at, o.time_in_force, o.expires_at, o.working_since, "
    "  o.position_id, o.high_water_mark, o.trail_amount, o.trail_percent, "
    "  q.ts, q.price, q.bid, q.ask, q.open, q.high, q.low, o.trailed_at "
    "FROM near JOIN orders o USING (order_id) LEFT JOIN q USING (symbol) "
    "ORDER BY o.strategy_id, o.symbol, o.order_id"
)


def working_orders(conn: psycopg.Connection, at: datetime, everything: bool = False) -> list[WorkingOrder]:
    """The working orders that the latest quote or bar at ``at`` can affect (every working
    order if ``everything``), each with that quote, by strategy, symbol and order id: one
    statement, and only the orders near the market cross the wire."""
    with conn.cursor(row_factory=tuple_row) as cur:
        return [WorkingOrder(*row) for row in cur.execute(_WORKING, {"at": at, "everything": everything}).fetchall()]


def strategy_configs(conn: psycopg.Connection) -> dict[str, StrategyConfig]:
    """Every strategy's settings, by strategy id."""
    return {r["strategy_id"]: _config(r["settings"])
            for r in conn.execute("SELECT strategy_id, settings::text FROM strategies")}


@lru_cache(maxsize=1024)
def _config(settings: str) -> StrategyConfig:
    """Settings JSON, parsed once per distinct text (StrategyConfig is immutable)."""
    return StrategyConfig.model_validate_json(settings)


def apply_tick(conn: psycopg.Connection, plan: TickPlan, now: datetime) -> None:
    """Write the effects of a stop-monitor tick (:class:`TickPlan`): stop-limit triggers,
    high-water marks, stop amendments and status transitions, each as one batch."""
    with conn.cursor() as cur:
        if plan.stop_triggers:
            cur.executemany("UPDATE orders SET stop_triggered_at = %s WHERE order_id = %s "
                            "AND stop_triggered_at IS NULL", [(at, oid) for oid, at in plan.stop_triggers])
        if plan.high_water_marks:
            cur.executemany("UPDATE orders SET high_water_mark = %s, trailed_at = %s WHERE order_id = %s",
                            [(mark, at, oid) for oid, mark, at in plan.high_water_marks])
        if plan.amendments:
            cur.executemany("INSERT INTO order_amendments (order_id, field, new_value, reason, at) "
                            "VALUES (%s, 'stop_price', %s, %s, %s)",
                            [(oid, value, reason, now) for oid, value, reason in plan.amendments])
        if plan.transitions:
            cur.executemany("INSERT INTO order_events (order_id, from_status, to_status, reason, at) "
                            "VALUES (%s, %s, %s, %s, %s)",
                            [(oid, old, new, reason, now) for oid, old, new, reason in plan.transitions])


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


def open_positions(conn: psycopg.Connection, strategy_id: str, at: datetime | None = None) -> list[Row]:
    """The strategy's open positions by symbol; with ``at``, each with ``unrealised`` (currency:
    side x (latest price at or before ``at`` x quantity - cost basis); positions without a
    price are left out then)."""
    if at is None:
        return conn.execute("SELECT * FROM positions WHERE strategy_id = %s AND status = 'open' ORDER BY symbol",
                            (strategy_id,)).fetchall()
    return conn.execute(
        "SELECT p.*, CASE p.side WHEN 'long' THEN 1 ELSE -1 END * (q.price * p.quantity - p.cost_basis) "
        "  AS unrealised FROM positions p JOIN LATERAL (SELECT price FROM quotes WHERE symbol = p.symbol "
        "  AND ts <= %s ORDER BY ts DESC LIMIT 1) q ON true WHERE p.strategy_id = %s AND p.status = 'open' "
        "ORDER BY p.symbol",
        (at, strategy_id),
    ).fetchall()


def position(conn: psycopg.Connection, position_id: int) -> Row | None:
    """One position by id, open or closed."""
    return conn.execute("SELECT * FROM positions WHERE position_id = %s", (position_id,)).fetchone()


def fill_of(conn: psycopg.Connection, order_id: int) -> Row | None:
    """The order's fill (tradeflow books one fill per order), or None."""
    return conn.execute("SELECT * FROM fills WHERE order_id = %s", (order_id,)).fetchone()


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


#: Market value (currency) of each strategy's open positions at %(at)s: each at the latest
#: price of its symbol (looked up once per symbol), or at its entry price while there is none.
_VALUES = (
    "WITH open AS MATERIALIZED (SELECT strategy_id, symbol, side, quantity, avg_entry_price FROM positions "
    "  WHERE status = 'open' {where}), "
    "last AS (SELECT s.symbol, q.price FROM (SELECT DISTINCT symbol FROM open) s CROSS JOIN LATERAL ("
    "  SELECT price FROM quotes WHERE quotes.symbol = s.symbol AND ts <= %(at)s ORDER BY ts DESC LIMIT 1) q), "
    "value AS (SELECT o.strategy_id, sum(CASE o.side WHEN 'long' THEN 1 ELSE -1 END * o.quantity "
    "  * coalesce(l.price, o.avg_entry_price)) AS value FROM open o LEFT JOIN last l USING (symbol) "
    "  GROUP BY o.strategy_id) "
)


def mark_to_market(conn: psycopg.Connection, strategy_id: str, at: datetime) -> tuple[Decimal, Decimal]:
    """(cash, market value) of the strategy's account at ``at`` (currency): open positions
    valued at the latest price (a position with no price yet at its entry price)."""
    row = conn.execute(
        _VALUES.format(where="AND strategy_id = %(s)s")
        + "SELECT a.cash, coalesce(v.value, 0) AS value FROM accounts a LEFT JOIN value v USING (strategy_id) "
        "WHERE a.strategy_id = %(s)s",
        {"s": strategy_id, "at": at},
    ).fetchone()
    return row["cash"], row["value"]


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
    """An equity snapshot (cash, market value, equity; currency) of one strategy at ``at``;
    the first one recorded for that time stays."""
    conn.execute(
        "INSERT INTO equity_snapshots (strategy_id, ts, cash, market_value, equity) VALUES (%s, %s, %s, %s, %s) "
        "ON CONFLICT DO NOTHING",
        (strategy_id, at, cash, value, cash + value),
    )


def record_equity_marks(conn: psycopg.Connection, at: datetime) -> None:
    """Every strategy's equity snapshot at ``at``, marked to market as :func:`mark_to_market`
    does, in one statement; the first one recorded for a strategy and time stays."""
    conn.execute(
        _VALUES.format(where="")
        + "INSERT INTO equity_snapshots (strategy_id, ts, cash, market_value, equity) "
        "SELECT a.strategy_id, %(at)s, a.cash, coalesce(v.value, 0), a.cash + coalesce(v.value, 0) "
        "FROM accounts a LEFT JOIN value v USING (strategy_id) ON CONFLICT DO NOTHING",
        {"at": at},
    )


def stale_exposures(conn: psycopg.Connection, at: datetime, older_than: datetime) -> list[Exposure]:
    """The open positions whose symbol's latest price at ``at`` is older than ``older_than``
    (or that have none), with that price, in one statement: the positions through the
    open-position index, the price looked up once per symbol."""
    rows = conn.execute(
        "WITH open AS MATERIALIZED (SELECT strategy_id, symbol, position_id, side, quantity FROM positions "
        "  WHERE status = 'open'), "
        "last AS (SELECT s.symbol, q.price, q.ts, q.source FROM (SELECT DISTINCT symbol FROM open) s "
        "  LEFT JOIN LATERAL (SELECT price, ts, source FROM quotes WHERE quotes.symbol = s.symbol AND ts <= %(at)s "
        "  ORDER BY ts DESC LIMIT 1) q ON true) "
        "SELECT o.*, l.price, l.ts, l.source FROM open o JOIN last l USING (symbol) "
        "WHERE l.ts IS NULL OR l.ts < %(older)s ORDER BY o.strategy_id, o.symbol",
        {"at": at, "older": older_than},
    ).fetchall()
    return [Exposure(r["strategy_id"], r["symbol"], r["position_id"], r["side"], r["quantity"], r["price"], r["ts"],
                     r["source"]) for r in rows]


def notified(conn: psycopg.Connection, keys: list[str]) -> set[str]:
    """Which of the notification ``keys`` were claimed already (sent, sending or failed)."""
    if not keys:
        return set()
    rows = conn.execute("SELECT notification_key FROM notifications WHERE notification_key = ANY(%s)",
                        (keys,)).fetchall()
    return {r["notification_key"] for r in rows}


# --- notifications -----------------------------------------------------------------------

def claim_notification(conn: psycopg.Connection, key: str, kind: str, strategy_id: str, subject: str, message: str,
                       now: datetime, receive_count: int = 1) -> tuple[str, list[str]] | None:
    """Claim a notification before sending it, inside the notifier's transaction (the row stays
    locked until that commits, so a concurrent claimer waits and then finds it sent). Returns
    None if it was sent already, else (mode, channels already sent): mode ``"first"`` when no
    earlier attempt can have sent it, ``"repeat"`` when one may have (the row is then marked
    possibly_duplicated). ``receive_count``: the queue's receive count of the message (SQS
    ApproximateReceiveCount; 1 for a direct call). A new row with ``receive_count`` > 1 is a
    repeat: an earlier receive left no row, so it died before its commit, perhaps after a send;
    the row's ``attempts`` is then the receive count. A row left ``sending`` (committed by a
    version that claimed in a transaction of its own) is a repeat too. One statement: the earlier
    attempt's status is read (locked) in the statement that claims the row."""
    row = conn.execute(
        "WITH prior AS (SELECT status FROM notifications WHERE notification_key = %(key)s FOR UPDATE), "
        "claimed AS (INSERT INTO notifications (notification_key, kind, strategy_id, subject, message, status, "
        "created_at, attempts, possibly_duplicated) SELECT %(key)s, %(kind)s, %(strategy)s, %(subject)s, "
        "%(message)s, 'sending', %(now)s, %(count)s, %(count)s > 1 "
        "FROM (SELECT count(*) FROM prior) AS read_first "  # prior is read (and locked) before the upsert
        "ON CONFLICT (notification_key) DO UPDATE SET status = 'sending', "
        "attempts = notifications.attempts + 1, "
        "possibly_duplicated = notifications.possibly_duplicated OR notifications.status = 'sending' "
        "WHERE notifications.status <> 'sent' RETURNING channels, xmax = 0 AS fresh) "
        "SELECT claimed.channels, claimed.fresh, (SELECT status FROM prior) AS prior FROM claimed",
        {"key": key, "kind": kind, "strategy": strategy_id, "subject": subject, "message": message, "now": now,
         "count": max(1, receive_count)},
    ).fetchone()
    if row is None:
        return None
    if row["fresh"]:
        return ("repeat" if receive_count > 1 else "first"), []
    return ("repeat" if row["prior"] == "sending" else "first"), list(row["channels"])


def finish_notification(conn: psycopg.Connection, key: str, channels: list[str], error: str | None,
                        now: datetime) -> None:
    """Record the outcome of a send: ``sent`` on the channels it reached, or ``failed`` with
    ``error`` (a failed publish reached nobody, so the retry is a first send)."""
    conn.execute(
        "UPDATE notifications SET status = %s, channels = %s, error = %s, sent_at = %s WHERE notification_key = %s",
        ("failed" if error else "sent", channels, error, None if error else now, key),
    )


# --- messages that can never succeed -------------------------------------------------------

def record_rejected_message(conn: psycopg.Connection, queue: str, message_key: str, strategy_id: str | None,
                            body: str, reason: str, now: datetime) -> bool:
    """Record a queue message that can never be processed; False if it was recorded already
    (a redelivery). NUL and lone surrogates, which PostgreSQL text cannot hold, are replaced."""
    clean = body.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")
    cur = conn.execute(
        "INSERT INTO rejected_messages (queue, message_key, strategy_id, body, reason, rejected_at) "
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (queue, message_key, strategy_id, clean[:10_000], reason.replace("\x00", "\ufffd"), now),
    )
    return cur.rowcount == 1


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


def position_pnl_at_fill(conn: psycopg.Connection, position_id: int, fill_id: int) -> Decimal:
    """The position's realised P&L net of all its fees as booked up to and including fill
    ``fill_id`` (fills are booked one at a time per strategy, in fill_id order): the fact a
    fill message reports, whatever happened to the position later."""
    return conn.execute(
        "SELECT coalesce(sum(f.realised_pnl - f.commission), 0) AS pnl FROM fills f JOIN orders o USING (order_id) "
        "WHERE o.position_id = %s AND f.fill_id <= %s",
        (position_id, fill_id),
    ).fetchone()["pnl"]


# --- deliveries: one row per notification and channel --------------------------------------

def deliveries(conn: psycopg.Connection, key: str) -> dict[str, Row]:
    """The delivery rows of notification ``key`` by channel (empty before it was routed):
    status, attempts, error, hold_until."""
    return {r["channel"]: r for r in conn.execute(
        "SELECT channel, status, attempts, error, hold_until FROM notification_deliveries "
        "WHERE notification_key = %s ORDER BY channel", (key,))}


def route_notification(conn: psycopg.Connection, key: str, strategy_id: str, decide, channels: tuple[str, ...],
                       limits: dict[str, int], window_start: datetime, now: datetime) -> dict[str, Row]:
    """Create the delivery rows of ``key`` once, inside the caller's transaction: for each
    channel, ``decide(channel, sent, open_burst)`` gives its first (status, hold_until).
    ``sent``: the times the account's most recent messages on that channel (every strategy) go
    out, from ``window_start`` on, newest first, at most ``limits[channel]`` of them (a rate
    limit needs no more; none for a channel not in ``limits``), a merged burst once (at its
    hold_until, through the row that opened it: ``burst_opener``), a burst still waiting
    included; ``open_burst``: the hold_until of the channel's
    burst still waiting, or None. Serialised for the whole account by an advisory lock held until
    the caller commits, so concurrent notifiers cannot both take the last place under a rate
    limit or open two bursts on one channel. Returns the rows."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('notify:account'))")
    if existing := deliveries(conn, key):
        return existing
    rows: dict[str, Row] = {}
    for channel in channels:
        sent = [r["at"] for r in conn.execute(
            "SELECT DISTINCT coalesce(hold_until, created_at) AS at, "
            "CASE WHEN hold_until IS NULL THEN notification_key END AS one "
            "FROM notification_deliveries WHERE channel = %(c)s AND status IN ('pending', 'delivered', 'failed') "
            "AND (hold_until IS NULL OR burst_opener) AND coalesce(hold_until, created_at) > %(start)s "
            "ORDER BY 1 DESC, 2 DESC LIMIT %(n)s",
            {"c": channel, "start": window_start, "n": limits.get(channel, 0)})] if limits.get(channel) else []
        open_burst = conn.execute(
            "SELECT max(hold_until) AS at FROM notification_deliveries WHERE channel = %s "
            "AND hold_until > %s AND status = 'pending'", (channel, now)).fetchone()["at"]
        status, hold = decide(channel, sent, open_burst)
        rows[channel] = conn.execute(
            "INSERT INTO notification_deliveries (notification_key, channel, strategy_id, status, created_at, "
            "hold_until, burst_opener) VALUES (%s, %s, %s, %s, %s, %s, %s) "
            "RETURNING channel, status, attempts, error, hold_until",
            (key, channel, strategy_id, status, now, hold, hold is not None and hold != open_burst)).fetchone()
    return dict(sorted(rows.items()))


def record_deliveries(conn: psycopg.Connection, keys: list[str], channel: str, error: str | None,
                      now: datetime, burst_send: int | None = None) -> None:
    """Record one attempt on ``channel`` for each of ``keys`` (one message, or a merged burst)
    and its outcome, in the transaction of the send: ``delivered`` at ``now``, or ``failed``
    with ``error``; ``burst_send``: the number the burst's send took
    (:func:`next_burst_send`)."""
    conn.execute(
        "UPDATE notification_deliveries SET attempts = attempts + 1, status = %s, error = %s, delivered_at = %s, "
        "burst_send = coalesce(%s, burst_send) WHERE notification_key = ANY(%s) AND channel = %s",
        ("failed" if error else "delivered", error, None if error else now, burst_send, keys, channel),
    )


def due_bursts(conn: psycopg.Connection, now: datetime) -> list[tuple[str, datetime]]:
    """(channel, hold_until) of every burst whose hold ended by ``now`` and that has a row not
    yet delivered (pending, or failed: a retry), oldest first."""
    return [(r["channel"], r["hold_until"]) for r in conn.execute(
        "SELECT DISTINCT channel, hold_until FROM notification_deliveries WHERE hold_until IS NOT NULL "
        "AND hold_until <= %s AND status IN ('pending', 'failed') ORDER BY hold_until, channel", (now,))]


def burst(conn: psycopg.Connection, channel: str, hold_until: datetime) -> list[Row]:
    """The rows of one burst not yet delivered, in the order they came: notification_key,
    strategy_id, kind, subject, message, status, attempts, created_at."""
    return conn.execute(
        "SELECT d.notification_key, d.strategy_id, n.kind, n.subject, n.message, d.status, d.attempts, d.created_at "
        "FROM notification_deliveries d JOIN notifications n USING (notification_key) "
        "WHERE d.channel = %s AND d.hold_until = %s AND d.status IN ('pending', 'failed') "
        "ORDER BY d.created_at, d.notification_key", (channel, hold_until)).fetchall()


def hold_back(conn: psycopg.Connection, keys: list[str], channel: str, status: str) -> None:
    """Hold the rows of ``keys`` on ``channel`` back for the digest (``suppressed`` or
    ``rate_limited``): a burst that fell into quiet hours while it waited."""
    conn.execute("UPDATE notification_deliveries SET status = %s WHERE notification_key = ANY(%s) AND channel = %s "
                 "AND status IN ('pending', 'failed')", (status, keys, channel))


def lock_bursts(conn: psycopg.Connection) -> bool:
    """Take the lock that one notifier at a time holds while it sends bursts (so two cannot
    send the same burst), until its transaction ends; False if another holds it."""
    return conn.execute("SELECT pg_try_advisory_xact_lock(hashtext('notify:bursts')) AS got").fetchone()["got"]


def burst_sent_unrecorded(conn: psycopg.Connection) -> bool:
    """Whether a burst send took a number (:func:`next_burst_send`) that no row records: a
    notifier died, or its transaction rolled back, after it may have sent a burst. Call under
    :func:`lock_bursts`."""
    return conn.execute(
        "SELECT coalesce(pg_sequence_last_value('notification_burst_sends'), 0) > "
        "coalesce((SELECT max(burst_send) FROM notification_deliveries), 0) AS unrecorded").fetchone()["unrecorded"]


def next_burst_send(conn: psycopg.Connection) -> int:
    """The number of the burst send about to happen, taken outside the transaction (a
    sequence: a rollback does not give it back); record it with :func:`record_deliveries`."""
    return conn.execute("SELECT nextval('notification_burst_sends') AS n").fetchone()["n"]


def held_back(conn: psycopg.Connection, strategy_id: str | None, digest_key: str, until: datetime) -> list[Row]:
    """Notifications of ``strategy_id`` (None: of every strategy) created up to ``until``
    waiting for a digest (routed to it, rate-limited or suppressed on a channel, not yet carried
    by another digest), plus those already attached to ``digest_key`` (a retried digest). One
    row per notification: notification_key, strategy_id, kind, message, created_at, channels,
    statuses."""
    return conn.execute(
        "SELECT n.notification_key, n.strategy_id, n.kind, n.message, n.created_at, "
        "array_agg(d.channel ORDER BY d.channel) AS channels, array_agg(d.status ORDER BY d.channel) AS statuses "
        "FROM notification_deliveries d JOIN notifications n USING (notification_key) "
        "WHERE (%(s)s::text IS NULL OR d.strategy_id = %(s)s) AND d.created_at <= %(until)s "
        "AND (d.digest_key = %(digest)s OR d.digest_key IS NULL AND "
        "(d.status IN ('rate_limited', 'suppressed') OR d.channel = 'digest')) "
        "GROUP BY n.notification_key, n.strategy_id, n.kind, n.message, n.created_at "
        "ORDER BY n.created_at, n.notification_key",
        {"s": strategy_id, "until": until, "digest": digest_key},
    ).fetchall()


def attach_to_digest(conn: psycopg.Connection, keys: list[str], digest_key: str, now: datetime) -> None:
    """Mark the held-back rows of ``keys`` as carried by ``digest_key``; their digest rows delivered."""
    conn.execute(
        "UPDATE notification_deliveries SET digest_key = %s, "
        "status = CASE WHEN channel = 'digest' THEN 'delivered' ELSE status END, "
        "delivered_at = CASE WHEN channel = 'digest' THEN %s ELSE delivered_at END "
        "WHERE notification_key = ANY(%s) AND digest_key IS NULL "
        "AND (status IN ('rate_limited', 'suppressed') OR channel = 'digest')",
        (digest_key, now, keys),
    )


def period_report(conn: psycopg.Connection, strategy_id: str, start: datetime, end: datetime) -> Row:
    """Facts of [start, end) for summaries: fills, realised P&L net of fees (currency), closed
    trades and wins, best and worst closed trade (symbol, net P&L), refusals by reason."""
    closed = conn.execute(
        "SELECT symbol, realised_pnl - fees AS pnl FROM positions WHERE strategy_id = %s AND status = 'closed' "
        "AND closed_at >= %s AND closed_at < %s ORDER BY realised_pnl - fees, position_id",
        (strategy_id, start, end)).fetchall()
    refusals = conn.execute(
        "SELECT kind, count(*) AS n FROM notifications WHERE strategy_id = %s AND created_at >= %s AND created_at < %s "
        "AND kind IN ('signal_refused', 'alert_refused', 'order_rejected') GROUP BY kind ORDER BY kind",
        (strategy_id, start, end)).fetchall()
    day = day_summary(conn, strategy_id, start, end)
    return {"fills": day["fills"], "realised_pnl": day["realised_pnl"], "trades": len(closed),
            "wins": sum(1 for t in closed if t["pnl"] > 0),
            "worst": closed[0] if closed else None, "best": closed[-1] if closed else None,
            "refusals": {r["kind"]: r["n"] for r in refusals}}


def open_positions_with_stops(conn: psycopg.Connection, strategy_id: str) -> list[Row]:
    """Open positions (symbol, side, quantity, avg_entry_price) and the stop price of their
    working stop-loss, if any (currency per share)."""
    return conn.execute(
        "SELECT p.symbol, p.side, p.quantity, p.avg_entry_price, "
        "(SELECT min(o.stop_price) FROM orders o WHERE o.position_id = p.position_id AND o.purpose = 'stop_loss' "
        " AND o.status IN ('pending', 'accepted')) AS stop_price "
        "FROM positions p WHERE p.strategy_id = %s AND p.status = 'open' ORDER BY p.symbol", (strategy_id,)).fetchall()


def equity_between(conn: psycopg.Connection, strategy_id: str, start: datetime, end: datetime) -> list[Decimal]:
    """The recorded end-of-day equity of [start, end), oldest first (currency)."""
    return [r["equity"] for r in conn.execute(
        "SELECT equity FROM equity_snapshots WHERE strategy_id = %s AND ts >= %s AND ts < %s ORDER BY ts",
        (strategy_id, start, end))]
