"""The order_creator step: size an approved signal, build its orders (an exit for the open
position, and/or an entry bracket), and send the market orders to executions.fifo."""

from __future__ import annotations

import uuid
from decimal import Decimal

import psycopg

from tradeflow import clock
from tradeflow.adapters import aws, store
from tradeflow.domain.alerts import Alert
from tradeflow.domain.messages import ExecutionRequest, NotificationEvent, OrderInstruction
from tradeflow.domain.orders import BracketError, OrderRequest, bracket, client_order_id, default_bracket_prices
from tradeflow.domain.sizing import SizingError, order_quantity
from tradeflow.settings import OrderCreatorEnv


def process(instruction: OrderInstruction, conn: psycopg.Connection, env: OrderCreatorEnv) -> list[str]:
    """Create the orders of an approved signal once; returns the client_order_ids sent for
    execution. A redelivery creates nothing new and sends the same executions again."""
    now = clock.now()
    rejected: list[tuple[str, str]] = []
    with conn.transaction():
        found = store.signal_with_decision(conn, instruction.signal_id)
        if found is None or not found["approved"]:
            raise LookupError(f"signal {instruction.signal_id} has no approved decision")
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
                    rejected.append((order["client_order_id"], reason))
        orders = store.orders_for_signal(conn, instruction.signal_id)
    sent = []
    for order in orders:
        if order["purpose"] in ("entry", "exit") and order["status"] == "pending":
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
    if leg == "exit":
        position = store.open_position(conn, instruction.strategy_id, symbol)
        if position is None:
            return [], None  # closed meanwhile (e.g. by its stop): nothing left to exit
        side = "sell" if position["side"] == "long" else "buy"
        return [OrderRequest(client_order_id(signal_id, "exit"), symbol, side, position["quantity"], "market", "exit")], None
    side = "buy" if intent == "enter_long" else "sell"
    quote = store.latest_quote(conn, symbol, now)
    reference = alert.price or (quote["price"] if quote else None)
    placeholder = OrderRequest(client_order_id(signal_id, "entry"), symbol, side, alert.quantity or Decimal(1),
                               "market", "entry")
    if reference is None:
        return [placeholder], f"no price for {symbol}: add \"price\": \"{{{{close}}}}\" to the alert"
    cash, value = store.mark_to_market(conn, instruction.strategy_id, now)
    try:
        quantity = order_quantity(config, alert.quantity, reference, cash + value)
        stop, take = default_bracket_prices(side, reference, config.stop_loss_pct, config.take_profit_pct)
        orders = bracket(signal_id, symbol, side, quantity, reference,
                         alert.stop_loss or stop, alert.take_profit or take)
    except (SizingError, BracketError) as exc:
        return [placeholder], str(exc)
    if side == "buy" and quantity * reference > cash:
        return [orders[0]], f"insufficient cash: {quantity} x {reference} exceeds cash {cash:.2f}"
    return orders, None
