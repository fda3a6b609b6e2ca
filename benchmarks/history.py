"""Work per alert against the length of the history. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/history.py [--sizes 0,100000,1000000] [--alerts 400] [--rounds 3] [--counted 40]

For each size N: a fresh database on the embedded PostgreSQL holding N earlier round trips
of the strategy (a buy and a sell signal each, with decisions, an entry bracket, an exit,
fills, a closed position, quotes and notifications; seeded with set-based SQL, ANALYZEd),
then (after 20 alerts to warm up) rounds of ``--alerts`` new alerts (buy/sell round trips
over 10 symbols) through every step by direct calls (benchmarks/pipeline.py: SQS, SNS and S3 in-process, so the figure is our code
and PostgreSQL), the sizes interleaved round by round. Prints the median alerts per
second and the time per step, and over ``--counted`` further alerts the rows
PostgreSQL read per alert (tuples returned by sequential and index scans of the user tables)
and the commits and statements per step (commits as PostgreSQL counts them, autovacuum's
included). The first size is the baseline of the ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # before the steps' loggers exist: figures only

from psycopg.conninfo import make_conninfo  # noqa: E402
from tradeflow.adapters import db, store  # noqa: E402
from tradeflow.domain.strategy import StrategyConfig  # noqa: E402
from tradeflow.local.stack import embedded_database  # noqa: E402

from benchmarks.pipeline import STEPS, Pipeline  # noqa: E402
from tests.seed import seed_round_trips  # noqa: E402

START = datetime(2024, 3, 1, 15, 30, tzinfo=UTC)
#: Alerts through the pipeline before the timing starts.
WARM_UP = 20
SYMBOLS = ["AAPL", "MSFT", "GOOG", "AMZN", "IBM", "NVDA", "META", "TSLA", "ORCL", "INTC"]


def fresh(server: str, name: str) -> str:
    with db.connect(server) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(server, dbname=name)
    db.migrate(url)
    return url


def prepare(server: str, history: int) -> str:
    """A fresh database with ``history`` earlier round trips of strategy ``bench``."""
    url = fresh(server, f"bench_history_{history}")
    config = StrategyConfig(slippage_bps=Decimal(0), commission_bps=Decimal(0), starting_cash=Decimal(10) ** 9)
    with db.connect(url) as conn:
        store.add_strategy(conn, "bench", config, START - timedelta(days=3650))
        t = time.perf_counter()
        if history:
            seed_round_trips(conn, "bench", history, SYMBOLS, START)
    print(f"{history:>9,} earlier round trips seeded in {time.perf_counter() - t:5.1f} s", flush=True)
    return url


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="0,100000,1000000")
    p.add_argument("--alerts", type=int, default=400)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--counted", type=int, default=40)
    args = p.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        server = embedded_database(Path(tmp) / "pgdata", "postgres")
        pipelines = {n: Pipeline(prepare(server, n), "bench", START) for n in sizes}
        rates: dict[int, list[float]] = {n: [] for n in sizes}
        try:
            for pipeline in pipelines.values():
                pipeline.round_trips(WARM_UP // 2, SYMBOLS, START)  # imports, caches, prepared statements
                pipeline.seconds.clear()
            for r in range(args.rounds):  # interleaved, so that the machine's load falls on every size alike
                for n, pipeline in pipelines.items():
                    t = time.perf_counter()
                    sent = pipeline.round_trips(args.alerts // 2, SYMBOLS, START + timedelta(hours=1 + r))
                    rates[n].append(sent / (time.perf_counter() - t))
            counted = {n: pipeline.round_trips(args.counted // 2, SYMBOLS, START + timedelta(hours=1 + args.rounds),
                                               count=True) for n, pipeline in pipelines.items()}
        finally:
            for pipeline in pipelines.values():
                pipeline.close()
    base_rate, base_rows = statistics.median(rates[sizes[0]]), None
    for n, pipeline in pipelines.items():
        rate, rows = statistics.median(rates[n]), pipeline.counts["rows"] / counted[n]
        base_rows = base_rows or rows
        timed = args.alerts * args.rounds
        steps = ", ".join(f"{step} {pipeline.seconds[step] / timed * 1000:.1f}" for step in STEPS)
        print(f"{n:>9,} earlier round trips: median {rate:6.1f} alerts/s over {args.rounds} rounds of {args.alerts} "
              f"(runs {' '.join(f'{x:.1f}' for x in rates[n])}; {rate / base_rate:4.2f}x the first size), "
              f"{rows:7.1f} rows read per alert ({rows / base_rows:4.2f}x)")
        print(f"    ms per alert in each step: {steps}")
        print(f"    per step: {pipeline.report_counts(counted[n])}")


if __name__ == "__main__":
    main()
