"""Read models of the cockpit: what a trader sees of the books, as typed records.

Every function takes an open psycopg connection (dict rows) and returns frozen dataclasses;
money is Decimal in the account currency, quantities Decimal shares, times UTC datetimes.
Lists take the filters ``strategy``, ``symbol``, ``since`` / ``until`` (UTC, inclusive /
exclusive) where they make sense, and ``limit`` / ``offset`` for pagination (newest first).
Nothing here writes.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import psycopg

from tradeflow.adapters import store
from tradeflow.domain.ledger import LotClose, fifo_fill
from tradeflow.domain.ports import Bar

WORKING = ("pending", "accepted", "partially_filled")


@dataclass(frozen=True)
class StrategyStatus:
    """One strategy: paused (its trading state is not ACTIVE) or not, its cash, equity (cash +
    market value) and open positions."""

    strategy_id: str
    paused: bool
    cash: Decimal
    equity: Decimal
    starting_cash: Decimal
    realised_pnl: Decimal
    open_positions: int


@dataclass(frozen=True)
class PriceAge:
    """The latest price of a symbol, its time and its age in seconds at the status's ``now``."""

    symbol: str
    price: Decimal
    at: datetime
    age_seconds: float


@dataclass(frozen=True)
class Status:
    """The account at a glance: kill switch (the account's trading state HALTED), strategies,
    the last alert, price ages."""

    now: datetime
    kill_switch: bool
    kill_switch_reason: str | None
    strategies: list[StrategyStatus]
    equity: Decimal
    cash: Decimal
    open_positions: int
    last_alert_at: datetime | None
    last_alert_symbol: str | None
    prices: list[PriceAge]
    risk: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PositionView:
    """An open position marked at the latest price; ``stop_loss`` / ``take_profit`` are the
    live exit legs' prices (None when the position has none) with their client_order_ids."""

    position_id: int
    strategy_id: str
    symbol: str
    side: str
    quantity: Decimal
    avg_entry_price: Decimal
    last_price: Decimal
    market_value: Decimal
    unrealised_pnl: Decimal
    opened_at: datetime
    stop_loss: Decimal | None
    stop_loss_order: str | None
    take_profit: Decimal | None
    take_profit_order: str | None


@dataclass(frozen=True)
class OrderView:
    """A working order (pending, accepted or partially filled)."""

    client_order_id: str
    strategy_id: str
    symbol: str
    side: str
    quantity: Decimal
    order_type: str
    purpose: str
    status: str
    stop_price: Decimal | None
    limit_price: Decimal | None
    time_in_force: str
    created_at: datetime


@dataclass(frozen=True)
class TradeView:
    """A closed position: average-cost figures and its FIFO lots (which add up to ``pnl``)."""

    position_id: int
    strategy_id: str
    symbol: str
    side: str
    quantity: Decimal
    entry_time: datetime
    entry_price: Decimal
    exit_time: datetime
    exit_price: Decimal | None
    pnl: Decimal
    fees: Decimal
    exit_reason: str | None
    lots: list[LotClose]


@dataclass(frozen=True)
class EquityPoint:
    """Equity (currency) at ``ts`` and the drawdown from the running peak, a fraction (0.12 = 12 %)."""

    ts: datetime
    equity: Decimal
    drawdown: Decimal


@dataclass(frozen=True)
class Notification:
    kind: str
    strategy_id: str
    subject: str
    message: str
    status: str
    created_at: datetime


@dataclass(frozen=True)
class Audit:
    """One alert's trail: the signal, the risk decision, its orders and their fills and events."""

    signal: dict
    decision: dict | None
    orders: list[dict]
    fills: list[dict]
    events: list[dict]


def fifo_lots(fills: list[tuple[str, Decimal, Decimal]]) -> list[LotClose]:
    """The lot closes of one position's fills (side 'buy'/'sell', quantity, price), first-in,
    first-out (:func:`tradeflow.domain.ledger.fifo_fill`)."""
    lots, closed = (), []
    for side, quantity, price in fills:
        lots, closes = fifo_fill(lots, side, quantity, price)
        closed += closes
    return closed


