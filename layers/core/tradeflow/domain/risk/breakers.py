"""Limits and circuit breakers, as pure functions of the facts: daily loss, maximum drawdown,
the stop-loss guard, a position's maximum loss, trading windows and the end-of-day flatten.

A breaker that trips returns a :class:`Trip`: which breaker, the scope (a strategy id), the
state it sets, until when (UTC; None = until reset with a reason) and a key that makes the trip
idempotent (the same trigger seen twice, e.g. a redelivered tick, trips once). The trading day
and sessions come from :mod:`tradeflow.domain.calendar` (NYSE).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from tradeflow.domain import calendar
from tradeflow.domain.risk.states import TradingState
from tradeflow.domain.strategy import WEEKDAYS, StrategyConfig

#: The breakers a trip can name (``tradeflow risk reset NAME``).
BREAKERS = ("daily_loss", "max_drawdown", "stop_loss_guard", "position_loss")


@dataclass(frozen=True)
class Trip:
    """A breaker that tripped: ``state`` applies to ``scope`` until ``until`` (UTC; None =
    until reset); ``key`` identifies the trigger (one trip per key); ``reason`` is the text
    every refused decision carries while it holds; ``symbol`` for a per-symbol cooldown."""

    breaker: str
    scope: str
    key: str
    state: TradingState
    until: datetime | None
    reason: str
    symbol: str | None = None


def daily_loss_limit(config: StrategyConfig, start_equity: Decimal) -> Decimal | None:
    """The day's loss limit in currency: ``daily_loss_limit``, or ``daily_loss_limit_pct`` of
    the start-of-day equity, the smaller when both are set; None when off."""
    limits = [x for x in (config.daily_loss_limit,
                          None if config.daily_loss_limit_pct is None
                          else start_equity * config.daily_loss_limit_pct / 100) if x is not None]
    return min(limits) if limits else None


def daily_loss(config: StrategyConfig, scope: str, start_equity: Decimal, equity: Decimal,
               at: datetime) -> Trip | None:
    """Trip when the day's loss (``start_equity - equity``, currency: realised plus unrealised
    P&L since the session opened) reaches the limit: REDUCING until the next session's open."""
    limit = daily_loss_limit(config, start_equity)
    loss = start_equity - equity
    if limit is None or loss < limit:
        return None
    day = calendar.trading_day(calendar.last_session_open(at))
    return Trip("daily_loss", scope, f"daily_loss:{day.isoformat()}", TradingState.REDUCING, calendar.next_session_open(at),
                f"daily loss limit: lost {loss:.2f} since the open of {day.isoformat()}, limit {limit:.2f}; "
                "exits only until the next session (or tradeflow risk reset daily_loss --reason ...)")


def max_drawdown(config: StrategyConfig, scope: str, peak: Decimal, equity: Decimal) -> Trip | None:
    """Trip when equity is ``max_drawdown_pct`` or more below its peak: REDUCING until reset.
    The key is the peak, so a new peak can trip again."""
    if config.max_drawdown_pct is None or peak <= 0:
        return None
    drawdown = (peak - equity) / peak * 100
    if drawdown < config.max_drawdown_pct:
        return None
    return Trip("max_drawdown", scope, f"max_drawdown:{peak}", TradingState.REDUCING, None,
                f"max drawdown: equity {equity:.2f} is {drawdown:.2f} % below its peak {peak:.2f}, limit "
                f"{config.max_drawdown_pct} %; exits only until tradeflow risk reset max_drawdown --reason ...")


def stop_loss_guard(config: StrategyConfig, scope: str, stop_outs: Iterable[datetime], at: datetime) -> Trip | None:
    """Trip when ``stop_outs`` (times of stop-loss exits) holds at least N within the window
    ending at ``at`` (freqtrade's StoplossGuard): REDUCING for the cooldown from ``at``."""
    guard = config.stop_loss_guard
    if guard is None:
        return None
    since = at - timedelta(minutes=guard.window_minutes)
    recent = sorted(t for t in stop_outs if since < t <= at)
    if len(recent) < guard.stop_outs:
        return None
    return Trip("stop_loss_guard", scope, f"stop_loss_guard:{recent[-1].isoformat()}", TradingState.REDUCING,
                recent[-1] + timedelta(minutes=guard.cooldown_minutes),
                f"stop-loss guard: {len(recent)} stop-outs within {guard.window_minutes} min; no entries for "
                f"{guard.cooldown_minutes} min")


def position_loss(config: StrategyConfig, unrealised: Decimal) -> bool:
    """Whether an open position's unrealised loss (currency, negative = a loss) reaches
    ``max_position_loss``: then it is closed at market and its symbol cools down."""
    return config.max_position_loss is not None and -unrealised >= config.max_position_loss


def in_window(config: StrategyConfig, at: datetime) -> bool:
    """Whether ``at`` falls in one of the strategy's trading windows of its weekday (New York
    time, start included, end excluded); True when no windows are set."""
    if config.trading_windows is None:
        return True
    local = at.astimezone(calendar.MARKET_ZONE)
    clock = local.strftime("%H:%M")
    return any(w[:5] <= clock < w[6:] for w in config.trading_windows.get(WEEKDAYS[local.weekday()], ()))


def flatten_time(config: StrategyConfig, day: date) -> datetime | None:
    """When the end-of-day flatten runs on ``day`` (UTC): ``flatten_at`` New York time, moved
    earlier on a half day by as much as the close is (15:45 -> 12:45); None when off or the
    market is shut."""
    hours = calendar.session(day)
    if config.flatten_at is None or hours is None:
        return None
    hh, mm = map(int, config.flatten_at.split(":"))
    at = datetime.combine(day, time(hh, mm), calendar.MARKET_ZONE)
    regular = datetime.combine(day, calendar.REGULAR_CLOSE, calendar.MARKET_ZONE)
    return (at - (regular - hours[1])).astimezone(hours[0].tzinfo)
