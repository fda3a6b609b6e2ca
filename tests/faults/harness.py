"""Seeded fault schedules over the local stack (FastLocalStack: the real handlers and PostgreSQL;
SQS, SNS and SSM answered in memory at botocore's wire, on the replay clock, with the
faults injected by the wire's hooks).

A *scenario* (from a seed) is a short trading session: 2 symbols, a few steps 6 hours apart,
each step a quote per symbol, a stop-monitor tick and one or two alerts (market and limit
entries, brackets with one or two take-profit targets, exits, a kill switch on and off).
A *fault schedule* runs the same scenario with faults drawn from its own seed:

- duplicates: a message enqueued two or three times (distinct deduplication ids);
- SQS failures: a send answered 503 (DeliveryError: the webhook answers 503 and the sender
  retries, as TradingView does; a handler's send fails and its message is retried), a failed
  receive, a failed delete (the message comes back);
- crashes before commit (inside the transaction) and after it (at a send, or between a
  notification's publish and its mark): the invocation dies and its whole batch comes back;
- a database outage for a stretch of connection attempts (the open connection dropped too);
- deliveries reordered across FIFO groups (and in any order on the standard queue);
- poison: malformed messages and messages naming a signal, order or strategy that does not
  exist, put in front of valid messages of the same group.

:func:`compare` checks the faulty run against the fault-free one.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from tradeflow import names
from tradeflow.adapters import aws, db, store
from tradeflow.clock import ReplayClock
from tradeflow.domain.alerting import NotificationSettings
from tradeflow.domain.strategy import StrategyConfig
from tradeflow.local.queues import MemoryQueues
from tradeflow.local.stack import FastLocalStack
from tradeflow.pipeline.notifier import POSSIBLE_REPEAT

START = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)
STEP = timedelta(hours=6)
#: When in its step an alert is posted (after the tick), and how far apart a step's alerts are:
#: every run posts an alert at the same time, so it gets the same signal_id, however long the
#: faulty run's retries took before it; each is drained before the next, as alerts for one
#: symbol minutes apart would be (two alerts within a second race through the steps, entry
#: against exit, whatever the faults).
ALERTS_AT = timedelta(hours=1)
ALERT_GAP = timedelta(hours=2)
SECRET = "fault-suite-secret-0123"
#: Every scenario trades as this strategy: its secret is in SSM, its settings only in the
#: database row each run writes (the webhook then sends no settings with the signal).
STRATEGY = "fault"
CENT = Decimal("0.01")


class Crash(BaseException):
    """The function instance dies (out of memory, timeout): not an Exception, so no handler
    or batch processor catches it."""


# --- scenarios -------------------------------------------------------------------------------

#: Every notification sent at once by email, with limits no scenario reaches: the schedules
#: check exactly-once delivery, not the routing (tests/integration/test_notifications.py).
NOTIFY_EVERYTHING = NotificationSettings(routes={"urgent": ("email",), "routine": ("email",), "info": ("email",)},
                                         rate_limits={"sms": 10_000, "email": 10_000}, burst_hold_seconds=0)

@dataclass
class Step:
    quotes: dict[str, Decimal]
    alerts: list[dict[str, Any]]
    kill_switch: bool | None = None  # turned on or off before the alerts


@dataclass
class Scenario:
    seed: int
    strategy_id: str
    config: StrategyConfig
    steps: list[Step]


def scenario(seed: int) -> Scenario:
    """A short session drawn from ``seed``."""
    rng = random.Random(seed)
    symbols = rng.sample(["AAPL", "MSFT", "NVDA", "AMZN"], 2)
    price = {s: Decimal(rng.choice([50, 100, 250])) for s in symbols}
    commission, slippage, short = rng.choice([0, 1, 5]), rng.choice([0, 5]), rng.random() < 0.4
    config = StrategyConfig(commission_bps=Decimal(commission), slippage_bps=Decimal(slippage), allow_short=short,
                            max_open_positions=5, order_deadline_seconds=6 * 3600,
                            notifications=NOTIFY_EVERYTHING,
                            # the suite's feed has one price per 6-hour step, and a retried message
                            # may run an hour later: a limit that lets such a price still fill
                            max_price_age_seconds=12 * 3600)
    steps, killed = [], False
    for _ in range(rng.randint(3, 4)):
        for s in symbols:
            price[s] = (price[s] * (1 + Decimal(rng.randint(-400, 400)) / 10000)).quantize(CENT)
        kill = None
        if rng.random() < 0.12:
            kill = killed = not killed
        alerts = []
        for _ in range(rng.choice([1, 1, 2])):
            s = rng.choice(symbols)
            alerts.append(_alert(rng, s, price[s]))
        steps.append(Step(dict(price), alerts, kill))
    return Scenario(seed, STRATEGY, config, steps)


def _alert(rng: random.Random, symbol: str, close: Decimal) -> dict[str, Any]:
    action = rng.choice(["buy", "buy", "sell", "exit"])
    body: dict[str, Any] = {"ticker": symbol, "action": action, "price": str(close)}
    if action == "exit":
        return body
    body["quantity"] = rng.randint(1, 20)
    side = 1 if action == "buy" else -1
    kind = rng.random()
    if kind < 0.3:  # a limit entry that works until the price comes to it
        body |= {"orderType": "limit", "limitPrice": str((close * (1 - side * Decimal("0.01"))).quantize(CENT))}
    elif kind < 0.55:  # two take-profit targets
        body |= {"stopLoss": str((close * (1 - side * Decimal("0.03"))).quantize(CENT)),
                 "takeProfit": [str((close * (1 + side * Decimal(p) / 100)).quantize(CENT)) for p in ("1", "2.5")]}
    return body


# --- faults ----------------------------------------------------------------------------------

@dataclass
class Faults:
    """Fault probabilities and the stretch of a database outage, drawn from a seed."""

    seed: int
    duplicate: float = 0.0
    send_503: float = 0.0
    receive_fails: float = 0.0
    delete_fails: float = 0.0
    crash_before_commit: float = 0.0
    crash_after_commit: float = 0.0
    crash_after_publish: float = 0.0
    outage_at: int | None = None  # the delivery at which the database goes away
    outage_attempts: int = 0  # connection attempts refused from then on
    outage_seconds: int = 0  # and for this long on the replay clock (a paused Aurora resuming)
    reorder: bool = False
    poison: int = 0
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed * 7919 + 1)

    @classmethod
    def draw(cls, seed: int) -> Faults:
        r = random.Random(seed)
        return cls(seed, duplicate=r.choice([0, 0.3, 0.6]), send_503=r.choice([0, 0, 0.03, 0.08]),
                   receive_fails=r.choice([0, 0.1]), delete_fails=r.choice([0, 0, 0.1]),
                   crash_before_commit=r.choice([0, 0, 0.02, 0.05]), crash_after_commit=r.choice([0, 0, 0.03, 0.06]),
                   crash_after_publish=r.choice([0, 0, 0.15]),
                   outage_at=r.choice([None, r.randint(1, 25)]), outage_attempts=r.choice([3, 8, 20]),
                   outage_seconds=r.choice([0, 0, 15, 60, 300]),
                   reorder=r.random() < 0.6, poison=r.choice([0, 0, 1, 2, 3]))

    def hit(self, p: float) -> bool:
        return p > 0 and self.rng.random() < p


class FaultyStack(FastLocalStack):
    """FastLocalStack whose hooks inject :class:`Faults` while :attr:`faults` is set."""

    faults: Faults | None = None
    _in_webhook = False

    def on_send(self, queue: str, body: str) -> int:
        f = self.faults
        if f is None:
            return 1
        if f.hit(f.send_503):
            raise aws.DeliveryError(f"could not send to {queue}: 503 Service Unavailable (injected)")
        if not self._in_webhook and f.hit(f.crash_after_commit):
            raise Crash("after commit, at a send")
        return f.rng.choice([2, 3]) if f.hit(f.duplicate) else 1

    def on_receive(self, queue: str) -> bool:
        return self.faults is None or not self.faults.hit(self.faults.receive_fails)

    def on_delete(self, queue: str) -> bool:
        return self.faults is None or not self.faults.hit(self.faults.delete_fails)

    def on_publish(self, subject: str, message: str) -> None:
        if self.faults is not None and self.faults.hit(self.faults.crash_after_publish):
            raise Crash("between a publish and its mark")

    def deliver(self, queue: str) -> int:
        f = self.faults
        if f is not None and f.outage_at is not None:
            f.outage_at -= 1
            if f.outage_at == 0:  # the database goes away: the open connection with it
                from tradeflow import clock

                db.close_connection()
                _Outage.remaining = f.outage_attempts
                _Outage.until = clock.now() + timedelta(seconds=f.outage_seconds)
        return super().deliver(queue)


class _Outage:
    """Connection attempts still to refuse (psycopg.connect patched by :func:`patched`)."""

    remaining = 0
    until: datetime | None = None  # or: refused until this time on the replay clock
    real_connect = staticmethod(db.connect)

    @classmethod
    def connect(cls, conninfo: str, *args: Any, **kwargs: Any):
        from tradeflow import clock

        if cls.remaining > 0 or (cls.until is not None and clock.now() < cls.until):
            cls.remaining = max(0, cls.remaining - 1)
            raise psycopg.OperationalError("connection refused (injected database outage)")
        return cls.real_connect(conninfo, *args, **kwargs)


_CRASHABLE = ("insert_decision", "insert_order", "insert_fill", "transition", "claim_notification")


class patched:
    """Inside ``with patched(stack):`` the database outage and the crashes before commit are
    wired in (through the store functions each step calls inside its transaction)."""

    def __init__(self, stack: FaultyStack) -> None:
        self.stack = stack
        self.saved: dict[str, Any] = {}

    def __enter__(self) -> patched:
        self.saved = {name: getattr(store, name) for name in _CRASHABLE}
        for name, function in self.saved.items():
            setattr(store, name, self._crashing(function))
        db.connect = _Outage.connect
        return self

    def _crashing(self, function):
        def wrapper(*args, **kwargs):
            f = self.stack.faults
            if f is not None and f.hit(f.crash_before_commit):
                raise Crash(f"before commit, in {function.__name__}")
            return function(*args, **kwargs)
        return wrapper

    def __exit__(self, *exc: object) -> None:
        for name, function in self.saved.items():
            setattr(store, name, function)
        db.connect = _Outage.real_connect
        _Outage.remaining, _Outage.until = 0, None


# --- running ---------------------------------------------------------------------------------

@dataclass
class Run:
    """What one run left: the signal ids answered 202 (and alerts never accepted after the
    retries), the published notifications, the dead-letter and queue depths."""

    accepted: list[str] = field(default_factory=list)
    unaccepted: int = 0
    published: list[str] = field(default_factory=list)
    dead_letters: int = 0
    left_in_queues: int = 0
    kill_on_at: list[datetime] = field(default_factory=list)
    poison: int = 0
    books: dict[str, Any] = field(default_factory=dict)


def run(stack: FaultyStack, clock: ReplayClock, url: str, sc: Scenario, faults: Faults | None) -> Run:
    """Run scenario ``sc`` on the empty database ``url``, with ``faults`` (None: fault-free)."""
    stack.reset(url, MemoryQueues(random.Random(faults.seed) if faults and faults.reorder else None))
    _Outage.remaining, _Outage.until = 0, None
    clock.set(START - timedelta(minutes=1))
    with db.connect(url) as conn:
        empty_books(conn)
        store.add_strategy(conn, sc.strategy_id, sc.config, clock())
    out = Run()
    stack.faults = faults
    try:
        with db.connect(url) as feed:
            for n, step in enumerate(sc.steps):
                at = START + n * STEP
                clock.set(at)
                for symbol, price in step.quotes.items():
                    store.record_quote(feed, symbol, at, price, "fault-suite")
                _retry(lambda: stack.run_schedule("stop_monitor"))
                _drain(stack)
                if step.kill_switch is not None:
                    _set(clock, at + ALERTS_AT - timedelta(seconds=1))
                    stack.faults = None  # the trader's command, not a Lambda
                    store.set_kill_switch(feed, step.kill_switch, "fault suite", clock())
                    stack.faults = faults
                    if step.kill_switch:
                        out.kill_on_at.append(clock())
                for k, alert in enumerate(step.alerts):
                    _set(clock, at + ALERTS_AT + k * ALERT_GAP)
                    body = json.dumps({**alert, "time": clock().isoformat()})
                    if faults is not None and k == 0 and n < faults.poison:
                        _poison(stack, sc, alert["ticker"], faults.rng)
                        out.poison += 1
                    answer = _post(stack, body, f"{sc.strategy_id}.{SECRET}")
                    if answer is None:
                        out.unaccepted += 1
                    elif answer["statusCode"] == 202:
                        out.accepted.append(json.loads(answer["body"])["signal_id"])
                    _drain(stack)
        stack.faults = None
        _drain(stack)
    finally:
        stack.faults = None
    out.published = [p["message"] for p in stack.published]
    out.dead_letters = sum(stack.dead_letters().values())
    out.left_in_queues = sum(stack.queues.depth(q) for q in stack.queue_urls if not q.endswith(("-dlq", "-dlq.fifo")))
    with db.connect(url) as conn:
        out.books = books(conn, sc.strategy_id, clock())
    return out


#: Every table a run writes (creating a database per run costs a third of a second).
_TABLES = ("order_amendments", "order_events", "fills", "orders", "positions", "decisions", "signals", "quotes",
           "equity_snapshots", "notification_deliveries", "notifications", "rejected_messages", "accounts", "strategies")


def empty_books(conn: psycopg.Connection) -> None:
    """Delete what the last run wrote (the append-only triggers and foreign keys are bypassed
    by the replica role, which only a superuser such as the embedded server's may take)."""
    with conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")
        for table in _TABLES:
            conn.execute(f"DELETE FROM {table}")
        for table in ("breaker_resets", "breaker_trips", "trading_state_changes", "trading_states"):
            conn.execute(f"DELETE FROM {table}")


def _set(clock: ReplayClock, t: datetime) -> None:
    if clock() > t:
        raise RuntimeError(f"the deliveries ran past {t}: the retries took longer than the harness allows")
    clock.set(t)


def _retry(call, tries: int = 60):
    """Call until it returns, as a schedule or a sender retries after a failure."""
    for _ in range(tries):
        try:
            return call()
        except (Crash, Exception):  # noqa: BLE001 - the next tick (or retry) comes anyway
            continue
    return None


def _drain(stack: FaultyStack) -> None:
    for _ in range(100):
        try:
            stack.drain()
            return
        except Crash:  # a crash outside a batch (none expected): go on delivering
            continue
    raise RuntimeError("the queues never drained")


def _post(stack: FaultyStack, body: str, token: str) -> dict | None:
    """Post like TradingView: a 5xx or no answer is retried (up to 3 times, as TradingView
    does); None if it never got a 2xx or 4xx."""
    stack._in_webhook = True
    try:
        for _ in range(4):
            try:
                answer = stack.post_webhook(body, token=token)
            except (Crash, Exception):  # noqa: BLE001 - no answer: retried
                continue
            if answer["statusCode"] < 500:
                return answer
        return None
    finally:
        stack._in_webhook = False


def _poison(stack: FaultyStack, sc: Scenario, symbol: str, rng: random.Random) -> None:
    """Put a message that can never succeed at the front of ``symbol``'s group on one queue."""
    group = f"{sc.strategy_id}:{symbol}"
    queue = rng.choice([names.SIGNALS_QUEUE, names.ORDERS_QUEUE, names.EXECUTIONS_QUEUE, names.NOTIFICATIONS_QUEUE])
    body = rng.choice([
        '{"not": "a message"}',
        "}{ not json",
        json.dumps({"signal_id": str(uuid.uuid4()), "strategy_id": sc.strategy_id, "symbol": symbol}),
        json.dumps({"client_order_id": f"ghost-{uuid.uuid4().hex[:8]}", "strategy_id": sc.strategy_id,
                    "symbol": symbol}),
        json.dumps({"key": "k", "kind": "fill", "strategy_id": sc.strategy_id, "facts": {}}),
    ])
    fifo = queue.endswith(".fifo")
    stack.queues.send(stack.queue_urls[queue], body, group if fifo else None,
                      f"poison-{uuid.uuid4().hex}" if fifo else None)


# --- reading and comparing -------------------------------------------------------------------

def books(conn: psycopg.Connection, strategy_id: str, now: datetime) -> dict[str, Any]:
    """Everything the comparison looks at, independent of row ids and of when things happened."""
    q = lambda sql, *a: conn.execute(sql, a).fetchall()  # noqa: E731
    signals = {str(r["signal_id"]): r for r in q(
        "SELECT s.signal_id, d.approved, d.legs, d.reasons, d.expired_at FROM signals s "
        "LEFT JOIN decisions d USING (signal_id)")}
    orders = {r["client_order_id"]: r for r in q(
        "SELECT o.client_order_id, o.signal_id, o.purpose, o.status, o.quantity, o.parent_client_order_id, "
        "o.stop_price, o.limit_price, count(f.fill_id) AS fills, min(f.price) AS price, "
        "min(f.quantity) AS filled, min(f.commission) AS commission, min(f.realised_pnl) AS realised, "
        "min(f.filled_at) AS filled_at, o.created_at FROM orders o LEFT JOIN fills f USING (order_id) GROUP BY o.order_id")}
    account = q("SELECT cash, realised_pnl, fees FROM accounts WHERE strategy_id = %s", strategy_id)[0]
    positions = sorted((r["symbol"], r["side"], r["quantity"], r["status"], r["realised_pnl"], r["fees"])
                       for r in q("SELECT * FROM positions"))
    rejected = q("SELECT queue, message_key, reason FROM rejected_messages")
    config, state = store.strategy(conn, strategy_id)
    held = store.risk_snapshot(conn, strategy_id, config, state, "-", "enter_long", now,
                               now - timedelta(seconds=config.order_deadline_seconds), now).open_positions
    really = {r["symbol"] for r in q("SELECT symbol FROM positions WHERE status = 'open'")} | {
        r["symbol"] for r in q("SELECT symbol FROM orders WHERE purpose = 'entry' AND status IN ('accepted', 'pending')")}
    orphans = q("SELECT leg.client_order_id FROM orders leg JOIN orders e ON e.client_order_id = leg.parent_client_order_id "
                "WHERE leg.status IN ('pending', 'accepted') AND e.status NOT IN ('pending', 'accepted', 'filled')")
    stale_pending = q("SELECT client_order_id FROM orders WHERE status = 'pending' AND parent_client_order_id IS NULL")
    notes = q("SELECT notification_key, status, possibly_duplicated FROM notifications")
    return {"signals": signals, "orders": orders, "account": account, "positions": positions, "rejected": rejected,
            "blocked": sorted(set(held) - really), "orphans": [r["client_order_id"] for r in orphans],
            "pending": [r["client_order_id"] for r in stale_pending], "notes": notes}


@dataclass
class Verdict:
    accepted: int = 0
    lost: int = 0
    doubled: int = 0
    stuck: int = 0
    blocked: int = 0
    sent_twice: int = 0
    notifications_lost: int = 0
    ledger_differs: int = 0
    rejected_valid: int = 0
    poison_set_aside: int = 0
    killed_fills: int = 0
    problems: list[str] = field(default_factory=list)

    def bad(self) -> bool:
        return bool(self.lost or self.doubled or self.stuck or self.blocked or self.sent_twice
                    or self.notifications_lost or self.ledger_differs or self.rejected_valid or self.killed_fills)


def _outcome(b: dict[str, Any], signal_id: str) -> tuple:
    s = b["signals"].get(signal_id)
    if s is None:
        return ("no decision",)
    orders = sorted((o["client_order_id"], o["purpose"], o["status"], o["quantity"], o["fills"], o["price"],
                     o["filled"], o["commission"], o["realised"])
                    for o in b["orders"].values() if str(o["signal_id"]) == signal_id)
    return (s["approved"], tuple(s["legs"] or ()), json.dumps(s["reasons"]), s["expired_at"] is not None, tuple(orders))


def compare(clean: Run, faulty: Run) -> Verdict:
    """The faulty run against the fault-free one: every alert accepted in both ends the same
    way (its decision, orders and fills); the ledger (account, positions) is equal; no order
    has more fills; nothing is left in a queue or dead-letter queue, no leg orphaned, no entry
    pending, no symbol blocked by a position that does not exist; every notification of the
    fault-free run was sent, none more often unless marked as a possible repeat; only the
    poison was set aside; no entry working before a kill switch filled after it."""
    poison = faulty.poison
    v = Verdict(accepted=len(faulty.accepted))
    fb, cb = faulty.books, clean.books
    explained = {r["message_key"] for r in fb["rejected"]}
    v.poison_set_aside = min(poison, len(fb["rejected"]))
    v.rejected_valid = max(0, len(fb["rejected"]) - poison)
    if v.rejected_valid or len(fb["rejected"]) < poison:
        v.problems.append(f"{len(fb['rejected'])} messages set aside for {poison} poison: {fb['rejected']}")
    for signal_id in faulty.accepted:
        if _outcome(fb, signal_id) != _outcome(cb, signal_id) and signal_id not in explained:
            v.lost += 1
            v.problems.append(f"signal {signal_id}: {_outcome(cb, signal_id)} became {_outcome(fb, signal_id)}")
    for key, o in fb["orders"].items():
        clean_fills = cb["orders"].get(key, {}).get("fills", 0)
        if o["fills"] > clean_fills:
            v.doubled += o["fills"] - clean_fills
            v.problems.append(f"order {key}: {o['fills']} fills, {clean_fills} without faults")
    v.stuck = faulty.dead_letters + faulty.left_in_queues + len(fb["orphans"]) + len(fb["pending"])
    if v.stuck:
        v.problems.append(f"stuck: {faulty.dead_letters} dead letters, {faulty.left_in_queues} in queues, "
                          f"orphans {fb['orphans']}, pending {fb['pending']}")
    v.blocked = len(fb["blocked"])
    if v.blocked:
        v.problems.append(f"blocked symbols {fb['blocked']}")
    clean_notes, faulty_plain = Counter(clean.published), Counter(
        m for m in faulty.published if not m.startswith(POSSIBLE_REPEAT))
    faulty_all = Counter(m.removeprefix(POSSIBLE_REPEAT) for m in faulty.published)
    poison_notes = sum(1 for m in faulty.published if "that cannot be processed" in m)
    for message, n in faulty_plain.items():
        if "that cannot be processed" not in message and n > clean_notes[message]:
            v.sent_twice += n - clean_notes[message]
            v.problems.append(f"sent {n} times (once without faults): {message}")
    for message, n in clean_notes.items():
        if faulty_all[message] < n:
            v.notifications_lost += n - faulty_all[message]
            v.problems.append(f"notification lost: {message}")
    if poison_notes > poison:
        v.problems.append(f"{poison_notes} rejection notices for {poison} poison messages")
    if (fb["account"], fb["positions"]) != (cb["account"], cb["positions"]):
        v.ledger_differs = 1
        v.problems.append(f"ledger {fb['account']} {fb['positions']} vs {cb['account']} {cb['positions']}")
    for on in faulty.kill_on_at:
        for b in (fb, cb):
            for o in b["orders"].values():
                if o["purpose"] == "entry" and o["filled_at"] is not None and o["created_at"] < on < o["filled_at"]:
                    v.killed_fills += 1
                    v.problems.append(f"entry {o['client_order_id']} working before the kill switch filled after it")
    return v