def status(conn: psycopg.Connection, now: datetime) -> Status:
    """The account's status at ``now``: kill switch, each strategy's cash and equity (open
    positions marked at the latest price at ``now``), the last alert and each symbol's last price."""
    risk = conn.execute("SELECT state, reason FROM trading_states WHERE scope = 'account'").fetchone() \
        or {"state": "ACTIVE", "reason": None}
    strategies = []
    for row in conn.execute(
        "SELECT s.strategy_id, coalesce(t.state, 'ACTIVE') AS state, a.starting_cash, a.realised_pnl, "
        "  (SELECT count(*) FROM positions p WHERE p.strategy_id = s.strategy_id AND p.status = 'open') AS n "
        "FROM strategies s JOIN accounts a USING (strategy_id) LEFT JOIN trading_states t ON t.scope = s.strategy_id "
        "ORDER BY s.strategy_id"
    ).fetchall():
        cash, value = store.mark_to_market(conn, row["strategy_id"], now)
        strategies.append(StrategyStatus(row["strategy_id"], row["state"] != "ACTIVE", cash, cash + value,
                                         row["starting_cash"], row["realised_pnl"], row["n"]))
    last = conn.execute("SELECT symbol, received_at FROM signals ORDER BY received_at DESC LIMIT 1").fetchone()
    prices = [PriceAge(r["symbol"], r["price"], r["ts"], (now - r["ts"]).total_seconds()) for r in conn.execute(
        "SELECT DISTINCT ON (symbol) symbol, price, ts FROM quotes WHERE ts <= %s ORDER BY symbol, ts DESC", (now,))]
    return Status(
        now=now, kill_switch=risk["state"] == "HALTED", kill_switch_reason=risk["reason"], strategies=strategies,
        equity=sum((s.equity for s in strategies), Decimal(0)), cash=sum((s.cash for s in strategies), Decimal(0)),
        open_positions=sum(s.open_positions for s in strategies),
        last_alert_at=last["received_at"] if last else None, last_alert_symbol=last["symbol"] if last else None,
        prices=prices)


def _where(filters: list[tuple[str, object]]) -> tuple[str, list]:
    used = [(sql, value) for sql, value in filters if value is not None]
    return (" AND ".join(sql for sql, _ in used) or "true"), [value for _, value in used]


def positions(conn: psycopg.Connection, now: datetime, strategy: str | None = None,
              symbol: str | None = None) -> list[PositionView]:
    """Open positions, marked at the latest price at ``now`` (the entry price when none yet);
    unrealised P&L = (last - average entry) x quantity, sign flipped for a short."""
    where, params = _where([("p.strategy_id = %s", strategy), ("p.symbol = %s", symbol)])
    rows = conn.execute(
        "SELECT p.*, coalesce(q.price, p.avg_entry_price) AS last_price FROM positions p "
        "LEFT JOIN LATERAL (SELECT price FROM quotes WHERE symbol = p.symbol AND ts <= %s ORDER BY ts DESC LIMIT 1) q "
        f"ON true WHERE p.status = 'open' AND {where} ORDER BY p.strategy_id, p.symbol", [now, *params]).fetchall()
    legs: dict[int, dict[str, dict]] = defaultdict(dict)
    if rows:
        for o in conn.execute(
            "SELECT position_id, purpose, client_order_id, stop_price, limit_price FROM orders "
            "WHERE position_id = ANY(%s) AND status = ANY(%s) AND purpose IN ('stop_loss', 'take_profit') "
            "ORDER BY order_id", ([r["position_id"] for r in rows], list(WORKING))):
            legs[o["position_id"]][o["purpose"]] = o
    out = []
    for r in rows:
        sign = 1 if r["side"] == "long" else -1
        stop, target = legs[r["position_id"]].get("stop_loss"), legs[r["position_id"]].get("take_profit")
        out.append(PositionView(
            r["position_id"], r["strategy_id"], r["symbol"], r["side"], r["quantity"], r["avg_entry_price"],
            r["last_price"], sign * r["quantity"] * r["last_price"],
            sign * (r["last_price"] - r["avg_entry_price"]) * r["quantity"], r["opened_at"],
            stop["stop_price"] if stop else None, stop["client_order_id"] if stop else None,
            target["limit_price"] if target else None, target["client_order_id"] if target else None))
    return out


