"""The alert pipeline driven by direct step calls (signal_processor -> order_creator ->
paper_executor -> notifier), with SQS, SNS and S3 replaced by in-process stand-ins: what is
left is tradeflow's own code and PostgreSQL. :class:`Pipeline` runs every step on one
connection, one message at a time (used by history.py and throughput.py; counts statements,
commits and rows read per step when asked); :class:`ConcurrentPipeline` runs each step on its
own thread and connection, as Lambda runs each function in its own containers (throughput.py)."""

from __future__ import annotations

import json
import queue
import sys
import threading
import time
from collections import Counter, deque
from datetime import datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "core"))

from tradeflow import clock  # noqa: E402
from tradeflow.adapters import aws, db  # noqa: E402
from tradeflow.clock import ReplayClock  # noqa: E402
from tradeflow.domain.alerts import normalise, read_body  # noqa: E402
from tradeflow.domain.signals import new_signal  # noqa: E402
from tradeflow.pipeline import notifier, order_creator, paper_executor, signal_processor  # noqa: E402
from tradeflow.settings import NotifierEnv, OrderCreatorEnv, PaperExecutorEnv, SignalProcessorEnv  # noqa: E402

from benchmarks.dbcounters import PROBE_COMMITS, counters  # noqa: E402

STEPS = ("signal_processor", "order_creator", "paper_executor", "notifier")


class _FakeS3:
    def put_object(self, **_: object) -> dict:
        return {}


class Pipeline:
    """Alerts of strategy ``strategy_id`` through every step, each message handled as soon as
    it is sent, earliest step first. ``count`` adds per-step statements, commits and rows read
    to :attr:`counts` (it costs probes between steps, so time it separately)."""

    def __init__(self, url: str, strategy_id: str, start: datetime) -> None:
        self.strategy_id = strategy_id
        self.clock = ReplayClock(start)  # the steps read "now" from it while this pipeline is active
        self.queues: dict[str, deque] = {step: deque() for step in STEPS}
        self.counts: Counter[str] = Counter()
        #: Wall time spent in each step (seconds), counted or not.
        self.seconds: Counter[str] = Counter()
        self.statements = 0
        #: Transaction blocks entered (``conn.transaction()``): each costs two round trips more,
        #: BEGIN and COMMIT, or SAVEPOINT and RELEASE when nested.
        self.transactions = 0
        self.conn = db.connect(url)
        pipeline = self
        transaction = self.conn.transaction

        def counted_transaction(*args, **kwargs):
            pipeline.transactions += 1
            return transaction(*args, **kwargs)

        self.conn.transaction = counted_transaction

        class Cursor(psycopg.Cursor):
            def execute(self, *args, **kwargs):
                pipeline.statements += 1
                return super().execute(*args, **kwargs)

        self.conn.cursor_factory = Cursor
        self.envs = _envs(url)
        self.process = PROCESS
        _install(self)

    #: The pipeline whose alert is being processed (several can share a process).
    active: Pipeline | ConcurrentPipeline

    def send(self, queue_url: str, message: object) -> None:
        self.queues[queue_url].append(message)

    def close(self) -> None:
        self.conn.close()

    def alert(self, action: str, symbol: str, price: str, at: datetime, count: bool = False) -> None:
        """One alert received at ``at`` (UTC), carried through every step."""
        _install(self)
        self.clock.set(at)
        with clock.use_clock(self.clock):
            self._alert(action, symbol, price, at, count)

    def _alert(self, action: str, symbol: str, price: str, at: datetime, count: bool) -> None:
        self.queues["signal_processor"].append(_signal(self.strategy_id, action, symbol, price, at))
        while step := next((s for s in STEPS if self.queues[s]), None):
            message = self.queues[step].popleft()
            if count:
                before, self.statements, self.transactions = counters(self.conn), 0, 0
            t = time.perf_counter()
            self.process[step](message, self.conn, self.envs[step])
            self.seconds[step] += time.perf_counter() - t
            if count:
                statements, transactions, after = self.statements, self.transactions, counters(self.conn)
                self.counts[f"{step} runs"] += 1
                self.counts[f"{step} statements"] += statements
                self.counts[f"{step} round trips"] += statements + 2 * transactions
                self.counts[f"{step} commits"] += after["commits"] - before["commits"] - PROBE_COMMITS
                self.counts[f"{step} writes"] += after["xids"] - before["xids"]
                self.counts["rows"] += after["rows"] - before["rows"]

    def round_trips(self, n: int, symbols: list[str], start: datetime, count: bool = False) -> int:
        """``n`` buy-then-sell round trips over ``symbols`` in turn, one alert a second from
        ``start``; returns the alerts sent."""
        for i in range(n):
            at = start + timedelta(seconds=2 * i)
            symbol = symbols[i % len(symbols)]
            self.alert("buy", symbol, "100", at, count)
            self.alert("sell", symbol, "101", at + timedelta(seconds=1), count)
        return 2 * n

    def per_alert(self, alerts: int) -> dict[str, float]:
        """Round trips (statements, plus BEGIN/COMMIT or SAVEPOINT/RELEASE per transaction
        block), statements, commits and writing commits per alert over every step, from the
        counted alerts."""
        return {what: sum(self.counts[f"{step} {what}"] for step in STEPS) / alerts
                for what in ("round trips", "statements", "commits", "writes")}

    def report_counts(self, alerts: int) -> str:
        parts = [f"{step}: {self.counts[f'{step} commits'] / max(1, self.counts[f'{step} runs']):.2f} commits "
                 f"({self.counts[f'{step} writes'] / max(1, self.counts[f'{step} runs']):.2f} writing) and "
                 f"{self.counts[f'{step} statements'] / max(1, self.counts[f'{step} runs']):.1f} statements per run "
                 f"({self.counts[f'{step} runs'] / alerts:.1f} runs per alert)" for step in STEPS]
        return "; ".join(parts)


