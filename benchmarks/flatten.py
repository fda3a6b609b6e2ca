"""How long the kill switch with flatten takes on the local stack: 50 open positions (opened
through the webhook and the pipeline), then ``control.kill_switch(on=True, flatten=True)``,
which cancels every working entry and books a market exit for each position. Each run uses a
fresh embedded-PostgreSQL database; prints the median and each run (seconds), and, measured in
the same runs as a baseline, one stop-monitor tick over the same 50 positions.

    .venv/bin/python benchmarks/flatten.py [--runs 5] [--positions 50]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from tradeflow.clock import ReplayClock
from tradeflow.domain.strategy import StrategyConfig
from tradeflow.local.stack import LocalStack, fresh_database

SECRET = "benchmark-secret-passphrase"
START = datetime(2024, 3, 1, 15, 30, tzinfo=UTC)


def one_run(state_dir: Path, positions: int, run: int) -> tuple[float, float]:
    """(flatten seconds, stop-monitor tick seconds) on a fresh database."""
    url = fresh_database(state_dir, f"tradeflow_flatten_{run}")
    clock = ReplayClock(START)
    with LocalStack(state_dir, url, clock) as stack:
        from tradeflow.adapters import db
        from tradeflow.pipeline import control

        stack.add_strategy("bench", StrategyConfig(max_open_positions=positions, commission_bps=Decimal(1)), SECRET)
        for i in range(positions):
            symbol = f"S{i:03d}"
            stack.record_quote(symbol, START, Decimal(50 + i))
            stack.post_webhook(json.dumps({"ticker": symbol, "action": "buy", "quantity": "10", "price": str(50 + i),
                                           "time": START.isoformat()}), token=f"bench.{SECRET}")
        stack.drain()
        later = START + timedelta(minutes=1)
        for i in range(positions):
            stack.record_quote(f"S{i:03d}", later, Decimal(51 + i))
        clock.set(later)
        began = time.perf_counter()
        stack.run_schedule("stop_monitor")
        tick = time.perf_counter() - began
        with db.connect(url) as conn:
            began = time.perf_counter()
            done = control.kill_switch(conn, True, "benchmark", "flatten benchmark", later, flatten=True)
            took = time.perf_counter() - began
            left = conn.execute("SELECT count(*) AS n FROM positions WHERE status = 'open'").fetchone()["n"]
        if done["flattened_positions"] != positions or left:
            raise SystemExit(f"flatten closed {done['flattened_positions']} of {positions}, {left} left open")
    return took, tick


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--positions", type=int, default=50)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        runs = [one_run(Path(folder), args.positions, n) for n in range(args.runs)]
    flat = [r[0] for r in runs]
    ticks = [r[1] for r in runs]
    print(f"kill switch with flatten, {args.positions} positions: median {statistics.median(flat):.3f} s "
          f"over {args.runs} runs ({', '.join(f'{x:.3f}' for x in flat)}); target at most 2 s")
    print(f"baseline, one stop-monitor tick over the same positions: median {statistics.median(ticks):.3f} s; "
          f"flatten / tick = {statistics.median(flat) / statistics.median(ticks):.2f}")


if __name__ == "__main__":
    main()
