"""The notifier step: route a notification by its urgency and the strategy's settings
(domain/alerting.py), deliver it on each channel on its own (email: the trader-alerts topic;
SMS: the urgent topic's subscriptions; Telegram, Discord, Slack: the chat topic, posted by the
chat sender outside the VPC), merge bursts of routine and info messages into one message per
channel, record a status per channel, and send the account's daily summary (every strategy and
the total) and each strategy's weekly digest, which carry everything held back."""

from __future__ import annotations

import math
from datetime import datetime, time, timedelta

import psycopg
from aws_lambda_powertools import Logger
from pydantic import AwareDatetime, BaseModel, ConfigDict

from tradeflow import clock
from tradeflow.adapters import aws, chat, db, store
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


class FlushRequest(BaseModel):
    """A message on the notifications queue asking the notifier to send the bursts due by
    ``flush`` (aware): the timer of a burst, sent with an SQS delay when the burst opens, so it
    goes out even when nothing else arrives."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    flush: AwareDatetime


def _available(channel: str, env: NotifierEnv) -> bool:
    """Whether this deployment can send on ``channel`` (SMS needs the urgent topic, chat the chat topic)."""
    if channel == "email":
        return True
    if channel == "sms":
        return env.urgent_topic_arn is not None
    return env.chat_topic_arn is not None


def _send(env: NotifierEnv, channel: str, key: str, subject: str, message: str) -> None:
    """One message on one channel; raises aws.DeliveryError."""
    if channel == "email":
        aws.publish(env.trader_alerts_topic_arn, subject, message)
    elif channel == "sms":
        aws.send_sms(env.urgent_topic_arn, alerting.to_sms(message))
    else:
        chat.publish(env.chat_topic_arn, chat.ChatMessage(key=key, channel=channel, text=message))


#: Seconds the notifier's transaction may stay idle (waiting on SNS or SQS) before PostgreSQL
#: ends the session, releasing its locks if the function died without closing its connection:
#: above one boto3 call with its retries (3 attempts of at most 2 s to connect and 10 s to
#: read, adapters/aws.py), below the notifier's timeout.
IDLE_IN_TRANSACTION_SECONDS = 45
#: Seconds a notifier waits for the account's lock (another notifier sending) before the
#: message goes back to its queue (a lock timeout is retryable).
LOCK_WAIT_SECONDS = 30


def _bound(conn: psycopg.Connection) -> None:
    """Bound the current transaction's idle time and lock waits (see the constants above)."""
    db.bound_transaction(conn, IDLE_IN_TRANSACTION_SECONDS, LOCK_WAIT_SECONDS)


class _Sender:
    """Sends messages and records each outcome in the caller's transaction, remembering what
    went out, so that a run recorded again after its commit failed does not send it twice."""

    def __init__(self, env: NotifierEnv) -> None:
        self.env = env
        self.went_out: set[tuple[str, str]] = set()  # (channel, message key)

    def attempt(self, conn: psycopg.Connection, channel: str, keys: list[str], message_key: str, subject: str,
                message: str, repeat: bool, now: datetime, burst_send: int | None = None) -> str | None:
        """Send one message (a notification, or a burst of ``keys``) on ``channel`` and record
        it on every row of ``keys``; returns the error, or None when it went out."""
        if (channel, message_key) not in self.went_out:
            prefix = POSSIBLE_REPEAT if repeat else ""
            try:
                _send(self.env, channel, message_key, prefix + subject, prefix + message)
            except aws.DeliveryError as exc:
                store.record_deliveries(conn, keys, channel, str(exc), now, burst_send)
                return str(exc)
            self.went_out.add((channel, message_key))
        store.record_deliveries(conn, keys, channel, None, now, burst_send)
        return None


