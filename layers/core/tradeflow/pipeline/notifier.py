"""The notifier step: render a notification, publish it to the trader-alerts topic (email)
and, as a text, to the urgent topic (SMS subscriptions), and record it once; plus the daily summary."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg

from tradeflow import clock
from tradeflow.adapters import aws, store
from tradeflow.domain.messages import NotificationEvent
from tradeflow.domain.notifications import render
from tradeflow.names import MARKET_TIME_ZONE
from tradeflow.settings import NotifierEnv


def deliver(event: NotificationEvent, conn: psycopg.Connection, env: NotifierEnv) -> bool:
    """Send ``event`` unless it was sent before; returns whether it was sent now. A failed
    publish is recorded and raised, so SQS retries it."""
    subject, message = render(event)
    now = clock.now()
    if not store.claim_notification(conn, event.key, event.kind, event.strategy_id, subject, message, now):
        return False
    channels: list[str] = []
    try:
        aws.publish(env.trader_alerts_topic_arn, subject, message)
        channels.append("email")
        if env.urgent_topic_arn:
            aws.send_sms(env.urgent_topic_arn, message)
            channels.append("sms")
    except aws.DeliveryError as exc:
        store.finish_notification(conn, event.key, channels, str(exc), now)
        raise
    store.finish_notification(conn, event.key, channels, None, now)
    return True


def daily_summary(conn: psycopg.Connection, env: NotifierEnv) -> int:
    """Send each strategy's summary of the trading day (America/New_York) that contains now,
    and record its end-of-day equity; returns how many were sent. Run twice, it sends each once."""
    now = clock.now()
    zone = ZoneInfo(MARKET_TIME_ZONE)
    day = now.astimezone(zone).date()
    start = datetime.combine(day, time(0), zone)
    sent = 0
    for strategy_id in store.strategy_ids(conn):
        s = store.day_summary(conn, strategy_id, start, start + timedelta(days=1))
        cash, value = store.mark_to_market(conn, strategy_id, now)
        store.record_equity(conn, strategy_id, now, cash, value)
        event = NotificationEvent(
            key=f"summary:{strategy_id}:{day.isoformat()}", kind="daily_summary", strategy_id=strategy_id,
            facts={"date": day.isoformat(), "fills": s["fills"], "realised_pnl": f"{s['realised_pnl']:.2f}",
                   "equity": f"{cash + value:.2f}", "open_positions": s["open_positions"]},
        )
        sent += deliver(event, conn, env)
    return sent
