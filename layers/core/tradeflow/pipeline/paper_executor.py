"""The paper_executor step: fill an order against the price feed with slippage and commission,
and book it — order events, the fill, the position, cash and realised P&L — in one transaction.

An entry's fill activates its bracket (the stop-loss and take-profit legs, one OCO group).
An exit's fill closes the position and cancels every other open exit of it, so the two
legs of an OCO group can never both fill: the second finds itself cancelled.
"""

from __future__ import annotations

from decimal import Decimal

import psycopg

from tradeflow import clock
from tradeflow.adapters import aws, state, store
from tradeflow.domain import fills, ledger
from tradeflow.domain.messages import ExecutionRequest, NotificationEvent
from tradeflow.settings import PaperExecutorEnv

EXIT_PURPOSES = ("exit", "stop_loss", "take_profit")


def process(request: ExecutionRequest, conn: psycopg.Connection, env: PaperExecutorEnv) -> str:
    """Execute one order; returns its status afterwards. A redelivery changes nothing (the
    order is no longer open) and re-sends the fill notification, which the notifier dedupes."""
    now = clock.now()
    with conn.transaction():
        order = store.order(conn, request.client_order_id, lock=True)
        if order is None:
            raise LookupError(f"no order {request.client_order_id}")
        if order["status"] in ("pending", "accepted"):
            _execute(conn, order, request, now)
        order = store.order(conn, request.client_order_id)
        fill = conn.execute("SELECT * FROM fills WHERE order_id = %s", (order["order_id"],)).fetchone()
        position = conn.execute(
            "SELECT * FROM positions WHERE position_id = %s", (order["position_id"],)
        ).fetchone()
    if env.state_bucket:  # first: the stop monitor relies on it (a failure retries the message)
        state.sync_open_positions(conn, env.state_bucket)
    if fill is not None:
        aws.send(env.notifications_queue_url, _fill_event(order, fill, position))
    elif order["status"] == "rejected":
        aws.send(env.notifications_queue_url, NotificationEvent(
            key=f"rejected:{order['client_order_id']}", kind="order_rejected", strategy_id=order["strategy_id"],
            facts={"symbol": order["symbol"], "client_order_id": order["client_order_id"], "reason": order["reason"]},
        ))
    return order["status"]


def _execute(conn: psycopg.Connection, order: dict, request: ExecutionRequest, now) -> None:
    status = order["status"]
    if order["purpose"] in ("stop_loss", "take_profit") and (status != "accepted" or request.trigger == "signal"):
        return  # a bracket leg fills only when active and triggered by the stop monitor
    config, _ = store.strategy(conn, order["strategy_id"])
    quote = store.latest_quote(conn, order["symbol"], now)
    if quote is None:
        _to(conn, order, "rejected", f"no price for {order['symbol']} at {now:%Y-%m-%d %H:%M:%S}Z", now)
        return
    store.account(conn, order["strategy_id"], lock=True)
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
        quantity = row["quantity"]  # an exit closes the whole position
    price = fills.fill_price(order["side"], order["order_type"], quote["price"], config.slippage_bps,
                             order["limit_price"])
    fee = fills.commission(quantity * price, config.commission_bps)
    effect = ledger.apply_fill(held, order["side"], quantity, price, fee)
    if status == "pending":
        store.transition(conn, order["order_id"], "pending", "accepted", None, now)
    store.transition(conn, order["order_id"], "accepted", "filled", request.trigger, now)
    store.insert_fill(conn, order["order_id"], quantity, price, quote["price"], config.slippage_bps, fee,
                      effect.realised_pnl, now)
    position_id = store.save_position(conn, order["strategy_id"], row, effect.position, effect.realised_pnl, fee,
                                      price, order["purpose"], now)
    store.update_account(conn, order["strategy_id"], effect.cash_delta, effect.realised_pnl, fee, now)
    store.attach_to_position(conn, order["order_id"], position_id)
    if order["purpose"] == "entry":
        for leg in store.bracket_legs(conn, order["client_order_id"]):
            store.attach_to_position(conn, leg["order_id"], position_id)
            store.transition(conn, leg["order_id"], "pending", "accepted", "entry filled", now)
    else:
        for other in store.open_exit_orders(conn, position_id):
            reason = "OCO: other leg filled" if other["oco_group"] == order["oco_group"] else "position closed"
            _to(conn, other, "cancelled", reason, now)


def _to(conn: psycopg.Connection, order: dict, status: str, reason: str, now) -> None:
    store.transition(conn, order["order_id"], order["status"], status, reason, now)


def _fill_event(order: dict, fill: dict, position: dict | None) -> NotificationEvent:
    """The trader's fill message; an exit carries the position's P&L net of all its fees."""
    realised = None
    if order["purpose"] != "entry" and position is not None:
        realised = position["realised_pnl"] - position["fees"]
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
