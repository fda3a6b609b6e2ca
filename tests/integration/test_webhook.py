"""The webhook handler through the local stack (in-memory SQS/SSM, embedded PostgreSQL for what the
notifier records): every answer it gives, its authentication, its refusals and its OpenAPI
document. Events are the AWS documentation's HTTP API payload 2.0 sample (tests/fixtures)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import logging
import subprocess
import sys
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as event_note
from hypothesis import strategies as st
from tradeflow import names
from tradeflow.adapters import aws
from tradeflow.local.stack import http_api_event
from tradeflow.pipeline.webhook import UNAUTHORIZED

from tests.conftest import SECRET, START, repo

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CREDENTIAL = f"test.{SECRET}"
TRADINGVIEW_IP = "52.89.214.238"


def alert(action="buy", ticker="AAPL", price="100", **extra) -> str:
    return json.dumps({"ticker": ticker, "action": action, "price": price, "time": START.isoformat(), **extra})


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def answer(response: dict) -> dict:
    return json.loads(response["body"])


def queued(stack, queue=names.SIGNALS_QUEUE) -> list[dict]:
    """The messages waiting on ``queue`` (received, then made visible again)."""
    sqs = aws.client("sqs")
    messages = sqs.receive_message(QueueUrl=stack.queue_urls[queue], MaxNumberOfMessages=10,
                                   AttributeNames=["All"], VisibilityTimeout=0).get("Messages", [])
    return messages


def post(stack, body: str, path_token: str | None = None, headers: dict | None = None,
         source_ip: str = TRADINGVIEW_IP, base64_body: bool = False) -> dict:
    event = http_api_event(body, path_token, "text/plain; charset=utf-8", source_ip, START)
    event["headers"] |= headers or {}
    if base64_body:
        event |= {"body": base64.b64encode(body.encode()).decode(), "isBase64Encoded": True}
    return stack.invoke("webhook", event)


def signed(body: str, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


def reconfigure(stack, monkeypatch, **variables) -> None:
    """Set webhook environment variables and start a new container (fresh settings and limiter)."""
    for key, value in variables.items():
        monkeypatch.setenv(key, value)
    stack.handler("webhook").webhook.cache_clear()


@contextmanager
def captured_logs(stack):
    """Everything the webhook logs (as Lambda would print it, JSON lines), at DEBUG level."""
    logger = stack.handler("webhook").logger
    stream = io.StringIO()
    extra = logging.StreamHandler(stream)
    extra.setFormatter(logger.registered_handler.formatter)
    level = logger.log_level
    logger.addHandler(extra)
    logger.setLevel("DEBUG")
    try:
        yield stream
    finally:
        logger.setLevel(level)
        logger._logger.removeHandler(extra)


# --- the AWS sample events -----------------------------------------------------------------

def test_the_aws_sample_events_plain_and_base64_are_accepted(stack, strategy):
    plain = stack.invoke("webhook", fixture("apigw_http_v2_plain.json"))
    encoded = stack.invoke("webhook", fixture("apigw_http_v2_base64.json"))
    assert plain["statusCode"] == encoded["statusCode"] == 202
    signals = [json.loads(m["Body"]) for m in queued(stack)]
    assert {(s["strategy_id"], s["alert"]["ticker"], s["alert"]["action"]) for s in signals} == {
        ("test", "SPY", "sell"), ("test", "SPY", "buy")}
    # the secret is nowhere; the kept raw body names the passphrase field, the normalised alert does not
    assert all(SECRET not in m["Body"] and "passphrase" not in json.dumps(json.loads(m["Body"])["alert"])
               for m in queued(stack))


def test_the_unmodified_aws_sample_is_a_404_not_a_fault(stack, strategy):
    response = stack.invoke("webhook", fixture("apigw_http_v2_aws_sample.json"))  # route $default
    assert response["statusCode"] == 404 and "POST /webhook" in answer(response)["error"]


# --- 202 and idempotency ---------------------------------------------------------------------

def test_accepts_an_alert_and_answers_the_same_signal_id_for_a_retry(stack, strategy):
    first = post(stack, alert(), CREDENTIAL)
    again = post(stack, alert(), CREDENTIAL)
    assert first["statusCode"] == again["statusCode"] == 202
    assert answer(first)["signal_id"] == answer(again)["signal_id"]
    messages = queued(stack)
    assert len(messages) == 1  # the FIFO deduplication id collapsed the retry
    assert messages[0]["Attributes"]["MessageGroupId"] == "test:AAPL"


def test_passphrase_in_the_body_and_a_base64_body(stack, strategy):
    assert post(stack, alert(passphrase=CREDENTIAL), base64_body=True)["statusCode"] == 202
    assert post(stack, f"SYMBOL=MSFT\nSIGNAL=BUY\nPASSPHRASE={CREDENTIAL}\n")["statusCode"] == 202
    assert len(queued(stack)) == 2


# --- refusals --------------------------------------------------------------------------------

@pytest.mark.parametrize("body, token, status, field", [
    ('{"key": "mysecretkey" "msg": Long #AAPL at 179.98"}', CREDENTIAL, 400, "body"),
    ('{"ticker": "AAPL", "action": "{{strategy.order.action}}"}', CREDENTIAL, 400, "action"),
    ('{"ticker": "AAPL", "action": "buy", "quantity": "0"}', CREDENTIAL, 400, "quantity"),
    ('{"ticker": "AAPL", "action": "buy", "price": "NaN"}', CREDENTIAL, 400, "price"),
    ('{"action": "buy"}', CREDENTIAL, 400, "ticker"),
    ('{"ticker": "AAPL"}', CREDENTIAL, 400, "action"),
    ("", CREDENTIAL, 400, "body"),
    ('{"ticker": "AAPL", "action": "buy"}', "test.wrong-secret", 401, None),
    ('{"ticker": "AAPL", "action": "buy"}', None, 401, None),
    ('{"ticker": "AAPL", "action": "buy"}', f"nobody.{SECRET}", 401, None),  # the same answer: no names leak
    ("x" * 20000, CREDENTIAL, 413, "body"),
    ("é" * 9000, CREDENTIAL, 413, "body"),  # 18,000 bytes in 9,000 characters
])
def test_refusals_teach_and_never_5xx(stack, strategy, body, token, status, field):
    response = post(stack, body, token)
    assert response["statusCode"] == status and answer(response)["error"]
    assert answer(response).get("field") == field
    assert SECRET not in response["body"]
    assert queued(stack) == []


def test_a_broken_base64_body_is_a_400_on_the_body(stack, strategy):
    event = http_api_event("", CREDENTIAL, "application/json", TRADINGVIEW_IP, START)
    event |= {"body": "not base64!", "isBase64Encoded": True}
    response = stack.invoke("webhook", event)
    assert response["statusCode"] == 400 and answer(response)["field"] == "body"
    event |= {"body": base64.b64encode(b"\xff\xfe ticker").decode()}
    assert answer(stack.invoke("webhook", event)) ["field"] == "body"


def test_a_missing_and_a_wrong_secret_get_the_same_answer(stack, strategy):
    body = alert()
    answers = {
        "no credential": post(stack, body),
        "wrong secret in the path": post(stack, body, "test.wrong"),
        "strategy without a secret": post(stack, body, "test."),
        "not a credential": post(stack, body, "Not.A Credential"),
        "wrong passphrase": post(stack, alert(passphrase="test.wrong")),
        "passphrase not a string": post(stack, alert(passphrase=12345)),
        "wrong signature": post(stack, body, "test", {"x-tradeflow-signature": signed(body, "wrong")}),
    }
    assert {r["statusCode"] for r in answers.values()} == {401}
    assert len({r["body"] for r in answers.values()}) == 1, answers


def test_source_allowlist_uses_the_api_gateway_source_ip_never_x_forwarded_for(stack, strategy, monkeypatch):
    reconfigure(stack, monkeypatch, ALLOWED_SOURCE_IPS="52.89.214.238,34.212.75.30")
    assert post(stack, alert(), CREDENTIAL, source_ip="34.212.75.30")["statusCode"] == 202
    forged = post(stack, alert(), CREDENTIAL, {"x-forwarded-for": TRADINGVIEW_IP}, source_ip="203.0.113.9")
    assert forged["statusCode"] == 403 and "203.0.113.9" in answer(forged)["error"]


def test_past_the_burst_a_strategy_gets_429_until_its_bucket_refills(stack, strategy, monkeypatch, replay_clock):
    reconfigure(stack, monkeypatch, ALERT_BURST="3", ALERT_BURST_SECONDS="180")
    codes = [post(stack, alert(quantity=str(n)), CREDENTIAL)["statusCode"] for n in range(1, 6)]
    assert codes == [202, 202, 202, 429, 429]
    # another strategy has its own bucket; an unauthenticated caller cannot drain this one
    assert [post(stack, alert(), "test.wrong")["statusCode"] for _ in range(5)] == [401] * 5
    replay_clock.set(START + timedelta(seconds=60))  # 3 per 180 s: one token back each minute
    assert [post(stack, alert(quantity=str(n)), CREDENTIAL)["statusCode"] for n in (6, 7)] == [202, 429]


def test_the_burst_is_per_symbol_so_many_symbols_can_fire_at_one_close(stack, strategy, monkeypatch):
    reconfigure(stack, monkeypatch, ALERT_BURST="2", ALERT_BURST_SECONDS="180")
    codes = [post(stack, alert(ticker=t, quantity=str(n)), CREDENTIAL)["statusCode"]
             for t in ("AAPL", "MSFT", "IBM") for n in (1, 2, 3)]
    assert codes == [202, 202, 429] * 3


def test_default_burst_is_tradingviews_15_alerts_per_3_minutes(stack, strategy):
    codes = [post(stack, alert(quantity=str(n)), CREDENTIAL)["statusCode"] for n in range(1, 17)]
    assert codes == [202] * 15 + [429]


def test_503_only_when_the_queue_fails_so_tradingview_retries(stack, strategy, monkeypatch):
    def down(**_):
        raise ConnectionError("sqs is down")

    assert post(stack, alert(), CREDENTIAL)["statusCode"] == 202  # warm: the client exists
    monkeypatch.setattr(aws.client("sqs"), "send_message", down)
    response = post(stack, alert(quantity="2"), CREDENTIAL)
    assert response["statusCode"] == 503 and "retr" in answer(response)["error"]
    assert post(stack, alert(quantity="0"), CREDENTIAL)["statusCode"] == 400  # a refusal stays a refusal


def test_an_ssm_outage_is_a_503_not_an_unknown_strategy(stack, strategy, monkeypatch):
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
    from botocore.exceptions import ClientError

    def throttled(name, **_):
        try:  # as powertools wraps an SDK error
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "GetParameter")
        except ClientError as exc:
            raise GetParameterError(str(exc)) from exc

    monkeypatch.setattr(parameters, "get_parameter", throttled)
    response = post(stack, alert(), CREDENTIAL)
    assert response["statusCode"] == 503 and "retr" in answer(response)["error"]


def test_our_own_fault_is_a_500_that_logs_where_but_not_what(stack, strategy, monkeypatch):
    from tradeflow.pipeline import webhook as pipeline

    def broken(*_, **__):
        raise RuntimeError(f"bug holding {SECRET}")

    monkeypatch.setattr(pipeline, "new_signal", broken)
    with captured_logs(stack) as logs:
        response = post(stack, alert(), CREDENTIAL)
    assert response["statusCode"] == 500 and SECRET not in response["body"]
    assert "RuntimeError at" in logs.getvalue() and SECRET not in logs.getvalue()
    assert stack.metrics["WebhookFaults"] == 1


def test_an_unexpected_parser_exception_is_the_clients_400(stack, strategy, monkeypatch):
    from tradeflow.pipeline import webhook as pipeline

    def gap(_fields):
        raise TypeError("unhashable type: 'dict'")

    monkeypatch.setattr(pipeline, "normalise", gap)
    with captured_logs(stack) as logs:
        response = post(stack, alert(), CREDENTIAL)
    assert response["statusCode"] == 400 and answer(response)["field"] == "body"
    assert "TypeError at" in logs.getvalue()  # logged for us to fix the parser
    assert stack.metrics["WebhookFaults"] == 0


# --- refusals recorded, secrets kept ---------------------------------------------------------

def test_authenticated_refusals_reach_the_database_and_the_trader_without_the_secret(stack, strategy, conn):
    post(stack, json.dumps({"ticker": "AAPL", "action": "{{strategy.order.action}}", "passphrase": CREDENTIAL}))
    post(stack, 'SYMBOL=AAPL\nSIGNAL=HOLD\n', CREDENTIAL)
    post(stack, alert(quantity="0"), "test.wrong-secret")  # unauthenticated: never stored
    post(stack, '{"ticker": "AAPL", "action": "{{strategy.order.action}}"}', f"nobody.{SECRET}")
    stack.drain()
    rows = conn.execute("SELECT strategy_id, subject, message FROM notifications WHERE kind = 'alert_refused' "
                        "ORDER BY message").fetchall()
    assert [r["strategy_id"] for r in rows] == ["test", "test"]
    placeholder = next(r for r in rows if "placeholder" in r["message"])
    assert "field action" in placeholder["subject"] and "indicator alert" in placeholder["message"]
    assert '"passphrase": "***"' in placeholder["message"] and "AAPL" in placeholder["message"]
    assert all(SECRET not in r["message"] and SECRET not in r["subject"] for r in rows)
    digest = told(stack)
    assert digest.count("[test] alert refused (") == 2 and SECRET not in digest


def test_a_refusal_repeated_in_the_same_minute_is_told_once(stack, strategy, conn):
    for _ in range(3):
        post(stack, alert(quantity="-1"), CREDENTIAL)
    stack.drain()
    assert conn.execute("SELECT count(*) AS n FROM notifications WHERE kind = 'alert_refused'").fetchone()["n"] == 1


def test_the_secret_never_appears_in_logs_or_answers(stack, strategy):
    bodies = [alert(passphrase=CREDENTIAL), alert(quantity="0", passphrase=CREDENTIAL),
              f'{{"passphrase": "{CREDENTIAL}", "ticker": ', f"PASSPHRASE={CREDENTIAL}\nSYMBOL=AAPL\nSIGNAL=HOLD",
              alert(comment=f"x {SECRET}", passphrase=CREDENTIAL), alert(ticker=SECRET)]
    with captured_logs(stack) as logs:
        responses = [post(stack, body) for body in bodies] + [post(stack, body, CREDENTIAL) for body in bodies]
        responses += [post(stack, alert(), "test.wrong-secret"), post(stack, alert(), f"nobody.{SECRET}")]
    assert {r["statusCode"] for r in responses} >= {202, 400}
    assert logs.getvalue().count("alert refused") >= 4
    assert SECRET not in logs.getvalue() and "wrong-secret" not in logs.getvalue()
    assert all(SECRET not in r["body"] for r in responses)


# --- HMAC signatures -------------------------------------------------------------------------

def test_a_signed_alert_is_accepted_and_a_bad_signature_refused(stack, strategy):
    body = alert()
    assert post(stack, body, "test", {"x-tradeflow-signature": signed(body)})["statusCode"] == 202
    other = alert(quantity="2")
    by_header = post(stack, other, None, {"X-Tradeflow-Signature": signed(other).upper().replace("SHA256", "sha256"),
                                          "X-Tradeflow-Strategy": "test"})
    assert by_header["statusCode"] == 202
    assert post(stack, alert(quantity="3"), "test", {"x-tradeflow-signature": signed(body)})["statusCode"] == 401
    assert post(stack, body, "test", {"x-tradeflow-signature": "md5=" + signed(body)[7:]})["statusCode"] == 401
    unknown = post(stack, body, "nobody", {"x-tradeflow-signature": signed(body)})
    assert unknown["statusCode"] == 401 and answer(unknown)["error"] == UNAUTHORIZED
    anonymous = post(stack, body, None, {"x-tradeflow-signature": signed(body)})
    assert anonymous["statusCode"] == 400 and answer(anonymous)["field"] == "strategy"
    assert len(queued(stack)) == 2


def test_a_signed_base64_body_is_signed_over_its_decoded_bytes(stack, strategy):
    body = alert()
    assert post(stack, body, "test", {"x-tradeflow-signature": signed(body)}, base64_body=True)["statusCode"] == 202


# --- hypothesis: whatever a client sends ------------------------------------------------------

_TEXT = st.text(max_size=300)
_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["ticker", "action", "quantity", "price", "time", "passphrase", "strategy", "bar",
                         "stop_loss", "take_profit", "sentiment", "symbol", "order", "size", "comment"]) | st.text(max_size=8),
        children, max_size=6),
    max_leaves=12,
)
_NUMBER = st.sampled_from(["1", "10", "179.98", "0", "-1", "1e400", "NaN", "Infinity", "abc", "", "{{close}}"]) | \
    st.decimals(allow_nan=True).map(str) | st.integers() | st.floats() | st.booleans() | st.none()
_ALERTISH = st.fixed_dictionaries(
    {"ticker": st.sampled_from(["AAPL", "NASDAQ:AAPL", "BTCUSDT.P", "NQ1!", "AAPL_DL", "", "{{ticker}}", "a b"])},
    optional={"action": st.sampled_from(["buy", "sell", "exit", "close", "SELL", "buy", "sell", "hold", "{{strategy.order.action}}"]),
              "sentiment": st.sampled_from(["long", "short", "flat", "sideways"]),
              "quantity": _NUMBER, "price": _NUMBER, "stop_loss": _NUMBER, "take_profit": _NUMBER,
              "time": st.sampled_from(["2024-03-01T15:30:02Z", "2024-03-01T15:30:02", "yesterday", "{{timenow}}"]),
              "strategy": st.fixed_dictionaries({}, optional={"order_action": st.sampled_from(["buy", "sell"]),
                                                              "order_contracts": _NUMBER, "position_size": _NUMBER}),
              "bar": st.fixed_dictionaries({}, optional={"close": _NUMBER, "time": st.text(max_size=5)})},
).map(json.dumps)
_BODY = _TEXT | _JSONISH.map(json.dumps) | _ALERTISH | _ALERTISH | st.builds(
    lambda pairs: "\n".join(f"{k}={v}" for k, v in pairs),
    st.lists(st.tuples(st.sampled_from(["SYMBOL", "SIGNAL", "PASSPHRASE", "QUANTITY", "PRICE"]) | st.text(max_size=6),
                       st.text(max_size=12)), max_size=5))
_HEADERS = st.dictionaries(
    st.sampled_from(["content-type", "Content-Type", "x-tradeflow-signature", "X-Tradeflow-Strategy",
                     "x-forwarded-for", "content-length"]) | st.text(min_size=1, max_size=12),
    st.sampled_from(["application/json", "text/plain; charset=utf-8", "application/x-www-form-urlencoded",
                     "multipart/form-data; boundary=x", "sha256=00", "test"]) | st.text(max_size=40),
    max_size=5)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(body=_BODY, headers=_HEADERS, token=st.sampled_from([None, CREDENTIAL, CREDENTIAL, "test", "test.wrong", "nobody.x"]),
       passphrase=st.booleans(), encode=st.sampled_from([False, True, "garbage"]))
def test_any_body_and_headers_get_an_answer_never_a_5xx(stack, strategy, monkeypatch, body, headers, token, passphrase,
                                                        encode):
    reconfigure(stack, monkeypatch, ALERT_BURST="0")  # past the burst every answer would be a 429
    if passphrase and body.startswith("{") and body.endswith("}") and len(body) > 2:
        body = f'{{"passphrase": "{CREDENTIAL}", ' + body[1:]
    event = http_api_event(body, token, "text/plain", TRADINGVIEW_IP, START)
    event["headers"] = headers
    if encode is True:
        event |= {"body": base64.b64encode(body.encode("utf-8", "surrogatepass")).decode(), "isBase64Encoded": True}
    elif encode == "garbage":
        event |= {"isBase64Encoded": True}
    response = stack.invoke("webhook", event)
    event_note(str(response["statusCode"]))
    assert response["statusCode"] in (202, 400, 401, 413), response
    refusal = answer(response)
    if response["statusCode"] == 400:
        assert refusal["field"] and refusal["error"]
    assert SECRET not in response["body"]
    assert stack.metrics["WebhookFaults"] == 0


# --- OpenAPI and cold start ------------------------------------------------------------------

def test_the_openapi_document_is_served_without_a_secret_and_matches_the_committed_one(stack):
    event = http_api_event("", None, "application/json", "203.0.113.9", START)
    event |= {"routeKey": "GET /webhook/openapi.json", "rawPath": "/webhook/openapi.json"}
    response = stack.invoke("webhook", event)
    assert response["statusCode"] == 200
    served = json.loads(response["body"])
    assert set(served["paths"]) == {"/webhook/{token}", "/webhook", "/webhook/openapi.json"}
    post_responses = served["paths"]["/webhook/{token}"]["post"]["responses"]
    assert set(post_responses) >= {"202", "400", "401", "403", "413", "429", "503"}
    assert "requestBody" in served["paths"]["/webhook"]["post"]
    committed = json.loads((repo() / "docs" / "openapi.json").read_text())
    assert served == committed, "regenerate: .venv/bin/python functions/webhook/handler.py > docs/openapi.json"
    assert SECRET not in response["body"]


def test_the_committed_openapi_document_is_the_generated_one(stack):
    generated = stack.handler("webhook").openapi_json()
    assert generated.strip() == (repo() / "docs" / "openapi.json").read_text().strip(), \
        "regenerate: .venv/bin/python functions/webhook/handler.py > docs/openapi.json"


def test_the_handler_imports_neither_the_database_driver_nor_boto3_nor_the_event_handler():
    code = ("import sys, importlib.util; s = importlib.util.spec_from_file_location('h', 'functions/webhook/handler.py');"
            "m = importlib.util.module_from_spec(s); s.loader.exec_module(m);"
            "print(sorted(n for n in ('psycopg', 'boto3', 'aws_xray_sdk', 'pydantic_settings',"
            " 'aws_lambda_powertools.event_handler') if n in sys.modules))")
    env = {"SIGNALS_QUEUE_URL": "q", "NOTIFICATIONS_QUEUE_URL": "n", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=repo(), env=env)
    assert out.stdout.strip() == "[]"


# --- the pure parts, as properties -----------------------------------------------------------

@given(before=st.text(max_size=40), after=st.text(max_size=40),
       secret=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=8, max_size=30))
def test_redact_removes_a_known_secret_wherever_it_is(before, after, secret):
    from tradeflow.pipeline.webhook import redact

    assert secret not in redact(before + secret + after, (secret,))
    assert secret not in redact(f'{{"passphrase": "{secret}"}}') and secret not in redact(f"PASSPHRASE={secret}\n")


@given(burst=st.integers(1, 20), seconds=st.floats(1, 600),
       gaps=st.lists(st.floats(0, 120, allow_nan=False), min_size=1, max_size=60))
def test_the_burst_limiter_never_allows_more_than_the_burst_plus_the_refill(burst, seconds, gaps):
    from tradeflow.pipeline.webhook import BurstLimiter

    limiter, now, allowed = BurstLimiter(burst, seconds), 0.0, 0
    for gap in gaps:
        now += gap
        allowed += limiter.allow("s", now)
    assert allowed <= burst + now * burst / seconds
    assert BurstLimiter(burst, seconds).allow("s", 0.0)  # a fresh bucket is full


def told(stack) -> str:
    """What the trader reads once the day's summary ran (refusals and rejections are info:
    they wait for the digest)."""
    stack.run_schedule("notifier")
    return "\n".join(n["message"] for n in stack.inbox())
