"""Stop latency on the local stack with a scripted feed: from the moment a bar crossing a
stop-loss is observable at the provider to the exit fill. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/stop_latency.py [--trials 20] [--seed 1]

Each trial opens a long (quote model, stop 2 % under the entry), then publishes a 1-minute bar
whose low crosses the stop at a random second of the minute (seeded). The deployed fetch
schedule (cdk/tradeflow_cdk/market_data.py: a fetch every TICK_SECONDS from the start of each
minute) decides when the fetcher first sees it: that wait is by design, computed from the
schedule. Then the market_data step runs for real on the local stack (watchlist from the state
bucket, the scripted source, the stop monitor invoked with {"bars"} by boto3's asynchronous
Lambda invoke, answered by the local stack's wire, the queues drained to the executor) and its
wall time is measured. Latency = wait + processing; median and worst.
Lambda's own async-invoke and SQS hand-off delays (tens to hundreds of ms) are not in it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "core"), str(ROOT / "cdk")]
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")

from tradeflow import clock  # noqa: E402
from tradeflow.adapters import db, watchlist  # noqa: E402
from tradeflow.domain.ports import Bar  # noqa: E402
from tradeflow.domain.strategy import StrategyConfig  # noqa: E402
from tradeflow.domain.symbols import MarketDataSettings  # noqa: E402
from tradeflow.local.stack import LocalStack, fresh_database  # noqa: E402
from tradeflow.pipeline.market_data import MarketData  # noqa: E402

SECRET = "benchmark-secret-123"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    from tradeflow_cdk.market_data import TICK_SECONDS, TICKS_PER_INVOCATION

    rng = random.Random(args.seed)
    waits, processing = [], []
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database(Path(tmp), "latency")
        start = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)
        replay = clock.ReplayClock(start)
        with LocalStack(Path(tmp), url, replay) as stack:
            stack.add_strategy("bench", StrategyConfig(slippage_bps=Decimal(0), commission_bps=Decimal(0),
                                                       stop_loss_pct=Decimal(2), take_profit_pct=None), SECRET)
            published: list[Bar] = []
            source = {"alpaca": lambda symbols, now: {s: b for b in published if b.closes_at <= now for s in symbols}}
            md = MarketData(watchlist=lambda: watchlist.read(stack.state_bucket), settings_of=MarketDataSettings,
                            fetchers=source, hand_over=stack.hand_over)  # boto3's async invoke, at the wire
            with db.connect(url) as conn:
                for n in range(args.trials):
                    minute = start + timedelta(minutes=10 * n)
                    replay.set(minute)
                    stack.post_webhook(json.dumps({"ticker": "AAPL", "action": "buy", "quantity": "10",
                                                   "price": "100", "time": minute.isoformat()}), token=f"bench.{SECRET}")
                    stack.drain()
                    # the crossing bar: opens at the minute, observable at a random second after its close
                    opened = minute + timedelta(minutes=1)
                    bar = Bar("AAPL", opened, opened + timedelta(minutes=1), Decimal("99"), Decimal("99.5"),
                              Decimal("97.5"), Decimal("98"), "scripted")
                    observable = bar.closes_at + timedelta(seconds=rng.uniform(0, 60))
                    published[:] = [bar]
                    offset = (observable - bar.closes_at).total_seconds()
                    fetch_at = bar.closes_at + timedelta(seconds=min(
                        k * TICK_SECONDS for k in range(TICKS_PER_INVOCATION + 1) if k * TICK_SECONDS >= offset))
                    waits.append((fetch_at - observable).total_seconds())
                    replay.set(fetch_at)
                    t = time.perf_counter()
                    md.tick(fetch_at)
                    stack.drain()
                    processing.append(time.perf_counter() - t)
                    closed = conn.execute("SELECT count(*) AS n FROM positions WHERE status = 'closed'").fetchone()["n"]
                    if closed != n + 1:
                        print(f"trial {n}: the stop did not fire", file=sys.stderr)
                        return 1
    total = [w + p for w, p in zip(waits, processing, strict=True)]
    print(f"{args.trials} trials, a fetch every {TICK_SECONDS} s: wait for the fetch (by design) median "
          f"{statistics.median(waits):.1f} s, worst {max(waits):.1f} s; processing on the local stack (fetch, stop "
          f"monitor tick, executor fill) median {statistics.median(processing) * 1000:.0f} ms, worst "
          f"{max(processing) * 1000:.0f} ms; crossing observable -> exit fill median {statistics.median(total):.1f} s, "
          f"worst {max(total):.1f} s (goal: at most 10 s; a naive one-minute poll averages ~30 s, worst 60 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
