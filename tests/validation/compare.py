"""tradeflow's bar fill model against backtesting.py 0.6.6 (a test-only dependency, AGPL-3.0,
never shipped): one moving-average-cross strategy, run in backtesting.py, and its signals,
rendered as TradingView alerts, replayed through ``tradeflow replay --fill-model bar``.

backtesting.py settings: ``trade_on_close=False`` (a market order fills at the next bar's
open), ``exclusive_orders=False``, ``hedging=False``, no spread, ``commission`` = the same bps
as a fraction, fixed integer size, cash far above any position. tradeflow settings: the same
commission in bps with ``commission_to_cent`` off (backtesting.py does not round commissions;
see docs/fill-models.md for what rounding changes), no slippage, the instrument's tick size.

The strategy (backtesting.py's own SmaCross): when SMA(fast) of closes crosses above SMA(slow)
buy ``size`` units, with a stop-loss and a take-profit (percent distances per variant) around the
signal bar's close (rounded to the tick: the stop up, the target down, both toward the close)
in the bracket variant; when it crosses below, close the position. The all-cash variant buys,
with the wide bracket, as many whole units as the equity buys at the signal bar's close (Pine's
``default_qty_type=strategy.percent_of_equity, default_qty_value=100``); its alerts carry no
quantity, so tradeflow sizes it with ``position_sizing: percent_of_equity`` 100. The entry fills
at the next open: when that costs more than the cash (with commission), backtesting.py's broker
cancels it ("insufficient margin") and tradeflow's cancels it at the fill (buying power). Every signal it makes is
recorded and rendered as an alert fired at that bar's close; the bracket variant uses the
TradersPost template with the bracket prices in the alert, the plain variant the nested
strategy template (docs/alerts.md).

Run the full datasets with ``.venv/bin/python -m tests.validation.compare`` (prints the table).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from datetime import UTC
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Dataset:
    """A dataset shipped inside the backtesting package, with the instrument's tick size
    (currency per unit) and the run's size (units), cash and commission (bps)."""

    name: str
    symbol: str
    tick: Decimal
    size: int
    cash: int
    commission_bps: Decimal
    #: Bracket distances (stop-loss %, take-profit %) from the signal bar's close, per variant.
    brackets: dict[str, tuple[Decimal, Decimal]]

    def frame(self, last: int | None = None):
        """OHLC as a DataFrame (prices rounded to the tick), the last ``last`` bars if given."""
        import backtesting.test

        df = getattr(backtesting.test, self.name)[["Open", "High", "Low", "Close", "Volume"]].copy()
        places = -self.tick.as_tuple().exponent
        df[["Open", "High", "Low", "Close"]] = df[["Open", "High", "Low", "Close"]].round(places)
        return df.iloc[-last:] if last else df


#: Daily equities (GOOG 2004-2013, 2,148 bars) and hourly FX (EUR/USD 2017-2018, 5,000 bars).
DATASETS = {
    "GOOG": Dataset("GOOG", "GOOG", Decimal("0.01"), 10, 100_000, Decimal(2),
                    {"wide": (Decimal(2), Decimal(4)), "tight": (Decimal(1), Decimal(1))}),
    "EURUSD": Dataset("EURUSD", "EURUSD", Decimal("0.00001"), 10_000, 100_000, Decimal(2),
                      {"wide": (Decimal("0.3"), Decimal("0.6")), "tight": (Decimal("0.1"), Decimal("0.15"))}),
}
#: Variant -> its label; "plain" has no bracket, "tight" brackets often have both legs touched
#: in one bar (the stop-loss fills: the pessimistic rule of both engines).
VARIANTS = {"plain": "SMA 10/20", "wide": "SMA 10/20 + SL/TP", "tight": "SMA 10/20 + tight SL/TP",
            "allcash": "SMA 10/20 + SL/TP, all cash"}
#: The bracket of each variant (all cash uses the wide one).
BRACKET_OF = {"wide": "wide", "tight": "tight", "allcash": "wide"}


@dataclass
class Signal:
    """One order the strategy placed at bar ``i``'s close: ``buy`` (with bracket prices or
    None) or ``exit``."""

    i: int
    action: str
    close: Decimal
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None


@dataclass
class Outcome:
    """One engine's result: trades as (entry bar, exit bar, size, entry price, exit price)
    with prices as Decimals rounded to the tick, and final equity rounded to the cent."""

    trades: list[tuple]
    final_equity: Decimal
    raw: dict = field(default_factory=dict)