def deliver(event: NotificationEvent, conn: psycopg.Connection, env: NotifierEnv, receive_count: int = 1) -> bool:
    """Deliver ``event`` on each channel its urgency is routed to, then send every burst whose
    hold has ended; returns whether ``event`` was sent now on a channel. ``receive_count``: the
    queue's receive count of the message (SQS ApproximateReceiveCount; 1 for a direct call).

    One transaction, one commit: the notification is claimed (its row locked), its delivery
    rows are created once (status ``pending``, or ``rate_limited`` / ``suppressed`` for a
    channel that must wait, or a ``digest`` row; a routine or info message on a direct channel
    joins its channel's burst, :func:`tradeflow.domain.alerting.hold_until`), each pending or
    failed channel not in a burst is sent on its own and marked ``delivered`` or ``failed``, and
    the due bursts are sent (:func:`flush`); then it commits. A failure on one channel is raised
    (DeliveryError, retried by the queue with growing delays, then dead-lettered, which alarms)
    after the commit, so the retry sends only the channels not yet delivered. A run that died
    after a send and before its commit left no row: the redelivery (``receive_count`` > 1,
    nothing recorded) sends every channel marked "[possible repeat]" (:func:`store.claim_notification`),
    so a receive that failed before any send (a database outage) is marked too. When the commit
    itself fails after a send, the run is recorded once more without sending again what went out;
    only if that fails too is the error raised (the redelivery then marks its sends). The message
    that opens a burst sends its timer (:class:`FlushRequest`, delayed until the burst is due)."""
    sender = _Sender(env)
    try:
        with conn.transaction():
            sent, errors = _deliver(event, conn, sender, receive_count)
    except psycopg.Error as exc:
        if not sender.went_out or conn.closed or conn.broken:
            raise
        logger.warning("notification sent but not recorded; recording it again", key=event.key,
                       error=type(exc).__name__)
        with conn.transaction():
            sent, errors = _deliver(event, conn, sender, receive_count)
    if errors:
        raise aws.DeliveryError("; ".join(errors))
    return sent


def _deliver(event: NotificationEvent, conn: psycopg.Connection, sender: _Sender,
             receive_count: int) -> tuple[bool, list[str]]:
    """:func:`deliver`'s work inside its transaction: (sent now on a channel, errors)."""
    env = sender.env
    subject, message = render(event)
    now = clock.now()
    errors: list[str] = []
    sent = False
    _bound(conn)
    claim = store.claim_notification(conn, event.key, event.kind, event.strategy_id, subject, message, now,
                                     receive_count)
    if claim is not None:
        settings = settings_of(conn, event.strategy_id)
        level = alerting.urgency(event.kind, event.facts)
        joined: list[str] = []  # channels whose burst was already open (its timer is on its way)

        def decide(channel: str, sent_times: list[datetime], open_burst: datetime | None):
            if channel == "digest":
                return "pending", None
            if not _available(channel, env):
                return "suppressed", None
            hold = alerting.hold_until(level, channel, now, open_burst, settings)
            if hold is not None and hold == open_burst:  # joins a burst already admitted: one message
                joined.append(channel)
                status = alerting.admit(channel, level, hold, [], settings)
            else:
                status = alerting.admit(channel, level, hold or now, sent_times, settings)
            return status, hold if status == "pending" else None

        channels = settings.channels(level)
        limits = {c: settings.limit(c) for c in channels if c in alerting.DIRECT_CHANNELS and _available(c, env)}
        rows = store.route_notification(conn, event.key, event.strategy_id, decide, channels, limits,
                                        now - alerting.RATE_WINDOW, now)
        opened = [r["hold_until"] for c, r in rows.items() if c not in joined and r["hold_until"] is not None
                  and r["hold_until"] > now and r["status"] == "pending"]
        if opened:  # a retry sends the timer again: a second flush finds nothing to send
            try:
                _start_timer(env, min(opened), now)
            except aws.DeliveryError as exc:
                errors.append(str(exc))
        done = [c for c, r in rows.items() if r["status"] == "delivered"]
        for channel, row in rows.items():
            if channel == "digest" or row["hold_until"] is not None or row["status"] not in ("pending", "failed"):
                continue
            repeat = row["status"] == "pending" and (claim[0] == "repeat" or row["attempts"] > 0)
            error = sender.attempt(conn, channel, [event.key], event.key, subject, message, repeat, now)
            if error:
                errors.append(error)
            else:
                done.append(channel)
            sent = sent or error is None
        store.finish_notification(conn, event.key, sorted(done), "; ".join(errors) or None, now)
    flushed, failed = flush(conn, sender, now)
    if flushed:
        logger.info("bursts sent", bursts=flushed)
    return sent, errors + failed