def working_orders(conn: psycopg.Connection, strategy: str | None = None, symbol: str | None = None,
                   limit: int = 100, offset: int = 0) -> list[OrderView]:
    """Orders still working, newest first."""
    where, params = _where([("strategy_id = %s", strategy), ("symbol = %s", symbol)])
    return [OrderView(r["client_order_id"], r["strategy_id"], r["symbol"], r["side"], r["quantity"], r["order_type"],
                      r["purpose"], r["status"], r["stop_price"], r["limit_price"], r["time_in_force"], r["created_at"])
            for r in conn.execute(
                f"SELECT * FROM orders WHERE status = ANY(%s) AND {where} ORDER BY created_at DESC, order_id DESC "
                "LIMIT %s OFFSET %s", [list(WORKING), *params, limit, offset])]


def closed_trades(conn: psycopg.Connection, strategy: str | None = None, symbol: str | None = None,
                  since: datetime | None = None, until: datetime | None = None,
                  limit: int = 100, offset: int = 0) -> list[TradeView]:
    """Closed positions (by close time, in [since, until)), oldest first, each with its fills
    matched first-in, first-out."""
    where, params = _where([("p.strategy_id = %s", strategy), ("p.symbol = %s", symbol),
                            ("p.closed_at >= %s", since), ("p.closed_at < %s", until)])
    rows = conn.execute(
        "SELECT p.position_id, p.strategy_id, p.symbol, p.side, f.quantity, p.opened_at AS entry_time, "
        "p.avg_entry_price AS entry_price, p.closed_at AS exit_time, p.exit_price, p.realised_pnl AS pnl, p.fees, "
        "p.exit_reason FROM positions p JOIN LATERAL (SELECT coalesce(sum(f.quantity), p.quantity) AS quantity "
        "FROM fills f JOIN orders o USING (order_id) WHERE o.position_id = p.position_id AND o.purpose = 'entry') f "
        f"ON true WHERE p.status = 'closed' AND {where} ORDER BY p.closed_at, p.position_id LIMIT %s OFFSET %s",
        [*params, limit, offset]).fetchall()
    by_position: dict[int, list] = defaultdict(list)
    if rows:
        for r in conn.execute(
            "SELECT o.position_id, o.side, f.quantity, f.price FROM fills f JOIN orders o USING (order_id) "
            "WHERE o.position_id = ANY(%s) ORDER BY f.fill_id", ([r["position_id"] for r in rows],)):
            by_position[r["position_id"]].append((r["side"], r["quantity"], r["price"]))
    return [TradeView(**r, lots=fifo_lots(by_position[r["position_id"]])) for r in rows]


def equity_curve(conn: psycopg.Connection, strategy: str, since: datetime | None = None,
                 until: datetime | None = None) -> list[EquityPoint]:
    """The strategy's equity snapshots in time order, each with its drawdown from the running peak."""
    where, params = _where([("ts >= %s", since), ("ts < %s", until)])
    out, peak = [], None
    for r in conn.execute(f"SELECT ts, equity FROM equity_snapshots WHERE strategy_id = %s AND {where} ORDER BY ts",
                          [strategy, *params]):
        peak = r["equity"] if peak is None or r["equity"] > peak else peak
        out.append(EquityPoint(r["ts"], r["equity"], (peak - r["equity"]) / peak if peak > 0 else Decimal(0)))
    return out


