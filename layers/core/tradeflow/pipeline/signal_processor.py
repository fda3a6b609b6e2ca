"""The signal_processor step: persist a signal (idempotent) with its raw body, apply the risk
gates, record the decision with its inputs and config hash, and forward an approved signal to
orders.fifo."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta

import psycopg

from tradeflow import clock
from tradeflow.adapters import aws, store
from tradeflow.domain import calendar, risk
from tradeflow.domain.errors import Permanent
from tradeflow.domain.messages import NotificationEvent, OrderInstruction
from tradeflow.domain.signals import Signal, intent_of
from tradeflow.domain.strategy import StrategyConfig
from tradeflow.settings import SignalProcessorEnv


class UnregisteredStrategy(Permanent):
    """The signal's strategy has a webhook secret but no settings in SSM or the database."""


def process(signal: Signal, conn: psycopg.Connection, env: SignalProcessorEnv) -> bool:
    """Decide on ``signal``; returns whether it was approved. Processing it twice decides once
    and forwards the same decision again (downstream is idempotent).

    The strategy's settings come with the signal, read by the webhook from SSM, where
    ``tradeflow strategy add --aws`` writes them from a laptop that cannot reach the private
    database: the first signal of a strategy registers it and opens its paper account, and a
    change of settings is copied over.
    """
    now = clock.now()
    with conn.transaction():
        if signal.settings is not None:
            store.add_strategy(conn, signal.strategy_id, StrategyConfig.model_validate_json(signal.settings), now)
        found = store.strategy(conn, signal.strategy_id, lock=True)
        if found is None:
            raise UnregisteredStrategy(f"strategy {signal.strategy_id!r} is not registered: add it with "
                                       f"tradeflow strategy add {signal.strategy_id}")
        config, strategy_state = found
        deadline = now - timedelta(seconds=config.order_deadline_seconds)
        expired = store.expire_stale_entries(conn, signal.strategy_id, deadline, now, _expiry_reason(config))
        store.insert_signal(conn, signal)
        if signal.raw_body:
            store.keep_alert_body(conn, signal.signal_id, signal.raw_body, signal.raw_path)
        alert = signal.alert
        if alert.price is not None:
            store.record_quote(conn, alert.ticker, alert.time or signal.received_at, alert.price, "alert")
        row = store.decision(conn, signal.signal_id)
        if row is None:
            intent = intent_of(alert, config.allow_short)
            state = store.risk_snapshot(conn, signal.strategy_id, config, strategy_state, alert.ticker, intent,
                                        signal.received_at, deadline, calendar.last_session_open(signal.received_at))
            decided = risk.decide(intent, alert.ticker, config, state, signal.received_at)
            store.insert_decision(
                conn, signal.signal_id, intent, decided, {"risk_state": asdict(state), "gate": decided.gate},
                config.config_hash(), now
            )
            row = store.decision(conn, signal.signal_id)
    for item in expired:
        aws.send(env.notifications_queue_url, NotificationEvent(
            key=f"expired:{item['client_order_id'] or item['signal_id']}", kind="order_rejected",
            strategy_id=signal.strategy_id,
            facts={"symbol": item["symbol"], "client_order_id": item["client_order_id"] or f"of signal {item['signal_id']}",
                   "reason": _expiry_reason(config)}))
    if row["approved"]:
        instruction = OrderInstruction(signal_id=signal.signal_id, strategy_id=signal.strategy_id, symbol=alert.ticker)
        aws.send(env.orders_queue_url, instruction, signal.message_group, str(signal.signal_id))
    else:
        event = NotificationEvent(
            key=f"refused:{signal.signal_id}",
            kind="signal_refused",
            strategy_id=signal.strategy_id,
            facts={"symbol": alert.ticker, "action": alert.action, "reason": "; ".join(row["reasons"])},
        )
        aws.send(env.notifications_queue_url, event)
    return row["approved"]


def _expiry_reason(config: StrategyConfig) -> str:
    return (f"expired: the approved entry did not reach the executor within {config.order_deadline_seconds} s "
            "(see tradeflow dlq show); it no longer counts as a position")
