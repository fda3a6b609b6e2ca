"""Each handler against the embedded PostgreSQL and the in-memory AWS, through the local stack."""

import json
import threading
from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest
from tradeflow import names
from tradeflow.adapters import aws, db
from tradeflow.domain.strategy import StrategyConfig
from tradeflow.local.stack import sqs_event

from tests.conftest import SECRET, START


def alert(action="buy", ticker="AAPL", price="100", **extra) -> str:
    return json.dumps({"ticker": ticker, "action": action, "price": price, "time": START.isoformat(), **extra})


def rows(conn, sql, *args):
    return conn.execute(sql, args).fetchall()


def take(stack, queue):
    """Receive what waits on ``queue`` (without deleting it) as a Lambda SQS event."""
    sqs = aws.client("sqs")
    messages = sqs.receive_message(QueueUrl=stack.queue_urls[queue], MaxNumberOfMessages=10,
                                   AttributeNames=["All"]).get("Messages", [])
    return sqs_event(queue, messages)


# The webhook's own tests are in test_webhook.py.

# --- the pipeline ------------------------------------------------------------------------

def test_a_buy_alert_becomes_a_filled_entry_with_an_active_bracket(stack, strategy, conn):
    stack.post_webhook(alert(quantity="10"), token=strategy)
    stack.drain()
    orders = {o["purpose"]: o for o in rows(conn, "SELECT * FROM orders")}
    assert orders["entry"]["status"] == "filled"
    assert (orders["stop_loss"]["status"], orders["stop_loss"]["stop_price"]) == ("accepted", Decimal("95.00"))
    assert (orders["take_profit"]["status"], orders["take_profit"]["limit_price"]) == ("accepted", Decimal("110.00"))
    position = rows(conn, "SELECT * FROM positions")[0]
    assert (position["side"], position["quantity"], position["avg_entry_price"]) == ("long", 10, 100)
    assert rows(conn, "SELECT cash FROM accounts")[0]["cash"] == Decimal("99000")
    events = [(e["from_status"], e["to_status"]) for e in rows(
        conn, "SELECT * FROM order_events WHERE order_id = %s ORDER BY event_id", orders["entry"]["order_id"])]
    assert events == [("pending", "accepted"), ("accepted", "filled")]
    assert any("Entry BUY 10 AAPL @ 100" in n["message"] for n in stack.inbox())


def test_delivering_every_message_twice_changes_nothing(stack, strategy, conn):
    stack.post_webhook(alert(quantity="10"), token=strategy)
    for queue in (names.SIGNALS_QUEUE, names.ORDERS_QUEUE, names.EXECUTIONS_QUEUE):
        event = take(stack, queue)
        assert event["Records"], queue
        for _ in range(2):
            stack.invoke(names.QUEUE_CONSUMERS[queue], event)
        aws.client("sqs").purge_queue(QueueUrl=stack.queue_urls[queue])
    counts = rows(conn, "SELECT (SELECT count(*) FROM signals) s, (SELECT count(*) FROM decisions) d, "
                        "(SELECT count(*) FROM orders) o, (SELECT count(*) FROM fills) f, "
                        "(SELECT count(*) FROM positions) p")[0]
    assert counts == {"s": 1, "d": 1, "o": 3, "f": 1, "p": 1}
    assert rows(conn, "SELECT cash FROM accounts")[0]["cash"] == Decimal("99000")


