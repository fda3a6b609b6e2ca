"""The control API's destructive actions on the control function's own database role: a flatten
of a strategy and the kill switch with flatten close every position (market exits filled at the
latest price, cash and P&L booked), as the read and move-stop routes already run on that role."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from tradeflow.adapters import roles
from tradeflow.local.serve import ControlServer

from tests.conftest import START
from tests.integration.test_control_api import buy, call
from tests.integration.test_pipeline import alert
from tests.integration.test_roles import as_role


@pytest.fixture
def api(stack, strategy):
    server = ControlServer(stack, port=0)
    yield server
    server.httpd.server_close()


def test_flatten_and_the_kill_switch_with_flatten_run_on_the_control_role(api, stack, strategy, database_url, conn,
                                                                          replay_clock, monkeypatch):
    roles.sync_grants(conn)
    buy(stack, strategy, "AAPL", "100", "10")
    buy(stack, strategy, "MSFT", "50", "4")
    with as_role(database_url, "control") as role_conn:
        assert role_conn.execute("SELECT current_user AS u").fetchone()["u"] == roles.role("control")
        monkeypatch.setattr(api.module, "get_connection", lambda *args, **kwargs: role_conn)
        status, body, _ = call(api, "POST", "/api/strategies/test/flatten", {"why": "news", "confirm": "FLATTEN"},
                               headers={"X-Tradeflow-User": "ann"})
        assert status == 200, body
        assert (body["flattened_positions"], body["state"]) == (2, "HALTED")
        assert call(api, "GET", "/api/positions")[1]["positions"] == []
        assert call(api, "POST", "/api/strategies/test/resume", {"why": "calm again"})[0] == 200
        replay_clock.set(START + timedelta(minutes=1))
        stack.post_webhook(alert(ticker="AAPL", price="101", quantity="5",
                                 time=(START + timedelta(minutes=1)).isoformat()), token=strategy)
        stack.drain()
        assert len(call(api, "GET", "/api/positions")[1]["positions"]) == 1
        status, body, _ = call(api, "POST", "/api/kill-switch",
                               {"on": True, "flatten": True, "confirm": "FLATTEN", "why": "stop everything"})
        assert status == 200, body
        assert body["flattened_positions"] == 1 and call(api, "GET", "/api/status")[1]["kill_switch"] is True
    # Every position closed at the price it was bought at (the latest quote; no slippage, no fees),
    # so the cash is back where it started, and each close went through an order and its fill.
    closed = conn.execute("SELECT symbol, exit_reason, realised_pnl FROM positions ORDER BY position_id").fetchall()
    assert [(p["symbol"], p["realised_pnl"]) for p in closed] == [("AAPL", 0), ("MSFT", 0), ("AAPL", 0)]
    assert conn.execute("SELECT count(*) AS n FROM positions WHERE status = 'open'").fetchone()["n"] == 0
    assert conn.execute("SELECT cash FROM accounts WHERE strategy_id = 'test'").fetchone()["cash"] == Decimal(100000)
    exits = conn.execute("SELECT o.status, f.price FROM orders o JOIN fills f USING (order_id) "
                         "WHERE o.client_order_id LIKE 'flatten:%%' ORDER BY o.order_id").fetchall()
    assert [(e["status"], e["price"]) for e in exits] == [("filled", 100), ("filled", 50), ("filled", 101)]
    changes = conn.execute("SELECT scope, to_state, who, why FROM trading_state_changes ORDER BY change_id").fetchall()
    assert [(c["scope"], c["to_state"], c["why"]) for c in changes] == [
        ("test", "HALTED", "news"), ("test", "ACTIVE", "calm again"), ("account", "HALTED", "stop everything")]
    assert changes[0]["who"] == "ann"
