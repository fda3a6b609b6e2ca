"""``tradeflow demo``: real daily bars replayed through the whole local stack.

Each trading day, at the 16:00 America/New_York close: the market_data function fetches the
day's bars of the watched symbols from the recorded bars (the ``replay`` source) and hands them
to the stop monitor, which records them and ticks (stop-loss and take-profit exits), as in AWS;
the stop monitor matches a close as a last-trade price (the quote fill model); a
moving-average-cross strategy, as
a Pine strategy would, fires alerts rendered from the nested strategy template (docs/alerts.md)
and TradingView posts them to the webhook a few seconds later (one alert in
:data:`RETRY_EVERY` arrives twice, as TradingView's retry does); every queue is delivered; at
16:30 the notifier records the day's equity (and would send the daily summary); on Fridays at
16:45 it sends the weekly digest.

The trader keeps notifications switched on (:data:`DEMO_NOTIFICATIONS`): stop-loss exits, the
urgent events, go to the phone (SMS) at once; entries, take-profits and other exits wait for
the weekly email digest, which also carries the week's figures; no daily summary (the digest
has it all), and no digest for a week in which nothing waits for it.

Every exit comes from the strategy itself: its own exit alerts (the cross below), or the
bracket it sends with each entry (a 5 % stop-loss and a 10 % take-profit from the signal's
close, as ``strategy.exit(stop=..., limit=...)`` would place them), which tradeflow's stop
monitor works. The strategy knows its bracket, so after a stop-out it sends no exit alert,
and its settings put no bracket of their own on top: no alert is refused.
"""

from __future__ import annotations

import csv
import json
import secrets
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from tradeflow.clock import ReplayClock
from tradeflow.domain.alerting import NotificationSettings
from tradeflow.domain.ports import Bar as PriceBar
from tradeflow.domain.strategy import StrategyConfig
from tradeflow.local.report import Progress
from tradeflow.local.stack import LocalStack, fresh_database, repo_root

NEW_YORK = ZoneInfo("America/New_York")
STRATEGY_ID = "ma-cross"
EXCHANGES = {"AAPL": "NASDAQ", "GOOG": "NASDAQ", "MSFT": "NASDAQ", "IBM": "NYSE"}
#: Every RETRY_EVERY-th alert is delivered twice, like a TradingView retry after a timeout.
RETRY_EVERY = 7
#: The demo trader's notifications: urgent by SMS at once, the rest in the weekly digest.
DEMO_NOTIFICATIONS = NotificationSettings(
    routes={"urgent": ("sms",), "routine": ("digest",), "info": ("digest",)},
    daily_summary="off", weekly_digest="when_held_back",
)
#: The demo's strategy settings: $10,000 per trade sized by the Pine strategy (the alert's
#: contracts), no bracket of the settings' own (the alerts carry the strategy's), 5 bps
#: slippage, 1 bp commission, one position per symbol (four symbols: never a position refusal).
#: The guardian: a daily loss limit of 1 % of the start-of-day equity (a day that loses it
#: leaves the strategy exits-only until the next session), and a trading window on weekdays
#: from the open until 16:15 New York, since TradingView fires a daily bar's alerts at its close.
DEMO_CONFIG = StrategyConfig(
    starting_cash=Decimal("100000"), stop_loss_pct=None, take_profit_pct=None,
    slippage_bps=Decimal("5"), commission_bps=Decimal("1"), max_open_positions=4,
    daily_loss_limit_pct=Decimal(1),
    trading_windows={day: ("09:30-16:15",) for day in ("mon", "tue", "wed", "thu", "fri")},
    notifications=DEMO_NOTIFICATIONS,
)
TRADE_NOTIONAL = Decimal("10000")
#: The strategy's bracket, percent from the signal's close (stop rounded up, target down, to the cent).
STOP_LOSS_PCT, TAKE_PROFIT_PCT = Decimal(5), Decimal(10)
CENT = Decimal("0.01")
FRIDAY = 4


