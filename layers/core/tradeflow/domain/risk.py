"""Risk gates: whether a signal may trade, and which order legs it becomes.

Gates in order: kill switch, strategy paused, duplicate within the dedupe window, then
position rules (exit and reduce need a position; one position per symbol unless adding is enabled;
shorts only if allowed; at most ``max_open_positions``). An opposite position is reversed:
closed, then the new side opened, in one decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from tradeflow.domain.signals import Intent
from tradeflow.domain.strategy import StrategyConfig

Side = Literal["long", "short"]
Leg = Literal["exit", "entry", "reduce", "cancel"]


@dataclass(frozen=True)
class RiskState:
    """What the gates look at. ``open_positions`` maps symbol -> side for the strategy;
    ``last_same_signal_at`` is when the last approved signal with the same symbol and intent
    was received, if any."""

    kill_switch: bool = False
    paused: bool = False
    open_positions: dict[str, Side] = field(default_factory=dict)
    last_same_signal_at: datetime | None = None


@dataclass(frozen=True)
class Decision:
    """``approved`` with the order ``legs`` to create (in order), or rejected with ``reasons``."""

    approved: bool
    reasons: tuple[str, ...]
    legs: tuple[Leg, ...] = ()


def _reject(reason: str) -> Decision:
    return Decision(False, (reason,))


def decide(
    intent: Intent, symbol: str, config: StrategyConfig, state: RiskState, received_at: datetime
) -> Decision:
    """Apply the gates to a signal for ``symbol`` received at ``received_at``."""
    if state.kill_switch:
        return _reject("kill switch is on: all trading is halted (tradeflow kill-switch off to resume)")
    if state.paused:
        return _reject("strategy is paused (tradeflow strategy resume to resume)")
    if (
        state.last_same_signal_at is not None
        and config.dedupe_window_seconds
        and (received_at - state.last_same_signal_at).total_seconds() < config.dedupe_window_seconds
    ):
        return _reject(f"duplicate: same {intent} for {symbol} within {config.dedupe_window_seconds} s")
    held = state.open_positions.get(symbol)
    if intent == "cancel":
        return Decision(True, (f"cancel working entries in {symbol}",), ("cancel",))
    if intent == "exit":
        if held is None:
            return _reject(f"no open position in {symbol} to exit")
        return Decision(True, (f"exit {held} {symbol}",), ("exit",))
    if intent == "reduce":
        if held is None:
            return _reject(f"no open position in {symbol} to reduce")
        return Decision(True, (f"reduce {held} {symbol} to the target position",), ("reduce",))
    side: Side = "long" if intent == "enter_long" else "short"
    if side == "short" and config.allow_short is False:
        return _reject("short entries are off for this strategy (allow_short is false)")
    if held == side:
        if not config.allow_add:
            return _reject(f"already {side} {symbol}; one position per symbol (set allow_add to add)")
        return Decision(True, (f"add to {side} {symbol}",), ("entry",))
    if held is not None:
        return Decision(True, (f"reverse {held} {symbol} to {side}",), ("exit", "entry"))
    if len(state.open_positions) >= config.max_open_positions:
        return _reject(f"max open positions reached ({config.max_open_positions})")
    return Decision(True, (f"open {side} {symbol}",), ("entry",))