def run_backtesting(ds: Dataset, df, variant: str, fast: int = 10, slow: int = 20) -> tuple[Outcome, list[Signal]]:
    """Run the strategy in backtesting.py; return its outcome and the signals it made."""
    bracket = ds.brackets.get(BRACKET_OF.get(variant, ""))
    all_cash = variant == "allcash"
    import pandas as pd
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover

    signals: list[Signal] = []

    def sma(values, n):
        return pd.Series(values).rolling(n).mean()

    class SmaCross(Strategy):
        def init(self):
            self.fast = self.I(sma, self.data.Close, fast)
            self.slow = self.I(sma, self.data.Close, slow)

        def next(self):
            i = len(self.data) - 1
            close = Decimal(repr(float(self.data.Close[-1]))).quantize(ds.tick)
            if crossover(self.fast, self.slow):
                sl = tp = None
                if bracket:
                    sl = (close * (1 - bracket[0] / 100) / ds.tick).to_integral_value(ROUND_CEILING) * ds.tick
                    tp = (close * (1 + bracket[1] / 100) / ds.tick).to_integral_value(ROUND_FLOOR) * ds.tick
                size = int(Decimal(repr(float(self.equity))) / close) if all_cash else ds.size
                self.buy(size=size, sl=float(sl) if sl else None, tp=float(tp) if tp else None)
                signals.append(Signal(i, "buy", close, sl, tp))
            elif crossover(self.slow, self.fast):
                self.position.close()
                signals.append(Signal(i, "exit", close))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # "Some trades remain open at the end": compared as open positions
        bt = Backtest(df, SmaCross, cash=ds.cash, commission=float(ds.commission_bps / 10_000), spread=0,
                      trade_on_close=False, exclusive_orders=False, hedging=False, finalize_trades=False)
        stats = bt.run()
    cancelled = sum("insufficient margin" in str(w.message) for w in caught)
    index = {t: n for n, t in enumerate(df.index)}
    trades = sorted(
        (index[t.EntryTime], index[t.ExitTime], int(t.Size), _tick(t.EntryPrice, ds.tick), _tick(t.ExitPrice, ds.tick))
        for t in stats["_trades"].itertuples()
    )
    equity = Decimal(repr(float(stats["Equity Final [$]"]))).quantize(CENT)
    fills = [(abs(int(t.Size)), _tick(price, ds.tick)) for t in stats["_trades"].itertuples()
             for price in (t.EntryPrice, t.ExitPrice)]
    fills += [(abs(int(t.size)), _tick(t.entry_price, ds.tick)) for t in stats["_strategy"]._broker.trades]
    return Outcome(trades, equity, {"equity": float(stats["Equity Final [$]"]), "fills": fills,
                                    "cancelled": cancelled}), signals


def _tick(price: float, tick: Decimal) -> Decimal:
    return Decimal(repr(float(price))).quantize(tick)


def _iso(t) -> str:
    return t.to_pydatetime().replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_alert(ds: Dataset, signal: Signal, fired: str, brackets: bool, quantity: bool = True) -> str:
    """The signal as TradingView would post it: TradersPost style with the bracket prices
    (bracket variants; without a quantity when the strategy's settings size it) or the nested
    strategy template with a passphrase (plain variant)."""
    if brackets:
        body = {"ticker": ds.symbol, "action": signal.action, "price": str(signal.close),
                "time": fired, "interval": "60" if ds.name == "EURUSD" else "D"}
        if quantity:
            body["quantity"] = str(ds.size)
        if signal.action == "buy":
            body.update(sentiment="long", stop_loss=str(signal.stop_loss), take_profit=str(signal.take_profit))
        else:
            body.update(sentiment="flat")
        return json.dumps(body)
    buy = signal.action == "buy"
    return json.dumps({
        "passphrase": "{{passphrase}}", "time": fired, "ticker": ds.symbol,
        "strategy": {"position_size": ds.size if buy else 0, "order_action": "buy" if buy else "sell",
                     "order_contracts": ds.size, "order_price": float(signal.close),
                     "market_position": "long" if buy else "flat", "prev_market_position": "flat" if buy else "long"},
    })


def write_inputs(ds: Dataset, df, signals: list[Signal], brackets: bool, folder: Path,
                 quantity: bool = True) -> tuple[Path, Path]:
    """BARS.csv (timestamp = the bar's open time, as backtesting.py indexes it) and
    ALERTS.jsonl (each alert fired at its bar's close = the next bar's open)."""
    bars, alerts = folder / "BARS.csv", folder / "ALERTS.jsonl"
    places = -ds.tick.as_tuple().exponent
    with bars.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["symbol", "timestamp", "open", "high", "low", "close", "volume"])
        for t, r in zip(df.index, df.itertuples(), strict=True):
            w.writerow([ds.symbol, _iso(t), *(f"{v:.{places}f}" for v in (r.Open, r.High, r.Low, r.Close)),
                        int(r.Volume)])
    median_gap = (df.index[1:] - df.index[:-1]).to_series().median()
    with alerts.open("w") as f:
        for s in signals:
            closed = df.index[s.i + 1] if s.i + 1 < len(df) else df.index[s.i] + median_gap
            body = render_alert(ds, s, _iso(closed), brackets, quantity)
            line = {"time": _iso(closed), "body": body}
            if not brackets:
                line["path"] = ""  # authenticated by the passphrase in the body
            f.write(json.dumps(line) + "\n")
    return bars, alerts


