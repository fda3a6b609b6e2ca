"""Performance metrics of an equity curve and a trade list, following backtesting.py's
conventions (kernc/backtesting.py 0.6, ``backtesting/_stats.py: compute_stats``), written in
pure Python so a Lambda needs neither numpy nor pandas.

Libraries disagree on these (quantstats, empyrical and backtesting.py differ on Sharpe and
profit factor); each convention is stated on its field of :class:`Metrics`. Ratios and
fractions are floats (statistics, 0.12 = 12 %); amounts of money are Decimal in the account
currency. A metric that cannot be computed (no trades, a single day, no losing day) is None
where backtesting.py gives NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal


@dataclass(frozen=True)
class TradeResult:
    """One closed trade: entry and exit times (UTC), net P&L (currency, fees deducted) and
    its return, a fraction of the entry's cost (net P&L / (entry price x quantity))."""

    entry_time: datetime
    exit_time: datetime
    pnl: Decimal
    return_fraction: float


@dataclass(frozen=True)
class Metrics:
    """The figures, with backtesting.py's name of each in brackets.

    - total_return [Return]: last / first equity - 1.
    - cagr [CAGR]: (last / first) ** (1 / years) - 1, years = calendar duration / 365.25 days.
    - annual_return [Return (Ann.)]: (1 + geometric mean daily return) ** D - 1, daily returns
      from each UTC day's last equity; D = 252, or 365 when over 60 % of 2/7 of the points fall
      on weekends (a market that trades every day).
    - volatility [Volatility (Ann.)]: sqrt((var + (1 + g)^2)^D - (1 + g)^(2D)), var the daily
      returns' sample variance (ddof 1), g their geometric mean (returns compounded).
    - sharpe [Sharpe Ratio]: annual_return / volatility, risk-free rate 0 (not empyrical's
      arithmetic mean over standard deviation).
    - sortino [Sortino Ratio]: annual_return / (sqrt(mean(min(r, 0)^2)) x sqrt(D)).
    - max_drawdown [Max. Drawdown]: largest 1 - equity / running peak (a fraction, positive).
    - max_drawdown_duration [Max. Drawdown Duration]: longest time from a peak to the point
      that regains it (or to the last point if never regained).
    - calmar [Calmar Ratio]: annual_return / max_drawdown.
    - win_rate [Win Rate]: share of trades with net P&L > 0.
    - profit_factor [Profit Factor]: sum of the winning trades' RETURNS / |sum of the losing
      trades' returns| (backtesting.py sums returns, not money, unlike quantstats).
    - expectancy [Expectancy]: the arithmetic mean trade return (a fraction).
    - average_win / average_loss: mean net P&L (currency) of winning / losing trades (losses
      negative); not in backtesting.py's table, whose trades are in returns.
    - exposure_time [Exposure Time]: share of the equity points at which a trade was open
      (entry time <= point <= exit time), counted in points as backtesting.py counts bars.
    """

    total_return: float | None
    cagr: float | None
    annual_return: float | None
    volatility: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown: float
    max_drawdown_duration: timedelta
    calmar: float | None
    win_rate: float | None
    profit_factor: float | None
    expectancy: float | None
    average_win: Decimal | None
    average_loss: Decimal | None
    exposure_time: float
    trades: int


def geometric_mean(returns: Sequence[float]) -> float:
    """exp(mean(log(1 + r))) - 1; 0 when a return is -100 % or worse (backtesting.py's rule)."""
    if not returns or any(1 + r <= 0 for r in returns):
        return 0.0
    return math.exp(sum(math.log(1 + r) for r in returns) / len(returns)) - 1


def drawdowns(equity: Sequence[Decimal]) -> list[float]:
    """1 - equity / running peak at each point (0 at a new high)."""
    out, peak = [], None
    for value in equity:
        peak = value if peak is None or value > peak else peak
        out.append(float(1 - value / peak) if peak > 0 else 0.0)
    return out


def max_drawdown_duration(times: Sequence[datetime], dd: Sequence[float]) -> timedelta:
    """Longest span from a point at its peak (drawdown 0) to the next such point, or to the
    last point when the curve never regains its peak."""
    marks = sorted({i for i, d in enumerate(dd) if d == 0} | ({len(dd) - 1} if dd else set()))
    spans = [times[b] - times[a] for a, b in zip(marks, marks[1:], strict=False) if b > a + 1]
    return max(spans, default=timedelta(0))


def _daily_returns(curve: Sequence[tuple[datetime, Decimal]]) -> list[float]:
    last: dict = {}
    for ts, equity in curve:
        last[ts.date()] = equity
    values = [last[d] for d in sorted(last)]
    return [float(b / a - 1) for a, b in zip(values, values[1:], strict=False) if a != 0]


def compute(curve: Sequence[tuple[datetime, Decimal]], trades: Sequence[TradeResult]) -> Metrics:
    """The metrics of an equity curve [(time UTC, equity)] in time order and its closed trades.
    Raises ValueError for an empty curve or a non-positive first equity."""
    if not curve:
        raise ValueError("no equity points: the metrics need at least one")
    times, equity = [t for t, _ in curve], [e for _, e in curve]
    if equity[0] <= 0:
        raise ValueError(f"the first equity must be positive, got {equity[0]}")
    dd = drawdowns(equity)
    weekend = sum(t.weekday() >= 5 for t in times) / len(times)
    days_a_year = 365 if weekend > 2 / 7 * 0.6 else 252
    daily = _daily_returns(curve)
    g = geometric_mean(daily)
    annual = (1 + g) ** days_a_year - 1 if daily else None
    volatility = None
    if len(daily) > 1:
        mean = sum(daily) / len(daily)
        var = sum((r - mean) ** 2 for r in daily) / (len(daily) - 1)
        volatility = math.sqrt(max((var + (1 + g) ** 2) ** days_a_year - (1 + g) ** (2 * days_a_year), 0.0))
    downside = math.sqrt(sum(min(r, 0) ** 2 for r in daily) / len(daily)) * math.sqrt(days_a_year) if daily else 0
    years = (times[-1] - times[0]).total_seconds() / 86400 / 365.25
    worst = max(dd)
    returns = [t.return_fraction for t in trades]
    wins = [t.pnl for t in trades if t.pnl > 0]
    losses = [t.pnl for t in trades if t.pnl < 0]
    gains, pains = sum(r for r in returns if r > 0), abs(sum(r for r in returns if r < 0))
    exposed = sum(any(t.entry_time <= ts <= t.exit_time for t in trades) for ts in times)
    return Metrics(
        total_return=float(equity[-1] / equity[0] - 1),
        cagr=float(equity[-1] / equity[0]) ** (1 / years) - 1 if years else None,
        annual_return=annual,
        volatility=volatility,
        sharpe=annual / volatility if annual is not None and volatility else None,
        sortino=annual / downside if annual is not None and downside else None,
        max_drawdown=worst,
        max_drawdown_duration=max_drawdown_duration(times, dd),
        calmar=annual / worst if annual is not None and worst else None,
        win_rate=len(wins) / len(trades) if trades else None,
        profit_factor=gains / pains if pains else None,
        expectancy=sum(returns) / len(returns) if returns else None,
        average_win=sum(wins, Decimal(0)) / len(wins) if wins else None,
        average_loss=sum(losses, Decimal(0)) / len(losses) if losses else None,
        exposure_time=exposed / len(times),
        trades=len(trades),
    )