def notifications(conn: psycopg.Connection, strategy: str | None = None, limit: int = 50,
                  offset: int = 0) -> list[Notification]:
    """Notifications, newest first."""
    where, params = _where([("strategy_id = %s", strategy)])
    return [Notification(r["kind"], r["strategy_id"], r["subject"], r["message"], r["status"], r["created_at"])
            for r in conn.execute(f"SELECT * FROM notifications WHERE {where} ORDER BY created_at DESC "
                                  "LIMIT %s OFFSET %s", [*params, limit, offset])]


def audit(conn: psycopg.Connection, signal_id: uuid.UUID) -> Audit | None:
    """The trail of one alert: signal (with the raw body it came as, secrets replaced, when
    kept) -> decision -> orders -> fills (and each order's status events), or None for an
    unknown signal."""
    signal = conn.execute("SELECT s.signal_id, s.strategy_id, s.symbol, s.action, s.alert, s.alert_time, "
                          "s.received_at, b.body AS raw_body FROM signals s LEFT JOIN alert_bodies b USING (signal_id) "
                          "WHERE s.signal_id = %s", (signal_id,)).fetchone()
    if signal is None:
        return None
    decision = conn.execute("SELECT approved, intent, legs, reasons, config_hash, decided_at FROM decisions "
                            "WHERE signal_id = %s", (signal_id,)).fetchone()
    orders = conn.execute(
        "SELECT order_id, client_order_id, symbol, side, quantity, order_type, purpose, status, stop_price, "
        "limit_price, reason, created_at FROM orders WHERE signal_id = %s ORDER BY order_id", (signal_id,)).fetchall()
    ids = [o["order_id"] for o in orders]
    fills = conn.execute("SELECT f.order_id, o.client_order_id, f.seq, f.quantity, f.price, f.commission, "
                         "f.realised_pnl, f.filled_at FROM fills f JOIN orders o USING (order_id) "
                         "WHERE f.order_id = ANY(%s) ORDER BY f.fill_id", (ids,)).fetchall()
    events = conn.execute("SELECT order_id, from_status, to_status, reason, at FROM order_events "
                          "WHERE order_id = ANY(%s) ORDER BY event_id", (ids,)).fetchall()
    return Audit(dict(signal), dict(decision) if decision else None, [dict(o) for o in orders],
                 [dict(f) for f in fills], [dict(e) for e in events])


def daily_pnl(curve: list[EquityPoint]) -> list[tuple[str, Decimal]]:
    """(UTC date ISO, change of the day's last equity over the previous day's last) from a curve."""
    last_of_day: dict[str, Decimal] = {}
    for p in curve:
        last_of_day[p.ts.date().isoformat()] = p.equity
    days = list(last_of_day.items())
    return [(day, equity - days[n - 1][1]) for n, (day, equity) in enumerate(days) if n > 0]


@dataclass(frozen=True)
class SettingsChange:
    """One registration of a strategy's settings: their hash, the settings, when."""

    config_hash: str
    settings: dict
    changed_at: datetime


def settings_history(conn: psycopg.Connection, strategy: str) -> list[SettingsChange]:
    """Every settings the strategy was registered with, oldest first (the last is current)."""
    return [SettingsChange(r["config_hash"], r["settings"], r["changed_at"]) for r in conn.execute(
        "SELECT config_hash, settings, changed_at FROM strategy_settings_history WHERE strategy_id = %s "
        "ORDER BY change_id", (strategy,))]


@dataclass(frozen=True)
class SignalView:
    """A received alert and its risk decision (None while undecided)."""

    signal_id: uuid.UUID
    strategy_id: str
    symbol: str
    action: str
    received_at: datetime
    approved: bool | None
    reasons: list | None


