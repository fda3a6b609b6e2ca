"""A notifier run is one transaction with one commit, reads included (counted by PostgreSQL:
pg_stat_database's xact_commit and the transaction ids assigned), for a message sent at once,
a message that joins a burst, and a burst's timer; and what a trader gets when the run dies
between a send and its commit, or its commit fails."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from tradeflow import clock
from tradeflow.adapters import aws, store
from tradeflow.domain.messages import NotificationEvent
from tradeflow.domain.strategy import StrategyConfig
from tradeflow.pipeline import notifier
from tradeflow.settings import NotifierEnv

from benchmarks.dbcounters import PROBE_COMMITS, counters

ENV = NotifierEnv(database_url="unused", trader_alerts_topic_arn="arn:aws:sns:us-east-1:1:alerts",
                  urgent_topic_arn="arn:aws:sns:us-east-1:1:urgent", chat_topic_arn=None,
                  notifications_queue_url="https://sqs/notifications")
MONDAY = datetime(2024, 3, 4, 14, 0, tzinfo=UTC)
_ids = itertools.count()


class Died(BaseException):
    """The function dies (a timeout, the runtime killed): nothing after it runs."""


def fill(key: str, strategy_id: str, purpose: str) -> NotificationEvent:
    return NotificationEvent(key=key, kind="fill", strategy_id=strategy_id, facts={
        "purpose": purpose, "side": "buy" if purpose == "entry" else "sell", "quantity": "10", "symbol": "AAPL",
        "price": "101.5", "realised_pnl": None if purpose == "entry" else "-12.30"})


@pytest.fixture
def outbox(monkeypatch):
    """Every message sent (channel, text) and every burst timer (FlushRequest)."""
    sent: list[tuple[str, str]] = []
    timers: list[notifier.FlushRequest] = []
    monkeypatch.setattr(aws, "publish", lambda arn, subject, message: sent.append(("email", message)))
    monkeypatch.setattr(aws, "send_sms", lambda arn, message: sent.append(("sms", message)))
    monkeypatch.setattr(aws, "send_later", lambda url, message, delay: timers.append(message))
    return sent, timers


def commits_of(conn, call, *args) -> tuple[int, int]:
    """(transactions committed, of which writing) by ``call(*args)`` on ``conn``'s database."""
    before = counters(conn)
    call(*args)
    after = counters(conn)
    return after["commits"] - before["commits"] - PROBE_COMMITS, after["xids"] - before["xids"]


def at(t: datetime, call, *args):
    with clock.use_clock(lambda: t):
        return call(*args)


def test_a_message_sent_at_once_a_burst_join_and_a_flush_commit_once_each(conn, outbox):
    """Given default settings, when a stop-loss goes out by SMS and email, an entry opens a
    burst, a second entry joins it and the burst's timer sends it, then each of the four runs
    committed one transaction, which wrote."""
    sent, timers = outbox
    sid = f"t{next(_ids)}"
    store.add_strategy(conn, sid, StrategyConfig(), MONDAY)
    assert at(MONDAY, commits_of, conn, notifier.deliver, fill(f"{sid}:stop", sid, "stop_loss"), conn, ENV) == (1, 1)
    assert sorted(c for c, _ in sent) == ["email", "sms"]
    assert at(MONDAY, commits_of, conn, notifier.deliver, fill(f"{sid}:1", sid, "entry"), conn, ENV) == (1, 1)
    assert at(MONDAY + timedelta(seconds=5), commits_of, conn, notifier.deliver, fill(f"{sid}:2", sid, "entry"),
              conn, ENV) == (1, 1)
    assert len(sent) == 2 and len(timers) == 1  # held: one timer for the burst
    assert at(MONDAY + timedelta(seconds=61), commits_of, conn, notifier.flush_step, timers[0], conn, ENV) == (1, 1)
    assert len(sent) == 3 and sent[2][1].startswith("2 notifications:")


def test_a_message_that_also_sends_a_due_burst_commits_once(conn, outbox):
    sent, _ = outbox
    sid = f"t{next(_ids)}"
    store.add_strategy(conn, sid, StrategyConfig(), MONDAY)
    at(MONDAY, notifier.deliver, fill(f"{sid}:1", sid, "entry"), conn, ENV)
    assert at(MONDAY + timedelta(seconds=90), commits_of, conn, notifier.deliver, fill(f"{sid}:stop", sid, "stop_loss"),
              conn, ENV) == (1, 1)
    assert [c for c, _ in sent] == ["email", "sms", "email"]  # the stop-loss on both, then the due entry


def _publish_then_die(monkeypatch):
    """Make every email go out and the function die right after it; returns the real publish."""
    real = aws.publish

    def dies_after_sending(arn, subject, message):
        real(arn, subject, message)
        raise Died

    monkeypatch.setattr(aws, "publish", dies_after_sending)
    return real


