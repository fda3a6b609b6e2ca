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
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "layers" / "core"))

from tests.validation.compare import DATASETS, VARIANTS, run_backtesting, run_tradeflow, write_inputs  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--variant", default="wide", choices=sorted(VARIANTS))
    args = p.parse_args()
    ds = DATASETS["GOOG"]
    df = ds.frame()
    bt_times, tf_times, loop_times, identical = [], [], [], []
    for run in range(max(args.runs, 3)):
        t = time.perf_counter()
        bt, signals = run_backtesting(ds, df, args.variant)
        bt_times.append(time.perf_counter() - t)
        with tempfile.TemporaryDirectory() as tmp:
            bars, alerts = write_inputs(ds, df, signals, args.variant != "plain", Path(tmp))
            t = time.perf_counter()
            tf = run_tradeflow(ds, df, bars, alerts, Path(tmp) / "state")
            tf_times.append(time.perf_counter() - t)
        loop_times.append(tf.raw["loop_seconds"])
        identical.append(bt.trades == tf.trades)
        print(f"run {run + 1}: backtesting.py {bt_times[-1]:.2f} s | tradeflow whole run {tf_times[-1]:.2f} s, "
              f"replay loop alone {loop_times[-1]:.2f} s ({len(signals)} signals, {len(tf.trades)} trades, "
              f"identical trades: {identical[-1]})", flush=True)
    bt_med, tf_med, loop_med = (statistics.median(x) for x in (bt_times, tf_times, loop_times))
    print(f"GOOG daily, {len(df)} bars, {VARIANTS[args.variant]}, medians of {len(bt_times)} runs: backtesting.py "
          f"{bt_med:.2f} s | tradeflow whole run {tf_med:.2f} s ({tf_med / bt_med:.1f}x) | replay loop alone "
          f"{loop_med:.2f} s ({loop_med / bt_med:.1f}x) | trades identical in every run: {all(identical)}")


if __name__ == "__main__":
    main()
