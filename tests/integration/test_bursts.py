"""Bursts, chat channels and account-wide limits on the real database: routine messages of a
minute go out as one message per channel, urgent ones at once; every event is in exactly one
sent message or the digest; a failed chat channel is re-sent alone; limits count the account."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tradeflow import clock
from tradeflow.adapters import aws, chat, store
from tradeflow.domain.alerting import NotificationSettings, QuietHours
from tradeflow.domain.messages import NotificationEvent
from tradeflow.domain.strategy import StrategyConfig
from tradeflow.pipeline import notifier
from tradeflow.settings import NotifierEnv

ENV = NotifierEnv(database_url="unused", trader_alerts_topic_arn="arn:aws:sns:us-east-1:1:alerts",
                  urgent_topic_arn="arn:aws:sns:us-east-1:1:urgent", chat_topic_arn="arn:aws:sns:us-east-1:1:chat")
MONDAY = datetime(2024, 3, 4, 14, 0, tzinfo=UTC)
_ids = itertools.count()


def fill(key: str, strategy_id: str, purpose: str, symbol: str) -> NotificationEvent:
    return NotificationEvent(key=key, kind="fill", strategy_id=strategy_id, facts={
        "purpose": purpose, "side": "buy" if purpose == "entry" else "sell", "quantity": "10", "symbol": symbol,
        "price": "101.5", "realised_pnl": None if purpose == "entry" else "-12.30"})


def refusal(key: str, strategy_id: str, symbol: str) -> NotificationEvent:
    return NotificationEvent(key=key, kind="signal_refused", strategy_id=strategy_id,
                             facts={"action": "buy", "symbol": symbol, "reason": "max open positions"})


@pytest.fixture
def outbox(monkeypatch):
    """Every message sent: (channel, time, text)."""
    sent: list[tuple[str, datetime, str]] = []
    monkeypatch.setattr(aws, "publish", lambda arn, subject, message: sent.append(("email", clock.now(), message)))
    monkeypatch.setattr(aws, "send_sms", lambda arn, message: sent.append(("sms", clock.now(), message)))
    monkeypatch.setattr(chat, "publish", lambda arn, m: sent.append((m.channel, clock.now(), m.text)))
    return sent


def at(t: datetime, call, *args):
    with clock.use_clock(lambda: t):
        return call(*args)


def test_twenty_fills_in_a_minute_become_one_message_and_a_stop_loss_goes_on_its_own(conn, outbox, monkeypatch):
    """Given default settings (hold 60 s), when 20 entries arrive within a minute with a
    stop-loss among them, then the stop-loss went out at once by SMS and email, the 20 entries
    went out as one email when the burst was due, and the timer was sent once, delayed."""
    sid = f"b{next(_ids)}"
    store.add_strategy(conn, sid, StrategyConfig(), MONDAY)
    timers = []
    monkeypatch.setattr(aws, "send_later", lambda url, message, delay: timers.append((message, delay)))
    env = ENV.model_copy(update={"notifications_queue_url": "https://sqs/notifications"})
    for n in range(20):
        at(MONDAY + timedelta(seconds=3 * n), notifier.deliver, fill(f"{sid}:{n}", sid, "entry", f"E{n:02d}"), conn, env)
        if n == 10:
            at(MONDAY + timedelta(seconds=31), notifier.deliver, fill(f"{sid}:stop", sid, "stop_loss", "STOP"), conn, env)
    assert sorted((c, t) for c, t, m in outbox) == [("email", MONDAY + timedelta(seconds=31)),
                                                    ("sms", MONDAY + timedelta(seconds=31))]
    assert [(m.flush, delay) for m, delay in timers] == [(MONDAY + timedelta(seconds=60), 61)]
    assert at(MONDAY + timedelta(seconds=59), notifier.flush_step, timers[0][0], conn, env) == 0  # early: nothing due
    assert at(MONDAY + timedelta(seconds=61), notifier.flush_step, timers[0][0], conn, env) == 1
    channel, sent_at, text = outbox[2]
    assert (channel, sent_at, len(outbox)) == ("email", MONDAY + timedelta(seconds=61), 3)
    lines = text.splitlines()
    assert lines[0] == "20 notifications:" and lines[1:] == [f"[{sid}] Entry BUY 10 E{n:02d} @ 101.5" for n in range(20)]
    assert at(MONDAY + timedelta(seconds=70), notifier.flush_step, timers[0][0], conn, env) == 0  # sent once
    statuses = {r["status"] for r in conn.execute(
        "SELECT status FROM notification_deliveries WHERE strategy_id = %s", (sid,))}
    assert statuses == {"delivered"}


def test_a_failed_chat_channel_is_re_sent_alone(conn, outbox, monkeypatch):
    """Given urgent messages routed to Telegram, Discord and Slack, when Discord's publish
    fails once, then the retry sends Discord only."""
    sid = f"c{next(_ids)}"
    routes = {"urgent": ["telegram", "discord", "slack"], "routine": ["digest"], "info": ["digest"]}
    store.add_strategy(conn, sid, StrategyConfig(notifications=NotificationSettings(routes=routes)), MONDAY)
    fails = [True]

    def flaky(arn, message):
        if message.channel == "discord" and fails.pop() if fails else False:
            raise aws.DeliveryError("could not publish to the chat topic (discord): throttled")
        outbox.append((message.channel, clock.now(), message.text))

    monkeypatch.setattr(chat, "publish", flaky)
    event = fill(f"{sid}:1", sid, "stop_loss", "MSFT")
    with pytest.raises(aws.DeliveryError, match="discord"):
        at(MONDAY, notifier.deliver, event, conn, ENV)
    at(MONDAY + timedelta(seconds=30), notifier.deliver, event, conn, ENV)
    assert sorted(c for c, _, _ in outbox) == ["discord", "slack", "telegram"]
    rows = store.deliveries(conn, event.key)
    assert {c: (r["status"], r["attempts"]) for c, r in rows.items()} == {
        "telegram": ("delivered", 1), "discord": ("delivered", 2), "slack": ("delivered", 1)}


def test_rate_limits_count_the_whole_account(conn, outbox):
    """Given two strategies each allowed 2 texts an hour, when each has 3 stop-losses, then
    the account sent 2 texts, and the rest wait for the digest."""
    a, b = f"a{next(_ids)}", f"a{next(_ids)}"
    quiet = NotificationSettings(rate_limits={"sms": 2, "email": 20}, routes={
        "urgent": ["sms"], "routine": ["digest"], "info": ["digest"]})
    for sid in (a, b):
        store.add_strategy(conn, sid, StrategyConfig(notifications=quiet), MONDAY)
    for n in range(3):
        for sid in (a, b):
            at(MONDAY + timedelta(minutes=n), notifier.deliver, fill(f"{sid}:{n}", sid, "stop_loss", "X"), conn, ENV)
    assert len([c for c, _, _ in outbox if c == "sms"]) == 2
    held = store.held_back(conn, None, "none", MONDAY + timedelta(hours=1))
    assert len([h for h in held if h["strategy_id"] in (a, b)]) == 4


def test_the_daily_summary_is_one_message_for_every_strategy(conn, outbox):
    """Given two strategies, the daily summary is one email with the total and each strategy."""
    for sid in ("x1", "x2"):
        store.add_strategy(conn, sid, StrategyConfig(), MONDAY)
    at(MONDAY, notifier.deliver, refusal("x2:r", "x2", "ZZZ"), conn, ENV)
    evening = MONDAY.replace(hour=21, minute=30)
    assert at(evening, notifier.daily_summary, conn, ENV) == 1
    assert at(evening, notifier.daily_summary, conn, ENV) == 0
    [(channel, _, text)] = [s for s in outbox if "2024-03-04" in s[2]]
    lines = text.splitlines()
    assert channel == "email" and lines[0].startswith("[account] 2024-03-04: 0 fills, net P&L 0.00, equity 200000.00")
    assert "across 2 strategies:" in lines and any(line.startswith("[x1] ") for line in lines)
    assert any(line.startswith("[x2] ") for line in lines) and "  [x2] buy ZZZ refused: max open positions" in lines


# --- the property: nothing lost, nothing twice ---------------------------------------------

kinds = st.sampled_from(["stop_loss", "entry", "take_profit", "refused"])


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 400), kinds), min_size=1, max_size=30), st.integers(1, 3),
       st.integers(1, 3), st.integers(10, 120), st.tuples(st.integers(0, 23), st.integers(1, 8)))
def test_every_event_is_in_exactly_one_sent_message_or_the_digest(conn, outbox, stream, sms_limit, email_limit,
                                                                  hold, quiet):
    """Given random streams (gaps of 0-400 s) with bursts on email and Telegram, small limits
    and SMS quiet hours, when each event is delivered, each burst's timer runs when due and the
    weekly digest runs: every event is in exactly one message on each channel it was routed to,
    or in the digest, never both; no channel sends more than its limit in any rolling hour (by
    send time); no text goes out in quiet hours; an urgent event goes out at once or waits in
    the digest."""
    conn.execute("DELETE FROM notification_deliveries")  # the account's limits count every strategy
    sid = f"p{next(_ids)}"
    zone = "Europe/London"
    quiet_hours = QuietHours(start=time(quiet[0]), end=time((quiet[0] + quiet[1]) % 24))
    s = NotificationSettings(
        routes={"urgent": ["sms", "email"], "routine": ["email", "telegram"], "info": ["digest"]},
        rate_limits={"sms": sms_limit, "email": email_limit, "telegram": 2}, quiet_hours={"sms": quiet_hours},
        time_zone=zone, urgent_overrides=False, weekly_digest="when_held_back", burst_hold_seconds=hold)
    store.add_strategy(conn, sid, StrategyConfig(notifications=s), MONDAY)
    outbox.clear()
    t = MONDAY
    timers: list[datetime] = []
    events = []
    for n, (gap, kind) in enumerate(stream):
        t += timedelta(seconds=gap)
        for due in sorted(d for d in timers if d <= t):  # the timers that came due meanwhile
            at(due, notifier.flush_step, notifier.FlushRequest(flush=due), conn, ENV)
            timers.remove(due)
        symbol = f"S{n:03d}X"
        event = refusal(f"{sid}:{n}", sid, symbol) if kind == "refused" else fill(f"{sid}:{n}", sid, kind, symbol)
        at(t, notifier.deliver, event, conn, ENV)
        timers += [r["hold_until"] for r in store.deliveries(conn, event.key).values()
                   if r["hold_until"] is not None and r["hold_until"] not in timers]
        events.append((t, kind, symbol))
    for due in sorted(timers):
        at(due, notifier.flush_step, notifier.FlushRequest(flush=due), conn, ENV)
    direct = list(outbox)
    at(datetime(2024, 3, 8, 21, 45, tzinfo=UTC), notifier.weekly_digest, conn, ENV)
    digest = "\n".join(m for _, _, m in outbox[len(direct):] if f"[{sid}] week of" in m)

    for channel in ("sms", "email", "telegram"):
        times = [u for c, u, _ in direct if c == channel]
        for u in times:
            assert sum(1 for v in times if u - timedelta(hours=1) < v <= u) <= s.limit(channel)
    for sent_at, kind, symbol in events:
        routed = ("sms", "email") if kind == "stop_loss" else ("digest",) if kind == "refused" else ("email", "telegram")
        in_digest = digest.count(f" {symbol} ")
        assert in_digest <= 1
        carried = [(c, u) for c, u, m in direct if f" {symbol} " in m]
        missing = []
        for channel in routed:
            mine = [u for c, u in carried if c == channel]
            assert len(mine) <= 1, f"{symbol} went out twice on {channel}"
            if not mine:
                missing.append(channel)
        # in the digest exactly when some channel it was routed to did not send it
        assert in_digest == (1 if missing else 0), (symbol, kind, missing, in_digest)
        if kind == "stop_loss":
            assert all(u == sent_at for c, u in carried), "an urgent event is never held"
        for c, u in carried:
            if c == "sms":
                assert not quiet_hours.contains(u.astimezone(ZoneInfo(zone)).time())
