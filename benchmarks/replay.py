"""Bars per second of ``tradeflow replay`` on real data: the bundled daily bars of AAPL, GOOG,
IBM and MSFT (2010-2013, 3,180 bars, examples/data/README.md) with the demo's moving-average
cross rendered as alerts (the nested strategy template, each entry with a 5 % stop-loss and a
10 % take-profit in the alert), replayed with the bar fill model and 1 bp commission on the
embedded PostgreSQL. Median of 3 runs (each on a fresh database); prints the figures.

    .venv/bin/python benchmarks/replay.py [--runs 3] [--symbols AAPL,MSFT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path

from tradeflow.local.demo import MovingAverageCross, default_bars_file, load_bars, render_alert
from tradeflow.local.replay import replay_config, run_replay


def write_inputs(folder: Path, symbols: list[str] | None) -> tuple[Path, Path, int]:
    """BARS.csv (bar open time 09:30 New York) and ALERTS.jsonl from the demo's strategy."""
    days = load_bars(default_bars_file(), symbols)
    strategy = MovingAverageCross()
    bars, alerts, count = folder / "BARS.csv", folder / "ALERTS.jsonl", 0
    with bars.open("w") as b, alerts.open("w") as a:
        b.write("symbol,timestamp,open,high,low,close,volume\n")
        for _, day in days:
            for bar in day:
                count += 1
                b.write(f"{bar.symbol},{bar.open_time:%Y-%m-%dT%H:%M:%SZ},{bar.open},{bar.high},{bar.low},"
                        f"{bar.close},{bar.volume}\n")
                order = strategy.on_bar(bar)
                if order is None:
                    continue
                body = json.loads(render_alert(bar, order, "{{passphrase}}", bar.close_time))
                if order["action"] == "buy":
                    body["stop_loss"] = str((bar.close * Decimal("0.95")).quantize(Decimal("0.01"), ROUND_CEILING))
                    body["take_profit"] = str((bar.close * Decimal("1.10")).quantize(Decimal("0.01"), ROUND_FLOOR))
                a.write(json.dumps({"time": body["time"], "body": json.dumps(body)}) + "\n")
    return bars, alerts, count


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--symbols", help="comma-separated subset, e.g. AAPL,MSFT")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bars, alerts, count = write_inputs(folder, args.symbols.split(",") if args.symbols else None)
        n_alerts = sum(1 for _ in alerts.open())
        config = replay_config("bar", Decimal(1), Decimal(100000))
        rates = []
        for run in range(args.runs):
            result = run_replay(bars, alerts, folder / "home", config, progress=False)
            rates.append(result.bars_per_second)
            print(f"run {run + 1}: {result.bars} bars, {result.alerts_posted} alerts, "
                  f"{result.summary['closed_trades']} closed trades, final equity "
                  f"{result.summary['final_equity']:,.2f}: {result.wall_seconds:.1f} s, "
                  f"{result.bars_per_second:,.1f} bars/s")
    print(f"replay, bar fill model, {count} real daily bars and {n_alerts} alerts: "
          f"median {statistics.median(rates):,.1f} bars per second over {args.runs} runs "
          f"(min {min(rates):,.1f}, max {max(rates):,.1f})")


if __name__ == "__main__":
    main()