def test_stop_loss_closes_the_position_and_cancels_the_take_profit(stack, strategy, conn, replay_clock):
    stack.post_webhook(alert(quantity="10"), token=strategy)
    stack.drain()
    replay_clock.set(START + timedelta(minutes=1))
    stack.record_quote("AAPL", START + timedelta(minutes=1), Decimal("96"))  # handed over: the stop monitor ticks
    stack.drain()
    assert rows(conn, "SELECT status FROM positions")[0]["status"] == "open"  # 96 is above the 95 stop
    replay_clock.set(START + timedelta(minutes=2))
    stack.record_quote("AAPL", START + timedelta(minutes=2), Decimal("94.5"))
    stack.run_schedule("stop_monitor")  # a second tick before the fill must not fill twice
    stack.drain()
    position = rows(conn, "SELECT * FROM positions")[0]
    assert (position["status"], position["exit_reason"], position["realised_pnl"]) == ("closed", "stop_loss", -55)
    statuses = {o["purpose"]: o["status"] for o in rows(conn, "SELECT purpose, status FROM orders")}
    assert statuses == {"entry": "filled", "stop_loss": "filled", "take_profit": "cancelled"}
    assert rows(conn, "SELECT count(*) AS n FROM fills")[0]["n"] == 2
    assert rows(conn, "SELECT cash FROM accounts")[0]["cash"] == Decimal("100000") - 55
    assert rows(conn, "SELECT count(*) AS n FROM equity_snapshots")[0]["n"] == 2  # one per tick time


def test_exit_alert_closes_the_position_and_cancels_its_bracket(stack, strategy, conn, replay_clock):
    stack.post_webhook(alert(quantity="10"), token=strategy)
    stack.drain()
    replay_clock.set(START + timedelta(hours=1))
    stack.post_webhook(alert("exit", price="104", time=(START + timedelta(hours=1)).isoformat()), token=strategy)
    stack.drain()
    statuses = sorted(o["status"] for o in rows(conn, "SELECT status FROM orders WHERE purpose <> 'entry'"))
    assert statuses == ["cancelled", "cancelled", "filled"]
    position = rows(conn, "SELECT * FROM positions")[0]
    assert (position["status"], position["realised_pnl"], position["exit_price"]) == ("closed", 40, 104)


def test_refused_signal_is_recorded_with_its_reason_and_the_trader_told(stack, strategy, conn):
    stack.post_webhook(alert("exit"), token=strategy)
    stack.drain()
    decision = rows(conn, "SELECT * FROM decisions")[0]
    assert decision["approved"] is False and decision["reasons"] == ["no open position in AAPL to exit"]
    assert len(decision["config_hash"]) == 16 and "risk_state" in decision["inputs"]
    assert not stack.inbox()  # info: the digest carries it
    assert "\n  [test] exit AAPL refused: no open position in AAPL to exit" in told(stack)


def test_kill_switch_refuses_every_signal(stack, strategy, conn):
    from tradeflow.pipeline import control

    control.kill_switch(conn, True, "test", "test", START)
    stack.post_webhook(alert(), token=strategy)
    stack.drain()
    assert "account is HALTED: test" in rows(conn, "SELECT reasons FROM decisions")[0]["reasons"][0]
    assert rows(conn, "SELECT count(*) AS n FROM orders")[0]["n"] == 0


def test_an_entry_without_any_price_is_rejected_with_a_reason(stack, strategy, conn):
    stack.post_webhook(json.dumps({"ticker": "ZZZ", "action": "buy", "time": START.isoformat()}), token=strategy)
    stack.drain()
    order = rows(conn, "SELECT * FROM orders")[0]
    assert order["status"] == "rejected" and "no price for ZZZ" in order["reason"]
    assert "rejected: no price for ZZZ" in told(stack)


def test_reverse_closes_the_short_then_opens_the_long(stack, conn, replay_clock):
    stack.add_strategy("test", StrategyConfig(allow_short=True, slippage_bps=0, commission_bps=0), SECRET)
    stack.post_webhook(alert("sell", quantity="5"), token=f"test.{SECRET}")
    stack.drain()
    replay_clock.set(START + timedelta(hours=1))
    stack.post_webhook(alert("buy", price="98", quantity="5", time=(START + timedelta(hours=1)).isoformat()),
                       token=f"test.{SECRET}")
    stack.drain()
    positions = rows(conn, "SELECT side, status, realised_pnl FROM positions ORDER BY position_id")
    assert positions == [{"side": "short", "status": "closed", "realised_pnl": 10},
                         {"side": "long", "status": "open", "realised_pnl": 0}]


# --- queues: partial batch failures and dead letters -------------------------------------