def test_a_run_that_died_after_its_send_is_sent_again_marked_on_the_redelivery(conn, outbox, monkeypatch):
    """Given the function dies after the email went out and before its commit, when the queue
    redelivers the message (receive count 2), then the email goes once more marked as a
    possible repeat, and the notification is recorded sent, possibly duplicated, 2 attempts."""
    sent, _ = outbox
    sid = f"t{next(_ids)}"
    store.add_strategy(conn, sid, StrategyConfig(), MONDAY)
    event, env = fill(f"{sid}:stop", sid, "stop_loss"), ENV.model_copy(update={"urgent_topic_arn": None})  # email only
    real = _publish_then_die(monkeypatch)
    with pytest.raises(Died):
        at(MONDAY, notifier.deliver, event, conn, env)
    assert store.notified(conn, [event.key]) == set()  # nothing recorded: the transaction rolled back
    monkeypatch.setattr(aws, "publish", real)
    at(MONDAY + timedelta(minutes=6), notifier.deliver, event, conn, env, 2)
    assert [m for _, m in sent] == [sent[0][1], notifier.POSSIBLE_REPEAT + sent[0][1]]
    note = conn.execute("SELECT status, possibly_duplicated, attempts FROM notifications WHERE notification_key = %s",
                        (event.key,)).fetchone()
    assert (note["status"], note["possibly_duplicated"], note["attempts"]) == ("sent", True, 2)


def test_a_burst_sent_by_a_run_that_died_is_marked_by_the_next_flush(conn, outbox, monkeypatch):
    """Given a burst's timer dies after the burst went out and before its commit, when another
    flush (any notifier run, not the timer's redelivery) sends it again, it is marked as a
    possible repeat; a burst after it is not."""
    sent, timers = outbox
    sid = f"t{next(_ids)}"
    store.add_strategy(conn, sid, StrategyConfig(), MONDAY)
    at(MONDAY, notifier.deliver, fill(f"{sid}:1", sid, "entry"), conn, ENV)
    real = _publish_then_die(monkeypatch)
    with pytest.raises(Died):
        at(MONDAY + timedelta(seconds=61), notifier.flush_step, timers[0], conn, ENV)
    monkeypatch.setattr(aws, "publish", real)
    assert at(MONDAY + timedelta(seconds=62), notifier.flush_step, timers[0], conn, ENV) == 1
    assert [m for _, m in sent] == [sent[0][1], notifier.POSSIBLE_REPEAT + sent[0][1]]
    at(MONDAY + timedelta(seconds=100), notifier.deliver, fill(f"{sid}:2", sid, "entry"), conn, ENV)
    assert at(MONDAY + timedelta(seconds=161), notifier.flush_step, timers[-1], conn, ENV) == 1
    assert not sent[2][1].startswith(notifier.POSSIBLE_REPEAT)


def test_a_commit_that_fails_after_the_send_is_recorded_again_without_a_second_send(conn, outbox, monkeypatch):
    """Given the notifier's last statement fails once after the SMS and the email went out,
    then each went out once and the notification is recorded sent on both."""
    sent, _ = outbox
    sid = f"t{next(_ids)}"
    store.add_strategy(conn, sid, StrategyConfig(), MONDAY)
    real, failures = store.finish_notification, []

    def fails_once(*args, **kwargs):
        if not failures:
            failures.append(1)
            raise psycopg.errors.QueryCanceled("canceling statement due to statement timeout (injected)")
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "finish_notification", fails_once)
    event = fill(f"{sid}:stop", sid, "stop_loss")
    at(MONDAY, notifier.deliver, event, conn, ENV)
    assert sorted(c for c, _ in sent) == ["email", "sms"] and failures == [1]
    note = conn.execute("SELECT status, channels, possibly_duplicated FROM notifications WHERE notification_key = %s",
                        (event.key,)).fetchone()
    assert (note["status"], sorted(note["channels"]), note["possibly_duplicated"]) == ("sent", ["email", "sms"], False)


def test_a_rate_limit_reads_the_limits_sends_not_the_hours(conn, outbox):
    """Given 20,000 emails of the account in the last hour (a seeded history, ANALYZEd), when a
    stop-loss is delivered, then it is held on email (over the limit of 20) and sent by SMS, and
    the whole run read a few hundred rows at most (a read of the hour would return 20,000)."""
    sent, _ = outbox
    sid = f"t{next(_ids)}"
    store.add_strategy(conn, sid, StrategyConfig(), MONDAY)
    seeded = {"s": sid, "start": MONDAY - timedelta(minutes=59)}
    conn.execute("INSERT INTO notifications (notification_key, kind, strategy_id, subject, message, status, created_at) "
                 "SELECT 'seed:' || i, 'fill', %(s)s, 'Fill', 'seeded', 'sent', %(start)s + i * interval '0.1 s' "
                 "FROM generate_series(1, 20000) AS i", seeded)
    conn.execute("INSERT INTO notification_deliveries (notification_key, channel, strategy_id, status, created_at, "
                 "delivered_at) SELECT notification_key, 'email', %(s)s, 'delivered', created_at, created_at "
                 "FROM notifications WHERE notification_key LIKE 'seed:%%'", seeded)
    conn.execute("ANALYZE notifications")
    conn.execute("ANALYZE notification_deliveries")
    before = counters(conn)
    at(MONDAY, notifier.deliver, fill(f"{sid}:stop", sid, "stop_loss"), conn, ENV)
    assert counters(conn)["rows"] - before["rows"] < 500
    assert [c for c, _ in sent] == ["sms"]
    status = conn.execute("SELECT status FROM notification_deliveries WHERE notification_key = %s AND channel = 'email'",
                          (f"{sid}:stop",)).fetchone()["status"]
    assert status == "rate_limited"
