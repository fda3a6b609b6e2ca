"""``tradeflow replay`` against backtesting.py on the same signals, same run. Prints figures;
asserts nothing.

    .venv/bin/python benchmarks/replay_vs_backtesting.py [--runs 3] [--variant wide]

GOOG daily 2004-2013 (2,148 bars, shipped with backtesting.py) and backtesting.py's SmaCross
(10/20), with a stop-loss and take-profit per entry in the ``wide`` variant: the harness of
tests/validation/compare.py. Each run times backtesting.py's ``Backtest.run`` on the data
(the baseline: its signals are the ones replayed), then ``tradeflow replay`` (bar fill model,
through the local stack: SQS, SNS and S3 at the wire, and the embedded PostgreSQL) of those signals as
alerts, on a fresh database; wall time of each, median of ``--runs``, and their ratio. Also
says whether the two engines' trades were identical.
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
    bt_times, tf_times, identical = [], [], []
    for run in range(args.runs):
        t = time.perf_counter()
        bt, signals = run_backtesting(ds, df, args.variant)
        bt_times.append(time.perf_counter() - t)
        with tempfile.TemporaryDirectory() as tmp:
            bars, alerts = write_inputs(ds, df, signals, args.variant != "plain", Path(tmp))
            t = time.perf_counter()
            tf = run_tradeflow(ds, df, bars, alerts, Path(tmp) / "state")
            tf_times.append(time.perf_counter() - t)
        identical.append(bt.trades == tf.trades)
        print(f"run {run + 1}: backtesting.py {bt_times[-1]:.2f} s | tradeflow replay {tf_times[-1]:.2f} s "
              f"({len(signals)} signals, {len(tf.trades)} trades, identical trades: {identical[-1]})", flush=True)
    bt_med, tf_med = statistics.median(bt_times), statistics.median(tf_times)
    print(f"GOOG daily, {len(df)} bars, {VARIANTS[args.variant]}: backtesting.py median {bt_med:.2f} s, tradeflow "
          f"replay median {tf_med:.2f} s over {args.runs} runs: replay / backtesting.py = {tf_med / bt_med:.1f}x")


if __name__ == "__main__":
    main()
