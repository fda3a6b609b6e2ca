"""market_data at 50 symbols: provider calls per minute, time per fetch, cold import, and the
Lambda GB-seconds per trading day they imply. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/market_data.py [--stocks 40] [--crypto 10] [--runs 25]

(a) One fetch (``MarketData.tick``) for ``--stocks`` US stocks and ``--crypto`` crypto pairs,
    the providers answered by httpx's MockTransport with the documented response shapes (no
    network; the network round trips are NOT in these figures): HTTP calls per source per
    fetch, and the median and worst in-process time of a fetch over ``--runs``.
(b) Cold import of ``functions/market_data/handler.py`` in a fresh interpreter (median of 7),
    beside ``import httpx`` and ``import urllib3`` measured the same way in the same run.
(c) From the deployed settings (cdk/tradeflow_cdk/market_data.py: 6 fetches 10 s apart per
    invocation, 256 MB, one invocation a minute for the 480 minutes of its schedule): calls
    per minute, and GB-seconds per trading day with the sleeps counted (Lambda bills them) and
    an assumed ``--rtt`` seconds per provider call.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")  # cosmetic: jsii warns on old node
sys.path[:0] = [str(ROOT / "layers" / "core"), str(ROOT / "cdk")]

import httpx  # noqa: E402
from tradeflow.adapters.market_data import alpaca, coinbase  # noqa: E402
from tradeflow.adapters.market_data.http import client  # noqa: E402
from tradeflow.domain.symbols import MarketDataSettings  # noqa: E402
from tradeflow.pipeline.market_data import MarketData  # noqa: E402

NOW = datetime(2024, 3, 1, 15, 30, 5, tzinfo=UTC)
#: Minutes the schedule runs a day: cron(* 9-16 ? * MON-FRI *) in New York, 09:00-16:59.
SCHEDULE_MINUTES = 480
ARM64_GB_SECOND_USD = 0.0000133334
REQUEST_USD = 0.20 / 1_000_000
TRADING_DAYS_PER_MONTH = 22


def transport(calls: dict[str, int]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        bar = {"t": "2024-03-01T15:29:00Z", "o": 100.1, "h": 100.5, "l": 99.9, "c": 100.2, "v": 1200, "n": 9, "vw": 100.2}
        if request.url.path.startswith("/v2/stocks"):
            calls["alpaca"] = calls.get("alpaca", 0) + 1
            return httpx.Response(200, text=json.dumps({"bars": {s: bar for s in request.url.params["symbols"].split(",")}}))
        if request.url.path.startswith("/v1beta3/crypto"):
            calls["alpaca_crypto"] = calls.get("alpaca_crypto", 0) + 1
            return httpx.Response(200, text=json.dumps({"bars": {s: bar for s in request.url.params["symbols"].split(",")}}))
        calls["coinbase"] = calls.get("coinbase", 0) + 1
        return httpx.Response(200, text=json.dumps([[1709306940, 99.9, 100.5, 100.1, 100.2, 3.5]]))
    return httpx.MockTransport(answer)


def import_time(statement: str, runs: int = 7) -> float:
    code = f"import time, sys; sys.path[:0] = {[str(ROOT / 'layers' / 'core'), str(ROOT / 'functions' / 'market_data')]!r}\n" \
           f"t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    env = {"STATE_BUCKET": "bench", "AWS_DEFAULT_REGION": "us-east-1", "PATH": ""}
    return statistics.median(float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                                  check=True, env=env).stdout) for _ in range(runs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--stocks", type=int, default=40)
    parser.add_argument("--crypto", type=int, default=10)
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--rtt", type=float, default=0.15, help="assumed seconds per provider call (network)")
    args = parser.parse_args()
    from tradeflow_cdk.market_data import MEMORY_MB, TICK_SECONDS, TICKS_PER_INVOCATION

    stocks = [f"S{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(args.stocks)]
    crypto = [f"C{chr(65 + i // 26)}{chr(65 + i % 26)}USD" for i in range(args.crypto)]
    calls: dict[str, int] = {}
    http = client(transport(calls))
    fetchers = {"alpaca": lambda s, now: alpaca.stock_bars(http, "k", "s", s, now),
                "alpaca_crypto": lambda s, now: alpaca.crypto_bars(http, s, now),
                "coinbase": lambda s, now: coinbase.candles(http, s, now)}
    seconds = []
    for n in range(args.runs):
        md = MarketData(watchlist=lambda: stocks + crypto, settings_of=MarketDataSettings, fetchers=fetchers,
                        hand_over=lambda bars: None)
        calls.clear()
        t = time.perf_counter()
        report = md.tick(NOW + timedelta(minutes=n))
        seconds.append(time.perf_counter() - t)
    per_fetch = dict(calls)
    print(f"(a) {len(stocks)} stocks + {len(crypto)} crypto: {report.fetched} bars per fetch; HTTP calls per fetch "
          f"{per_fetch}; in-process time per fetch median {statistics.median(seconds) * 1000:.1f} ms, "
          f"worst {max(seconds) * 1000:.1f} ms (runs {args.runs})")
    handler = import_time("import handler")
    print(f"(b) cold import: market_data handler {handler * 1000:.0f} ms; httpx {import_time('import httpx') * 1000:.0f} ms;"
          f" urllib3 {import_time('import urllib3') * 1000:.0f} ms (medians of 7, same run)")
    total_calls = sum(per_fetch.values())
    duration = (TICKS_PER_INVOCATION - 1) * TICK_SECONDS + TICKS_PER_INVOCATION * (
        statistics.median(seconds) + total_calls * args.rtt)
    gb_seconds = MEMORY_MB / 1024 * duration * SCHEDULE_MINUTES
    monthly = gb_seconds * TRADING_DAYS_PER_MONTH * ARM64_GB_SECOND_USD + \
        SCHEDULE_MINUTES * TRADING_DAYS_PER_MONTH * REQUEST_USD
    idle_seconds = handler + 0.1  # an empty watchlist: one S3 read, then the invocation ends
    idle_monthly = (MEMORY_MB / 1024 * idle_seconds * SCHEDULE_MINUTES * TRADING_DAYS_PER_MONTH * ARM64_GB_SECOND_USD
                    + SCHEDULE_MINUTES * TRADING_DAYS_PER_MONTH * REQUEST_USD)
    print(f"(c) {TICKS_PER_INVOCATION} fetches per minute: {total_calls * TICKS_PER_INVOCATION} provider calls per "
          f"minute (Alpaca free plan: 200); invocation ~{duration:.1f} s at {MEMORY_MB} MB with rtt {args.rtt} s -> "
          f"{gb_seconds:,.0f} GB-s per trading day, ${monthly:.2f} a month (arm64, {TRADING_DAYS_PER_MONTH} days, "
          f"no free tier); idle (empty watchlist, ~{idle_seconds:.2f} s a run): ${idle_monthly:.3f} a month")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
