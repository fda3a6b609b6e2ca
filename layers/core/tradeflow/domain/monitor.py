"""The stop monitor's rules for one tick, as a pure function of the working orders and their
latest price: what to send for execution and what to write, nothing else.

Working orders are entries and exits waiting for a price (a limit or stop entry, or under the
bar model a market order waiting for the next bar's open) and the active exit legs of open
positions. Under the quote model they are matched against the latest quote; under the bar
model against the latest bar, if it closed after the order began to work. Per strategy and
symbol the entries and exits come first, then the legs, so that an exit at the bar's open
precedes a stop hit later in the bar. The prices come from :mod:`tradeflow.domain.fills`;
trailing stops move by :mod:`tradeflow.domain.stops` (only ever tightening).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from itertools import groupby

from tradeflow.domain import calendar, fills, stops
from tradeflow.domain.messages import ExecutionRequest
from tradeflow.domain.strategy import StrategyConfig

LEG_PURPOSES = ("stop_loss", "take_profit")


@dataclass(frozen=True, slots=True)
class WorkingOrder:
    """A working order (accepted or partially filled) with the latest quote or bar of its
    symbol at the tick (``quote_*``, ``open``/``high``/``low``: None when the feed has no
    price yet, or for a plain last-trade quote without a bar). Prices in currency per share;
    ``quote_ts`` is the quote's time (a bar's close), ``working_since`` when the order began
    to work, ``expires_at`` a day order's session close, ``trailed_at`` the close of the bar
    (or the quote's time) that last moved a trailing stop's high-water mark (UTC)."""

    order_id: int
    client_order_id: str
    strategy_id: str
    symbol: str
    side: fills.Side
    order_type: str
    purpose: str
    status: str
    stop_price: Decimal | None
    limit_price: Decimal | None
    stop_triggered_at: datetime | None
    time_in_force: str
    expires_at: datetime | None
    working_since: datetime | None
    position_id: int | None
    high_water_mark: Decimal | None
    trail_amount: Decimal | None
    trail_percent: Decimal | None
    quote_ts: datetime | None
    quote_price: Decimal | None
    bid: Decimal | None
    ask: Decimal | None
    open: Decimal | None
    high: Decimal | None
    low: Decimal | None
    trailed_at: datetime | None = None

    def resting(self) -> fills.Resting:
        """The matcher's view of the order."""
        return fills.Resting(self.client_order_id, self.side, self.order_type, self.purpose, self.stop_price,
                             self.limit_price, self.stop_triggered_at is not None)

    def bar(self) -> fills.Bar:
        """The latest price as a bar; a plain last-trade quote is a flat bar at its price."""
        price = self.quote_price
        return fills.Bar(self.open or price, self.high or price, self.low or price, price)


@dataclass
class TickPlan:
    """The effects of one tick. ``executions`` in sending order; ``stop_triggers`` (order id,
    time the stop-limit's stop was touched); ``high_water_marks`` (order id, new mark, the
    close of the bar or the quote's time that moved it);
    ``amendments`` (order id, new stop price, reason); ``transitions`` (order id, from
    status, to status, reason)."""

    executions: list[ExecutionRequest] = field(default_factory=list)
    stop_triggers: list[tuple[int, datetime]] = field(default_factory=list)
    high_water_marks: list[tuple[int, Decimal, datetime]] = field(default_factory=list)
    amendments: list[tuple[int, Decimal, str]] = field(default_factory=list)
    transitions: list[tuple[int, str, str, str]] = field(default_factory=list)


def plan_tick(orders: Iterable[WorkingOrder], config_of: Callable[[str], StrategyConfig], now: datetime) -> TickPlan:
    """The tick at ``now`` (UTC) for ``orders`` sorted by strategy, symbol and order id;
    ``config_of(strategy_id)`` gives a strategy's settings. A repeated tick on the same price
    plans the same executions (the executor fills each order at most once) and no new writes,
    except that under the bar model a position whose trailing stop moved on that bar is not
    matched on it again (the bar's low may have come before the high that raised the stop)."""
    plan = TickPlan()
    for (strategy_id, _symbol), group in groupby(orders, key=lambda o: (o.strategy_id, o.symbol)):
        _plan_symbol(plan, config_of(strategy_id), list(group), now)
    return plan


def _plan_symbol(plan: TickPlan, config: StrategyConfig, orders: list[WorkingOrder], now: datetime) -> None:
    first = orders[0]
    sending: set[str] = set()
    if first.quote_price is None:  # no price yet: nothing can fill
        _expire(plan, orders, sending, set(), now)
        return
    bar_model = config.fill_model == "bar"
    bar = first.bar() if bar_model else fills.Bar.flat(first.quote_price)
    bar_ts = first.quote_ts if bar_model else None
    cancelled: set[int] = set()

    def fresh(order: WorkingOrder) -> bool:  # the bar model matches a bar only once it closed after the order began
        return not bar_model or (order.working_since is not None and first.quote_ts > order.working_since)

    def send(order: WorkingOrder, trigger: str, price: Decimal) -> None:
        plan.executions.append(ExecutionRequest(client_order_id=order.client_order_id, strategy_id=order.strategy_id,
                                                symbol=order.symbol, trigger=trigger, trigger_price=price,
                                                bar_ts=bar_ts))
        sending.add(order.client_order_id)

    held = config.market_hours == "hold" and not calendar.is_open(now)  # entries wait for the open
    legs: list[WorkingOrder] = []
    for order in orders:
        if not fresh(order) or (held and order.purpose == "entry"):
            continue
        if order.purpose in LEG_PURPOSES:
            legs.append(order)
            continue
        price = _price(order, bar, bar_model, config)
        if price is not None:
            send(order, "working", price)
        elif order.order_type == "stop_limit" and fills.stop_touched(order.side, order.stop_price, bar):
            if order.stop_triggered_at is None:
                plan.stop_triggers.append((order.order_id, first.quote_ts))
        elif order.time_in_force == "ioc":
            plan.transitions.append((order.order_id, order.status, "cancelled", "ioc: not filled at once"))
            cancelled.add(order.order_id)
    legs.sort(key=lambda o: o.position_id)
    for _position, group in groupby(legs, key=lambda o: o.position_id):
        group = list(group)
        if bar_model and any(o.trailed_at is not None and o.trailed_at >= first.quote_ts for o in group):
            continue  # its trailing stop already moved on this bar: its low must not then hit the raised stop
        by_key = {o.client_order_id: o for o in group}
        hits = fills.exits_to_fill([o.resting() for o in group], bar, config.same_bar_exit, config.slippage_bps)
        for terms, price in hits:
            send(by_key[terms.key], terms.purpose, price)
        for order in group:
            if order.order_type == "trailing_stop" and order.client_order_id not in sending:
                _trail(plan, config, order, bar, first.quote_ts)
    _expire(plan, orders, sending, cancelled, now)


def _price(order: WorkingOrder, bar: fills.Bar, bar_model: bool, config: StrategyConfig) -> Decimal | None:
    if bar_model:
        return fills.bar_fill(order.resting(), bar, config.slippage_bps)
    reference = fills.quote_price(order.side, order.quote_price, order.bid, order.ask)
    return fills.quote_fill(order.resting(), reference, config.slippage_bps)


def _trail(plan: TickPlan, config: StrategyConfig, order: WorkingOrder, bar: fills.Bar, at: datetime) -> None:
    """Move a trailing stop after a bar (or quote) that did not hit it: the high-water mark
    takes the bar's high (long) or low (short) and the stop follows, only ever tightening.
    ``at`` is the bar's close (or the quote's time), kept as the order's ``trailed_at``."""
    entry_side = "sell" if order.side == "buy" else "buy"
    mark = stops.new_high_water_mark(entry_side, order.high_water_mark, bar.high, bar.low)
    if mark != order.high_water_mark:
        plan.high_water_marks.append((order.order_id, mark, at))
    tick_size = config.instrument(order.symbol).tick_size
    proposed = stops.trail_stop(entry_side, mark, order.trail_amount, order.trail_percent, tick_size)
    moved = stops.tighten(entry_side, order.stop_price, proposed)
    if moved != order.stop_price:
        plan.amendments.append((order.order_id, moved, f"trailing stop, high-water mark {mark}"))


def _expire(plan: TickPlan, orders: Sequence[WorkingOrder], sending: set[str], cancelled: set[int],
            now: datetime) -> None:
    """Expire the accepted day orders past their session close that are not being sent now."""
    for order in orders:
        if (order.expires_at is not None and order.expires_at <= now and order.status == "accepted"
                and order.client_order_id not in sending and order.order_id not in cancelled):
            plan.transitions.append((order.order_id, "accepted", "expired", "day order: session closed"))
