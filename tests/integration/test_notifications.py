"""The notifier on the real database: routing, limits and quiet hours over random event
streams with the digest that carries what waited; each channel delivered on its own."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tradeflow import clock, names
from tradeflow.adapters import aws, store
from tradeflow.domain.alerting import NotificationSettings, QuietHours
from tradeflow.domain.messages import NotificationEvent
from tradeflow.domain.strategy import StrategyConfig
from tradeflow.pipeline import notifier
from tradeflow.settings import NotifierEnv

ENV = NotifierEnv(database_url="unused", trader_alerts_topic_arn="arn:aws:sns:us-east-1:1:alerts",
                  urgent_topic_arn="arn:aws:sns:us-east-1:1:urgent")
_ids = itertools.count()

kinds = st.sampled_from([("fill", "stop_loss"), ("fill", "entry"), ("fill", "take_profit"), ("fill", "exit"),
                         ("message_rejected", None), ("signal_refused", None)])
URGENT = {("fill", "stop_loss"), ("message_rejected", None)}
INFO = {("signal_refused", None)}


def _event(key: str, strategy_id: str, kind: tuple[str, str | None], symbol: str = "AAPL") -> NotificationEvent:
    if kind[0] == "fill":
        facts = {"purpose": kind[1], "side": "sell", "quantity": "10", "symbol": symbol, "price": "101.5",
                 "realised_pnl": "-12.30"}
    elif kind[0] == "message_rejected":
        facts = {"queue": "tradeflow-orders.fifo", "reason": "no such signal", "symbol": symbol}
    else:
        facts = {"action": "buy", "symbol": symbol, "reason": "max open positions"}
    return NotificationEvent(key=key, kind=kind[0], strategy_id=strategy_id, facts=facts)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 1500), kinds), min_size=1, max_size=40),
       st.integers(1, 4), st.integers(1, 4), st.tuples(st.integers(0, 23), st.integers(1, 8)), st.booleans())
def test_random_streams_lose_nothing_and_keep_limits_and_quiet_hours(conn, monkeypatch, stream, sms_limit,
                                                                     email_limit, quiet, overrides):
    """Given a strategy with small limits and quiet hours on SMS, when a random stream of
    events is delivered and the weekly digest runs, then: every urgent event was sent at once
    or is in the digest; no channel sent more than its limit in any hour; no SMS that was not
    an allowed urgent one went out in quiet hours; every event not sent at once on a channel
    it was routed to is in the digest."""
    sid = f"p{next(_ids)}"
    zone = "Europe/London"
    start_h, length = quiet
    quiet_hours = QuietHours(start=time(start_h), end=time((start_h + length) % 24))
    settings_ = NotificationSettings(rate_limits={"sms": sms_limit, "email": email_limit}, time_zone=zone,
                                     quiet_hours={"sms": quiet_hours}, urgent_overrides=overrides,
                                     weekly_digest="when_held_back", burst_hold_seconds=0)
    at = datetime(2024, 3, 4, 0, tzinfo=UTC)  # a Monday
    store.add_strategy(conn, sid, StrategyConfig(notifications=settings_), at)
    sent: list[tuple[str, datetime, str]] = []  # (channel, at, message)
    monkeypatch.setattr(aws, "publish", lambda arn, subject, message: sent.append(("email", clock.now(), message)))
    monkeypatch.setattr(aws, "send_sms", lambda arn, message: sent.append(("sms", clock.now(), message)))
    events = []
    for n, (gap, kind) in enumerate(stream):
        at += timedelta(seconds=gap)
        event = _event(f"{sid}:{n}", sid, kind, symbol=f"S{n}")  # a text of its own
        with clock.use_clock(lambda t=at: t):
            notifier.deliver(event, conn, ENV)
        events.append((at, kind, event))
    direct = list(sent)
    friday = datetime(2024, 3, 8, 21, 45, tzinfo=UTC)
    with clock.use_clock(lambda: friday):
        notifier.weekly_digest(conn, ENV)
    digest = "\n".join(m for c, t, m in sent[len(direct):] if f"[{sid}] week of" in m)

    for channel, limit in (("sms", sms_limit), ("email", email_limit)):
        times = [t for c, t, _ in direct if c == channel]
        for t in times:
            assert sum(1 for u in times if t - timedelta(hours=1) < u <= t) <= limit
    for at, kind, event in events:
        message = _message(conn, event.key)
        mine = [c for c, t, m in direct if m == message]
        local = at.astimezone(ZoneInfo(zone)).time()
        if "sms" in mine:
            assert not quiet_hours.contains(local) or (kind in URGENT and overrides)
        routed = ("sms", "email") if kind in URGENT else ("digest",) if kind in INFO else ("email",)
        for channel in routed:
            if channel not in mine:
                assert message in digest, f"{message!r} was not sent by {channel} and is not in the digest"
        if kind in URGENT:
            assert mine or message in digest


def _message(conn, key: str) -> str:
    return conn.execute("SELECT message FROM notifications WHERE notification_key = %s", (key,)).fetchone()["message"]


def test_a_failed_sms_is_retried_alone_and_the_email_goes_once(stack, strategy, conn, monkeypatch):
    """Given the SMS topic's publish fails once, when an urgent notification is delivered
    through the notifications queue, then the email went out once, the SMS on the retry, and
    each channel's row says delivered after one and two attempts."""
    real_sms, calls = aws.send_sms, []

    def flaky_sms(topic_arn, message):
        calls.append(message)
        if len(calls) == 1:
            raise aws.DeliveryError("could not send an SMS: throttled")
        real_sms(topic_arn, message)

    monkeypatch.setattr(aws, "send_sms", flaky_sms)
    emails = []
    real_publish = aws.publish
    monkeypatch.setattr(aws, "publish", lambda arn, s, m: (emails.append(m), real_publish(arn, s, m)))
    event = _event("stop:1", "test", ("fill", "stop_loss"))
    aws.send(stack.queue_urls[names.NOTIFICATIONS_QUEUE], event)
    stack.drain()
    assert len(calls) == 2 and calls[0] == calls[1]
    assert len(emails) == 1 and "Stop-loss SELL 10 AAPL" in emails[0]
    rows = {r["channel"]: r for r in conn.execute(
        "SELECT channel, status, attempts, error FROM notification_deliveries WHERE notification_key = 'stop:1'")}
    assert rows["email"]["status"] == "delivered" and rows["email"]["attempts"] == 1
    assert rows["sms"]["status"] == "delivered" and rows["sms"]["attempts"] == 2
    note = conn.execute("SELECT status, channels FROM notifications WHERE notification_key = 'stop:1'").fetchone()
    assert note["status"] == "sent" and sorted(note["channels"]) == ["email", "sms"]


def test_quiet_days_get_no_summary_and_a_refusal_waits_for_the_next_one(stack, conn, monkeypatch):
    """Given skip_quiet_days, a day with nothing gets no summary; a refusal (info: digest only)
    is in the next day's summary, once."""
    config = StrategyConfig(notifications=NotificationSettings(daily_summary="skip_quiet_days"))
    stack.add_strategy("quiet", config, "another-secret-for-tests")
    day1 = datetime(2024, 3, 4, 21, 30, tzinfo=UTC)
    with clock.use_clock(lambda: day1):
        assert notifier.daily_summary(conn, ENV) == 0
        notifier.deliver(_event("refused:1", "quiet", ("signal_refused", None)), conn, ENV)
    monkeypatch.setattr(aws, "publish", lambda arn, s, m: sent.append(m))
    sent: list[str] = []
    with clock.use_clock(lambda: day1 + timedelta(days=1)):
        assert notifier.daily_summary(conn, ENV) == 1
        assert notifier.daily_summary(conn, ENV) == 0
    with clock.use_clock(lambda: day1 + timedelta(days=2)):
        assert notifier.daily_summary(conn, ENV) == 0  # the refusal was carried once
    assert len(sent) == 1 and "buy AAPL refused: max open positions" in sent[0]
