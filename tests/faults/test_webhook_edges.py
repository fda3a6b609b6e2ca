"""The webhook promises only what the pipeline can keep: 10,000 generated requests never get a
5xx (the webhook alone, its queue a fake), and any body answered 202 is processed by every
downstream step on the embedded PostgreSQL (a hypothesis property over the local stack)."""

from __future__ import annotations

import base64
import importlib.util
import json
import random
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tradeflow import names
from tradeflow.adapters import db, store
from tradeflow.domain.strategy import StrategyConfig
from tradeflow.local.stack import LambdaContext, http_api_event
from tradeflow.pipeline.webhook import Webhook
from tradeflow.webhook_env import WebhookEnv

from tests.conftest import repo
from tests.faults.conftest import FIGURES, register
from tests.faults.harness import SECRET, START, empty_books

CREDENTIAL = f"edge.{SECRET}"
_ODD = ["\x00", "\\u0000", "\\ud800", "\\udfff\\ud800", "\ud800", "\x07", "\x1b[31m", "\x7f", "\x85", "\u2028",
        "\ufeff", "é", "𝔘", "{{close}}", "", " ", "\\", '"', "\n", "\r\n", "\t"]
_TEMPLATES = [
    {"ticker": "AAPL", "action": "buy", "quantity": "10", "price": "179.98"},
    {"ticker": "NASDAQ:MSFT", "action": "sell", "sentiment": "flat", "price": "410.5", "comment": "x"},
    {"symbol": "NVDA", "side": "buy", "qty": 3, "stopLoss": {"percent": 2}, "takeProfit": [900, 950]},
    {"ticker": "AAPL", "action": "buy", "orderType": "limit", "limitPrice": "170", "interval": "1D"},
    {"strategy": {"order_action": "buy", "order_contracts": "5", "position_size": "5"}, "ticker": "AMZN"},
]


