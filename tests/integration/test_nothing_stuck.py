"""No phantom positions, no orphans, facts fixed when they happen, and a kill switch that stops
everything: through the local stack, each step driven by hand where the order matters."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

from tradeflow import names
from tradeflow.adapters import aws, db, store
from tradeflow.domain.messages import ExecutionRequest
from tradeflow.pipeline import paper_executor
from tradeflow.settings import PaperExecutorEnv

from tests.conftest import START


def post(stack, strategy, at, **fields) -> dict:
    body = {"ticker": "AAPL", "action": "buy", "quantity": "10", "price": "100", "time": at.isoformat(), **fields}
    answer = stack.post_webhook(json.dumps(body), token=strategy)
    assert answer["statusCode"] == 202, answer
    return json.loads(answer["body"])


def orders(conn) -> dict[str, dict]:
    return {o["client_order_id"]: o for o in conn.execute("SELECT * FROM orders ORDER BY order_id")}


def test_an_approved_entry_whose_orders_never_came_expires_and_stops_blocking_the_symbol(
        stack, strategy, conn, replay_clock):
    first = post(stack, strategy, START)
    stack.deliver(names.SIGNALS_QUEUE)
    aws.client("sqs").purge_queue(QueueUrl=stack.queue_urls[names.ORDERS_QUEUE])  # its instruction is lost
    later = START + timedelta(seconds=600)
    replay_clock.set(later)
    post(stack, strategy, later, quantity="11")
    stack.drain()
    refused = conn.execute("SELECT reasons FROM decisions d JOIN signals s USING (signal_id) "
                           "WHERE s.received_at = %s", (later,)).fetchone()
    assert refused["reasons"] == ["already long AAPL; one position per symbol (set allow_add to add)"]  # in time

    past = START + timedelta(seconds=901)
    replay_clock.set(past)
    post(stack, strategy, past, quantity="12")
    stack.drain()
    decision = conn.execute("SELECT * FROM decisions WHERE signal_id = %s", (first["signal_id"],)).fetchone()
    assert decision["expired_at"] == past and "did not reach the executor within 900 s" in decision["expiry_reason"]
    assert [o["quantity"] for o in orders(conn).values() if o["purpose"] == "entry"] == [Decimal(12)]
    assert "expired" in told(stack)
    # the lost instruction turning up after all creates nothing
    from tradeflow.domain.messages import OrderInstruction
    from tradeflow.pipeline import order_creator
    from tradeflow.settings import OrderCreatorEnv, env

    late = OrderInstruction(signal_id=first["signal_id"], strategy_id="test", symbol="AAPL")
    assert order_creator.process(late, conn, env(OrderCreatorEnv)) == []
    assert len([o for o in orders(conn).values() if o["purpose"] == "entry"]) == 1


def test_the_legs_of_an_entry_that_will_never_fill_end_with_it(stack, strategy, conn, replay_clock):
    post(stack, strategy, START, orderType="limit", limitPrice="95")  # works below the market
    stack.drain()
    assert {o["purpose"]: o["status"] for o in orders(conn).values()} == {
        "entry": "accepted", "stop_loss": "pending", "take_profit": "pending"}
    replay_clock.set(START + timedelta(minutes=1))
    post(stack, strategy, START + timedelta(minutes=1), action="cancel")
    stack.drain()
    ended = {o["purpose"]: (o["status"], o["reason"]) for o in orders(conn).values()}
    assert ended == {"entry": ("cancelled", "cancel signal"),
                     "stop_loss": ("cancelled", "entry cancelled: cancel signal"),
                     "take_profit": ("cancelled", "entry cancelled: cancel signal")}


def test_an_entry_working_before_the_kill_switch_never_fills_after_it(stack, strategy, conn, replay_clock):
    post(stack, strategy, START, orderType="limit", limitPrice="95")
    stack.drain()
    replay_clock.set(START + timedelta(minutes=1))
    assert store.set_kill_switch(conn, True, "test", START + timedelta(minutes=1)) == 1
    replay_clock.set(START + timedelta(minutes=2))
    stack.record_quote("AAPL", START + timedelta(minutes=2), Decimal("94"))  # the limit would fill now
    stack.drain()
    assert conn.execute("SELECT count(*) AS n FROM fills").fetchone()["n"] == 0
    assert {o["status"] for o in orders(conn).values()} == {"cancelled"}
    # and an execution that was already on its way when the switch went on is cancelled too
    store.set_kill_switch(conn, False, None, START + timedelta(minutes=3))
    post(stack, strategy, START + timedelta(minutes=3), orderType="limit", limitPrice="93", quantity="5")
    stack.drain()
    entry = next(o for o in orders(conn).values() if o["purpose"] == "entry" and o["status"] == "accepted")
    conn.execute("UPDATE trading_states SET state = 'HALTED' WHERE scope = 'account'")  # on, without the sweep
    request = ExecutionRequest(client_order_id=entry["client_order_id"], strategy_id="test", symbol="AAPL",
                               trigger="working", trigger_price=Decimal("92"))
    assert paper_executor.process(request, conn, PaperExecutorEnv()) == "cancelled"
    assert conn.execute("SELECT count(*) AS n FROM fills").fetchone()["n"] == 0


def test_a_fill_message_reports_the_pnl_booked_with_that_fill_whatever_came_after(
        stack, strategy, conn, replay_clock, monkeypatch):
    post(stack, strategy, START, stopLoss="90", takeProfit=["102", "104"])
    stack.drain()
    replay_clock.set(START + timedelta(minutes=1))
    stack.record_quote("AAPL", START + timedelta(minutes=1), Decimal("105"))  # both targets at once
    stack.drain()
    notes = [n["message"] for n in stack.inbox() if "Take-profit" in n["message"]]
    assert len(notes) == 2
    first = next(o for o in orders(conn).values() if o["client_order_id"].endswith("-tp1"))
    sent = []
    monkeypatch.setattr(aws, "send", lambda url, message, *a: sent.append(message))
    request = ExecutionRequest(client_order_id=first["client_order_id"], strategy_id="test", symbol="AAPL",
                               trigger="take_profit")
    paper_executor.process(request, conn, PaperExecutorEnv())  # redelivered after the second target filled
    fill = conn.execute("SELECT * FROM fills WHERE order_id = %s", (first["order_id"],)).fetchone()
    entry_fee = conn.execute("SELECT f.commission FROM fills f JOIN orders o USING (order_id) "
                             "WHERE o.purpose = 'entry'").fetchone()["commission"]
    expected = (fill["realised_pnl"] - fill["commission"] - entry_fee).quantize(Decimal("0.01"))
    assert sent[0].facts["realised_pnl"] == str(expected)
    assert f"P&L {expected}" in notes[0] or f"P&L {expected}" in notes[1]
    db.close_connection()


def told(stack) -> str:
    """What the trader reads once the day's summary ran (refusals and rejections are info:
    they wait for the digest)."""
    stack.run_schedule("notifier")
    return "\n".join(n["message"] for n in stack.inbox())
