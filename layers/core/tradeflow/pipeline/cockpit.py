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

import dataclasses
import uuid
from datetime import date, datetime, timedelta
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