def signals(conn: psycopg.Connection, strategy: str | None = None, symbol: str | None = None,
            limit: int = 50, offset: int = 0) -> list[SignalView]:
    """Alerts received, newest first, with their decisions."""
    where, params = _where([("s.strategy_id = %s", strategy), ("s.symbol = %s", symbol)])
    return [SignalView(r["signal_id"], r["strategy_id"], r["symbol"], r["action"], r["received_at"], r["approved"],
                       r["reasons"]) for r in conn.execute(
        "SELECT s.signal_id, s.strategy_id, s.symbol, s.action, s.received_at, d.approved, d.reasons "
        f"FROM signals s LEFT JOIN decisions d USING (signal_id) WHERE {where} "
        "ORDER BY s.received_at DESC, s.signal_id LIMIT %s OFFSET %s", [*params, limit, offset])]


@dataclass(frozen=True)
class ReceivedAlert:
    """An alert as received: when (UTC), its raw webhook body and the URL path token it was
    posted to, secrets replaced by ``{{passphrase}}`` (path None: a signed alert)."""

    signal_id: uuid.UUID
    received_at: datetime
    body: str
    path: str | None


def alerts_received(conn: psycopg.Connection, strategy: str, since: datetime, until: datetime,
                    after: tuple[datetime, uuid.UUID] | None = None, limit: int = 100) -> list[ReceivedAlert]:
    """The strategy's alerts received in [since, until) whose raw body was kept, in receive
    order (then signal id); ``after`` is the (received_at, signal_id) of the last one of the
    previous page."""
    rows = conn.execute(
        "SELECT s.signal_id, s.received_at, b.body, b.path FROM signals s JOIN alert_bodies b USING (signal_id) "
        "WHERE s.strategy_id = %s AND s.received_at >= %s AND s.received_at < %s "
        + ("AND (s.received_at, s.signal_id) > (%s, %s) " if after else "")
        + "ORDER BY s.received_at, s.signal_id LIMIT %s",
        [strategy, since, until, *(after or ()), limit]).fetchall()
    return [ReceivedAlert(r["signal_id"], r["received_at"], r["body"], r["path"]) for r in rows]


def alerts_without_body(conn: psycopg.Connection, strategy: str, since: datetime, until: datetime) -> int:
    """How many of the strategy's alerts received in [since, until) have no raw body (received
    before tradeflow kept them, or too deeply nested to be checked for secrets)."""
    return conn.execute(
        "SELECT count(*) AS n FROM signals s WHERE s.strategy_id = %s AND s.received_at >= %s AND s.received_at < %s "
        "AND NOT EXISTS (SELECT 1 FROM alert_bodies b WHERE b.signal_id = s.signal_id)",
        (strategy, since, until)).fetchone()["n"]


def alerted_symbols(conn: psycopg.Connection, strategy: str, since: datetime, until: datetime) -> list[str]:
    """The symbols of the strategy's alerts received in [since, until), sorted."""
    return [r["symbol"] for r in conn.execute(
        "SELECT DISTINCT symbol FROM signals WHERE strategy_id = %s AND received_at >= %s AND received_at < %s "
        "ORDER BY symbol", (strategy, since, until))]


def bars_recorded(conn: psycopg.Connection, symbols: list[str], since: datetime, until: datetime,
                  after: tuple[str, datetime] | None = None, limit: int = 2000) -> list[Bar]:
    """The bars of ``symbols`` (price-feed rows with OHLC and an open time: from the market-data
    function, TradingView bar alerts or a replay) that opened in [since, until), by symbol then
    close time; ``after`` is the (symbol, close time) of the last one of the previous page.
    Plain quotes (an alert's price, a last trade) are not bars and are left out; the feed keeps
    no volume (None)."""
    rows = conn.execute(
        "SELECT symbol, opened_at, ts, open, high, low, price, source FROM quotes "
        "WHERE symbol = ANY(%s) AND ts > %s AND opened_at >= %s AND opened_at < %s AND open IS NOT NULL "
        + ("AND (symbol, ts) > (%s, %s) " if after else "")
        + "ORDER BY symbol, ts LIMIT %s",
        [symbols, since, since, until, *(after or ()), limit]).fetchall()
    return [Bar(r["symbol"], r["opened_at"], r["ts"], r["open"], r["high"], r["low"], r["price"], r["source"])
            for r in rows]
