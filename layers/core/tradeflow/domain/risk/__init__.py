"""Risk: trading states (:mod:`.states`), the gates that say whether a signal may trade
(:mod:`.gates`), which legs it becomes (:mod:`.legs`), and the limits and breakers that trip
by themselves (:mod:`.breakers`). ``decide`` puts the first two together for one signal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tradeflow.domain.risk import legs
from tradeflow.domain.risk.gates import RiskSnapshot, Signal, first_refusal
from tradeflow.domain.risk.legs import Leg, Side
from tradeflow.domain.risk.states import TradingState
from tradeflow.domain.signals import Intent
from tradeflow.domain.strategy import StrategyConfig

__all__ = ["Decision", "Leg", "RiskSnapshot", "Side", "TradingState", "decide"]


@dataclass(frozen=True)
class Decision:
    """``approved`` with the order ``legs`` to create (in order), or rejected with ``reasons``;
    ``gate`` names the gate that refused (None when approved)."""

    approved: bool
    reasons: tuple[str, ...]
    legs: tuple[Leg, ...] = ()
    gate: str | None = None


def decide(intent: Intent, symbol: str, config: StrategyConfig, state: RiskSnapshot,
           received_at: datetime) -> Decision:
    """Apply :data:`tradeflow.domain.risk.gates.GATES` to a signal for ``symbol`` received at
    ``received_at`` (UTC); the first refusal wins. Approved: the legs of :func:`legs.plan`."""
    refusal = first_refusal(Signal(intent, symbol, received_at), config, state)
    if refusal is not None:
        gate, reason = refusal
        return Decision(False, (reason,), (), gate)
    planned, why = legs.plan(intent, symbol, state.open_positions.get(symbol))
    return Decision(True, (why,), planned)
