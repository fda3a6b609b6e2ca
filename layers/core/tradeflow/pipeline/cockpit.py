"""The cockpit step: what the control API calls. Reads come from the read models; actions on
trading states (pause, resume, kill switch, flatten, breakers) go to
:mod:`tradeflow.pipeline.control`; cancelling an order and moving a stop are done here.

Every action takes ``who`` (the caller) and ``why`` (the reason the trader gave) and records
both: trading-state actions in control's own log, a cancel in the order's status events, a
moved stop in the append-only amendment log. Destructive actions (flatten, close) need the
typed confirmation :data:`CONFIRM`.

Errors: LookupError for an unknown strategy, order, position or signal; ValueError for a
request that cannot be carried out (a missing confirmation, a closed order, a bad price).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg

from tradeflow.adapters import read_models, store
from tradeflow.domain import metrics
from tradeflow.pipeline.order_creator import replace_exit_price

#: The word a trader types to confirm a destructive action.
CONFIRM = "FLATTEN"


class ConfirmationRequired(ValueError):
    """A destructive action without ``"confirm": "FLATTEN"``."""

    def __init__(self, action: str) -> None:
        super().__init__(f"{action} closes positions: send \"confirm\": \"{CONFIRM}\" to go ahead")


def plain(value: Any) -> Any:
    """A read model as JSON-ready data: dataclasses to dicts, Decimal to its exact string,
    datetimes to ISO-8601 UTC, UUIDs to text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


class GuardianMissing(RuntimeError):
    """The trading-state functions (pipeline/control.py) are not in this build."""


def _control(name: str):
    """The guardian's function ``name`` from :mod:`tradeflow.pipeline.control`."""
    try:
        from tradeflow.pipeline import control
    except ImportError:
        control = None
    found = getattr(control, name, None)
    if found is None:
        raise GuardianMissing(f"trading states are not available in this build ({name} is missing)")
    return found


# --- reads ---------------------------------------------------------------------------------

def status(conn: psycopg.Connection, now: datetime) -> dict:
    """The status read model, with the trading states and breakers of ``control.risk_status``
    when the guardian is installed."""
    out = plain(read_models.status(conn, now))
    try:
        out["risk"] = plain(_control("risk_status")(conn, now))
    except GuardianMissing:
        out["risk"] = {}
    return out


def _strategy(conn: psycopg.Connection, strategy_id: str) -> None:
    if store.strategy(conn, strategy_id) is None:
        raise LookupError(f"no strategy {strategy_id!r}")


def equity(conn: psycopg.Connection, strategy_id: str, since: datetime | None = None,
           until: datetime | None = None) -> dict:
    """The equity curve with drawdown and the daily P&L of one strategy."""
    _strategy(conn, strategy_id)
    curve = read_models.equity_curve(conn, strategy_id, since, until)
    return {"strategy_id": strategy_id, "curve": plain(curve),
            "daily_pnl": [{"day": d, "pnl": str(p)} for d, p in read_models.daily_pnl(curve)],
            "max_drawdown": str(max((p.drawdown for p in curve), default=Decimal(0)))}


def trade_results(trades: list[read_models.TradeView]) -> list[metrics.TradeResult]:
    """Closed trades as the metrics take them: net P&L (P&L - fees) and its fraction of the
    entry's cost (average entry price x quantity)."""
    return [metrics.TradeResult(t.entry_time, t.exit_time, t.pnl - t.fees,
                                float((t.pnl - t.fees) / (t.entry_price * t.quantity))) for t in trades]


def strategy_metrics(conn: psycopg.Connection, strategy_id: str) -> dict:
    """:func:`tradeflow.domain.metrics.compute` over the strategy's equity snapshots and
    closed trades; an empty dict (with ``trades``: 0) before the first snapshot."""
    _strategy(conn, strategy_id)
    curve = [(p.ts, p.equity) for p in read_models.equity_curve(conn, strategy_id)]
    if not curve:
        return {"trades": 0}
    result = metrics.compute(curve, trade_results(read_models.closed_trades(conn, strategy_id, limit=1_000_000)))
    out = plain(result)
    out["max_drawdown_duration_days"] = result.max_drawdown_duration.total_seconds() / 86400
    del out["max_drawdown_duration"]
    return out


