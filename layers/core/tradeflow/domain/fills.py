"""Paper fills: whether and at what price an order fills, and its commission.

Two fill models, chosen per strategy (``StrategyConfig.fill_model``):

*quote* — an order is matched against the latest quote when it arrives and at each stop
monitor tick: the ask for a buy and the bid for a sell when the quote has them, else the last
price. A market order (and a triggered stop) fills there moved against the trader by
``slippage_bps``; a limit order fills there when it is at or better than its limit, with no
slippage.

*bar* — an order created at time t is matched against the bars closing after t (a bar's
``ts`` is its close time), so an order placed at bar i's close meets bar i+1 first:

- market: the bar's open (plus slippage);
- stop (and a trailing stop at its current stop price): triggers when the bar touches it,
  inclusive (a sell stop when low <= stop, a buy stop when high >= stop) and fills at the
  WORSE of the open and the stop (a gap through the stop fills at the open), plus slippage;
- limit: fills when touched, inclusive (a sell limit when high >= limit, a buy limit when
  low <= limit), at the BETTER of the open and the limit, with no slippage;
- stop-limit: when the stop is touched, the trigger price (worse of open and stop) fills if
  it is within the limit; otherwise the order works on as a limit order from the next bar.

These are the rules of backtesting.py 0.6.6 (``_Broker._process_orders``), with one
difference: its stop-limit fills at the stop even when the bar opened beyond it.
The quote model is the bar model on a flat bar at the quote: open = high = low = close.

Given the instrument's ``tick`` (currency per share), every fill price is a multiple of it,
rounded against the trader (a buy up, a sell down: a real venue prints no price off its tick,
and a paper fill must not flatter the trader), except that a limit order never fills beyond
its limit. Without a tick, a slipped price is rounded half-up to 4 decimals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Literal

from tradeflow.domain.strategy import StrategyConfig

BPS = Decimal("0.0001")
#: A price moved by slippage is rounded half-up to this many currency units.
PRICE_PLACES = Decimal("0.0001")
CENT = Decimal("0.01")

Side = Literal["buy", "sell"]


@dataclass(frozen=True)
class Bar:
    """One price bar (currency per share): open, high, low, close."""

    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal

    @classmethod
    def flat(cls, price: Decimal) -> Bar:
        """A single price as a bar: the quote model's view of a quote."""
        return cls(price, price, price, price)


@dataclass(frozen=True)
class Resting:
    """The terms of an order the matcher needs. ``key`` identifies it to the caller;
    ``order_type`` market, limit, stop, stop_limit or trailing_stop; prices in currency per
    share; ``stop_triggered``: a stop-limit whose stop was touched earlier (now a limit order)."""

    key: str
    side: Side
    order_type: str
    purpose: str = "entry"
    stop_price: Decimal | None = None
    limit_price: Decimal | None = None
    stop_triggered: bool = False


def slipped(price: Decimal, side: Side, slippage_bps: Decimal, tick: Decimal | None = None) -> Decimal:
    """``price`` moved against the trader by ``slippage_bps`` (up for a buy, down for a sell).
    With ``tick``: rounded to it against the trader (:func:`on_tick`); without: rounded half-up
    to 4 decimals, and unchanged when the slippage is 0."""
    direction = 1 if side == "buy" else -1
    moved = price * (1 + direction * slippage_bps * BPS) if slippage_bps else price
    if tick is not None:
        return on_tick(moved, side, tick)
    return moved.quantize(PRICE_PLACES, rounding=ROUND_HALF_UP) if slippage_bps else price


def on_tick(price: Decimal, side: Side, tick: Decimal, limit: Decimal | None = None) -> Decimal:
    """``price`` on a multiple of ``tick`` (currency per share), rounded against the trader: up
    for a buy, down for a sell; but never beyond ``limit`` (a limit order's price) when given."""
    steps = price / tick
    rounded = steps.to_integral_value(ROUND_CEILING if side == "buy" else ROUND_FLOOR) * tick
    if limit is not None:
        rounded = min(rounded, max(limit, price)) if side == "buy" else max(rounded, min(limit, price))
    return rounded


def stop_touched(side: Side, stop: Decimal, bar: Bar) -> bool:
    """A buy stop is touched when high >= stop; a sell stop when low <= stop."""
    return bar.high >= stop if side == "buy" else bar.low <= stop


def limit_touched(side: Side, limit: Decimal, bar: Bar) -> bool:
    """A buy limit is touched when low <= limit; a sell limit when high >= limit."""
    return bar.low <= limit if side == "buy" else bar.high >= limit