def _signal(strategy_id: str, action: str, symbol: str, price: str, at: datetime):
    body = json.dumps({"ticker": symbol, "action": action, "price": price, "quantity": "10", "time": at.isoformat()})
    return new_signal(strategy_id, normalise(read_body(body)), at)


def _envs(url: str) -> dict[str, object]:
    return {
        "signal_processor": SignalProcessorEnv(database_url=url, orders_queue_url="order_creator",
                                               notifications_queue_url="notifier"),
        "order_creator": OrderCreatorEnv(database_url=url, executions_queue_url="paper_executor",
                                         notifications_queue_url="notifier"),
        "paper_executor": PaperExecutorEnv(database_url=url, notifications_queue_url="notifier", state_bucket="bench"),
        # no urgent or chat topic, and no burst timer (the next run sends a due burst), whatever
        # a local stack run earlier in the process left in the environment
        "notifier": NotifierEnv(database_url=url, trader_alerts_topic_arn="topic", urgent_topic_arn=None,
                                chat_topic_arn=None, notifications_queue_url=None),
    }


PROCESS = {"signal_processor": signal_processor.process, "order_creator": order_creator.process,
           "paper_executor": paper_executor.process, "notifier": notifier.deliver}


def _install(pipeline: Pipeline | ConcurrentPipeline) -> None:
    """Route the adapters' SQS sends to ``pipeline``; SNS publishes go nowhere, S3 is a fake."""
    Pipeline.active = pipeline
    aws.send = lambda url, message, *rest: Pipeline.active.send(url, message)
    aws.publish = lambda *args, **kwargs: None
    aws.client = lambda name: _FakeS3()


class ConcurrentPipeline:
    """Alerts of strategy ``strategy_id`` through the steps, each step a thread with its own
    connection taking messages from its own queue, so that steps of different alerts overlap
    and PostgreSQL can flush several steps' commits at once, as with Lambda's concurrent
    functions. An alert is let in only when the previous alert of its symbol has finished
    every step (its messages, and the messages they caused), so each alert meets the same
    books as in :class:`Pipeline` and does the same work. "now" for a step is its alert's time.
    Raises RuntimeError after a run in which a step raised."""

    def __init__(self, url: str, strategy_id: str) -> None:
        self.strategy_id = strategy_id
        self.envs = _envs(url)
        self.inboxes: dict[str, queue.Queue] = {step: queue.Queue() for step in STEPS}
        self.conns = {step: db.connect(url) for step in STEPS}
        self._local = threading.local()
        self._lock = threading.Lock()
        self._outstanding: Counter[object] = Counter()
        self._finished: queue.Queue = queue.Queue()
        self.errors: list[BaseException] = []
        self._threads = [threading.Thread(target=self._work, args=(step,), daemon=True) for step in STEPS]
        for thread in self._threads:
            thread.start()

    def now(self) -> datetime:
        return self._local.at

    def send(self, queue_url: str, message: object) -> None:
        token, at = self._local.token, self._local.at
        with self._lock:
            self._outstanding[token] += 1
        self.inboxes[queue_url].put((token, at, message))

    def _work(self, step: str) -> None:
        inbox, conn, env, process = self.inboxes[step], self.conns[step], self.envs[step], PROCESS[step]
        while (item := inbox.get()) is not None:
            self._local.token, self._local.at, message = item
            try:
                process(message, conn, env)
            except BaseException as exc:  # noqa: BLE001 - reported by round_trips
                self.errors.append(exc)
            finally:
                with self._lock:
                    self._outstanding[self._local.token] -= 1
                    done = self._outstanding[self._local.token] == 0
                if done:
                    self._finished.put(self._local.token)

    def round_trips(self, n: int, symbols: list[str], start: datetime) -> int:
        """``n`` buy-then-sell round trips over ``symbols`` in turn, one alert a second from
        ``start`` as in :meth:`Pipeline.round_trips`, each symbol's alerts in order; returns
        the alerts sent once all have finished."""
        _install(self)
        waiting: dict[str, deque] = {s: deque() for s in symbols}
        for i in range(n):
            at = start + timedelta(seconds=2 * i)
            waiting[symbols[i % len(symbols)]].extend(
                [("buy", "100", at), ("sell", "101", at + timedelta(seconds=1))])
        sent = 0

        def submit(symbol: str) -> None:
            action, price, at = waiting[symbol].popleft()
            token, self._local.at = (symbol, sent), at
            with self._lock:
                self._outstanding[token] += 1
            self.inboxes["signal_processor"].put((token, at, _signal(self.strategy_id, action, symbol, price, at)))

        with clock.use_clock(self.now):
            for symbol in symbols:
                if waiting[symbol]:
                    submit(symbol)
                    sent += 1
            in_flight = sent
            while in_flight:
                symbol, _ = self._finished.get()
                in_flight -= 1
                if waiting[symbol]:
                    submit(symbol)
                    sent += 1
                    in_flight += 1
        if self.errors:
            raise RuntimeError(f"a step failed in the concurrent pipeline: {self.errors[0]!r}") from self.errors[0]
        return sent

    def close(self) -> None:
        for step in STEPS:
            self.inboxes[step].put(None)
        for thread in self._threads:
            thread.join()
        for conn in self.conns.values():
            conn.close()