def test_a_poison_message_is_set_aside_and_the_valid_one_behind_it_in_its_group_goes_through(stack, strategy, conn):
    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=stack.queue_urls[names.SIGNALS_QUEUE], MessageBody='{"not": "a signal"}',
                     MessageGroupId="test:AAPL", MessageDeduplicationId="poison")
    stack.post_webhook(alert(quantity="1"), token=strategy)  # the same FIFO group, behind the poison
    stack.drain()
    assert all(n == 0 for n in stack.dead_letters().values())
    assert rows(conn, "SELECT count(*) AS n FROM fills")[0]["n"] == 1
    rejected = rows(conn, "SELECT * FROM rejected_messages")
    assert [(r["queue"], r["message_key"]) for r in rejected] == [(names.SIGNALS_QUEUE, "poison")]
    assert "signal_id" in rejected[0]["reason"] and rejected[0]["body"] == '{"not": "a signal"}'
    assert any("on the signals queue that cannot be processed" in n["message"] for n in stack.inbox())


# --- notifier ----------------------------------------------------------------------------

def test_daily_summary_is_sent_once_per_day_by_email(stack, strategy, conn):
    stack.post_webhook(alert(quantity="10"), token=strategy)
    stack.drain()
    stack.inbox()
    assert stack.run_schedule("notifier") == {"summaries": 1}
    assert stack.run_schedule("notifier") == {"summaries": 0}
    note = rows(conn, "SELECT * FROM notifications WHERE kind = 'daily_summary'")[0]
    assert note["channels"] == ["email"] and note["status"] == "sent"
    [summary] = [n["message"] for n in stack.inbox()]
    first, *rest = summary.splitlines()
    assert first == "[account] 2024-03-01: 1 fills, net P&L 0.00, equity 100000.00, 1 open"
    assert "[test] 1 fills, net P&L 0.00, equity 100000.00, 1 open; closed 0, won 0, unrealised 0.00" in rest
    # the open position with its stop: 5 % under the entry's price
    price = rows(conn, "SELECT avg_entry_price FROM positions")[0]["avg_entry_price"]
    stop = rows(conn, "SELECT stop_price FROM orders WHERE purpose = 'stop_loss'")[0]["stop_price"]
    assert f"  AAPL long 10 from {price:.2f}, stop {stop:.2f}" in rest


# --- the database enforces the rules ----------------------------------------------------

def _filled_entry(stack, strategy, conn):
    stack.post_webhook(alert(quantity="10"), token=strategy)
    stack.drain()
    return rows(conn, "SELECT order_id FROM orders WHERE purpose = 'entry'")[0]["order_id"]


def test_the_database_refuses_a_transition_outside_the_table(stack, strategy, conn):
    order_id = _filled_entry(stack, strategy, conn)
    with pytest.raises(psycopg.errors.CheckViolation, match="cannot go from filled to accepted"):
        conn.execute("INSERT INTO order_events (order_id, from_status, to_status, at) "
                     "VALUES (%s, 'filled', 'accepted', now())", (order_id,))
    with pytest.raises(psycopg.errors.CheckViolation, match="is filled, not pending"):
        conn.execute("INSERT INTO order_events (order_id, from_status, to_status, at) "
                     "VALUES (%s, 'pending', 'cancelled', now())", (order_id,))


@pytest.mark.parametrize("sql", [
    "UPDATE order_events SET reason = 'x'", "DELETE FROM order_events", "DELETE FROM fills",
    "UPDATE orders SET status = 'cancelled'",
])
def test_the_logs_are_append_only_and_status_changes_only_through_events(stack, strategy, conn, sql):
    _filled_entry(stack, strategy, conn)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(sql)


