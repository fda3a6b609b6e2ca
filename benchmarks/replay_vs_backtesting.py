"""``tradeflow replay`` against backtesting.py on the same signals, same run. Prints figures;
asserts nothing.

    .venv/bin/python benchmarks/replay_vs_backtesting.py [--runs 3] [--variant wide]

GOOG daily 2004-2013 (2,148 bars, shipped with backtesting.py) and backtesting.py's SmaCross
(10/20), with a stop-loss and take-profit per entry in the ``wide`` variant: the harness of
tests/validation/compare.py. Each run times, on the same signals:

* **backtesting.py**: ``Backtest.run`` on the data (the baseline: its signals are the ones replayed);
* **tradeflow, whole run**: ``run_tradeflow`` (``tradeflow replay``, bar fill model) from the
  bars and alerts files to its trades read back: a new embedded PostgreSQL in a new data
  directory (initdb and start), the migrations, the local stack's start (moto, botocore's
  clients), the strategy's registration, the loop and reading the results; imports already
  done in the first run are not repeated in later ones (the process keeps them);
* **tradeflow, replay loop alone**: within that run, from the first bar close to the last
  delivery (market_data, stop monitor, webhook, the four queues' consumers, PostgreSQL).

Then the medians of ``--runs`` (at least 3), and each tradeflow median's ratio to
backtesting.py's median, all measured in this process. Also says whether the two engines'
trades were identical.

**The floor PostgreSQL sets**, measured in the same runs: the round trips the replay loop made
to the server (psycopg's ``execute`` and ``executemany`` calls, an ``executemany`` being one
pipelined round trip, plus the transaction commands BEGIN, COMMIT, ROLLBACK and savepoints that
psycopg sends on its own), and, right after each run on the same server, the median round
trip of one trivial statement (``SELECT 1`` through psycopg on an autocommit connection, as the
handlers connect). Their product is the time the loop would take if everything but PostgreSQL
cost nothing (each statement's own work on the server not counted: a lower bound), printed in
seconds and as a ratio to backtesting.py. Also the botocore API calls per replay (the loop's,
and the whole run's: the local stack's start included), counted in botocore's
``BaseClient._make_api_call``, whichever session made the client.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "layers" / "core"))

from tests.validation.compare import DATASETS, VARIANTS, run_backtesting, run_tradeflow, write_inputs  # noqa: E402

#: Round trips of the trivial statement timed after each run (their median is the round trip).
PROBES = 2000


class Counts:
    """What the process sent while :func:`counting` is active: ``sql`` (round trips to
    PostgreSQL: statements and transaction commands), ``api`` (botocore API calls by
    service.operation), and their values at the replay loop's start and end."""

    def __init__(self) -> None:
        self.sql: Counter[str] = Counter()
        self.api: Counter[str] = Counter()
        self.marks: dict[str, tuple[int, int]] = {}

    def mark(self, name: str) -> None:
        self.marks[name] = (sum(self.sql.values()), sum(self.api.values()))

    def loop(self) -> tuple[int, int]:
        """(SQL round trips, botocore calls) between the loop's start and end marks."""
        (sql0, api0), (sql1, api1) = self.marks["loop start"], self.marks["loop end"]
        return sql1 - sql0, api1 - api0


@contextmanager
def counting():
    """Count psycopg's round trips and botocore's API calls, and mark the replay loop: it
    starts when ``LocalStack.serve_bars`` returns (the last step before the loop) and ends when
    ``run_replay`` reads its results back (the first step after it)."""
    import psycopg
    from botocore.client import BaseClient
    from psycopg._connection_base import BaseConnection
    from tradeflow.local import report
    from tradeflow.local.stack import LocalStack

    counts = Counts()
    saved = {(psycopg.Cursor, "execute"): psycopg.Cursor.execute,
             (psycopg.Cursor, "executemany"): psycopg.Cursor.executemany,
             (BaseConnection, "_exec_command"): BaseConnection._exec_command,
             (LocalStack, "serve_bars"): LocalStack.serve_bars, (report, "read_results"): report.read_results,
             (BaseClient, "_make_api_call"): BaseClient._make_api_call}

    def counted(kind: str, function):
        def wrapper(*args, **kwargs):
            counts.sql[kind] += 1
            return function(*args, **kwargs)
        return wrapper

    def serve_bars(self, bars):
        saved[(LocalStack, "serve_bars")](self, bars)
        counts.mark("loop start")

    def read_results(*args, **kwargs):
        counts.mark("loop end")
        return saved[(report, "read_results")](*args, **kwargs)

    def api_call(client, operation, params):
        counts.api[f"{client.meta.service_model.service_name}.{operation}"] += 1
        return saved[(BaseClient, "_make_api_call")](client, operation, params)

    patches = {(psycopg.Cursor, "execute"): counted("statement", psycopg.Cursor.execute),
               (psycopg.Cursor, "executemany"): counted("executemany", psycopg.Cursor.executemany),
               (BaseConnection, "_exec_command"): counted("transaction command", BaseConnection._exec_command),
               (LocalStack, "serve_bars"): serve_bars, (report, "read_results"): read_results,
               (BaseClient, "_make_api_call"): api_call}
    for (owner, name), replacement in patches.items():
        setattr(owner, name, replacement)
    try:
        yield counts
    finally:
        for (owner, name), original in saved.items():
            setattr(owner, name, original)