def settings(conn: psycopg.Connection, strategy_id: str) -> dict:
    """The strategy's current settings and their history."""
    found = store.strategy(conn, strategy_id)
    if found is None:
        raise LookupError(f"no strategy {strategy_id!r}")
    config, state = found
    return {"strategy_id": strategy_id, "trading_state": str(getattr(state, "value", state)), "config_hash": config.config_hash(),
            "settings": config.model_dump(mode="json"), "history": plain(read_models.settings_history(conn, strategy_id))}


def audit(conn: psycopg.Connection, signal_id: str) -> dict:
    """The trail of one alert (signal -> decision -> orders -> fills)."""
    try:
        key = uuid.UUID(signal_id)
    except ValueError:
        raise ValueError(f"a signal id is a UUID, got {signal_id!r}") from None
    found = read_models.audit(conn, key)
    if found is None:
        raise LookupError(f"no signal {signal_id}")
    return plain(found)


# --- the export: received alerts and recorded bars as replay files ---------------------------

#: Largest page of each export route. The binding limit is Lambda's 6 MB response (API Gateway
#: allows 10 MB), and the answer is JSON text inside Lambda's own JSON: a kept body of at most
#: 16 KiB (MAX_BODY_BYTES) is at most twice that in the answer and four times in the response,
#: so 50 alerts stay under 3.5 MB; 5,000 bars (about 120 bytes each) near 1 MB. Each page is one
#: indexed read (benchmarks/export.py measures both routes).
EXPORT_ALERTS_PAGE, EXPORT_BARS_PAGE = 50, 5000


def _cursor(*values: Any) -> str:
    """An opaque page cursor: the sort key of a page's last row."""
    return base64.urlsafe_b64encode(json.dumps([str(v) for v in values]).encode()).decode().rstrip("=")


def _after(cursor: str | None, *types: Any) -> tuple | None:
    """The sort key an ``after`` cursor holds; ValueError for anything not made by :func:`_cursor`."""
    if cursor is None:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != len(types):
            raise ValueError
        return tuple(kind(v) for kind, v in zip(types, values, strict=True))
    except (ValueError, TypeError, binascii.Error):
        raise ValueError("after must be the `next` value of the previous page, as it was given") from None


def _window(since: datetime, until: datetime) -> None:
    if since >= until:
        raise ValueError(f"the export window is empty: until ({until.isoformat()}) must be after since "
                         f"({since.isoformat()})")


def export_alerts(conn: psycopg.Connection, strategy_id: str, since: datetime, until: datetime,
                  after: str | None = None, limit: int = EXPORT_ALERTS_PAGE) -> dict:
    """One page of the strategy's alerts received in [since, until) as ``tradeflow replay
    --alerts`` reads them: ``{"alerts": [{"time", "body", "path"}], "next": cursor or None,
    "without_body": count}``. ``time`` is the receive time (ISO-8601 UTC), ``body`` and ``path``
    are as received with every secret replaced by ``{{passphrase}}`` (``path`` None: post to
    the replay's own credential); ``without_body`` counts the window's alerts with no kept body
    (received before bodies were kept, or nested too deeply to be checked; not exported). Raises LookupError (strategy) or ValueError (window, cursor)."""
    _strategy(conn, strategy_id)
    _window(since, until)
    page = read_models.alerts_received(conn, strategy_id, since, until,
                                       _after(after, _parse_time, uuid.UUID), limit)
    last = page[-1] if len(page) == limit else None
    return {"strategy_id": strategy_id, "since": plain(since), "until": plain(until),
            "alerts": [{"time": a.received_at.astimezone(UTC).isoformat().replace("+00:00", "Z"), "body": a.body,
                        "path": a.path} for a in page],
            "next": _cursor(last.received_at.isoformat(), last.signal_id) if last else None,
            "without_body": read_models.alerts_without_body(conn, strategy_id, since, until)}


