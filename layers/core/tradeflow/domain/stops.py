"""Stops: tick rounding, trailing stops and the rule that a stop only ever tightens.

Which exits fill in a bar or at a quote is :func:`tradeflow.domain.fills.exits_to_fill`.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Literal

#: Price increment for equities quoted at $1.00 or more (SEC Rule 612: $0.01).
TICK = Decimal("0.01")

EntrySide = Literal["buy", "sell"]


def to_tick(price: Decimal, tick: Decimal, rounding: str) -> Decimal:
    """``price`` rounded to a multiple of ``tick`` (currency per share) with ``rounding``
    (a decimal rounding mode such as ROUND_CEILING)."""
    return (price / tick).quantize(Decimal(1), rounding=rounding) * tick


def trail_stop(side: EntrySide, mark: Decimal, amount: Decimal | None, percent: Decimal | None,
               tick: Decimal = TICK) -> Decimal:
    """The stop price of a trailing stop protecting a position entered with a ``side`` order:
    ``amount`` (currency per share) or ``percent`` (of the mark) away from the high-water
    ``mark`` (the highest price since entry for a long, the lowest for a short), rounded to the
    ``tick`` toward the mark (conservative, as freqtrade rounds stops). Raises ValueError
    without a distance."""
    if amount is None and percent is None:
        raise ValueError("a trailing stop needs trail_amount (currency per share) or trail_percent")
    long = side == "buy"
    distance = amount if amount is not None else mark * percent / 100
    raw = mark - distance if long else mark + distance
    return to_tick(raw, tick, ROUND_CEILING if long else ROUND_FLOOR)


def tighten(side: EntrySide, current: Decimal, proposed: Decimal) -> Decimal:
    """A stop only ever moves in the position's favour, never back (freqtrade's rule): for a
    long (entered with a buy) the higher of the two prices, for a short the lower."""
    return max(current, proposed) if side == "buy" else min(current, proposed)


def new_high_water_mark(side: EntrySide, mark: Decimal | None, high: Decimal, low: Decimal) -> Decimal:
    """The high-water mark after a bar (or a quote, high = low): the highest price seen for a
    long, the lowest for a short."""
    if side == "buy":
        return high if mark is None else max(mark, high)
    return low if mark is None else min(mark, low)