def _start_timer(env: NotifierEnv, due: datetime, now: datetime) -> None:
    """Send the :class:`FlushRequest` of a burst due at ``due``, delayed until then (SQS
    DelaySeconds, a second after it, at most 900 s: the hold's own limit). Without the queue's URL (a laptop
    without the stack) there is no timer: the next notifier run sends the burst."""
    if env.notifications_queue_url is None:
        return
    aws.send_later(env.notifications_queue_url, FlushRequest(flush=due),
                   min(900, max(0, math.ceil((due - now).total_seconds()) + 1)))


def flush_step(request: FlushRequest, conn: psycopg.Connection, env: NotifierEnv) -> int:
    """A burst's timer: send the bursts due by now, in one transaction; returns how many went
    out. One that comes early (a queue that does not delay) sends what is due and is
    acknowledged: the burst then goes with the next notifier run. Raises DeliveryError when a
    burst failed (the timer is retried by the queue)."""
    now = clock.now()
    if request.flush > now:
        logger.warning("burst timer came early", due=request.flush.isoformat(), now=now.isoformat())
    sent, errors = _flush_alone(conn, env, now)
    if errors:
        raise aws.DeliveryError("; ".join(errors))
    return sent


def _flush_alone(conn: psycopg.Connection, env: NotifierEnv, now: datetime) -> tuple[int, list[str]]:
    """:func:`flush` in a transaction of its own (committed before an error is raised)."""
    sender = _Sender(env)
    try:
        with conn.transaction():
            _bound(conn)
            return flush(conn, sender, now)
    except psycopg.Error as exc:
        if not sender.went_out or conn.closed or conn.broken:
            raise
        logger.warning("burst sent but not recorded; recording it again", error=type(exc).__name__)
        with conn.transaction():
            return flush(conn, sender, now)


def flush(conn: psycopg.Connection, sender: _Sender, now: datetime) -> tuple[int, list[str]]:
    """Send every burst whose hold ended by ``now`` as one message on its channel
    (:func:`tradeflow.domain.alerting.merge`), and record it on each of its rows, inside the
    caller's transaction; a burst that fell into its channel's quiet hours while it waited is
    ``suppressed`` (the digest carries it). One notifier at a time (a transaction lock; another
    running one sends them). A burst send takes a number first (:func:`store.next_burst_send`,
    recorded with the outcome): when an earlier one is recorded nowhere, a run died or rolled
    back after it may have sent a burst, so what this flush sends is marked "[possible repeat]".
    Returns (how many bursts went out, the errors of those that failed: their rows are
    ``failed`` and the next flush sends them again)."""
    if not store.lock_bursts(conn):
        return 0, []
    due = store.due_bursts(conn, now)
    if not due:
        return 0, []
    unrecorded = store.burst_sent_unrecorded(conn)
    sent, errors = 0, []
    for channel, hold in due:
        rows = store.burst(conn, channel, hold)
        if not rows:
            continue
        keys = [r["notification_key"] for r in rows]
        if alerting.admit(channel, "routine", now, [], settings_of(conn, rows[0]["strategy_id"])) == "suppressed":
            store.hold_back(conn, keys, channel, "suppressed")
            continue
        subject, message = alerting.merge([(r["subject"], r["message"]) for r in rows])
        repeat = unrecorded or any(r["status"] == "pending" and r["attempts"] > 0 for r in rows)
        key = keys[0] if len(keys) == 1 else f"burst:{channel}:{hold.isoformat()}"
        error = sender.attempt(conn, channel, keys, key, subject, message, repeat, now, store.next_burst_send(conn))
        if error:
            errors.append(error)
        else:
            sent += 1
    return sent, errors


def _held(conn: psycopg.Connection, strategy_id: str, digest_key: str, now: datetime) -> tuple[list, list[str]]:
    rows = store.held_back(conn, strategy_id, digest_key, now)
    return [r["notification_key"] for r in rows], [r["message"] for r in rows]


def _trade(t) -> str | None:
    return None if t is None else f"{t['symbol']} {t['pnl']:.2f}"


def _send_digest(conn: psycopg.Connection, env: NotifierEnv, event: NotificationEvent, keys: list[str]) -> bool:
    sent = deliver(event, conn, env)
    store.attach_to_digest(conn, keys, event.key, clock.now())
    return sent


