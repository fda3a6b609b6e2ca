"""The notifier step: route a notification by its urgency and the strategy's settings
(domain/alerting.py), deliver it on each channel on its own (email: the trader-alerts topic;
SMS: the urgent topic's subscriptions), record a status per channel, and send the daily
summary and the weekly digest, which carry everything held back."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import psycopg
from aws_lambda_powertools import Logger

from tradeflow import clock
from tradeflow.adapters import aws, store
from tradeflow.domain import alerting, calendar
from tradeflow.domain.alerting import NotificationSettings
from tradeflow.domain.messages import NotificationEvent
from tradeflow.domain.notifications import render
from tradeflow.settings import NotifierEnv

logger = Logger()


#: Put before the subject and message of a send that may repeat an earlier one.
POSSIBLE_REPEAT = "[possible repeat] "


def settings_of(conn: psycopg.Connection, strategy_id: str) -> NotificationSettings:
    """The strategy's notification settings; the defaults for a strategy that does not exist
    (an alert refused for an unknown name)."""
    found = store.strategy(conn, strategy_id)
    return found[0].notifications if found else NotificationSettings()


def deliver(event: NotificationEvent, conn: psycopg.Connection, env: NotifierEnv) -> bool:
    """Deliver ``event`` on each channel its urgency is routed to; returns whether anything
    was sent now.

    Once per channel: the notification is claimed, its delivery rows are created once (status
    ``pending``, or ``rate_limited`` / ``suppressed`` for a channel that must wait, or a
    ``digest`` row), then each pending or failed channel is sent on its own and marked
    ``delivered`` or ``failed``. A failure on one channel is raised (DeliveryError, retried by
    the queue with growing delays, then dead-lettered, which alarms) after the other channels
    were tried; the retry sends only the channels not yet delivered. A channel attempted but
    never confirmed (the function died between the send and the mark) may have gone out, so
    it is sent again marked "[possible repeat]". A failure to record a send that succeeded is
    not raised, so it cannot cause a second send."""
    subject, message = render(event)
    now = clock.now()
    claim = store.claim_notification(conn, event.key, event.kind, event.strategy_id, subject, message, now)
    if claim is None:
        return False
    settings = settings_of(conn, event.strategy_id)
    level = alerting.urgency(event.kind, event.facts)

    def decide(channel: str, admitted: list[datetime]) -> str:
        if channel == "digest":
            return "pending"
        if channel == "sms" and not env.urgent_topic_arn:
            return "suppressed"
        return alerting.admit(channel, level, now, admitted, settings)

    rows = store.route_notification(conn, event.key, event.strategy_id, decide, settings.channels(level),
                                    now - alerting.RATE_WINDOW, now)
    sent, errors = False, []
    for channel, row in rows.items():
        if channel == "digest" or row["status"] not in ("pending", "failed"):
            continue
        repeat = row["status"] == "pending" and row["attempts"] > 0
        prefix = POSSIBLE_REPEAT if repeat else ""
        store.start_delivery(conn, event.key, channel)
        try:
            if channel == "email":
                aws.publish(env.trader_alerts_topic_arn, prefix + subject, prefix + message)
            else:
                aws.send_sms(env.urgent_topic_arn, alerting.to_sms(prefix + message))
        except aws.DeliveryError as exc:
            errors.append(str(exc))
            store.finish_delivery(conn, event.key, channel, str(exc), now)
            continue
        sent = True
        try:
            store.finish_delivery(conn, event.key, channel, None, now)
        except Exception as exc:  # noqa: BLE001 - sent is sent: a retry would send it twice
            logger.warning("notification sent but not recorded", key=event.key, channel=channel,
                           error=type(exc).__name__)
    done = [c for c, r in store.deliveries(conn, event.key).items() if r["status"] == "delivered"]
    store.finish_notification(conn, event.key, done, "; ".join(errors) or None, now)
    if errors:
        raise aws.DeliveryError("; ".join(errors))
    return sent


def _held(conn: psycopg.Connection, strategy_id: str, digest_key: str, now: datetime) -> tuple[list, list[str]]:
    rows = store.held_back(conn, strategy_id, digest_key, now)
    return [r["notification_key"] for r in rows], [r["message"] for r in rows]


def _trade(t) -> str | None:
    return None if t is None else f"{t['symbol']} {t['pnl']:.2f}"


def _send_digest(conn: psycopg.Connection, env: NotifierEnv, event: NotificationEvent, keys: list[str]) -> bool:
    sent = deliver(event, conn, env)
    store.attach_to_digest(conn, keys, event.key, clock.now())
    return sent


def daily_summary(conn: psycopg.Connection, env: NotifierEnv) -> int:
    """Record each strategy's end-of-day equity and send its summary of the trading day
    (America/New_York) that contains now: P&L, equity, trades, win rate, open positions with
    their stops, refusals, and everything held back since the last digest. A strategy whose
    ``notifications.daily_summary`` is ``off`` gets none (the weekly digest carries it), one
    with ``skip_quiet_days`` none on a day with no fill, no refusal and nothing held back.
    Returns how many were sent; run twice, it sends each once."""
    now = clock.now()
    zone = calendar.MARKET_ZONE
    day = calendar.trading_day(now)
    start = datetime.combine(day, time(0), zone)
    sent = 0
    for strategy_id in store.strategy_ids(conn):
        cash, value = store.mark_to_market(conn, strategy_id, now)
        store.record_equity(conn, strategy_id, now, cash, value)
        settings = settings_of(conn, strategy_id)
        if settings.daily_summary == "off":
            continue
        key = f"summary:{strategy_id}:{day.isoformat()}"
        r = store.period_report(conn, strategy_id, start, start + timedelta(days=1))
        keys, held = _held(conn, strategy_id, key, now)
        if settings.daily_summary == "skip_quiet_days" and not (r["fills"] or r["refusals"] or held):
            continue
        account = store.account(conn, strategy_id)
        opened = store.open_positions_with_stops(conn, strategy_id)
        event = NotificationEvent(
            key=key, kind="daily_summary", strategy_id=strategy_id,
            facts={"date": day.isoformat(), "fills": r["fills"], "realised_pnl": f"{r['realised_pnl']:.2f}",
                   "unrealised_pnl": f"{value - sum(p['quantity'] * p['avg_entry_price'] for p in opened):.2f}",
                   "total_realised_pnl": f"{account['realised_pnl']:.2f}",
                   "equity": f"{cash + value:.2f}", "trades": r["trades"], "wins": r["wins"],
                   "open_positions": len(opened),
                   "positions": [f"{p['symbol']} {p['side']} {p['quantity']:f} from {p['avg_entry_price']:.2f}"
                                 + (f", stop {p['stop_price']:.2f}" if p["stop_price"] else ", no stop")
                                 for p in opened],
                   "refusals": r["refusals"], "held": held},
        )
        sent += _send_digest(conn, env, event, keys)
    return sent


def weekly_digest(conn: psycopg.Connection, env: NotifierEnv) -> int:
    """After Friday's close: each strategy's week (Monday 00:00 New York to now): fills, closed
    trades, win rate, realised P&L, best and worst trade, an equity sparkline of the week's
    daily equity, and everything held back not yet in a digest. Whether a week gets one follows
    ``notifications.weekly_digest`` (off; skip_quiet_weeks: not for a week with no fill and
    nothing held back; when_held_back: only when something is held back; always).
    Returns how many were sent; run twice, it sends each once."""
    now = clock.now()
    zone = calendar.MARKET_ZONE
    day = calendar.trading_day(now)
    monday = day - timedelta(days=day.weekday())
    start = datetime.combine(monday, time(0), zone)
    sent = 0
    for strategy_id in store.strategy_ids(conn):
        mode = settings_of(conn, strategy_id).weekly_digest
        if mode == "off":
            continue
        key = f"weekly:{strategy_id}:{monday.isoformat()}"
        r = store.period_report(conn, strategy_id, start, now + timedelta(seconds=1))
        keys, held = _held(conn, strategy_id, key, now)
        if not held and (mode == "when_held_back" or mode == "skip_quiet_weeks" and not r["fills"]):
            continue
        equity = store.equity_between(conn, strategy_id, start, now + timedelta(seconds=1))
        event = NotificationEvent(
            key=key, kind="weekly_digest", strategy_id=strategy_id,
            facts={"week": monday.isoformat(), "fills": r["fills"], "trades": r["trades"], "wins": r["wins"],
                   "realised_pnl": f"{r['realised_pnl']:.2f}", "best": _trade(r["best"]), "worst": _trade(r["worst"]),
                   "equity": f"{equity[-1]:.2f}" if equity else None,
                   "sparkline": alerting.sparkline(equity), "refusals": r["refusals"], "held": held},
        )
        sent += _send_digest(conn, env, event, keys)
    return sent
