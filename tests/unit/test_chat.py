"""Chat channels against the providers' documented request and response shapes (httpx
MockTransport): Telegram sendMessage, Discord Execute Webhook (with its 429 retry_after), Slack
incoming webhooks; the chat sender's handler; the credentials' checks."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tradeflow.adapters import chat
from tradeflow.domain.errors import Permanent, Retryable, classify

TELEGRAM = {"bot_token": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0", "chat_id": "-1001234567890"}
DISCORD = {"webhook_url": "https://discord.com/api/webhooks/223704706495545344/3d89bb7572e0fb30d8128367b3b1b44f"}
SLACK = {"webhook_url": "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"}
CREDENTIALS = {"telegram": TELEGRAM, "discord": DISCORD, "slack": SLACK}


class Provider:
    """A provider that answers the given responses in turn and keeps the requests."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.answers, self.requests = list(answers), []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers.pop(0)


def post(channel: str, provider: Provider, text: str = "[ma-cross] Stop-loss SELL 361 MSFT @ 26.67") -> list[float]:
    slept: list[float] = []
    chat.post(chat.http_client(httpx.MockTransport(provider)), channel, CREDENTIALS[channel], text, sleep=slept.append)
    return slept


def telegram_ok() -> httpx.Response:
    return httpx.Response(200, json={"ok": True, "result": {"message_id": 7, "date": 1709328600,
                                                            "chat": {"id": -1001234567890, "type": "supergroup"},
                                                            "text": "..."}})


def test_telegram_send_message_request_and_answer():
    provider = Provider(telegram_ok())
    assert post("telegram", provider) == []
    [request] = provider.requests
    assert request.method == "POST"
    assert str(request.url) == f"https://api.telegram.org/bot{TELEGRAM['bot_token']}/sendMessage"
    assert json.loads(request.content) == {"chat_id": "-1001234567890",
                                           "text": "[ma-cross] Stop-loss SELL 361 MSFT @ 26.67"}


def test_telegram_flood_control_is_waited_out():
    flood = httpx.Response(429, json={"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 3",
                                      "parameters": {"retry_after": 3}})
    provider = Provider(flood, telegram_ok())
    assert post("telegram", provider) == [3.0]
    assert len(provider.requests) == 2


def test_telegram_refusal_is_permanent_and_names_no_token():
    provider = Provider(httpx.Response(401, json={"ok": False, "error_code": 401, "description": "Unauthorized"}))
    with pytest.raises(Permanent, match="Unauthorized") as err:
        post("telegram", provider)
    assert TELEGRAM["bot_token"] not in str(err.value) and classify(err.value) == "permanent"


def test_discord_execute_webhook_request_and_answer():
    provider = Provider(httpx.Response(200, json={"id": "1", "type": 0, "content": "...", "channel_id": "2"}))
    assert post("discord", provider) == []
    [request] = provider.requests
    assert request.url.params["wait"] == "true"
    assert str(request.url).split("?")[0] == DISCORD["webhook_url"]
    assert json.loads(request.content) == {"content": "[ma-cross] Stop-loss SELL 361 MSFT @ 26.67"}


def test_discord_429_retry_after_is_honoured():
    limited = httpx.Response(429, json={"message": "You are being rate limited.", "retry_after": 0.347,
                                        "global": False}, headers={"Retry-After": "1"})
    provider = Provider(limited, limited, httpx.Response(204))
    assert post("discord", provider) == [0.347, 0.347]
    assert len(provider.requests) == 3


def test_discord_keeps_rate_limiting_after_the_last_try():
    limited = httpx.Response(429, json={"message": "You are being rate limited.", "retry_after": 1.5, "global": False})
    provider = Provider(*[limited] * chat.MAX_TRIES)
    with pytest.raises(chat.RateLimited) as err:
        post("discord", provider)
    assert len(provider.requests) == chat.MAX_TRIES and classify(err.value) == "retryable"


def test_a_long_wait_is_left_to_the_next_invocation():
    provider = Provider(httpx.Response(429, json={"message": "rate limited", "retry_after": 60.0, "global": True}))
    with pytest.raises(chat.RateLimited):
        assert post("discord", provider) == []
    assert len(provider.requests) == 1


def test_discord_unknown_webhook_is_permanent_and_names_no_url():
    provider = Provider(httpx.Response(404, json={"message": "Unknown Webhook", "code": 10015}))
    with pytest.raises(Permanent, match="Unknown Webhook") as err:
        post("discord", provider)
    assert DISCORD["webhook_url"] not in str(err.value)


