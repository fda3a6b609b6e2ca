"""The risk gates: whether a signal may trade. Each gate is a pure function of a
:class:`RiskSnapshot` and the signal that passes (None) or names its reason; :data:`GATES` are
applied in order and the first refusal wins. Which legs an approved signal becomes is
:mod:`tradeflow.domain.risk.legs`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tradeflow.domain import calendar
from tradeflow.domain.risk import breakers
from tradeflow.domain.risk.legs import Side
from tradeflow.domain.risk.states import TradingState, allows, stricter
from tradeflow.domain.signals import Intent
from tradeflow.domain.strategy import StrategyConfig


@dataclass(frozen=True)
class RiskSnapshot:
    """What the gates look at, read in one place (adapters/store.py).

    ``account_state`` / ``strategy_state``: the trading states (with ``state_reason`` for the
    stricter one); ``open_positions``: symbol -> side held or about to be held; ``last_same_signal_at``:
    when the last approved signal with the same symbol and intent was received; ``trips``: the
    breaker trips in force; ``last_exit_at`` / ``last_losing_exit_at``: symbol -> when its last
    (losing) position closed; ``entries_this_session``: approved entries since the session
    opened; ``orders_last_minute``: orders created in the 60 s before the signal."""

    account_state: TradingState = TradingState.ACTIVE
    strategy_state: TradingState = TradingState.ACTIVE
    state_reason: str | None = None
    open_positions: dict[str, Side] = field(default_factory=dict)
    last_same_signal_at: datetime | None = None
    trips: tuple[breakers.Trip, ...] = ()
    last_exit_at: dict[str, datetime] = field(default_factory=dict)
    last_losing_exit_at: dict[str, datetime] = field(default_factory=dict)
    entries_this_session: int = 0
    orders_last_minute: int = 0


@dataclass(frozen=True)
class Signal:
    """The signal a gate judges: ``intent`` for ``symbol`` received at ``at`` (UTC)."""

    intent: Intent
    symbol: str
    at: datetime

    @property
    def opens_risk(self) -> bool:
        return self.intent in ("enter_long", "enter_short")


Gate = Callable[[Signal, StrategyConfig, RiskSnapshot], str | None]


def trading_state(s: Signal, config: StrategyConfig, snap: RiskSnapshot) -> str | None:
    """The stricter of the account's and the strategy's state: REDUCING lets only exits,
    reductions and cancels through, HALTED nothing."""
    state = stricter(snap.account_state, snap.strategy_state)
    if allows(state, s.opens_risk):
        return None
    who = "account" if snap.account_state == state else "strategy"
    why = f": {snap.state_reason}" if snap.state_reason else ""
    fix = "tradeflow kill-switch off" if who == "account" else "tradeflow strategy resume"
    if state is TradingState.REDUCING:
        return f"{who} is REDUCING (exits only){why}"
    return f"{who} is HALTED{why} ({fix} to resume)"


def breaker_trips(s: Signal, config: StrategyConfig, snap: RiskSnapshot) -> str | None:
    """A breaker in force refuses entries (its trip holds the reason; a per-symbol trip, such
    as a position's maximum loss, only that symbol's); exits pass."""
    if not s.opens_risk:
        return None
    for trip in snap.trips:
        if trip.symbol in (None, s.symbol) and (trip.until is None or s.at < trip.until):
            return trip.reason
    return None


def dedupe(s: Signal, config: StrategyConfig, snap: RiskSnapshot) -> str | None:
    """A second signal for the same symbol and intent within ``dedupe_window_seconds``."""
    if (snap.last_same_signal_at is not None and config.dedupe_window_seconds
            and (s.at - snap.last_same_signal_at).total_seconds() < config.dedupe_window_seconds):
        return f"duplicate: same {s.intent} for {s.symbol} within {config.dedupe_window_seconds} s"
    return None


def market_hours(s: Signal, config: StrategyConfig, snap: RiskSnapshot) -> str | None:
    """``market_hours: refuse``: an entry outside the NYSE regular session is refused (``hold``
    lets it through; the executor keeps it until the open)."""
    if s.opens_risk and config.market_hours == "refuse" and not calendar.is_open(s.at):
        return (f"market closed at {s.at.astimezone(calendar.MARKET_ZONE):%a %Y-%m-%d %H:%M} New York "
                "(market_hours is refuse; hold keeps the entry until the open)")
    return None


def trading_window(s: Signal, config: StrategyConfig, snap: RiskSnapshot) -> str | None:
    """TradersPost's trading windows: entries outside them are refused; exits and cancels too
    only with ``windows_apply_to_exits``."""
    if (s.opens_risk or config.windows_apply_to_exits) and not breakers.in_window(config, s.at):
        local = s.at.astimezone(calendar.MARKET_ZONE)
        return f"outside the trading windows at {local:%a %H:%M} New York ({config.trading_windows})"
    return None


def cooldowns(s: Signal, config: StrategyConfig, snap: RiskSnapshot) -> str | None:
    """Per-symbol cooldowns: no entry within ``cooldown_after_exit_minutes`` of the symbol's
    last exit, or ``cooldown_after_loss_minutes`` of its last losing exit (or a position-loss
    trip)."""
    if not s.opens_risk:
        return None
    for minutes, seen, what in ((config.cooldown_after_exit_minutes, snap.last_exit_at, "an exit"),
                                (config.cooldown_after_loss_minutes, snap.last_losing_exit_at, "a losing exit")):
        last = seen.get(s.symbol)
        if minutes and last is not None and s.at < last + timedelta(minutes=minutes):
            return f"{s.symbol} cooling down after {what} until {last + timedelta(minutes=minutes):%Y-%m-%d %H:%M}Z"
    return None


def session_entries(s: Signal, config: StrategyConfig, snap: RiskSnapshot) -> str | None:
    """At most ``max_entries_per_session`` entries per trading day."""
    if s.opens_risk and config.max_entries_per_session and snap.entries_this_session >= config.max_entries_per_session:
        return f"max entries per session reached ({config.max_entries_per_session})"
    return None


def order_rate(s: Signal, config: StrategyConfig, snap: RiskSnapshot) -> str | None:
    """At most ``max_orders_per_minute`` orders in the 60 s before the signal (cancels pass)."""
    if s.intent != "cancel" and config.max_orders_per_minute and snap.orders_last_minute >= config.max_orders_per_minute:
        return f"max orders per minute reached ({config.max_orders_per_minute})"
    return None


def positions(s: Signal, config: StrategyConfig, snap: RiskSnapshot) -> str | None:
    """Position rules: an exit or reduce needs a position; shorts only if allowed; one position
    per symbol unless ``allow_add``; at most ``max_open_positions``."""
    held = snap.open_positions.get(s.symbol)
    if s.intent in ("exit", "reduce") and held is None:
        return f"no open position in {s.symbol} to {s.intent}"
    if not s.opens_risk:
        return None
    side = "long" if s.intent == "enter_long" else "short"
    if side == "short" and config.allow_short is False:
        return "short entries are off for this strategy (allow_short is false)"
    if held == side and not config.allow_add:
        return f"already {side} {s.symbol}; one position per symbol (set allow_add to add)"
    if held is None and len(snap.open_positions) >= config.max_open_positions:
        return f"max open positions reached ({config.max_open_positions})"
    return None


#: The gates, in the order they are applied.
GATES: tuple[Gate, ...] = (trading_state, breaker_trips, dedupe, market_hours, trading_window, cooldowns,
                           session_entries, order_rate, positions)


def first_refusal(s: Signal, config: StrategyConfig, snap: RiskSnapshot) -> tuple[str, str] | None:
    """(gate name, reason) of the first gate that refuses ``s``, or None when all pass."""
    for gate in GATES:
        if (reason := gate(s, config, snap)) is not None:
            return gate.__name__, reason
    return None