@dataclass(frozen=True)
class Bar:
    """One daily OHLCV bar; prices in USD per share."""

    symbol: str
    day: date
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int

    @property
    def close_time(self) -> datetime:
        return datetime.combine(self.day, clock_time(16, 0), NEW_YORK).astimezone(ZoneInfo("UTC"))

    @property
    def open_time(self) -> datetime:
        return datetime.combine(self.day, clock_time(9, 30), NEW_YORK).astimezone(ZoneInfo("UTC"))


def default_bars_file() -> Path:
    return repo_root() / "examples" / "data" / "daily_2010_2013.csv"


def load_bars(path: Path, symbols: list[str] | None = None, start: date | None = None,
              end: date | None = None) -> list[tuple[date, list[Bar]]]:
    """Bars of ``path`` (``symbol,date,open,high,low,close,volume``) grouped by day, in date order."""
    days: dict[date, list[Bar]] = defaultdict(list)
    with path.open(newline="") as f:
        for r in csv.DictReader(f):
            day = date.fromisoformat(r["date"])
            if (symbols and r["symbol"] not in symbols) or (start and day < start) or (end and day > end):
                continue
            days[day].append(Bar(r["symbol"], day, Decimal(r["open"]), Decimal(r["high"]), Decimal(r["low"]),
                                 Decimal(r["close"]), int(r["volume"])))
    return sorted((d, sorted(bars, key=lambda b: b.symbol)) for d, bars in days.items())


@dataclass
class MovingAverageCross:
    """The Pine strategy: long when the fast SMA of closes crosses above the slow one, with a
    bracket (stop-loss and take-profit prices) sent in the entry alert; flat when it crosses
    below, or when a close reaches its bracket (the stop monitor's rule at a close: the close
    at or below the stop, or at or above the target), which tradeflow fills on its own."""

    fast: int = 10
    slow: int = 30
    closes: dict[str, deque] = field(default_factory=dict)
    long: dict[str, tuple[Decimal, Decimal, Decimal]] = field(default_factory=dict)

    def on_bar(self, bar: Bar) -> dict | None:
        """The strategy's order on this bar's close, as TradingView's placeholders would fill it."""
        closes = self.closes.setdefault(bar.symbol, deque(maxlen=self.slow + 1))
        closes.append(bar.close)
        bracket = self.long.get(bar.symbol)
        if bracket is not None and (bar.close <= bracket[1] or bar.close >= bracket[2]):
            del self.long[bar.symbol]  # its bracket filled: flat, no alert
        if len(closes) <= self.slow:
            return None
        series = list(closes)
        fast_now, slow_now = _sma(series[1:], self.fast), _sma(series[1:], self.slow)
        fast_then, slow_then = _sma(series[:-1], self.fast), _sma(series[:-1], self.slow)
        held = self.long.get(bar.symbol)
        if held is None and fast_then <= slow_then and fast_now > slow_now:
            contracts = (TRADE_NOTIONAL / bar.close).to_integral_value(rounding="ROUND_DOWN")
            stop = (bar.close * (1 - STOP_LOSS_PCT / 100) / CENT).to_integral_value(rounding="ROUND_CEILING") * CENT
            target = (bar.close * (1 + TAKE_PROFIT_PCT / 100) / CENT).to_integral_value(rounding="ROUND_FLOOR") * CENT
            self.long[bar.symbol] = (contracts, stop, target)
            return {"action": "buy", "contracts": contracts, "id": "Long", "position": "long", "size": contracts,
                    "prev": "flat", "prev_size": 0, "stop_loss": stop, "take_profit": target}
        if held is not None and fast_then >= slow_then and fast_now < slow_now:
            del self.long[bar.symbol]
            return {"action": "sell", "contracts": held[0], "id": "Close entry(s) order Long", "position": "flat",
                    "size": 0, "prev": "long", "prev_size": held[0]}
        return None


def _sma(series: list[Decimal], n: int) -> Decimal:
    return sum(series[-n:], Decimal(0)) / n


