"""tradeflow.domain.metrics against backtesting.py's own statistics: a backtest of an SMA cross
(with and without commission, long and short) on the GOOG daily bars backtesting.py ships; its
equity curve and trade list go through our pure functions, and every figure must equal the
one backtesting.py printed (floats to 1e-9 relative)."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

pytest.importorskip("backtesting", reason="backtesting.py is a test-only dependency: pip install -e '.[dev]'")

from tradeflow.domain import metrics  # noqa: E402


def run(n_fast: int, n_slow: int, commission: float, bars: int):
    import pandas as pd
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover
    from backtesting.test import GOOG

    def sma(values, n):
        return pd.Series(values).rolling(n).mean()

    class Cross(Strategy):
        def init(self):
            self.fast = self.I(sma, self.data.Close, n_fast)
            self.slow = self.I(sma, self.data.Close, n_slow)

        def next(self):
            if crossover(self.fast, self.slow):
                self.position.close()
                self.buy(size=0.5)
            elif crossover(self.slow, self.fast):
                self.position.close()
                self.sell(size=0.5)

    return Backtest(GOOG.iloc[-bars:], Cross, cash=100_000, commission=commission, finalize_trades=True).run()


def ours(stats) -> metrics.Metrics:
    curve = [(ts.to_pydatetime(), Decimal(repr(float(e)))) for ts, e in stats["_equity_curve"]["Equity"].items()]
    trades = [metrics.TradeResult(t.EntryTime.to_pydatetime(), t.ExitTime.to_pydatetime(), Decimal(repr(float(t.PnL))),
                                  float(t.ReturnPct)) for t in stats["_trades"].itertuples()]
    return metrics.compute(curve, trades)


def close(a, b):
    if b is None or (isinstance(b, float) and math.isnan(b)):
        return a is None
    return a is not None and math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize(("fast", "slow", "commission", "bars"), [(10, 30, 0.0, 800), (5, 20, 0.002, 1200)])
def test_every_metric_equals_backtesting_pys(fast, slow, commission, bars):
    stats = run(fast, slow, commission, bars)
    m = ours(stats)
    assert stats["# Trades"] == m.trades >= 5
    pairs = {
        "total_return": (m.total_return, stats["Return [%]"] / 100),
        "cagr": (m.cagr, stats["CAGR [%]"] / 100),
        "annual_return": (m.annual_return, stats["Return (Ann.) [%]"] / 100),
        "volatility": (m.volatility, stats["Volatility (Ann.) [%]"] / 100),
        "sharpe": (m.sharpe, stats["Sharpe Ratio"]),
        "sortino": (m.sortino, stats["Sortino Ratio"]),
        "calmar": (m.calmar, stats["Calmar Ratio"]),
        "max_drawdown": (m.max_drawdown, -stats["Max. Drawdown [%]"] / 100),
        "win_rate": (m.win_rate, stats["Win Rate [%]"] / 100),
        "profit_factor": (m.profit_factor, stats["Profit Factor"]),
        "expectancy": (m.expectancy, stats["Expectancy [%]"] / 100),
        "exposure_time": (m.exposure_time, stats["Exposure Time [%]"] / 100),
    }
    wrong = {k: v for k, v in pairs.items() if not close(*v)}
    assert not wrong, wrong
    assert m.max_drawdown_duration == stats["Max. Drawdown Duration"].to_pytimedelta()
    pnl = stats["_trades"]["PnL"]
    assert math.isclose(float(m.average_win), pnl[pnl > 0].mean(), rel_tol=1e-9)
    assert math.isclose(float(m.average_loss), pnl[pnl < 0].mean(), rel_tol=1e-9)


def test_an_empty_curve_or_a_non_positive_start_is_refused():
    from datetime import UTC, datetime

    with pytest.raises(ValueError, match="at least one"):
        metrics.compute([], [])
    with pytest.raises(ValueError, match="positive"):
        metrics.compute([(datetime(2024, 1, 2, tzinfo=UTC), Decimal(0))], [])