def run_tradeflow(ds: Dataset, df, bars: Path, alerts: Path, state_dir: Path, database_url: str | None = None,
                  commission_to_cent: bool = False, all_cash: bool = False) -> Outcome:
    """Replay the files through tradeflow (bar fill model) and read its trades back."""
    from tradeflow.local.replay import replay_config, run_replay

    sizing = {"position_sizing": "percent_of_equity", "percent_of_equity": "100"} if all_cash else {}
    config = replay_config("bar", ds.commission_bps, Decimal(ds.cash),
                           {"tick_size": str(ds.tick), "commission_to_cent": commission_to_cent, **sizing})
    result = run_replay(bars, alerts, state_dir, config, "validation", progress=False, database_url=database_url)
    out = result.to_json()
    bar_of = _bar_index(df)
    trades = [
        (bar_of(t["entry_time"]), bar_of(t["exit_time"]), int(Decimal(t["quantity"])),
         Decimal(t["entry_price"]).quantize(ds.tick), Decimal(t["exit_price"]).quantize(ds.tick))
        for t in out["trades"]
    ]
    trades.sort()
    return Outcome(trades, Decimal(out["final_equity"]).quantize(CENT),
                   {"json": out, "bars_per_second": result.bars_per_second, "loop_seconds": result.loop_seconds,
                    "refused": out["signals_refused"],
                    "cancelled": result.summary["orders"].get("entry cancelled", 0)})


def _bar_index(df):
    """tradeflow time of a fill -> the index of the bar it filled in. A bar-model fill is
    stamped with the open time of its bar, which is how backtesting.py indexes bars."""
    opens = {_iso(t): n for n, t in enumerate(df.index)}

    def bar_of(iso: str) -> int:
        return opens[iso]

    return bar_of


def compare(ds_name: str, variant: str, last: int | None, state_dir: Path, database_url: str | None = None,
            commission_to_cent: bool = False) -> dict:
    """Run both engines on one dataset and variant; return a row of the comparison table."""
    ds = DATASETS[ds_name]
    df = ds.frame(last)
    brackets, all_cash = variant != "plain", variant == "allcash"
    bt, signals = run_backtesting(ds, df, variant)
    with tempfile.TemporaryDirectory() as tmp:
        bars, alerts = write_inputs(ds, df, signals, brackets, Path(tmp), quantity=not all_cash)
        tf = run_tradeflow(ds, df, bars, alerts, state_dir, database_url, commission_to_cent, all_cash)
    first_difference = next(((a, b) for a, b in zip(bt.trades, tf.trades, strict=False) if a != b), None)
    return {
        "dataset": f"{ds_name} ({len(df)} bars)", "variant": VARIANTS[variant], "signals": len(signals),
        "both_touched": both_touched(df, bt, signals), "trades_bt": len(bt.trades), "trades_tf": len(tf.trades),
        "identical": bt.trades == tf.trades, "equity_bt": bt.final_equity, "equity_tf": tf.final_equity,
        "first_difference": first_difference, "bt": bt, "tf": tf,
        "cancelled_bt": bt.raw["cancelled"], "cancelled_tf": tf.raw["cancelled"],
    }


def both_touched(df, bt: Outcome, signals: list[Signal]) -> int:
    """How many trades ended on a bar that touched both their stop-loss and their take-profit."""
    buys = {s.i: s for s in signals if s.stop_loss is not None}
    return sum(1 for entry, exit_, *_ in bt.trades if (s := buys.get(entry - 1))
               and df.Low.iloc[exit_] <= float(s.stop_loss) and df.High.iloc[exit_] >= float(s.take_profit))


def table(rows: list[dict]) -> str:
    """The comparison as a Markdown table."""
    lines = ["| dataset | variant | signals | trades bt / tf | exits with SL and TP in one bar "
             "| entries cancelled for cash bt / tf | identical? | final equity bt / tf |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['variant']} | {r['signals']} | {r['trades_bt']} / {r['trades_tf']} | "
                     f"{r['both_touched']} | {r['cancelled_bt']} / {r['cancelled_tf']} | "
                     f"{'yes' if r['identical'] else 'NO'} | {r['equity_bt']:,.2f} / {r['equity_tf']:,.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="tradeflow replay vs backtesting.py on the full datasets")
    p.add_argument("--last", type=int, help="only the last N bars of each dataset")
    p.add_argument("--state-dir", default=".tradeflow-validation")
    args = p.parse_args(argv)
    rows = [compare(name, brackets, args.last, Path(args.state_dir).resolve())
            for name in DATASETS for brackets in VARIANTS]
    print(table(rows))
    for r in rows:
        if not r["identical"]:
            print(f"{r['dataset']} {r['variant']}: first difference (entry bar, exit bar, size, entry, exit) "
                  f"bt {r['first_difference'][0]} vs tf {r['first_difference'][1]}" if r["first_difference"] else
                  f"{r['dataset']} {r['variant']}: trade counts differ")
        print(f"{r['dataset']} {r['variant']}: replay {r['tf'].raw['bars_per_second']:.1f} bars/s; "
              f"signals refused by tradeflow: {r['tf'].raw['refused']}")
    return 0 if all(r["identical"] and r["equity_bt"] == r["equity_tf"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