def render_alert(bar: Bar, order: dict, passphrase: str, fired_at: datetime) -> str:
    """The nested strategy template (docs/alerts.md), rendered with bare numbers; an entry also
    carries its bracket, ``stop_loss`` and ``take_profit`` prices."""
    def num(x: Decimal | int) -> float | int:
        return int(x) if isinstance(x, int) or x == x.to_integral_value() else float(x)

    signed = order["size"] if order["position"] == "long" else 0
    bracket = {k: num(order[k]) for k in ("stop_loss", "take_profit") if k in order}
    return json.dumps({
        **bracket, "passphrase": passphrase, "time": fired_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "exchange": EXCHANGES.get(bar.symbol, "NASDAQ"), "ticker": bar.symbol,
        "bar": {"time": bar.open_time.strftime("%Y-%m-%dT%H:%M:%SZ"), "open": num(bar.open), "high": num(bar.high),
                "low": num(bar.low), "close": num(bar.close), "volume": bar.volume},
        "strategy": {"position_size": num(signed), "order_action": order["action"],
                     "order_contracts": num(order["contracts"]), "order_price": num(bar.close),
                     "order_id": order["id"], "market_position": order["position"],
                     "market_position_size": num(order["size"]), "prev_market_position": order["prev"],
                     "prev_market_position_size": num(order["prev_size"])},
    })


@dataclass
class DemoResult:
    """What the demo did, as counted by the webhook responses and read back from PostgreSQL."""

    days: int
    alerts_posted: int
    responses: Counter
    refusals: Counter
    duplicates_collapsed: int
    wall_seconds: float
    summary: dict
    equity_curve: list[tuple[datetime, Decimal]]
    trades: list[dict]
    notifications: Counter
    dead_letters: dict[str, int]
    metrics: Counter


def run_demo(state_dir: Path, bars_file: Path | None = None, symbols: list[str] | None = None,
             start: date | None = None, end: date | None = None, progress: bool = True,
             database_url: str | None = None) -> DemoResult:
    """Replay the bars through a fresh demo database and return what happened."""
    days = load_bars(bars_file or default_bars_file(), symbols, start, end)
    if not days:
        raise ValueError("no bars in that range: check --symbols, --start and --end")
    if database_url is None:
        database_url = fresh_database(state_dir, "tradeflow_demo")
    replay = ReplayClock(days[0][1][0].close_time - timedelta(hours=8))
    began = time.perf_counter()
    with LocalStack(state_dir, database_url, replay) as stack:
        secret = secrets.token_urlsafe(24)
        stack.add_strategy(STRATEGY_ID, DEMO_CONFIG, secret)
        credential = f"{STRATEGY_ID}.{secret}"
        strategy = MovingAverageCross()
        responses: Counter = Counter()
        refusals: Counter = Counter()
        posted = duplicates = 0
        seen_ids: set[str] = set()
        stack.serve_bars(PriceBar(b.symbol, b.open_time, b.close_time, b.open, b.high, b.low, b.close, "replay",
                                  Decimal(b.volume)) for _, bars in days for b in bars)
        with Progress(progress, len(days), "replaying trading days") as advance:
            for day, bars in days:
                close = bars[0].close_time
                replay.set(close)
                stack.market_tick()
                stack.drain()
                for n, bar in enumerate(bars):
                    order = strategy.on_bar(bar)
                    if order is None:
                        continue
                    replay.set(close + timedelta(seconds=2 + n))
                    body = render_alert(bar, order, credential, close)
                    for _ in range(2 if (posted + 1) % RETRY_EVERY == 0 else 1):
                        response = stack.post_webhook(body)
                        posted += 1
                        responses[response["statusCode"]] += 1
                        answer = json.loads(response["body"])
                        if response["statusCode"] == 202:
                            duplicates += answer["signal_id"] in seen_ids
                            seen_ids.add(answer["signal_id"])
                        else:
                            refusals[answer["error"]] += 1
                stack.drain()
                replay.set(datetime.combine(day, clock_time(16, 30), NEW_YORK))
                stack.run_schedule("notifier")
                stack.drain()
                if day.weekday() == FRIDAY:
                    replay.set(datetime.combine(day, clock_time(16, 45), NEW_YORK))
                    stack.invoke("notifier", {"summary": "weekly"})
                advance()
        wall = time.perf_counter() - began
        from tradeflow.local.report import read_results

        summary, curve, trades, notifications = read_results(database_url, STRATEGY_ID)
        return DemoResult(len(days), posted, responses, refusals, duplicates, wall, summary, curve, trades,
                          notifications, stack.dead_letters(), stack.metrics)
