"""Which order legs a signal that may trade becomes, apart from whether it may trade
(:mod:`tradeflow.domain.risk.gates`): an exit, a reduce or a cancel is itself; an entry
against an opposite position is a reversal (the exit, then the new side's entry)."""

from __future__ import annotations

from typing import Literal

from tradeflow.domain.signals import Intent

Side = Literal["long", "short"]
Leg = Literal["exit", "entry", "reduce", "cancel"]


def plan(intent: Intent, symbol: str, held: Side | None) -> tuple[tuple[Leg, ...], str]:
    """(legs in order, the reason written in the decision) for ``intent`` given the side held
    in ``symbol`` (None = flat). Assumes the gates passed."""
    if intent == "cancel":
        return ("cancel",), f"cancel working entries in {symbol}"
    if intent == "exit":
        return ("exit",), f"exit {held} {symbol}"
    if intent == "reduce":
        return ("reduce",), f"reduce {held} {symbol} to the target position"
    side = "long" if intent == "enter_long" else "short"
    if held == side:
        return ("entry",), f"add to {side} {symbol}"
    if held is not None:
        return ("exit", "entry"), f"reverse {held} {symbol} to {side}"
    return ("entry",), f"open {side} {symbol}"