#: The strategy id of the account's own notifications (the daily summary across strategies).
ACCOUNT = "account"


def daily_summary(conn: psycopg.Connection, env: NotifierEnv) -> int:
    """Record each strategy's end-of-day equity and send the account's summary of the trading
    day (America/New_York) that contains now, as one message: the total across strategies
    (fills, net P&L, equity, closed trades, win rate, unrealised and realised P&L, open
    positions) then each strategy's own (the same, with its open positions and their stops),
    refusals, and everything held back since the last digest. A strategy whose
    ``notifications.daily_summary`` is ``off`` is left out (the weekly digest carries what it
    holds back), one with ``skip_quiet_days`` on a day with no fill, no refusal and nothing held
    back; with no strategy left there is no summary. Returns how many were sent (0 or 1); run
    twice, it sends it once."""
    now = clock.now()
    _flush_alone(conn, env, now)
    zone = calendar.MARKET_ZONE
    day = calendar.trading_day(now)
    start = datetime.combine(day, time(0), zone)
    key = f"summary:{ACCOUNT}:{day.isoformat()}"
    waiting = store.held_back(conn, None, key, now)
    off: set[str] = set()
    parts: list[dict] = []
    for strategy_id in store.strategy_ids(conn):
        cash, value = store.mark_to_market(conn, strategy_id, now)
        store.record_equity(conn, strategy_id, now, cash, value)
        settings = settings_of(conn, strategy_id)
        if settings.daily_summary == "off":
            off.add(strategy_id)
            continue
        r = store.period_report(conn, strategy_id, start, start + timedelta(days=1))
        held = [h for h in waiting if h["strategy_id"] == strategy_id]
        if settings.daily_summary == "skip_quiet_days" and not (r["fills"] or r["refusals"] or held):
            off.add(strategy_id)
            continue
        account = store.account(conn, strategy_id)
        opened = store.open_positions_with_stops(conn, strategy_id)
        cost = sum(p["quantity"] * p["avg_entry_price"] for p in opened)
        parts.append({"strategy": strategy_id, "fills": r["fills"], "realised_pnl": r["realised_pnl"],
                      "unrealised_pnl": value - cost, "total_realised_pnl": account["realised_pnl"],
                      "equity": cash + value, "trades": r["trades"], "wins": r["wins"], "refusals": r["refusals"],
                      "open_positions": len(opened),
                      "positions": [f"{p['symbol']} {p['side']} {p['quantity']:f} from {p['avg_entry_price']:.2f}"
                                    + (f", stop {p['stop_price']:.2f}" if p["stop_price"] else ", no stop")
                                    for p in opened]})
    if not parts:
        return 0
    held = [h for h in waiting if h["strategy_id"] not in off]
    refusals: dict[str, int] = {}
    for part in parts:
        for kind, n in part["refusals"].items():
            refusals[kind] = refusals.get(kind, 0) + n
    money = ("realised_pnl", "unrealised_pnl", "total_realised_pnl", "equity")
    total = {f: f"{sum(p[f] for p in parts):.2f}" for f in money} | {
        f: sum(p[f] for p in parts) for f in ("fills", "trades", "wins", "open_positions")}
    event = NotificationEvent(
        key=key, kind="daily_summary", strategy_id=ACCOUNT,
        facts={"date": day.isoformat(), **total, "refusals": refusals, "held": [h["message"] for h in held],
               "strategies": [{k: (f"{v:.2f}" if k in money else v) for k, v in p.items() if k != "refusals"}
                              for p in parts]},
    )
    return int(_send_digest(conn, env, event, [h["notification_key"] for h in held]))


def weekly_digest(conn: psycopg.Connection, env: NotifierEnv) -> int:
    """After Friday's close: each strategy's week (Monday 00:00 New York to now): fills, closed
    trades, win rate, realised P&L, best and worst trade, an equity sparkline of the week's
    daily equity, and everything held back not yet in a digest. Whether a week gets one follows
    ``notifications.weekly_digest`` (off; skip_quiet_weeks: not for a week with no fill and
    nothing held back; when_held_back: only when something is held back; always).
    Returns how many were sent; run twice, it sends each once."""
    now = clock.now()
    _flush_alone(conn, env, now)
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
