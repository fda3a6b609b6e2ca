"""The control API through its handler over the local stack: auth on every route, the read
models' figures recomputed here from the alerts sent, actions recorded with who and why, one
error mapping, a cold database answered 503, the committed OpenAPI document current."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from tradeflow.local.serve import ControlServer

from tests.conftest import START, repo
from tests.integration.test_pipeline import alert


@pytest.fixture
def api(stack, strategy):
    server = ControlServer(stack, port=0)
    yield server
    server.httpd.server_close()


def call(api, method, path, body=None, token=True, headers=None):
    h = {"Authorization": f"Bearer {api.token}"} if token is True else ({"Authorization": token} if token else {})
    h |= headers or {}
    data = json.dumps(body).encode() if body is not None else b""
    r = api.answer(method, path, h, data, "127.0.0.1")
    return r["statusCode"], json.loads(r["body"]) if r["headers"].get("Content-Type", "").startswith(
        "application/json") else r["body"], r["headers"]


def routes() -> list[tuple[str, str]]:
    document = json.loads((repo() / "docs/control-openapi.json").read_text())
    return [(method.upper(), re.sub(r"\{[^}]+\}", "x", path)) for path, ops in document["paths"].items()
            for method in ops]


def test_every_route_but_the_page_answers_401_without_the_right_token_and_says_nothing_more(api):
    found = routes()
    assert len(found) >= 19
    for method, path in found:
        if path == "/api/dashboard":
            continue
        for token in (None, "Bearer wrong-token", f"Basic {api.token}", f"Bearer {api.token}x"):
            status, body, headers = call(api, method, path, {}, token=token)
            assert (status, body) == (401, {"message": "Unauthorized"}), (method, path, token)
    status, page, _ = call(api, "GET", "/api/", token=None)
    assert status == 200 and "tradeflow cockpit" in page and api.token not in page


def buy(stack, strategy, ticker, price, quantity):
    stack.post_webhook(alert(ticker=ticker, price=price, quantity=quantity), token=strategy)
    stack.drain()


def test_status_positions_and_trades_equal_the_books_recomputed_from_the_alerts(api, stack, strategy, replay_clock):
    from datetime import timedelta

    buy(stack, strategy, "AAPL", "100", "10")
    buy(stack, strategy, "MSFT", "50", "4")
    replay_clock.set(START + timedelta(minutes=5))
    stack.record_quote("AAPL", START + timedelta(minutes=5), Decimal("104"))
    stack.post_webhook(alert(action="sell", ticker="MSFT", price="55", quantity="4",
                             time=(START + timedelta(minutes=5)).isoformat()), token=strategy)
    stack.drain()
    # Cash: 100,000 - 10 x 100 - 4 x 50 + 4 x 55 (no fees, no slippage); AAPL marked at 104.
    cash = Decimal(100000) - 1000 - 200 + 220
    status, s, _ = call(api, "GET", "/api/status")
    assert status == 200
    assert Decimal(s["cash"]) == cash and Decimal(s["equity"]) == cash + 10 * 104
    assert s["open_positions"] == 1 and s["last_alert_symbol"] == "MSFT"
    assert {p["symbol"]: p["price"] for p in s["prices"]}["AAPL"] == "104"
    _, p, _ = call(api, "GET", "/api/positions")
    [aapl] = p["positions"]
    assert (aapl["symbol"], Decimal(aapl["unrealised_pnl"]), Decimal(aapl["stop_loss"]),
            Decimal(aapl["take_profit"])) == ("AAPL", Decimal(40), Decimal(95), Decimal(110))
    _, t, _ = call(api, "GET", "/api/trades?symbol=MSFT")
    [msft] = t["trades"]
    assert Decimal(msft["pnl"]) == 20 and sum(Decimal(lot["pnl"]) for lot in msft["lots"]) == 20
    assert call(api, "GET", "/api/trades?symbol=AAPL")[1]["trades"] == []
    _, o, _ = call(api, "GET", "/api/orders?symbol=AAPL")
    assert sorted(x["purpose"] for x in o["orders"]) == ["stop_loss", "take_profit"]
    assert len(call(api, "GET", "/api/orders?limit=1")[1]["orders"]) == 1
    _, signals, _ = call(api, "GET", "/api/signals?symbol=MSFT")
    trail = call(api, "GET", f"/api/signals/{signals['signals'][0]['signal_id']}/audit")[1]
    assert trail["decision"]["approved"] and [f["price"] for f in trail["fills"]] == ["55"]


def test_moving_a_stop_and_cancelling_are_recorded_with_who_and_why(api, stack, strategy, conn):
    buy(stack, strategy, "AAPL", "100", "10")
    stop = call(api, "GET", "/api/positions")[1]["positions"][0]["stop_loss_order"]
    status, body, _ = call(api, "POST", f"/api/orders/{stop}/stop", {"price": "97.5", "why": "tighter"},
                           headers={"X-Tradeflow-User": "ann"})
    assert status == 200 and body["stop_price"] == "97.5"
    [amendment] = conn.execute("SELECT * FROM order_amendments").fetchall()
    assert (amendment["new_value"], amendment["reason"]) == (Decimal("97.5"), "moved by ann: tighter")
    status, body, _ = call(api, "POST", f"/api/orders/{stop}/cancel", {"why": "no"})
    assert status == 400 and "protects an open position" in body["error"]
    stack.post_webhook(alert(ticker="MSFT", price="50", quantity="1", order_type="limit", limit_price="40"),
                       token=strategy)
    stack.drain()
    [entry] = [o for o in call(api, "GET", "/api/orders?symbol=MSFT")[1]["orders"] if o["purpose"] == "entry"] or [None]
    if entry is None:
        pytest.skip("the alert format here has no resting limit entry")
    assert call(api, "POST", f"/api/orders/{entry['client_order_id']}/cancel", {"why": "changed my mind"},
                headers={"X-Tradeflow-User": "ann"})[0] == 200
    event = conn.execute("SELECT e.reason FROM order_events e JOIN orders o USING (order_id) "
                         "WHERE o.client_order_id = %s ORDER BY event_id DESC LIMIT 1",
                         (entry["client_order_id"],)).fetchone()
    assert event["reason"] == "cancelled by ann: changed my mind"


def test_errors_map_to_one_status_each_with_a_message_that_says_what_to_fix(api):
    assert call(api, "GET", "/api/strategies/nope/equity")[:2] == (404, {"error": "no strategy 'nope'"})
    status, body, _ = call(api, "POST", "/api/flatten", {"why": "test"})
    assert status == 400 and '"confirm": "FLATTEN"' in body["error"]
    status, body, _ = call(api, "POST", "/api/orders/x/stop", {"price": "-1", "why": "w"})
    assert status == 422 and "price" in body["error"]
    status, body, _ = call(api, "POST", "/api/strategies/test/pause", {})
    assert status == 422 and "why" in body["error"]
    assert call(api, "GET", "/api/trades?since=yesterday")[0] == 400
    assert call(api, "GET", "/api/signals/not-a-uuid/audit")[0] == 400
    assert call(api, "POST", "/api/orders/none/cancel", {"why": "w"})[0] == 404


def test_a_database_that_does_not_answer_is_a_503_with_retry_after(api, monkeypatch):
    import socket

    from tradeflow.adapters import db
    from tradeflow.settings import env

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db.close_connection()
    env.cache_clear()
    monkeypatch.setenv("DATABASE_URL", f"postgresql://u@127.0.0.1:{port}/x")
    status, body, headers = call(api, "GET", "/api/status")
    assert status == 503 and body["error"].startswith("waking the database, retry in ")
    assert headers["Retry-After"] == body["error"].split("retry in ")[1].split()[0]
    db.close_connection()
    env.cache_clear()


def test_the_committed_openapi_document_is_the_generated_one(api):
    status, served, _ = call(api, "GET", "/api/openapi.json")
    assert status == 200
    assert json.loads((repo() / "docs/control-openapi.json").read_text()) == served


def test_settings_changes_are_recorded_not_overwritten(api, stack):
    from tradeflow.domain.strategy import StrategyConfig

    stack.add_strategy("test", StrategyConfig(slippage_bps=Decimal(3)), "another-secret-123")
    _, body, _ = call(api, "GET", "/api/strategies/test/settings")
    assert [h["settings"]["slippage_bps"] for h in body["history"]] == ["0", "3"]
    assert body["settings"]["slippage_bps"] == "3" and body["history"][-1]["config_hash"] == body["config_hash"]


def test_the_api_reads_and_acts_on_its_own_database_role(api, stack, strategy, database_url, conn, monkeypatch):
    from tradeflow.adapters import roles

    from tests.integration.test_roles import as_role

    roles.sync_grants(conn)
    buy(stack, strategy, "AAPL", "100", "10")
    with as_role(database_url, "control") as role_conn:
        monkeypatch.setattr(api.module, "get_connection", lambda *args, **kwargs: role_conn)
        for path in ("/api/status", "/api/positions", "/api/orders", "/api/trades", "/api/signals",
                     "/api/notifications", "/api/strategies/test/equity", "/api/strategies/test/metrics",
                     "/api/strategies/test/settings"):
            assert call(api, "GET", path)[0] == 200, path
        stop = call(api, "GET", "/api/positions")[1]["positions"][0]["stop_loss_order"]
        assert call(api, "POST", f"/api/orders/{stop}/stop", {"price": "96", "why": "w"})[0] == 200
