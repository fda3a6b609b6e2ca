"""The books' invariants through the whole stack (webhook -> queues -> every handler ->
PostgreSQL), as hypothesis properties over random bar paths and alerts, with EVERY queue
message delivered twice (at-least-once delivery, ARCHITECTURE.md).

After every bar and every alert:

- cash = starting cash + the cash effect of every fill (−signed quantity × price − commission);
- every open position's signed quantity = the net of its symbol's fills, and a flat book has
  cash − starting cash = realised P&L − fees;
- no order has more than one fill, a filled order has exactly one, and no OCO group has two
  filled legs;
- the equity the stop monitor records = cash + Σ quantity × the latest close.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tradeflow.adapters import aws, db
from tradeflow.clock import ReplayClock
from tradeflow.domain.strategy import StrategyConfig
from tradeflow.local.stack import LocalStack

from tests.conftest import SECRET, START, _with_database

HOUR = timedelta(hours=1)
CENT = Decimal("0.01")

moves = st.lists(st.integers(-300, 300), min_size=4, max_size=4)  # basis points around the previous close
alerts = st.one_of(
    st.none(),
    st.fixed_dictionaries({
        "action": st.sampled_from(["buy", "sell", "exit"]),
        "quantity": st.integers(1, 50),
        "stop_pct": st.one_of(st.none(), st.sampled_from([1, 2, 5])),
        "target_pct": st.one_of(st.none(), st.sampled_from([1, 3, 8])),
    }),
)
steps = st.lists(st.tuples(moves, alerts), min_size=3, max_size=10)
configs = st.fixed_dictionaries({
    "fill_model": st.sampled_from(["bar", "quote"]),
    "commission_bps": st.sampled_from([Decimal(0), Decimal("2.5"), Decimal(10)]),
    "slippage_bps": st.sampled_from([Decimal(0), Decimal(5)]),
    "allow_short": st.booleans(),
})


def _bar(previous: Decimal, moves: list[int]) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    o, a, b, c = (previous * (1 + Decimal(m) / 10000) for m in moves)
    o, a, b, c = (x.quantize(CENT) for x in (o, a, b, c))
    return o, max(o, a, b, c), min(o, a, b, c), c


def _twice(send):
    """aws.send that delivers every message twice (a second FIFO copy needs its own dedupe id)."""
    def both(queue_url, message, group=None, dedupe_id=None):
        send(queue_url, message, group, dedupe_id)
        send(queue_url, message, group, None if dedupe_id is None else f"{dedupe_id}:again"[-128:])
    return both


def _check_books(conn, starting_cash: Decimal, closes: dict[str, Decimal]) -> None:
    account = conn.execute("SELECT * FROM accounts").fetchone()
    rows = conn.execute(
        "SELECT o.order_id, o.symbol, o.side, o.oco_group, o.status, f.quantity, f.price, f.commission "
        "FROM orders o LEFT JOIN fills f USING (order_id)").fetchall()
    fills = [r for r in rows if r["quantity"] is not None]
    cash = starting_cash + sum(
        ((-1 if r["side"] == "buy" else 1) * r["quantity"] * r["price"] - r["commission"] for r in fills), Decimal(0))
    assert account["cash"] == cash
    assert account["fees"] == sum((r["commission"] for r in fills), Decimal(0))

    per_order = conn.execute("SELECT order_id, count(*) AS n FROM fills GROUP BY order_id").fetchall()
    assert all(r["n"] == 1 for r in per_order)
    assert {r["order_id"] for r in per_order} == {r["order_id"] for r in rows if r["status"] == "filled"}
    oco = conn.execute("SELECT oco_group FROM orders WHERE oco_group IS NOT NULL AND status = 'filled' "
                       "GROUP BY oco_group HAVING count(*) > 1").fetchall()
    assert oco == []

    net: dict[str, Decimal] = {}
    for r in fills:
        net[r["symbol"]] = net.get(r["symbol"], Decimal(0)) + (1 if r["side"] == "buy" else -1) * r["quantity"]
    open_positions = {r["symbol"]: (1 if r["side"] == "long" else -1) * r["quantity"]
                      for r in conn.execute("SELECT symbol, side, quantity FROM positions WHERE status = 'open'")}
    assert open_positions == {s: q for s, q in net.items() if q != 0}
    if not open_positions:
        assert account["cash"] - starting_cash == account["realised_pnl"] - account["fees"]

    snapshot = conn.execute("SELECT * FROM equity_snapshots ORDER BY ts DESC LIMIT 1").fetchone()
    if snapshot is not None and snapshot["cash"] == account["cash"]:
        value = sum((q * closes[s] for s, q in open_positions.items()), Decimal(0))
        assert snapshot["equity"] == snapshot["cash"] + snapshot["market_value"] == account["cash"] + value


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=configs, path=steps)
def test_the_books_add_up_whatever_is_delivered_twice(pg_server_url, template_db, config, path):
    name = f"tf_books_{os.getpid()}_{abs(hash((str(config), str(path)))) % 10**9}"
    with db.connect(pg_server_url) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    url = _with_database(pg_server_url, name)
    settings_ = StrategyConfig(stop_loss_pct=None, take_profit_pct=None, max_open_positions=5, **config)
    clock = ReplayClock(START)
    single_send = aws.send
    try:
        with tempfile.TemporaryDirectory() as home, LocalStack(Path(home), url, clock) as stack:
            os.environ["ALERT_BURST"] = "0"
            stack.add_strategy("test", settings_, SECRET)
            aws.send = _twice(single_send)
            close, closes = Decimal(100), {}
            with db.connect(url) as conn:
                for n, (bar_moves, alert) in enumerate(path):
                    at = START + (n + 1) * HOUR
                    o, h, lo, close = _bar(close, bar_moves)
                    closes["AAPL"] = close
                    clock.set(at)
                    stack.record_bar("AAPL", at, o, h, lo, close, at - HOUR)  # handed over: one tick
                    stack.drain()
                    _check_books(conn, settings_.starting_cash, closes)
                    if alert is not None:
                        body = {"ticker": "AAPL", "action": alert["action"], "quantity": alert["quantity"],
                                "price": str(close), "time": at.isoformat()}
                        if alert["action"] != "exit" and alert["stop_pct"]:
                            body["stopLoss"] = {"percent": alert["stop_pct"]}
                        if alert["action"] != "exit" and alert["target_pct"]:
                            body["takeProfit"] = {"percent": alert["target_pct"]}
                        clock.set(at + timedelta(seconds=2))
                        assert stack.post_webhook(json.dumps(body), token=f"test.{SECRET}")["statusCode"] == 202
                        stack.drain()
                        _check_books(conn, settings_.starting_cash, closes)
                assert all(count == 0 for count in stack.dead_letters().values())
    finally:
        aws.send = single_send
        os.environ.pop("ALERT_BURST", None)
        db.close_connection()
        with db.connect(pg_server_url) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
