"""How the export's pages compare with API Gateway's limits (10 MB answer, 30 s): a busy week
seeded on a fresh embedded-PostgreSQL database (by default 2,000 alerts whose kept bodies are
16 KiB of characters that JSON escapes twice over, the largest the webhook accepts, and a
1-minute bar for each of 10 symbols over 5 sessions of 390 minutes), then every page of
``GET /api/export/alerts`` and ``/api/export/bars`` through the control handler the Lambda runs
(the local control server, token and all). Prints, per route, the pages, the median and the
slowest page (seconds) and the largest response as Lambda returns it (MB, against Lambda's
6 MB and API Gateway's 10 MB); as a baseline measured in the same run, the median of
``GET /api/status``.

    .venv/bin/python benchmarks/export.py [--alerts 2000] [--minutes 1950] [--symbols 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from tradeflow.domain.alerts import MAX_BODY_BYTES
from tradeflow.domain.strategy import StrategyConfig
from tradeflow.local.serve import ControlServer
from tradeflow.local.stack import LocalStack, fresh_database

START = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
API_GATEWAY_BYTES = 10 * 1000 * 1000
#: Lambda's largest synchronous response (the handler's answer, serialised as Lambda returns it).
LAMBDA_BYTES = 6 * 1024 * 1024


def seed(url: str, alerts: int, minutes: int, symbols: int) -> None:
    from tradeflow.adapters import db, store

    head = '{"ticker": "S0", "action": "buy", "passphrase": "{{passphrase}}", "notes": "'
    body = head + '\\"' * ((MAX_BODY_BYTES - len(head) - 2) // 2) + '"}'
    with db.connect(url) as conn:
        store.add_strategy(conn, "bench", StrategyConfig(), START)
        conn.execute(
            "INSERT INTO signals (signal_id, dedupe_key, strategy_id, symbol, action, alert, received_at) "
            "SELECT md5(i::text)::uuid, md5(i::text), 'bench', 'S' || (i %% %s), 'buy', '{}'::jsonb, "
            "%s + i * interval '1 minute' FROM generate_series(1, %s) i", (symbols, START, alerts))
        conn.execute("INSERT INTO alert_bodies (signal_id, body, path) SELECT md5(i::text)::uuid, %s, '{{passphrase}}' "
                     "FROM generate_series(1, %s) i", (body, alerts))
        conn.execute(
            "INSERT INTO quotes (symbol, ts, price, source, open, high, low, opened_at) "
            "SELECT 'S' || s, %s + (m + 1) * interval '1 minute', 100 + m %% 7, 'bench', 100, 107, 99, "
            "%s + m * interval '1 minute' FROM generate_series(0, %s - 1) s, generate_series(0, %s - 1) m",
            (START, START, symbols, minutes))
        conn.execute("ANALYZE")


def pages(server: ControlServer, route: str, query: dict) -> tuple[list[float], int, int]:
    """(seconds per page, largest Lambda response in bytes, rows) of every page of ``route``."""
    headers = {"Authorization": f"Bearer {server.token}"}
    seconds, largest, rows, after = [], 0, 0, None
    while True:
        target = f"/api/export/{route}?{urlencode(query | ({'after': after} if after else {}))}"
        began = time.perf_counter()
        answer = server.answer("GET", target, headers, b"", "127.0.0.1")
        seconds.append(time.perf_counter() - began)
        if answer["statusCode"] != 200:
            raise SystemExit(f"{target}: {answer['statusCode']} {answer['body'][:200]}")
        largest = max(largest, len(json.dumps(answer).encode()))
        page = json.loads(answer["body"])
        rows += len(page[route])
        after = page["next"]
        if not after:
            return seconds, largest, rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--alerts", type=int, default=2000)
    p.add_argument("--minutes", type=int, default=5 * 390)
    p.add_argument("--symbols", type=int, default=10)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = fresh_database(Path(folder), "tradeflow_export_bench")
        with LocalStack(Path(folder), url) as stack:
            seed(url, args.alerts, args.minutes, args.symbols)
            server = ControlServer(stack, port=0)
            try:
                query = {"strategy": "bench", "since": "2026-11-23T00:00:00Z", "until": "2026-11-28T00:00:00Z"}
                results = {route: pages(server, route, query) for route in ("alerts", "bars")}
                status = []
                for _ in range(5):
                    began = time.perf_counter()
                    server.answer("GET", "/api/status", {"Authorization": f"Bearer {server.token}"}, b"", "127.0.0.1")
                    status.append(time.perf_counter() - began)
            finally:
                server.httpd.server_close()
    for route, (seconds, largest, rows) in results.items():
        print(f"/api/export/{route}: {rows} rows in {len(seconds)} pages; page median {statistics.median(seconds):.3f} s, "
              f"slowest {max(seconds):.3f} s (limit 30 s); largest Lambda response {largest / 1e6:.2f} MB "
              f"({largest / LAMBDA_BYTES:.0%} of Lambda's 6 MB, {largest / API_GATEWAY_BYTES:.0%} of API Gateway's "
              "10 MB)")
    print(f"baseline, GET /api/status: median {statistics.median(status):.3f} s; slowest export page / status = "
          f"{max(max(r[0]) for r in results.values()) / statistics.median(status):.1f}")


if __name__ == "__main__":
    main()
