"""Riding out a database outage, and exactly-once notifications.

- a 60 s database outage (on the replay clock) delays processing and dead-letters nothing;
- a notification whose function died between the publish and its mark goes out once more
  marked as a possible repeat, and is recorded so.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

from tradeflow import names
from tradeflow.adapters import db, store
from tradeflow.domain.alerting import NotificationSettings
from tradeflow.domain.strategy import StrategyConfig

from tests.faults.conftest import register
from tests.faults.harness import SECRET, START, Crash, _Outage, empty_books


def _alert(at, symbol="AAPL") -> str:
    return json.dumps({"ticker": symbol, "action": "buy", "quantity": 10, "price": "100", "time": at.isoformat()})


def _fresh(stack, clock, url, strategy_id="outage"):
    config = StrategyConfig(notifications=NotificationSettings(burst_hold_seconds=0))  # each message on its own
    register(stack, strategy_id, config)
    stack.reset(url)
    clock.set(START)
    with db.connect(url) as conn:
        empty_books(conn)
        store.add_strategy(conn, strategy_id, config, START)
        store.record_quote(conn, "AAPL", START, Decimal(100), "test")
    return f"{strategy_id}.{SECRET}"


def test_a_60_second_database_outage_delays_processing_and_dead_letters_nothing(fault_stack, books_url):
    stack, clock = fault_stack
    token = _fresh(stack, clock, books_url)
    assert stack.post_webhook(_alert(START), token=token)["statusCode"] == 202  # the webhook needs no database
    db.close_connection()
    _Outage.until = START + timedelta(seconds=60)
    try:
        stack.drain()
    finally:
        _Outage.until = None
    assert all(n == 0 for n in stack.dead_letters().values())
    with db.connect(books_url) as conn:
        fills = conn.execute("SELECT f.filled_at FROM fills f").fetchall()
        assert len(fills) == 1 and fills[0]["filled_at"] >= START + timedelta(seconds=60)  # delayed, not lost
        assert conn.execute("SELECT count(*) AS n FROM rejected_messages").fetchone()["n"] == 0
    failed = [d for d in stack.deliveries if d.failed]
    assert failed and failed[0].queue == names.SIGNALS_QUEUE  # it did fail while the database was away
    assert any("Entry BUY 10 AAPL" in n["message"] for n in stack.inbox())


def test_a_crash_between_publish_and_mark_sends_once_more_marked_as_a_possible_repeat(fault_stack, books_url):
    stack, clock = fault_stack
    token = _fresh(stack, clock, books_url, "repeat")
    crashes = []

    def crash_once(subject, message):
        if not crashes:
            crashes.append(message)
            raise Crash("between the publish and its mark")

    stack.on_publish = crash_once
    try:
        assert stack.post_webhook(_alert(START), token=token)["statusCode"] == 202
        stack.drain()
    finally:
        del stack.on_publish
    sent = [n["message"] for n in stack.inbox() if "Entry BUY" in n["message"]]
    assert sent == [crashes[0], "[possible repeat] " + crashes[0]]
    with db.connect(books_url) as conn:
        note = conn.execute("SELECT * FROM notifications WHERE kind = 'fill'").fetchone()
        assert (note["status"], note["possibly_duplicated"], note["attempts"]) == ("sent", True, 2)