def _texts(value: object) -> list[str]:
    """Every string in a decoded JSON value, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in (*_texts(k), *_texts(v))]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


def _odd(rng: random.Random) -> str:
    return "".join(rng.choice(_ODD) for _ in range(rng.randint(1, 3)))


def _body(rng: random.Random) -> object:
    """A request body: mostly a real alert template with something odd put somewhere."""
    kind = rng.random()
    if kind < 0.04:  # not text at all
        return rng.choice([123, 1.5, True, ["a"], {"ticker": "AAPL"}])
    alert = json.loads(json.dumps(rng.choice(_TEMPLATES)))
    if rng.random() < 0.5:
        alert["passphrase"] = CREDENTIAL
    if rng.random() < 0.3:
        alert["time"] = (START - timedelta(seconds=rng.choice([0, 30, 299, 301, 3600, 30 * 86400]))).isoformat()
    key = rng.choice(list(alert) + ["comment", "ticker", "exchange", "interval", "new"])
    where = rng.random()
    if where < 0.6:
        alert[key] = f"{alert.get(key, '')}{_odd(rng)}" if isinstance(alert.get(key, ""), str) else _odd(rng)
    elif where < 0.75:
        alert[f"{key}{_odd(rng)}"] = "1"
    elif where < 0.85:
        alert[key] = {"price": _odd(rng), "percent": rng.choice(["2", "NaN", "1e999", _odd(rng)])}
    text = json.dumps(alert, ensure_ascii=rng.random() < 0.5).replace("\\\\u", "\\u")
    if kind < 0.15:  # KEY=VALUE lines instead
        text = "\n".join(f"{k.upper()}={v}" for k, v in alert.items() if not isinstance(v, dict | list))
    elif kind < 0.2:
        cut = rng.randint(0, len(text))
        text = text[:cut] + _odd(rng) + text[cut:]
    return text


def _event(rng: random.Random, body: object) -> dict:
    token = rng.choice([CREDENTIAL, CREDENTIAL, None, "edge", "nobody." + SECRET, "edge.wrong", "a" * 300])
    event = http_api_event("", token, "application/json", "52.89.214.238", START)
    event["body"] = body
    if isinstance(body, str) and rng.random() < 0.1:
        raw = body.encode("utf-8", "surrogatepass")
        event |= {"body": base64.b64encode(raw).decode() if rng.random() < 0.8 else body + "%%", "isBase64Encoded": True}
    shape = rng.random()
    if shape < 0.02:
        event["headers"] = ["not", "an", "object"]
    elif shape < 0.04:
        event["requestContext"] = "nonsense"
    elif shape < 0.06:
        event["pathParameters"] = {"token": 42}
    elif shape < 0.07:
        event["isBase64Encoded"] = "yes"
    return event


def test_ten_thousand_generated_requests_never_get_a_5xx(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "CRITICAL")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "tradeflow")
    spec = importlib.util.spec_from_file_location("tradeflow_edge_webhook", repo() / "functions/webhook/handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    queued: list[str] = []
    env = WebhookEnv(signals_queue_url="fake://signals.fifo", notifications_queue_url="fake://notifications",
                     alert_burst=0)
    fake = Webhook(env, lambda s: SECRET if s == "edge" else None, lambda s: None,
                   lambda url, message, group, dedupe: queued.append(message.model_dump_json()))
    monkeypatch.setattr(module, "webhook", lambda: fake)
    monkeypatch.setattr(module.clock, "now", lambda: START)
    rng = random.Random(20240301)
    statuses: dict[int, int] = {}
    for _ in range(10_000):
        event = _event(rng, _body(rng))
        before = len(queued)
        response = module.handler(event, LambdaContext("tradeflow-webhook"))
        statuses[response["statusCode"]] = statuses.get(response["statusCode"], 0) + 1
        assert response["statusCode"] < 500, (event, response)
        answer = json.loads(response["body"])
        if response["statusCode"] == 400:
            assert answer.get("field") and answer["error"], (event, answer)
        if response["statusCode"] == 202:
            sent = [json.loads(q) for q in queued[before:] if '"signal_id"' in q]
            assert len(sent) == 1
            assert not [t for t in _texts(sent[0]["alert"]) if "\x00" in t or any(0xD800 <= ord(c) <= 0xDFFF for c in t)]
    FIGURES["webhook_requests"] += 10_000
    FIGURES["webhook_5xx"] += sum(n for s, n in statuses.items() if s >= 500)
    assert statuses.get(202, 0) > 500 and statuses.get(400, 0) > 500 and statuses.get(401, 0) > 100, statuses


_TEXT = st.text(st.characters(codec="utf-8") | st.sampled_from(["\x00", "\ud800", "\x1b", "\x85"]), max_size=12)
_ALERTS = st.fixed_dictionaries(
    {"ticker": st.sampled_from(["AAPL", "MSFT"]) | _TEXT, "action": st.sampled_from(["buy", "sell", "exit"]) | _TEXT},
    optional={"quantity": st.integers(-2, 50) | _TEXT, "price": st.sampled_from(["100", "0", "1e6"]) | _TEXT,
              "comment": _TEXT, "interval": _TEXT, "exchange": _TEXT, "stopLoss": st.sampled_from(["95", "101"]),
              "takeProfit": st.lists(st.sampled_from(["105", "110", "90"]), max_size=2)},
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(alert=_ALERTS, escaped=st.booleans())
def test_any_body_answered_202_is_processed_by_every_downstream_step(fault_stack, books_url, alert, escaped):
    stack, clock = fault_stack
    config = StrategyConfig()
    register(stack, "edge", config)
    stack.reset(books_url)
    clock.set(START)
    with db.connect(books_url) as conn:
        empty_books(conn)
        store.add_strategy(conn, "edge", config, START)
        store.record_quote(conn, "AAPL", START, 100, "test")
        store.record_quote(conn, "MSFT", START, 100, "test")
        answer = stack.post_webhook(json.dumps({**alert, "time": START.isoformat()}, ensure_ascii=escaped),
                                    token=CREDENTIAL)
        assert answer["statusCode"] in (202, 400), answer
        if answer["statusCode"] != 202:
            return
        stack.drain()
        signal_id = json.loads(answer["body"])["signal_id"]
        assert conn.execute("SELECT 1 FROM decisions WHERE signal_id = %s", (signal_id,)).fetchone()
        assert conn.execute("SELECT * FROM rejected_messages").fetchall() == []
        assert all(n == 0 for n in stack.dead_letters().values())
        assert all(stack.queues.depth(q) == 0 for q in (names.SIGNALS_QUEUE, names.ORDERS_QUEUE,
                                                         names.EXECUTIONS_QUEUE, names.NOTIFICATIONS_QUEUE))