def round_trip(pgdata: Path, database: str) -> float:
    """The median time (seconds) of ``SELECT 1`` on ``database`` of the embedded server in
    ``pgdata`` (already running), over :data:`PROBES` statements on one autocommit connection."""
    from tradeflow.adapters import db
    from tradeflow.local.stack import embedded_database

    times = []
    with db.connect(embedded_database(pgdata, database)) as conn:
        for _ in range(50):  # warm: psycopg prepares a statement run 5 times, as on the hot path
            conn.execute("SELECT 1").fetchone()
        for _ in range(PROBES):
            t = time.perf_counter()
            conn.execute("SELECT 1").fetchone()
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--variant", default="wide", choices=sorted(VARIANTS))
    args = p.parse_args()
    ds = DATASETS["GOOG"]
    df = ds.frame()
    from tradeflow.local.replay import REPLAY_DATABASE

    bt_times, tf_times, loop_times, identical = [], [], [], []
    loop_sql, loop_api, whole_api, rtts = [], [], [], []
    for run in range(max(args.runs, 3)):
        t = time.perf_counter()
        bt, signals = run_backtesting(ds, df, args.variant)
        bt_times.append(time.perf_counter() - t)
        with tempfile.TemporaryDirectory() as tmp:
            bars, alerts = write_inputs(ds, df, signals, args.variant != "plain", Path(tmp))
            with counting() as counts:
                t = time.perf_counter()
                tf = run_tradeflow(ds, df, bars, alerts, Path(tmp) / "state")
                tf_times.append(time.perf_counter() - t)
            rtts.append(round_trip(Path(tmp) / "state" / "pgdata", REPLAY_DATABASE))
        loop_times.append(tf.raw["loop_seconds"])
        identical.append(bt.trades == tf.trades)
        sql, api = counts.loop()
        loop_sql.append(sql)
        loop_api.append(api)
        whole_api.append(sum(counts.api.values()))
        print(f"run {run + 1}: backtesting.py {bt_times[-1]:.2f} s | tradeflow whole run {tf_times[-1]:.2f} s, "
              f"replay loop alone {loop_times[-1]:.2f} s ({len(signals)} signals, {len(tf.trades)} trades, "
              f"identical trades: {identical[-1]})", flush=True)
        print(f"  loop: {sql:,} PostgreSQL round trips, {api:,} botocore calls ({whole_api[-1]:,} in the whole "
              f"run: {', '.join(f'{k} {v}' for k, v in counts.api.most_common())}); SELECT 1 round trip "
              f"{rtts[-1] * 1e6:.0f} us; floor {sql * rtts[-1]:.2f} s", flush=True)
    bt_med, tf_med, loop_med = (statistics.median(x) for x in (bt_times, tf_times, loop_times))
    floor_med = statistics.median(loop_sql) * statistics.median(rtts)
    print(f"GOOG daily, {len(df)} bars, {VARIANTS[args.variant]}, medians of {len(bt_times)} runs: backtesting.py "
          f"{bt_med:.2f} s | tradeflow whole run {tf_med:.2f} s ({tf_med / bt_med:.1f}x) | replay loop alone "
          f"{loop_med:.2f} s ({loop_med / bt_med:.1f}x) | trades identical in every run: {all(identical)}")
    print(f"PostgreSQL's floor, medians: {statistics.median(loop_sql):,.0f} round trips in the loop x "
          f"{statistics.median(rtts) * 1e6:.0f} us (SELECT 1) = {floor_med:.2f} s ({floor_med / bt_med:.1f}x "
          f"backtesting.py, {floor_med / loop_med:.0%} of the loop) | botocore calls per replay: "
          f"{statistics.median(loop_api):,.0f} in the loop, {statistics.median(whole_api):,.0f} in the whole run")


if __name__ == "__main__":
    main()