def test_migrate_is_safe_twice_and_from_two_processes_at_once(pg_server_url):
    with db.connect(pg_server_url) as c:
        c.execute("DROP DATABASE IF EXISTS tf_migrate_race WITH (FORCE)")
        c.execute("CREATE DATABASE tf_migrate_race")
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    url = make_conninfo(**{**conninfo_to_dict(pg_server_url), "dbname": "tf_migrate_race"})
    results = []
    threads = [threading.Thread(target=lambda: results.append(db.migrate(url))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(len, results)) == [0, len(db.migrations())]
    assert db.migrate(url) == []


# --- strategies registered in SSM only (as `tradeflow strategy add --aws` does) -------

def test_a_strategy_registered_only_in_ssm_is_registered_by_its_first_signal(stack, conn):
    from tradeflow.adapters.parameters import put_strategy

    put_strategy("remote", SECRET, StrategyConfig(starting_cash=Decimal(5000)).model_dump_json())
    stack.post_webhook(alert(quantity="10"), token=f"remote.{SECRET}")
    stack.drain()
    assert rows(conn, "SELECT strategy_id, cash FROM accounts") == [{"strategy_id": "remote", "cash": Decimal("3999.40")}]


def test_cli_registers_a_strategy_in_aws_ssm(capsys, monkeypatch):
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")

    from tradeflow.adapters.parameters import strategy_secret, strategy_settings
    from tradeflow.local.cli import main

    aws.client.cache_clear()
    with mock_aws():
        assert main(["strategy", "add", "live-test", "--secret", "abcdefghijklmnop", "--aws"]) == 0
        assert strategy_secret("live-test") == "abcdefghijklmnop"
        assert StrategyConfig.model_validate_json(strategy_settings("live-test")) == StrategyConfig()
    aws.client.cache_clear()
    out = capsys.readouterr().out
    assert "/webhook/live-test.abcdefghijklmnop" in out and "{{strategy.order.action}}" in out


def test_cli_refuses_the_bar_fill_model_for_aws_where_there_is_no_bar_feed(capsys, monkeypatch):
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")

    from tradeflow.adapters.parameters import strategy_secret
    from tradeflow.local.cli import main

    aws.client.cache_clear()
    with mock_aws():
        code = main(["strategy", "add", "bars", "--secret", "abcdefghijklmnop", "--aws",
                     "--settings", '{"fill_model": "bar"}'])
        assert code == 2 and strategy_secret("bars") is None  # nothing half-written
    aws.client.cache_clear()
    assert "fill_model bar needs a bar feed" in capsys.readouterr().err


# --- the open-positions flag lets the stop monitor leave an idle database asleep --------

def test_stop_monitor_leaves_the_database_alone_while_nothing_is_open(stack, strategy, conn, replay_clock, monkeypatch):
    from tradeflow.adapters import state
    from tradeflow.settings import env

    assert state.open_positions(stack.state_bucket) is None
    stack.post_webhook(alert(quantity="10"), token=strategy)
    stack.drain()
    assert state.open_positions(stack.state_bucket) == 1
    replay_clock.set(START + timedelta(hours=1))
    stack.post_webhook(alert("exit", time=(START + timedelta(hours=1)).isoformat()), token=strategy)
    stack.drain()
    assert state.open_positions(stack.state_bucket) == 0
    db.close_connection()
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1")
    env.cache_clear()
    assert stack.run_schedule("stop_monitor") == {"ticks": 1, "exits": 0}  # no connection attempted
    aws.client("s3").delete_object(Bucket=stack.state_bucket, Key=names.OPEN_POSITIONS_KEY)
    with pytest.raises(psycopg.OperationalError):  # flag missing: it must look, and fails loudly
        stack.run_schedule("stop_monitor")
    env.cache_clear()


def test_stop_monitor_restores_a_missing_flag_from_the_database(stack, strategy, conn):
    from tradeflow.adapters import state

    stack.post_webhook(alert(quantity="10"), token=strategy)
    stack.drain()
    aws.client("s3").delete_object(Bucket=stack.state_bucket, Key=names.OPEN_POSITIONS_KEY)
    stack.run_schedule("stop_monitor")
    assert state.open_positions(stack.state_bucket) == 1


def told(stack) -> str:
    """What the trader reads once the day's summary ran (refusals and rejections are info:
    they wait for the digest)."""
    stack.run_schedule("notifier")
    return "\n".join(n["message"] for n in stack.inbox())
