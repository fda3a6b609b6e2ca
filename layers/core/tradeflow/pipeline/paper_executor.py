"""The paper_executor step: match an order against the price feed under the strategy's fill
model (:mod:`tradeflow.domain.fills`) and book a fill — order events, the fill, the position,
cash and realised P&L — in one transaction.

Every execution of a strategy takes its account row lock first, so the strategy's books
change one fill at a time even when two executors run at once. An order that cannot fill yet
(a limit away from the market, a market order waiting for the next bar) is accepted and
works until the stop monitor matches it; ``ioc`` cancels it instead.

An entry's fill activates its exit legs (a trailing stop starts from the fill price); under
the bar model the new legs are checked against the entry's own bar where that is
unambiguous (:func:`tradeflow.domain.fills.exits_in_entry_bar`). An exit's fill cancels its
OCO partner; once the position is closed every other open exit of it is cancelled, so no
OCO group ever fills twice (the database refuses it too).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import psycopg

from tradeflow import clock
from tradeflow.adapters import aws, state, store
from tradeflow.adapters.store import as_resting
from tradeflow.domain import calendar, fills, ledger, sizing, stops
from tradeflow.domain.errors import Permanent
from tradeflow.domain.messages import ExecutionRequest, NotificationEvent
from tradeflow.domain.ports import Bar as PriceBar
from tradeflow.domain.ports import Quote, matched_prices, stale_refusal, stamped_at
from tradeflow.domain.risk.states import TradingState
from tradeflow.domain.strategy import StrategyConfig
from tradeflow.pipeline import guardian
from tradeflow.settings import PaperExecutorEnv

EXIT_PURPOSES = ("exit", "reduce", "stop_loss", "take_profit")
LEG_PURPOSES = ("stop_loss", "take_profit")
#: Why a working entry is cancelled when the kill switch is on (it never fills after it).
KILLED = "kill switch is on: the entry is cancelled (tradeflow kill-switch off to trade again)"


def process(request: ExecutionRequest, conn: psycopg.Connection, env: PaperExecutorEnv) -> str:
    """Execute one order; returns its status afterwards. A redelivery changes nothing (the
    order is no longer open, or the same bar is matched again) and re-sends the fill
    notification, which the notifier dedupes."""
    now = clock.now()
    trips = []
    with conn.transaction():
        if not store.lock_account_of_order(conn, request.client_order_id):  # one fill at a time per strategy
            raise Permanent(f"no order {request.client_order_id}: the execution names an order that does not exist")
        order = store.order(conn, request.client_order_id, lock=True)
        if order["status"] in ("pending", "accepted"):
            config, _ = store.strategy(conn, order["strategy_id"])
            _execute(conn, order, request, config, now)
            trips = guardian.watch(conn, order["strategy_id"], config, now)  # a fill may trip a breaker
        order = store.order(conn, request.client_order_id)
        fill = store.fill_of(conn, order["order_id"])
        realised = None
        if fill is not None and order["purpose"] != "entry" and order["position_id"] is not None:
            realised = store.position_pnl_at_fill(conn, order["position_id"], fill["fill_id"])
        if env.state_bucket:  # last in the transaction: the stop monitor relies on it (a failure retries)
            state.sync_open_positions(conn, env.state_bucket)
    for event in trips:
        aws.send(env.notifications_queue_url, event)
    if fill is not None:
        aws.send(env.notifications_queue_url, _fill_event(order, fill, realised))
    elif order["status"] == "rejected" or (order["status"] == "cancelled" and order["reason"] == KILLED):
        aws.send(env.notifications_queue_url, NotificationEvent(
            key=f"rejected:{order['client_order_id']}", kind="order_rejected", strategy_id=order["strategy_id"],
            facts={"symbol": order["symbol"], "client_order_id": order["client_order_id"], "reason": order["reason"]},
        ))
    return order["status"]


def _execute(conn: psycopg.Connection, order: dict, request: ExecutionRequest, config: StrategyConfig,
             now: datetime) -> None:
    status = order["status"]
    if order["purpose"] in LEG_PURPOSES and (status != "accepted" or request.trigger == "signal"):
        return  # an exit leg works only once its entry filled, and fills only when matched
    if order["purpose"] == "entry" and (refusal := _entry_refused(conn, order, config, now)):
        _to(conn, order, "cancelled", refusal, now)  # its legs end with it (database trigger)
        return
    if order["purpose"] == "entry" and config.market_hours == "hold" and not calendar.is_open(now):
        if status == "pending":  # held until the open: the stop monitor fills it in the session
            store.transition(conn, order["order_id"], "pending", "accepted", "held until the market opens", now)
        return
    match = _match(conn, order, request, config, now)
    if match is None or isinstance(match, str):
        if status == "pending":
            _to(conn, order, "rejected", match or f"no price for {order['symbol']} at {now:%Y-%m-%d %H:%M:%S}Z", now)
        return
    price, reference, bar, priced_by = match
    if status == "pending":
        store.transition(conn, order["order_id"], "pending", "accepted", None, now)
        order = {**order, "status": "accepted"}
    if price is None:
        if order["time_in_force"] == "ioc" and bar is not False:
            _to(conn, order, "cancelled", "ioc: not filled at once", now)
        return  # works on: the stop monitor matches it later
    fill(conn, order, config, price, reference, request.trigger, bar, now, priced_by=priced_by)


def _entry_refused(conn, order: dict, config: StrategyConfig, now: datetime) -> str | None:
    """Why an entry may no longer fill: its strategy or the account left ACTIVE, or a breaker
    covering it tripped, after it was approved (it never fills afterwards); else None."""
    (account, why), (own, own_why) = store.account_and_strategy_states(conn, order["strategy_id"])
    if account is TradingState.HALTED:
        return KILLED
    if account != TradingState.ACTIVE:
        return f"account is {account.value}: {why}"
    if own != TradingState.ACTIVE:
        return f"strategy is {own.value}: {own_why}"
    for trip in store.trips_in_force(conn, order["strategy_id"], now):
        if trip.symbol in (None, order["symbol"]):
            return trip.reason
    return None


def _match(conn, order, request, config: StrategyConfig, now):
    """(price or None, the pre-slippage reference price, the feed's bar or quote it matched,
    the source and as-of time of the quote it read under the quote model) for ``order`` now;
    the bar is None under the quote model and False when the bar model has no bar for it yet.
    None when there is no price at all (the quote model with an empty feed); the reason, when
    a pending market order would fill at a stale price (it is rejected; any other order waits
    for a fresh one).

    The quote model reads the latest quote through the price feed
    (:class:`tradeflow.adapters.store.QuotesFeed`) and fills nothing at a price older than
    ``max_price_age_seconds`` (:func:`tradeflow.domain.ports.stale_refusal`), except the exit
    of a position closed for a stale price (trigger ``stale_price``: at the last price, under
    either model). The bar model fills at a bar that closed after the order began to work,
    never at an older price."""
    terms = as_resting(order)
    tick = config.instrument(order["symbol"]).tick_size
    if request.trigger == "stale_price":
        quote = store.QuotesFeed(conn).latest_quote(order["symbol"], now)
        if quote is None:
            return (None, None, False, None)
        reference = fills.quote_price(order["side"], quote.price, quote.bid, quote.ask)
        return fills.quote_fill(terms, reference, config.slippage_bps, tick), reference, None, _source(quote)
    if config.fill_model == "bar":
        feed = store.QuotesFeed(conn)
        if request.bar_ts is not None:
            matched = feed.closed_at(order["symbol"], request.bar_ts)
            if matched is None or (order["working_since"] and matched.as_of <= order["working_since"]):
                return None if order["status"] == "pending" else (None, None, False, None)
        else:
            matched = feed.first_closed_after(order["symbol"], order["working_since"] or order["created_at"], now)
            if matched is None:  # wait for the next bar
                return (None, None, False, None)
        bar = matched_prices(matched)
        return fills.bar_fill(terms, bar, config.slippage_bps, tick), bar.open, matched, None
    quote = store.QuotesFeed(conn).latest_quote(order["symbol"], now)
    if quote is None:
        return None if order["status"] == "pending" else (None, None, False, None)
    refusal = stale_refusal(order["symbol"], quote.as_of, quote.source, now, config.max_price_age_seconds)
    if refusal is not None:
        return refusal if order["status"] == "pending" and order["order_type"] == "market" else (None, None, False, None)
    reference = fills.quote_price(order["side"], quote.price, quote.bid, quote.ask)
    if request.trigger in LEG_PURPOSES and order["purpose"] in LEG_PURPOSES:
        # triggered by the stop monitor: a stop is now a market order, a take-profit fills at
        # its limit or better even if the price moved back since the tick
        if order["order_type"] == "limit":
            better = min if order["side"] == "buy" else max
            price = better(reference, order["limit_price"])
            return fills.on_tick(price, order["side"], tick, order["limit_price"]), reference, None, _source(quote)
        return fills.slipped(reference, order["side"], config.slippage_bps, tick), reference, None, _source(quote)
    return fills.quote_fill(terms, reference, config.slippage_bps, tick), reference, None, _source(quote)


def fill(conn: psycopg.Connection, order: dict, config: StrategyConfig, price: Decimal, reference: Decimal,
         trigger: str, bar: PriceBar | Quote | None, now: datetime, priced_by: dict | None = None) -> None:
    """Book the fill of accepted ``order`` at ``price`` (currency per share): the fill, the
    position, cash and P&L, then activate or cancel the related legs. ``bar`` is the feed's
    bar (or plain quote, read as a flat bar) it filled in under the bar model, else None;
    ``priced_by`` the source and as-of time (``source``, ``ts``) of the quote the caller priced
    it at, if it read one (else it is read).

    A fill is stamped with the time it happened in the market: under the bar model the open
    time of the bar it filled in (the bar's label, as TradingView's List of Trades and
    backtesting.py show it; a plain quote's own time), else ``now``.

    An entry is first checked against the account's buying power at this price
    (:func:`tradeflow.domain.sizing.entry_refusal`, valued at ``now``: under the bar model the
    close of the bar it fills in, as backtesting.py values it): one that the account cannot pay
    for is cancelled with the numbers, and so are its exit legs."""
    filled_at = stamped_at(bar) if bar else now
    tick = config.instrument(order["symbol"]).tick_size
    row = store.open_position(conn, order["strategy_id"], order["symbol"], lock=True)
    held = ledger.Position(order["symbol"])
    if row is not None:
        sign = 1 if row["side"] == "long" else -1
        held = ledger.Position(order["symbol"], sign * row["quantity"], sign * row["cost_basis"])
    quantity = order["quantity"]
    if order["purpose"] in EXIT_PURPOSES:
        if row is None or (order["side"] == "sell") != (row["side"] == "long"):
            _to(conn, order, "cancelled", "no open position to exit", now)
            return
        # an exit closes the position; a reduce or a leg closes its own quantity (at most the position)
        quantity = row["quantity"] if order["purpose"] == "exit" else min(quantity, row["quantity"])
    fee = fills.commission(quantity, price, config)
    if order["purpose"] == "entry":  # buying power at the price actually paid, as a broker checks it
        cash, value = store.mark_to_market(conn, order["strategy_id"], now)
        power = sizing.buying_power(cash + value, store.gross_exposure(conn, order["strategy_id"], now),
                                    config.buying_power_multiplier)
        if refusal := sizing.entry_refusal(quantity, price, fee, power, order["symbol"]):
            _to(conn, order, "cancelled", refusal, now)
            for leg in store.bracket_legs(conn, order["client_order_id"]):
                if leg["status"] == "pending":
                    _to(conn, leg, "cancelled", "entry cancelled: " + refusal, now)
            return
    effect = ledger.apply_fill(held, order["side"], quantity, price, fee)
    store.transition(conn, order["order_id"], "accepted", "filled", trigger, now)
    priced_by = {"source": bar.source, "ts": bar.as_of} if bar else (
        priced_by or _priced_by(conn, order["symbol"], now))  # the quote the match used
    store.insert_fill(conn, order["order_id"], quantity, price, reference, config.slippage_bps, fee,
                      effect.realised_pnl, filled_at, priced_by, booked_at=now)
    position_id = store.save_position(conn, order["strategy_id"], row, effect.position, effect.realised_pnl, fee,
                                      price, order["purpose"], filled_at)
    store.update_account(conn, order["strategy_id"], effect.cash_delta, effect.realised_pnl, fee, now)
    store.attach_to_position(conn, order["order_id"], position_id)
    if order["purpose"] == "entry":
        legs = _activate_legs(conn, order, config, price, position_id, bar.as_of if bar else now, now)
        if bar and legs:  # the new exits may already be hit in the entry's own bar
            prices = matched_prices(bar)
            hits = fills.exits_in_entry_bar(order["order_type"], [as_resting(leg) for leg in legs], prices,
                                            config.same_bar_exit, config.slippage_bps, tick)
            for terms, leg_price in hits:
                leg = store.order(conn, terms.key, lock=True)
                if leg["status"] == "accepted":
                    fill(conn, leg, config, leg_price, prices.open, leg["purpose"], bar, now)
        return
    position = store.position(conn, position_id)
    for other in store.open_exit_orders(conn, position_id):
        if order["oco_group"] and other["oco_group"] == order["oco_group"]:
            _to(conn, other, "cancelled", "OCO: other leg filled", now)
        elif position["status"] == "closed":
            _to(conn, other, "cancelled", "position closed", now)
        elif order["purpose"] == "take_profit" and other["breakeven_after_target"] and other["stop_price"]:
            entry_side = "buy" if position["side"] == "long" else "sell"
            moved = stops.tighten(entry_side, other["stop_price"], position["avg_entry_price"])
            if moved != other["stop_price"]:
                store.amend(conn, other["order_id"], "stop_price", moved, "breakeven after first target", now)


def _activate_legs(conn, entry: dict, config: StrategyConfig, price: Decimal, position_id: int, since: datetime,
                   now: datetime) -> list[dict]:
    """Activate the entry's pending exit legs at ``since``; returns them as now stored."""
    active = []
    tick = config.instrument(entry["symbol"]).tick_size
    for leg in store.bracket_legs(conn, entry["client_order_id"]):
        if leg["status"] != "pending":
            continue
        store.attach_to_position(conn, leg["order_id"], position_id)
        trailing = leg["order_type"] == "trailing_stop"
        store.start_working(conn, leg["order_id"], since, price if trailing else None)
        if trailing:  # the trail starts from the actual fill price, and only ever tightens
            start = stops.trail_stop(entry["side"], price, leg["trail_amount"], leg["trail_percent"], tick)
            moved = stops.tighten(entry["side"], leg["stop_price"], start)
            if moved != leg["stop_price"]:
                store.amend(conn, leg["order_id"], "stop_price", moved, "trailing stop from the entry fill", now)
        store.transition(conn, leg["order_id"], "pending", "accepted", "entry filled", now)
        active.append(store.order(conn, leg["client_order_id"]))
    return active


def _priced_by(conn: psycopg.Connection, symbol: str, now: datetime) -> dict | None:
    """The source and as-of time (``source``, ``ts``) of the latest quote, read through the feed."""
    quote = store.QuotesFeed(conn).latest_quote(symbol, now)
    return None if quote is None else _source(quote)


def _source(quote) -> dict:
    """A price-feed quote's source and as-of time (``source``, ``ts``), as a fill records them."""
    return {"source": quote.source, "ts": quote.as_of}


def _to(conn: psycopg.Connection, order: dict, status: str, reason: str, now) -> None:
    store.transition(conn, order["order_id"], order["status"], status, reason, now)


def _fill_event(order: dict, fill: dict, realised: Decimal | None) -> NotificationEvent:
    """The trader's fill message; an exit carries the position's P&L net of all its fees as
    booked with this fill (``realised``, currency), not as the position stands later."""
    return NotificationEvent(
        key=f"fill:{order['client_order_id']}:{fill['seq']}",
        kind="fill",
        strategy_id=order["strategy_id"],
        facts={
            "symbol": order["symbol"], "side": order["side"], "purpose": order["purpose"],
            "quantity": f"{fill['quantity'].normalize():f}", "price": str(fill["price"]),
            "commission": str(fill["commission"]),
            "realised_pnl": None if realised is None else str(realised.quantize(Decimal("0.01"))),
        },
    )
