"""The order_creator step: size an approved signal, build its orders (an exit for the open
position, and/or an entry bracket), and send the market orders to executions.fifo."""

from __future__ import annotations

import uuid
from decimal import Decimal

import psycopg

from tradeflow import clock
from tradeflow.adapters import aws, store
from tradeflow.domain.alerts import Alert
from tradeflow.domain.errors import Permanent
from tradeflow.domain.messages import ExecutionRequest, NotificationEvent, OrderInstruction
from tradeflow.domain.orders import (
    BracketError,
    OrderRequest,
    bracket,
    client_order_id,
    day_order_expiry,
    default_bracket_prices,
)
from tradeflow.domain.sizing import SizingError, cap_exposure, order_quantity
from tradeflow.settings import OrderCreatorEnv


def process(instruction: OrderInstruction, conn: psycopg.Connection, env: OrderCreatorEnv) -> list[str]:
    """Create the orders of an approved signal once; returns the client_order_ids sent for
    execution. A redelivery creates nothing new and sends the same executions again."""
    now = clock.now()
    with conn.transaction():
        found = store.signal_with_decision(conn, instruction.signal_id, lock=True)
        if found is None or not found["approved"]:
            raise Permanent(f"signal {instruction.signal_id} has no approved decision: the order instruction "
                            "names a signal that was never approved")
        if found["expired_at"] is not None:
            return []  # expired before its orders were created; the trader was told then
        if not store.orders_for_signal(conn, instruction.signal_id):
            alert = Alert.model_validate(found["alert"])
            config, _ = store.strategy(conn, instruction.strategy_id)
            for leg in found["legs"]:
                requests, reason = _leg(conn, instruction, leg, found["intent"], alert, config, now)
                for request in requests:
                    store.insert_order(conn, instruction.strategy_id, instruction.signal_id, request, now)
                if reason:
                    order = store.order(conn, requests[0].client_order_id)
                    store.transition(conn, order["order_id"], "pending", "rejected", reason, now)
        orders = store.orders_for_signal(conn, instruction.signal_id)
    # every delivery re-sends the same rejections (the notifier sends each key once)
    rejected = [(o["client_order_id"], o["reason"]) for o in orders if o["status"] == "rejected"]
    sent = []
    for order in orders:
        if order["purpose"] in ("entry", "exit", "reduce") and order["status"] == "pending":
            request = ExecutionRequest(
                client_order_id=order["client_order_id"], strategy_id=instruction.strategy_id, symbol=instruction.symbol
            )
            aws.send(env.executions_queue_url, request, f"{instruction.strategy_id}:{instruction.symbol}",
                     order["client_order_id"])
            sent.append(order["client_order_id"])
    for order_id, reason in rejected:
        event = NotificationEvent(
            key=f"rejected:{order_id}", kind="order_rejected", strategy_id=instruction.strategy_id,
            facts={"symbol": instruction.symbol, "client_order_id": order_id, "reason": reason},
        )
        aws.send(env.notifications_queue_url, event)
    return sent


