"""Chat channels: a Telegram bot, a Discord webhook, a Slack incoming webhook.

The notifier runs in the VPC (IPv6 egress only), so it never calls the providers: it publishes
one :class:`ChatMessage` per chat channel to the chat topic (SNS, reachable over IPv6 like the
other topics), and the chat sender, a function outside the VPC subscribed to that topic, posts
it with httpx (:func:`post`). Each channel is its own message, so a failure on one is retried
(by the sender's asynchronous invocation) without re-sending the others.

Credentials are SSM SecureString parameters, one per channel (:data:`PARAMETERS`), set by
``tradeflow notify set-chat CHANNEL --aws``; never in code, the database or logs:

* telegram: ``{"bot_token": "123456:ABC...", "chat_id": "-1001234567890"}`` (BotFather's token;
  the chat's id)
* discord: ``{"webhook_url": "https://discord.com/api/webhooks/ID/TOKEN"}``
* slack: ``{"webhook_url": "https://hooks.slack.com/services/T.../B.../..."}``

Request and response shapes, as the providers document them:

* Telegram Bot API ``sendMessage`` (core.telegram.org/bots/api#sendmessage): POST
  ``https://api.telegram.org/bot<token>/sendMessage`` with JSON ``{"chat_id", "text"}`` (text at
  most 4096 characters); the answer is ``{"ok": true, "result": Message}`` or ``{"ok": false,
  "error_code", "description", "parameters": {"retry_after": seconds}}`` (429 on flood control).
* Discord "Execute Webhook" (discord.com/developers/docs/resources/webhook#execute-webhook):
  POST the webhook URL with JSON ``{"content"}`` (at most 2000 characters); ``?wait=true`` makes
  it answer 200 with the message (204 without); rate limited, 429 with JSON ``{"message",
  "retry_after": seconds (float), "global"}`` (discord.com/developers/docs/topics/rate-limits).
* Slack incoming webhooks (api.slack.com/messaging/webhooks): POST the URL with JSON
  ``{"text"}``; the answer is 200 with the body ``ok``, or 400 ``invalid_payload``, 403
  ``action_prohibited``, 404 ``channel_not_found``, 410 ``channel_is_archived``; 429 with a
  ``Retry-After`` header (seconds) when rate limited (api.slack.com/docs/rate-limits).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from tradeflow.adapters.aws import DeliveryError, client
from tradeflow.domain.errors import Permanent, Retryable
from tradeflow.names import CHAT_PARAMETERS

ChatChannel = Literal["telegram", "discord", "slack"]

#: SSM SecureString parameter of each chat channel's credentials.
PARAMETERS: dict[str, str] = CHAT_PARAMETERS
#: Characters a message may have on each channel (Telegram 4096, Discord 2000; Slack advises 4000).
MAX_CHARACTERS = {"telegram": 4096, "discord": 2000, "slack": 4000}
TIMEOUT_SECONDS = 10.0
#: Tries of one post (the first and the retries after a 429), and the longest wait honoured
#: between them (seconds); a longer ``retry_after`` is left to the next asynchronous retry.
MAX_TRIES = 3
MAX_WAIT_SECONDS = 10.0

TELEGRAM_TOKEN = re.compile(r"^\d{5,}:[A-Za-z0-9_-]{30,}$")
WEBHOOK_PREFIXES = {
    "discord": ("https://discord.com/api/webhooks/", "https://discordapp.com/api/webhooks/"),
    "slack": ("https://hooks.slack.com/services/",),
}


class ChatMessage(BaseModel):
    """What the notifier publishes to the chat topic, one per channel: the notification's key
    (or a burst's), the channel and the text."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(min_length=1, max_length=500)
    channel: ChatChannel
    text: str = Field(min_length=1)


class RateLimited(Retryable):
    """The provider asked us to wait ``retry_after`` seconds."""

    def __init__(self, channel: str, retry_after: float) -> None:
        super().__init__(f"{channel} rate limited: retry after {retry_after:g} s")
        self.retry_after = retry_after


def check_credentials(channel: str, value: dict[str, str]) -> dict[str, str]:
    """``value`` checked for ``channel``; raises ValueError saying what is wrong and where to
    find the right value. Returns the cleaned value (whitespace stripped)."""
    clean = {k: str(v).strip() for k, v in value.items()}
    if channel == "telegram":
        if not TELEGRAM_TOKEN.match(clean.get("bot_token", "")):
            raise ValueError("a Telegram bot token looks like 123456789:AA... (BotFather, /newbot)")
        if not re.match(r"^-?\d+$|^@\w{5,}$", clean.get("chat_id", "")):
            raise ValueError("a Telegram chat id is a number such as -1001234567890 (or @channelname): "
                             "message the bot, then read it from getUpdates")
        return {"bot_token": clean["bot_token"], "chat_id": clean["chat_id"]}
    if channel in WEBHOOK_PREFIXES:
        url = clean.get("webhook_url", "")
        if not url.startswith(WEBHOOK_PREFIXES[channel]):
            raise ValueError(f"a {channel} webhook URL starts with {WEBHOOK_PREFIXES[channel][0]} "
                             f"({'Server Settings > Integrations > Webhooks' if channel == 'discord' else 'your Slack app > Incoming Webhooks'})")
        return {"webhook_url": url}
    raise ValueError(f"unknown chat channel {channel!r}: use telegram, discord or slack")


def post(http: httpx.Client, channel: str, credentials: dict[str, str], text: str,
         sleep: Callable[[float], None]) -> None:
    """Post ``text`` (cut to the channel's :data:`MAX_CHARACTERS`) to ``channel``. A 429 is
    waited out (its ``retry_after``, at most :data:`MAX_WAIT_SECONDS`, by ``sleep``) up to
    :data:`MAX_TRIES` tries. Raises :class:`RateLimited` or ``Retryable`` (5xx, timeout, no
    connection: worth retrying later) and ``Permanent`` (the provider refused the token, URL or
    message: fix the credentials with ``tradeflow notify set-chat``). Never puts a token or a
    webhook URL in a message."""
    limit = MAX_CHARACTERS[channel]
    body = text if len(text) <= limit else text[:limit - 3] + "..."
    for attempt in range(1, MAX_TRIES + 1):
        try:
            _post_once(http, channel, credentials, body)
            return
        except RateLimited as exc:
            if attempt == MAX_TRIES or exc.retry_after > MAX_WAIT_SECONDS:
                raise
            sleep(exc.retry_after)


def _post_once(http: httpx.Client, channel: str, credentials: dict[str, str], text: str) -> None:
    if channel == "telegram":
        url = f"https://api.telegram.org/bot{credentials['bot_token']}/sendMessage"
        payload: dict[str, Any] = {"chat_id": credentials["chat_id"], "text": text}
        params = {}
    elif channel == "discord":
        url, payload, params = credentials["webhook_url"], {"content": text}, {"wait": "true"}
    else:
        url, payload, params = credentials["webhook_url"], {"text": text}, {}
    try:
        response = http.post(url, json=payload, params=params)
    except httpx.TimeoutException:
        raise Retryable(f"{channel}: no answer within {TIMEOUT_SECONDS:g} s") from None
    except httpx.HTTPError as exc:
        raise Retryable(f"{channel}: {type(exc).__name__}") from None
    status = response.status_code
    answer = _json(response)
    if status == 429:
        raise RateLimited(channel, _retry_after(channel, response, answer))
    if status >= 500:
        raise Retryable(f"{channel} answered {status}")
    if channel == "telegram":
        if status == 200 and answer.get("ok") is True:
            return
        raise Permanent(f"telegram refused the message ({answer.get('error_code', status)}: "
                        f"{answer.get('description', 'no description')}); check the bot token and chat id")
    if channel == "discord":
        if status in (200, 204):
            return
        raise Permanent(f"discord refused the message ({status}: {answer.get('message', 'no message')}); "
                        "check the webhook URL")
    if status == 200 and response.text.strip() == "ok":
        return
    raise Permanent(f"slack refused the message ({status}: {response.text.strip()[:80] or 'no body'}); "
                    "check the webhook URL")


def _json(response: httpx.Response) -> dict:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _retry_after(channel: str, response: httpx.Response, answer: dict) -> float:
    """Seconds to wait: Telegram's ``parameters.retry_after``, Discord's ``retry_after`` (JSON,
    float seconds), else the ``Retry-After`` header (Slack); 1 s when none is given."""
    value = (answer.get("parameters") or {}).get("retry_after") if channel == "telegram" else answer.get("retry_after")
    if value is None:
        value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return 1.0


def http_client(transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """The chat sender's HTTP client (:data:`TIMEOUT_SECONDS`); tests pass an ``httpx.MockTransport``."""
    return httpx.Client(timeout=TIMEOUT_SECONDS, transport=transport, headers={"User-Agent": "tradeflow-chat"})


# --- the notifier's side: the chat topic -----------------------------------------------------

def publish(topic_arn: str, message: ChatMessage) -> None:
    """Publish ``message`` to the chat topic (the chat sender posts it). Raises DeliveryError."""
    try:
        client("sns").publish(TopicArn=topic_arn, Message=message.model_dump_json(),
                              MessageAttributes={"channel": {"DataType": "String", "StringValue": message.channel}})
    except Exception as exc:  # botocore.exceptions.* — botocore is not imported here on purpose
        raise DeliveryError(f"could not publish to the chat topic ({message.channel}): {exc}") from exc


# --- credentials in SSM -------------------------------------------------------------------------

def credentials(channel: str, fresh: bool = False) -> dict[str, str] | None:
    """The stored credentials of ``channel``, None when not set (powertools' cached SSM read;
    ``fresh``: bypass the cache). Raises ParametersUnavailable when SSM cannot be read."""
    from tradeflow.adapters.market_data.keys import _get

    raw = _get(PARAMETERS[channel], decrypt=True, fresh=fresh)
    return None if raw is None else json.loads(raw)


def configured(fresh: bool = True) -> list[str]:
    """The chat channels whose credentials are stored."""
    return [c for c in PARAMETERS if credentials(c, fresh=fresh) is not None]


def put_credentials(channel: str, value: dict[str, str]) -> None:
    """Store (or replace) ``channel``'s credentials as a SecureString after
    :func:`check_credentials`. Raises ValueError for a malformed value."""
    clean = check_credentials(channel, value)
    client("ssm").put_parameter(Name=PARAMETERS[channel], Type="SecureString", Overwrite=True,
                                Value=json.dumps(clean))