def bar_fill(order: Resting, bar: Bar, slippage_bps: Decimal = Decimal(0),
             tick: Decimal | None = None) -> Decimal | None:
    """The price at which ``order`` fills in ``bar`` (module docstring rules), or None if it
    does not; on the ``tick`` when given. Raises ValueError for an unknown order type or a
    missing price."""
    side = order.side
    kind = "limit" if order.order_type == "stop_limit" and order.stop_triggered else order.order_type
    if kind == "market":
        return slipped(bar.open, side, slippage_bps, tick)
    if kind in ("stop", "trailing_stop"):
        stop = _need(order.stop_price, "stop_price", order)
        if not stop_touched(side, stop, bar):
            return None
        return slipped(max(bar.open, stop) if side == "buy" else min(bar.open, stop), side, slippage_bps, tick)
    if kind == "limit":
        limit = _need(order.limit_price, "limit_price", order)
        if not limit_touched(side, limit, bar):
            return None
        price = min(bar.open, limit) if side == "buy" else max(bar.open, limit)
        return price if tick is None else on_tick(price, side, tick, limit)
    if kind == "stop_limit":
        stop, limit = _need(order.stop_price, "stop_price", order), _need(order.limit_price, "limit_price", order)
        if not stop_touched(side, stop, bar):
            return None
        trigger = max(bar.open, stop) if side == "buy" else min(bar.open, stop)
        if not (trigger <= limit if side == "buy" else trigger >= limit):
            return None
        return trigger if tick is None else on_tick(trigger, side, tick, limit)
    raise ValueError(f"unknown order type {order.order_type!r} for order {order.key}")


def quote_price(side: Side, last: Decimal, bid: Decimal | None = None, ask: Decimal | None = None) -> Decimal:
    """The price a quote offers: the ask for a buy, the bid for a sell when known, else last."""
    if side == "buy" and ask is not None:
        return ask
    if side == "sell" and bid is not None:
        return bid
    return last


def quote_fill(order: Resting, price: Decimal, slippage_bps: Decimal = Decimal(0),
               tick: Decimal | None = None) -> Decimal | None:
    """The quote model: :func:`bar_fill` on the flat bar at ``price`` (see :func:`quote_price`)."""
    return bar_fill(order, Bar.flat(price), slippage_bps, tick)


def exits_to_fill(legs: Sequence[Resting], bar: Bar, same_bar_exit: str = "stop_loss",
                  slippage_bps: Decimal = Decimal(0), tick: Decimal | None = None) -> list[tuple[Resting, Decimal]]:
    """Which active exit legs of one position fill in ``bar``, with their prices, in ``legs``
    order. When a stop-loss and a take-profit are both touched in the bar, only the legs of
    the ``same_bar_exit`` kind fill (the path inside a bar is unknown; the stop-loss is the
    pessimistic default, as in backtesting.py, which processes stop-loss orders first)."""
    hit = [(leg, price) for leg in legs if (price := bar_fill(leg, bar, slippage_bps, tick)) is not None]
    kinds = {leg.purpose for leg, _ in hit}
    if {"stop_loss", "take_profit"} <= kinds:
        hit = [(leg, price) for leg, price in hit if leg.purpose == same_bar_exit]
    return hit


def exits_in_entry_bar(entry_type: str, legs: Sequence[Resting], bar: Bar, same_bar_exit: str = "stop_loss",
                       slippage_bps: Decimal = Decimal(0), tick: Decimal | None = None) -> list[tuple[Resting, Decimal]]:
    """The exit legs that fill in the same bar as their entry, with their prices.

    * market entry (filled at the open): the legs meet the rest of the bar, as any order
      working at the open does (:func:`exits_to_fill`);
    * stop entry (touched inside the bar): price crossed the entry stop on its way to the bar's
      extreme, so a take-profit beyond it was reached after the entry — unless a stop-loss was
      touched too, when the order of the two inside the bar is unknown and both wait for the
      next bar;
    * limit and stop-limit entries: the legs wait for the next bar.

    The rules of backtesting.py 0.6.6, ``_Broker._process_orders`` (its issue 119).
    """
    if entry_type == "market":
        return exits_to_fill(legs, bar, same_bar_exit, slippage_bps, tick)
    if entry_type != "stop":
        return []
    hits = [(leg, price) for leg in legs if (price := bar_fill(leg, bar, slippage_bps, tick)) is not None]
    if any(leg.purpose == "stop_loss" for leg, _ in hits):
        return []
    return [(leg, price) for leg, price in hits if leg.purpose == "take_profit"]


def commission(quantity: Decimal, price: Decimal, config: StrategyConfig) -> Decimal:
    """Commission of one fill (currency): ``commission_bps`` of the notional ``quantity x price``
    plus ``commission_per_share x quantity`` plus ``commission_per_order``, at least
    ``commission_minimum``; rounded half-up to the cent unless ``commission_to_cent`` is off."""
    fee = (abs(quantity * price) * config.commission_bps * BPS + abs(quantity) * config.commission_per_share
           + config.commission_per_order)
    fee = max(fee, config.commission_minimum)
    return fee.quantize(CENT, rounding=ROUND_HALF_UP) if config.commission_to_cent else fee


def _need(value: Decimal | None, name: str, order: Resting) -> Decimal:
    if value is None:
        raise ValueError(f"a {order.order_type} order needs a {name} (order {order.key})")
    return value
