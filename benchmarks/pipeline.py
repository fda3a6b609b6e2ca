"""The alert pipeline driven by direct step calls (signal_processor -> order_creator ->
paper_executor -> notifier) on one connection, with SQS, SNS and S3 replaced by in-process
stand-ins: what is left is tradeflow's own code and PostgreSQL. Used by history.py and
throughput.py; counts statements, commits and rows read per step when asked."""

from __future__ import annotations

import json
import sys
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
        self.conn = db.connect(url)
        pipeline = self

        class Cursor(psycopg.Cursor):
            def execute(self, *args, **kwargs):
                pipeline.statements += 1
                return super().execute(*args, **kwargs)

        self.conn.cursor_factory = Cursor
        self.envs = {
            "signal_processor": SignalProcessorEnv(database_url=url, orders_queue_url="order_creator",
                                                   notifications_queue_url="notifier"),
            "order_creator": OrderCreatorEnv(database_url=url, executions_queue_url="paper_executor",
                                             notifications_queue_url="notifier"),
            "paper_executor": PaperExecutorEnv(database_url=url, notifications_queue_url="notifier",
                                               state_bucket="bench"),
            "notifier": NotifierEnv(database_url=url, trader_alerts_topic_arn="topic"),
        }
        self.process = {"signal_processor": signal_processor.process, "order_creator": order_creator.process,
                        "paper_executor": paper_executor.process, "notifier": notifier.deliver}
        aws.send = lambda url, message, *rest: Pipeline.active.queues[url].append(message)
        aws.publish = lambda *args, **kwargs: None
        aws.client = lambda name: _FakeS3()

    #: The pipeline whose alert is being processed (several can share a process).
    active: Pipeline

    def close(self) -> None:
        self.conn.close()

    def alert(self, action: str, symbol: str, price: str, at: datetime, count: bool = False) -> None:
        """One alert received at ``at`` (UTC), carried through every step."""
        Pipeline.active = self
        self.clock.set(at)
        with clock.use_clock(self.clock):
            self._alert(action, symbol, price, at, count)

    def _alert(self, action: str, symbol: str, price: str, at: datetime, count: bool) -> None:
        body = json.dumps({"ticker": symbol, "action": action, "price": price, "quantity": "10",
                           "time": at.isoformat()})
        signal = new_signal(self.strategy_id, normalise(read_body(body)), at)
        self.queues["signal_processor"].append(signal)
        while step := next((s for s in STEPS if self.queues[s]), None):
            message = self.queues[step].popleft()
            if count:
                before, self.statements = counters(self.conn), 0
            t = time.perf_counter()
            self.process[step](message, self.conn, self.envs[step])
            self.seconds[step] += time.perf_counter() - t
            if count:
                statements, after = self.statements, counters(self.conn)
                self.counts[f"{step} runs"] += 1
                self.counts[f"{step} statements"] += statements
                self.counts[f"{step} commits"] += after["commits"] - before["commits"] - PROBE_COMMITS
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

    def report_counts(self, alerts: int) -> str:
        parts = [f"{step}: {self.counts[f'{step} commits'] / max(1, self.counts[f'{step} runs']):.2f} commits and "
                 f"{self.counts[f'{step} statements'] / max(1, self.counts[f'{step} runs']):.1f} statements per run "
                 f"({self.counts[f'{step} runs'] / alerts:.1f} runs per alert)" for step in STEPS]
        return "; ".join(parts)
