"""The notifier step: render a notification, publish it to the trader-alerts topic (email)
and, as a text, to the urgent topic (SMS subscriptions), and record it once; plus the daily summary."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
from aws_lambda_powertools import Logger

from tradeflow import clock
from tradeflow.adapters import aws, store
from tradeflow.domain.messages import NotificationEvent
from tradeflow.domain.notifications import render
from tradeflow.names import MARKET_TIME_ZONE
from tradeflow.settings import NotifierEnv

logger = Logger()


#: Put before the subject and message of a send that may repeat an earlier one.
POSSIBLE_REPEAT = "[possible repeat] "


def deliver(event: NotificationEvent, conn: psycopg.Connection, env: NotifierEnv) -> bool:
    """Send ``event`` once; returns whether it was sent now.

    Exactly-once at the edge: the notification is claimed (committed as ``sending``) before
    the publish and marked ``sent`` after it. A redelivery of a sent one sends nothing; one
    whose last publish failed is sent as new; one claimed but never confirmed (the function
    died between the publish and the mark) may have gone out, so it is sent again marked
    "[possible repeat]" and recorded as possibly duplicated. A failed publish is recorded and
    raised (DeliveryError, retryable); a failure to record a publish that succeeded is not
    raised, so it cannot cause a second send."""
    subject, message = render(event)
    now = clock.now()
    claim = store.claim_notification(conn, event.key, event.kind, event.strategy_id, subject, message, now)
    if claim is None:
        return False
    mode, channels = claim
    if mode == "repeat":
        subject, message = POSSIBLE_REPEAT + subject, POSSIBLE_REPEAT + message
    channels = list(channels)
    try:
        if "email" not in channels:
            aws.publish(env.trader_alerts_topic_arn, subject, message)
            channels.append("email")
        if env.urgent_topic_arn and "sms" not in channels:
            aws.send_sms(env.urgent_topic_arn, message)
            channels.append("sms")
    except aws.DeliveryError as exc:
        store.finish_notification(conn, event.key, channels, str(exc), now)
        raise
    try:
        store.finish_notification(conn, event.key, channels, None, now)
    except Exception as exc:  # noqa: BLE001 - sent is sent: a retry would send it twice
        logger.warning("notification sent but not recorded as sent", key=event.key, error=type(exc).__name__)
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
