"""Stop-monitor tick time against the number of open positions. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/stop_monitor.py [--positions 1000,10000,100000] [--runs 5]

For each size N: a fresh database on the embedded PostgreSQL with N open long positions
(1,000 symbols, N / 1,000 strategies under the quote fill model), each with an accepted OCO
bracket (a stop-loss at 95 and a take-profit at 110: 2N working orders) and a last quote of
100 per symbol, seeded with SQL and ANALYZEd. It times ``stop_monitor.tick`` (sends to SQS replaced by an in-process list, so the
figure is the database and the rules, not the network), median of ``--runs`` ticks at distinct
times, with none triggering and with 1 % of the symbols quoted at 94 (their stop-losses hit:
1 % of the positions). Baseline in the same run: the one SQL statement that finds the same
stop-loss hits (the working legs joined to each symbol's latest quote), median of ``--runs``.
Also the commits (pg_stat_database.xact_commit) and statements per tick.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from psycopg.conninfo import make_conninfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "layers" / "core"))

from tradeflow.adapters import aws, db, store  # noqa: E402
from tradeflow.domain.strategy import StrategyConfig  # noqa: E402
from tradeflow.local.stack import embedded_database  # noqa: E402
from tradeflow.pipeline import stop_monitor  # noqa: E402
from tradeflow.settings import StopMonitorEnv  # noqa: E402

from benchmarks.dbcounters import PROBE_COMMITS, counters  # noqa: E402

START = datetime(2024, 3, 1, 15, 30, tzinfo=UTC)
SYMBOLS = 1000
HITS_SQL = (
    "SELECT o.client_order_id FROM orders o JOIN LATERAL (SELECT price FROM quotes q WHERE q.symbol = o.symbol "
    "AND q.ts <= %s ORDER BY ts DESC LIMIT 1) q ON true WHERE o.status = 'accepted' AND o.purpose = 'stop_loss' "
    "AND q.price <= o.stop_price"
)


def seed(conn, positions: int) -> None:
    """``positions`` open positions with accepted brackets over SYMBOLS symbols, a quote each."""
    strategies = max(1, positions // SYMBOLS)
    config = StrategyConfig(max_price_age_seconds=86_400)  # the seeded quotes are hours old: not stale here
    for n in range(strategies):
        store.add_strategy(conn, f"s{n}", config, START - timedelta(days=1))
    p = {"n": positions, "syms": SYMBOLS, "at": START - timedelta(hours=1)}
    trips = ("WITH t AS (SELECT i, 's' || (i / %(syms)s) AS sid, 'SYM' || (i %% %(syms)s) AS sym, i + 1 AS pid, "
             "4 * i + 1 AS oid, 'b-' || i AS coid FROM generate_series(0, %(n)s - 1) AS i) ")
    with conn.transaction():
        conn.execute(trips + "INSERT INTO positions (position_id, strategy_id, symbol, side, quantity, cost_basis, "
                     "avg_entry_price, status, opened_at) SELECT pid, sid, sym, 'long', 10, 1000, 100, 'open', "
                     "%(at)s FROM t", p)
        conn.execute(trips + "INSERT INTO orders (order_id, client_order_id, strategy_id, symbol, side, quantity, "
                     "order_type, purpose, stop_price, limit_price, oco_group, parent_client_order_id, position_id, "
                     "status, working_since, created_at) "
                     "SELECT oid, coid || '-entry', sid, sym, 'buy', 10, 'market', 'entry', NULL::numeric, "
                     "NULL::numeric, NULL, NULL, pid, 'filled', %(at)s, %(at)s FROM t UNION ALL "
                     "SELECT oid + 1, coid || '-sl', sid, sym, 'sell', 10, 'stop', 'stop_loss', 95, NULL, coid, "
                     "coid || '-entry', pid, 'accepted', %(at)s, %(at)s FROM t UNION ALL "
                     "SELECT oid + 2, coid || '-tp', sid, sym, 'sell', 10, 'limit', 'take_profit', NULL, 110, coid, "
                     "coid || '-entry', pid, 'accepted', %(at)s, %(at)s FROM t", p)
        conn.execute("INSERT INTO quotes (symbol, ts, price, source) SELECT 'SYM' || i, %(at)s, 100, 'bench' "
                     "FROM generate_series(0, %(syms)s - 1) AS i", p)
        conn.execute("SELECT setval('orders_order_id_seq', (SELECT max(order_id) FROM orders))")
        conn.execute("SELECT setval('positions_position_id_seq', (SELECT max(position_id) FROM positions))")
    conn.execute("ANALYZE")


class Counting:
    """Counts the statements a connection runs (a cursor factory)."""

    statements = 0


def run(server: str, positions: int, runs: int) -> dict[str, float]:
    name = f"bench_stop_{positions}"
    with db.connect(server) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(server, dbname=name)
    db.migrate(url)
    sent: list = []
    aws.send = lambda *args, **kwargs: sent.append(args)  # the network is not what is measured
    env = StopMonitorEnv(database_url=url, executions_queue_url="q", notifications_queue_url="n")
    figures: dict[str, float] = {}
    with db.connect(url) as conn:
        t = time.perf_counter()
        seed(conn, positions)
        print(f"  seeded {positions:,} open positions ({2 * positions:,} working legs) in "
              f"{time.perf_counter() - t:.1f} s", flush=True)

        class Cursor(type(conn.cursor())):
            def execute(self, *a, **k):
                Counting.statements += 1
                return super().execute(*a, **k)

            def executemany(self, query, params, **k):
                params = list(params)
                Counting.statements += len(params)
                return super().executemany(query, params, **k)

        conn.cursor_factory = Cursor
        for label, hit_price in (("none triggering", None), ("1 % triggering", 94)):
            if hit_price is not None:  # 1 % of the symbols drop through their stop-losses
                conn.execute("INSERT INTO quotes (symbol, ts, price, source) SELECT 'SYM' || i, %s, %s, 'bench' "
                             "FROM generate_series(0, %s - 1) AS i", (START, hit_price, SYMBOLS // 100))
            times, commits, statements = [], [], []
            for r in range(runs):
                at = START + timedelta(seconds=15 * (r + 1) + (1000 if hit_price else 0))
                sent.clear()
                before = counters(conn)["commits"]
                Counting.statements = 0
                t = time.perf_counter()
                stop_monitor.tick(at, conn, env)
                times.append(time.perf_counter() - t)
                statements.append(Counting.statements)
                commits.append(counters(conn)["commits"] - before - PROBE_COMMITS)
            baseline = []
            for _ in range(runs):
                t = time.perf_counter()
                hits = conn.execute(HITS_SQL, (at,)).fetchall()
                baseline.append(time.perf_counter() - t)
            tick, base = statistics.median(times), statistics.median(baseline)
            figures[label] = tick
            print(f"  {label:16} tick median {tick * 1000:8.1f} ms (min {min(times) * 1000:.1f}, max "
                  f"{max(times) * 1000:.1f}) | {len(sent):,} executions sent | one SQL finding the "
                  f"{len(hits):,} stop hits {base * 1000:7.1f} ms | ratio {tick / base:5.1f} | "
                  f"commits per tick {statistics.median(commits):.0f}, statements {statistics.median(statements):.0f}",
                  flush=True)
    with db.connect(server) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return figures


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--positions", default="1000,10000,100000")
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = embedded_database(Path(tmp) / "pgdata", "postgres")
        for n in (int(x) for x in args.positions.split(",")):
            print(f"{n:,} open positions:", flush=True)
            run(server, n, args.runs)


if __name__ == "__main__":
    main()