def test_slack_incoming_webhook_request_and_answer():
    provider = Provider(httpx.Response(200, text="ok"))
    assert post("slack", provider) == []
    [request] = provider.requests
    assert str(request.url) == SLACK["webhook_url"]
    assert json.loads(request.content) == {"text": "[ma-cross] Stop-loss SELL 361 MSFT @ 26.67"}


@pytest.mark.parametrize(("status", "body"), [(400, "invalid_payload"), (403, "action_prohibited"),
                                              (404, "channel_not_found"), (410, "channel_is_archived")])
def test_slack_errors_are_permanent(status, body):
    with pytest.raises(Permanent, match=body):
        post("slack", Provider(httpx.Response(status, text=body)))


def test_slack_429_retry_after_header_and_5xx_retryable():
    provider = Provider(httpx.Response(429, text="rate_limited", headers={"Retry-After": "2"}), httpx.Response(200, text="ok"))
    assert post("slack", provider) == [2.0]
    with pytest.raises(Retryable, match="500"):
        post("slack", Provider(httpx.Response(500, text="")))


def test_a_lost_connection_is_retryable():
    def down(request):
        raise httpx.ConnectError("no route to host", request=request)

    with pytest.raises(Retryable):
        chat.post(chat.http_client(httpx.MockTransport(down)), "telegram", TELEGRAM, "x", sleep=lambda s: None)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(list(chat.MAX_CHARACTERS)), st.text(min_size=1, max_size=6000))
def test_every_text_fits_its_channel(channel, text):
    answers = {"telegram": telegram_ok, "discord": lambda: httpx.Response(204),
               "slack": lambda: httpx.Response(200, text="ok")}
    provider = Provider(answers[channel]())
    post(channel, provider, text)
    sent = json.loads(provider.requests[0].content)
    body = sent.get("text", sent.get("content"))
    assert len(body) <= chat.MAX_CHARACTERS[channel]
    assert body == text or body.endswith("...") and text.startswith(body[:-3])


@pytest.mark.parametrize(("channel", "value", "says"), [
    ("telegram", {"bot_token": "nope", "chat_id": "1"}, "BotFather"),
    ("telegram", {"bot_token": TELEGRAM["bot_token"], "chat_id": "my chat"}, "chat id"),
    ("discord", {"webhook_url": "https://example.com/hook"}, "https://discord.com/api/webhooks/"),
    ("slack", {"webhook_url": "http://hooks.slack.com/services/x"}, "https://hooks.slack.com/services/"),
    ("pager", {}, "telegram, discord or slack"),
])
def test_bad_credentials_say_what_is_wrong(channel, value, says):
    with pytest.raises(ValueError, match=says):
        chat.check_credentials(channel, value)


class Context:
    function_name, memory_limit_in_mb, aws_request_id = "tradeflow-chat_sender", 256, "test"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:tradeflow-chat_sender"


def _handler():
    path = Path(__file__).parents[2] / "functions" / "chat_sender" / "handler.py"
    spec = importlib.util.spec_from_file_location("chat_sender_handler", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_chat_sender_posts_each_record_to_its_channel(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "tradeflow")
    handler = _handler()
    providers = {"discord": Provider(httpx.Response(204)), "slack": Provider(httpx.Response(200, text="ok"))}
    monkeypatch.setattr(chat, "credentials", lambda channel, fresh=False: CREDENTIALS[channel])
    monkeypatch.setattr(handler, "http", lambda: httpx.Client(transport=httpx.MockTransport(
        lambda request: providers["discord" if "discord" in request.url.host else "slack"](request))))
    records = [{"Sns": {"Message": chat.ChatMessage(key="k1", channel=c, text=f"to {c}").model_dump_json()}}
               for c in ("discord", "slack")]
    assert handler.handler({"Records": records}, Context()) == {"sent": 2}
    assert json.loads(providers["discord"].requests[0].content) == {"content": "to discord"}
    assert json.loads(providers["slack"].requests[0].content) == {"text": "to slack"}
    monkeypatch.setattr(chat, "credentials", lambda channel, fresh=False: None)
    with pytest.raises(Permanent, match="tradeflow notify set-chat slack --aws"):
        handler.handler({"Records": records[1:]}, Context())