def _leg(conn, instruction, leg, intent, alert, config, now) -> tuple[list[OrderRequest], str | None]:
    """The orders of one leg, and a rejection reason if the leg cannot trade."""
    signal_id: uuid.UUID = instruction.signal_id
    symbol = instruction.symbol
    if leg in ("exit", "cancel"):
        for entry in store.working_entries(conn, instruction.strategy_id, symbol):  # not filled yet: cancel
            store.transition(conn, entry["order_id"], entry["status"], "cancelled", f"{leg} signal", now)
    if leg == "cancel":
        return [], None
    if leg == "exit":
        position = store.open_position(conn, instruction.strategy_id, symbol)
        if position is None:
            return [], None  # closed meanwhile (e.g. by its stop): nothing left to exit
        side = "sell" if position["side"] == "long" else "buy"
        return [OrderRequest(client_order_id(signal_id, "exit"), symbol, side, position["quantity"], "market", "exit")], None
    if leg == "reduce":  # down to the alert's target position, |position_size| shares
        position = store.open_position(conn, instruction.strategy_id, symbol)
        if position is None or position["quantity"] <= abs(alert.position_size):
            return [], None  # closed meanwhile, or already at or below the target
        side = "sell" if position["side"] == "long" else "buy"
        quantity = position["quantity"] - abs(alert.position_size)
        return [OrderRequest(client_order_id(signal_id, "reduce"), symbol, side, quantity, "market", "reduce")], None
    side = "buy" if intent == "enter_long" else "sell"
    entry_type = alert.order_type or "market"
    quote = store.latest_quote(conn, symbol, now)
    # the price the bracket is measured from: the entry's own limit or stop, else the alert's
    # price ({{close}}), else the latest quote
    reference = alert.limit_price if entry_type in ("limit", "stop_limit") else alert.stop_price
    reference = reference or alert.price or (quote["price"] if quote else None)
    placeholder = OrderRequest(client_order_id(signal_id, "entry"), symbol, side, alert.quantity or Decimal(1),
                               "market", "entry")
    if reference is None:
        return [placeholder], f"no price for {symbol}: add \"price\": \"{{{{close}}}}\" to the alert"
    cash, value = store.mark_to_market(conn, instruction.strategy_id, now)
    instrument = config.instrument(symbol)
    tif = alert.time_in_force or "gtc"
    sign = 1 if side == "buy" else -1
    try:
        stop, take = default_bracket_prices(side, reference, alert.stop_loss_pct or config.stop_loss_pct,
                                            alert.take_profit_pct or config.take_profit_pct, instrument.tick_size)
        if alert.stop_loss_amount is not None:
            stop = reference - sign * alert.stop_loss_amount
        if alert.take_profit_amount is not None:
            take = reference + sign * alert.take_profit_amount
        quantity = order_quantity(config, alert.quantity, reference, cash + value, symbol,
                                  stop=alert.stop_loss or stop, confidence=alert.confidence)
        if config.max_position_notional or config.max_gross_exposure_pct or config.max_heat_pct:
            quantity, shrunk = cap_exposure(
                config, quantity, reference, alert.stop_loss or stop, cash + value,
                store.gross_exposure(conn, instruction.strategy_id, now),
                store.portfolio_heat(conn, instruction.strategy_id, now), instrument.lot_size, symbol)
            if shrunk:
                store.note_decision(conn, signal_id, shrunk)
        orders = bracket(
            signal_id, symbol, side, quantity, reference, alert.stop_loss or stop, alert.take_profit or take,
            take_profits=alert.take_profits, entry_type=entry_type,
            limit_price=alert.limit_price, stop_price=alert.stop_price, time_in_force=tif,
            expires_at=day_order_expiry(now) if tif == "day" else None,
            trail_amount=alert.trailing_stop_amount,
            trail_percent=None if alert.trailing_stop_amount is not None else alert.trailing_stop_pct,
            breakeven_after_target=alert.breakeven_after_first_target,
            lot=instrument.lot_size,
        )
    except (SizingError, BracketError) as exc:
        return [placeholder], str(exc)
    # buying power is checked when the entry fills, at the price paid (paper_executor.fill)
    return orders, None


def replace_exit_price(conn: psycopg.Connection, client_order_id: str, price: Decimal,
                       reason: str = "replaced") -> dict:
    """Replace the price of an open exit leg: the stop price of a stop-loss (stop or trailing
    stop) or the limit price of a take-profit, recorded in the append-only amendment log.
    Returns the order as now stored. Raises LookupError for an unknown order and ValueError
    for an entry, a closed order or a price that is not positive."""
    if price <= 0:
        raise ValueError(f"a replacement price must be positive, got {price}")
    with conn.transaction():
        order = store.order(conn, client_order_id, lock=True)
        if order is None:
            raise LookupError(f"no order {client_order_id}")
        if order["purpose"] not in ("stop_loss", "take_profit"):
            raise ValueError(
                f"only a stop-loss or take-profit can be replaced; {client_order_id} is a {order['purpose']}")
        if order["status"] not in ("pending", "accepted"):
            raise ValueError(f"order {client_order_id} is {order['status']}: only an open order can be replaced")
        field = "limit_price" if order["order_type"] == "limit" else "stop_price"
        store.amend(conn, order["order_id"], field, price, reason, clock.now())
        return store.order(conn, client_order_id)