def export_bars(conn: psycopg.Connection, strategy_id: str, since: datetime, until: datetime,
                after: str | None = None, limit: int = EXPORT_BARS_PAGE) -> dict:
    """One page of the bars recorded in the price feed that opened in [since, until), of the
    symbols the strategy received alerts for then, as ``tradeflow replay --bars`` reads them:
    ``{"symbols", "bars": [{"symbol", "timestamp" (the bar's open time), "open", "high", "low",
    "close", "volume" (None: the feed keeps none)}], "next"}``. Raises as :func:`export_alerts`."""
    _strategy(conn, strategy_id)
    _window(since, until)
    symbols = read_models.alerted_symbols(conn, strategy_id, since, until)
    page = read_models.bars_recorded(conn, symbols, since, until, _after(after, str, _parse_time), limit)
    last = page[-1] if len(page) == limit else None
    return {"strategy_id": strategy_id, "since": plain(since), "until": plain(until), "symbols": symbols,
            "bars": [{"symbol": b.symbol, "timestamp": b.opened_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                      "open": str(b.open), "high": str(b.high), "low": str(b.low), "close": str(b.close),
                      "volume": None} for b in page],
            "next": _cursor(last.symbol, last.closes_at.isoformat()) if last else None}


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- actions -------------------------------------------------------------------------------

def pause(conn, strategy_id: str, who: str, why: str, now: datetime) -> dict:
    return _control("pause")(conn, strategy_id, who, why, now)


def resume(conn, strategy_id: str, who: str, why: str, now: datetime) -> dict:
    return _control("resume")(conn, strategy_id, who, why, now)


def kill_switch(conn, on: bool, who: str, why: str, now: datetime, flatten: bool = False,
                confirm: str | None = None) -> dict:
    """Kill switch on or off; ``flatten`` (with the confirmation) also closes every position."""
    if flatten and confirm != CONFIRM:
        raise ConfirmationRequired("kill switch with flatten")
    return _control("kill_switch")(conn, on, who, why, now, flatten=flatten)


def flatten(conn, strategy_id: str | None, who: str, why: str, now: datetime, confirm: str | None) -> dict:
    """Close every position of one strategy (``strategy_id``) or of the account (None): the
    strategy (or account) goes HALTED with flatten, as the guardian defines it."""
    if confirm != CONFIRM:
        raise ConfirmationRequired("flatten")
    if strategy_id is None:
        return _control("kill_switch")(conn, True, who, why, now, flatten=True)
    _strategy(conn, strategy_id)
    return _control("set_trading_state")(conn, strategy_id, "HALTED", who, why, now, flatten=True)


def reset_breaker(conn, scope: str, breaker: str, who: str, why: str, now: datetime) -> dict:
    return _control("reset_breaker")(conn, scope, breaker, who, why, now)


def cancel_order(conn: psycopg.Connection, client_order_id: str, who: str, why: str, now: datetime) -> dict:
    """Cancel a working order; the order's status event carries who and why. A stop-loss or
    take-profit leg of an open position cannot be cancelled here (move it, or flatten)."""
    with conn.transaction():
        order = store.order(conn, client_order_id, lock=True)
        if order is None:
            raise LookupError(f"no order {client_order_id}")
        if order["status"] not in read_models.WORKING:
            raise ValueError(f"order {client_order_id} is {order['status']}: only a working order can be cancelled")
        if order["purpose"] in ("stop_loss", "take_profit") and order["position_id"] is not None:
            raise ValueError(f"{client_order_id} protects an open position: move it or flatten the position")
        store.transition(conn, order["order_id"], order["status"], "cancelled", f"cancelled by {who}: {why}", now)
    return {"client_order_id": client_order_id, "status": "cancelled", "who": who, "why": why}


def move_stop(conn: psycopg.Connection, client_order_id: str, price: Decimal, who: str, why: str) -> dict:
    """Move a stop-loss (or a take-profit's limit) to ``price`` (currency per share),
    recorded in the amendment log with who and why."""
    order = replace_exit_price(conn, client_order_id, price, f"moved by {who}: {why}")
    return {"client_order_id": client_order_id, "stop_price": plain(order["stop_price"]),
            "limit_price": plain(order["limit_price"]), "who": who, "why": why}
