"""Trading states, per strategy and for the whole account, as nautilus_trader's risk engine
has them (``TradingState``: ACTIVE, REDUCING, HALTED):

- ACTIVE: everything passes the state gate;
- REDUCING: only exits, reductions and cancels pass; no entry (and no reversal's new side);
- HALTED: nothing new passes; exits already working stay working.

A signal sees the stricter of its strategy's state and the account's. The kill switch is the
account going HALTED; a pause is the strategy going HALTED.
"""

from __future__ import annotations

from enum import StrEnum


class TradingState(StrEnum):
    """ACTIVE < REDUCING < HALTED, from the least to the most restrictive."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"

    @classmethod
    def parse(cls, text: str) -> TradingState:
        """The state named ``text`` (any case); ValueError naming the choices otherwise."""
        try:
            return cls(text.strip().upper())
        except ValueError:
            raise ValueError(f"unknown trading state {text!r}; use ACTIVE, REDUCING or HALTED") from None


_RANK = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}

#: Every change between two different states is allowed (a human may lift a halt straight to
#: ACTIVE); setting the state it already has is a no-op, recorded nowhere.
TRANSITIONS = frozenset((a, b) for a in TradingState for b in TradingState if a != b)


def stricter(a: TradingState, b: TradingState) -> TradingState:
    """The more restrictive of two states (HALTED > REDUCING > ACTIVE)."""
    return a if _RANK[a] >= _RANK[b] else b


def allows(state: TradingState, opens_risk: bool) -> bool:
    """Whether ``state`` lets a new order through: an entry (``opens_risk``) only when
    ACTIVE; an exit, reduction or cancel unless HALTED."""
    if state is TradingState.HALTED:
        return False
    return not opens_risk or state is TradingState.ACTIVE
