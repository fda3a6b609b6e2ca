"""The webhook step: authenticate, check, read and normalise an alert, and queue it as a Signal.

It touches no database: its only dependencies are SQS (signals, and notifications of refused
alerts) and SSM (each strategy's secret and settings), so an alert is never lost while the
database is down. Checks, in order, each with its HTTP status:

1. source address outside the optional allowlist (API Gateway's ``sourceIp``) -> 403;
2. a ``<strategy>.<secret>`` credential in the URL path -> 401 if wrong or if the strategy is
   unknown (the same answer, so a prober learns no names);
3. a body larger than :data:`~tradeflow.domain.alerts.MAX_BODY_BYTES` -> 413; a base64 body
   that does not decode to UTF-8 text -> 400;
4. an ``X-Tradeflow-Signature: sha256=<hex>`` header: HMAC-SHA256 of the raw body with the
   strategy's secret, the strategy named by the path (``/webhook/<strategy>``) or an
   ``X-Tradeflow-Strategy`` header -> 401 if wrong or the strategy unknown;
5. the body read as JSON or ``KEY=VALUE`` lines -> 400 naming the field; then, without a
   credential so far, its ``passphrase`` field -> 401 if missing or wrong;
6. any text the pipeline would store holding NUL, a lone surrogate or a control character
   -> 400 naming the field; the alert normalised -> 400 naming the field; its own ``time``
   older than the strategy's ``max_alert_age_seconds`` (default 300) -> 400 on ``time``;
7. more than the burst of alerts for one strategy and symbol (:class:`BurstLimiter`) -> 429
   (TradingView's own cap is per alert, i.e. per chart: many symbols firing at one close is
   normal, one symbol firing 16 times in 3 minutes is not);
8. the Signal sent to signals.fifo, carrying the raw body and path token with every secret
   replaced (:func:`redact_for_replay`) for the signal processor to keep -> 202 {signal_id}; an
   SQS (or SSM) failure propagates and is answered 503, so that TradingView retries.

Every secret comparison is constant-time, and a missing secret is compared with a dummy, so a
missing and a wrong secret get the same 401 in about the same time. Refusals after the alert
authenticated (steps 3-7) are also sent to the notifications queue as ``alert_refused`` (the
notifier records and sends them), with the secret removed; unauthenticated requests are only
counted and logged by the handler.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from tradeflow.adapters.aws import DeliveryError
from tradeflow.domain.alerts import MAX_BODY_BYTES, AlertError, normalise, read_body
from tradeflow.domain.bar_alerts import is_bar_alert, parse_bar_alert
from tradeflow.domain.messages import NotificationEvent
from tradeflow.domain.signals import UNTIMED_DEDUPE_SECONDS, Signal, new_signal
from tradeflow.domain.strategy import DEFAULT_MAX_ALERT_AGE_SECONDS
from tradeflow.names import STRATEGY_ID
from tradeflow.pipeline.market_data import BarReceived
from tradeflow.webhook_env import WebhookEnv

#: The one answer to a missing or wrong secret, whichever it was.
UNAUTHORIZED = (
    "missing or wrong webhook secret: post to /webhook/<strategy>.<secret>, or add "
    "\"passphrase\": \"<strategy>.<secret>\" to the alert message (tradeflow strategy add prints both), "
    "or sign the body with X-Tradeflow-Signature: sha256=<HMAC-SHA256 of the body with the secret, hex>"
)
#: Characters of the alert kept in a refusal notification.
EXCERPT_CHARS = 160
#: Strings that stand in for a secret in refusals.
REDACTED = "***"

_DUMMY = hashlib.sha256(b"tradeflow: nothing to compare with").digest()
_CREDENTIAL_FIELD = re.compile(
    r"""(["']?\b(?:passphrase|password|secret|token|signature)["']?\s*[:=]\s*)("(?:[^"\\]|\\.)*"?|[^\s,;&}]*)""",
    re.IGNORECASE,
)


class Refused(Exception):
    """An alert not accepted. ``status`` is the HTTP status, ``error`` says what was wrong and
    how to fix it (never a secret), ``field`` names the offending field (400 and 413), and
    ``strategy_id`` is set when the request authenticated as that strategy."""

    def __init__(self, status: int, error: str, field: str | None = None, strategy_id: str | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.field, self.strategy_id = status, error, field, strategy_id
        #: Whether the refusal reached the notifications queue (authenticated refusals only).
        self.recorded = False


@dataclass(frozen=True)
class Request:
    """The parts of one HTTP request the webhook reads. ``body`` is as API Gateway passes it
    (base64 text when ``is_base64``); headers are the optional signing headers."""

    body: str | None
    source_ip: str
    is_base64: bool = False
    path_token: str | None = None
    signature: str | None = None
    strategy_header: str | None = None


class BurstLimiter:
    """A token bucket per key (strategy and symbol): up to ``burst`` alerts at once, refilled at ``burst``
    per ``seconds``; ``burst`` 0 means no limit. Held in one warm container's memory (see
    :class:`~tradeflow.webhook_env.WebhookEnv`); times are POSIX seconds from the tradeflow clock,
    so a replay is deterministic."""

    def __init__(self, burst: int, seconds: float) -> None:
        self.burst, self.seconds = burst, seconds
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str, now: float) -> bool:
        """Take one token from ``key``'s bucket; False (and nothing taken) when it is empty."""
        if self.burst <= 0:
            return True
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + max(0.0, now - last) * self.burst / self.seconds)
        allowed = tokens >= 1
        self._buckets[key] = (tokens - 1 if allowed else tokens, now)
        return allowed


def same_secret(given: bytes | None, expected: bytes | None) -> bool:
    """Constant-time equality of two secrets, compared as SHA-256 digests (so their lengths do
    not show either); a missing side is compared with a dummy and never matches."""
    a = hashlib.sha256(given).digest() if given is not None else _DUMMY
    b = hashlib.sha256(expected).digest() if expected is not None else _DUMMY
    return hmac.compare_digest(a, b) and given is not None and expected is not None


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """An alert body ``text`` with each of ``secrets`` and the value of every passphrase-like
    field (``passphrase``, ``password``, ``secret``, ``token``, ``signature``; JSON or
    KEY=VALUE) replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _CREDENTIAL_FIELD.sub(lambda m: m.group(1) + (f'"{REDACTED}"' if m.group(2)[:1] == '"' else REDACTED), text)


#: Where a secret stood in a kept alert body or path: the literal ``tradeflow replay`` replaces
#: with its own credential (local/replay.py's PASSPHRASE_PLACEHOLDER).
REPLAY_PLACEHOLDER = "{{passphrase}}"


def redact_for_replay(text: str, secrets: tuple[str, ...]) -> str | None:
    """``text`` (an alert body or a URL path token) as tradeflow keeps it: each of ``secrets``
    (the credential ``<strategy>.<secret>`` and the bare secret) and the value of every
    passphrase-like field (``passphrase``, ``password``, ``secret``, ``token``, ``signature``,
    JSON or KEY=VALUE) replaced by :data:`REPLAY_PLACEHOLDER`, so that a replay authenticates
    it with its own credential and a kept body never holds a secret. Everything else is kept
    byte for byte.

    A JSON body that still decodes to a secret or a passphrase-like value (a secret written with
    escapes such as ``\\u0065``, or inside JSON text in a field) is written out again from its
    decoded value with those replaced; numbers with a fraction then become strings, which
    tradeflow reads the same. None for a JSON body nested too deeply to be checked (hundreds of
    levels): such a body is not kept."""
    secrets = tuple(sorted((s for s in secrets if s), key=len, reverse=True))
    original = _json_value(text) if text.lstrip()[:1] == "{" else None
    for secret in secrets:
        text = text.replace(secret, REPLAY_PLACEHOLDER)
    if original is None:
        return _CREDENTIAL_FIELD.sub(lambda m: m.group(1) + (
            f'"{REPLAY_PLACEHOLDER}"' if m.group(2)[:1] == '"' else REPLAY_PLACEHOLDER), text)
    text = _JSON_CREDENTIAL.sub(lambda m: f'{m.group(1)}"{REPLAY_PLACEHOLDER}"', text)
    decoded = _json_value(text)  # None when a secret's text was part of an escape such as \u0030
    try:
        if decoded is not None and _scrub(decoded, secrets) == decoded:
            return text
        return json.dumps(_scrub(original, secrets), ensure_ascii=False, default=str)
    except RecursionError:  # nested too deeply to be checked: not kept rather than kept unchecked
        return None


_CREDENTIAL_NAME = re.compile(r"passphrase|password|secret|token|signature", re.IGNORECASE)
#: A passphrase-like member of a JSON object and its value (a string, a number, true, false, null).
_JSON_CREDENTIAL = re.compile(
    r'("(?:passphrase|password|secret|token|signature)"\s*:\s*)("(?:[^"\\]|\\.)*"|[-+.\w]+)', re.IGNORECASE)


def _json_value(text: str) -> Any:
    """The JSON object or array ``text`` holds, else None."""
    try:
        value = json.loads(text, parse_float=Decimal)
    except ValueError:
        return None
    return value if isinstance(value, dict | list) else None


def _scrub(value: Any, secrets: tuple[str, ...]) -> Any:
    """``value`` with every secret replaced in every key and string, JSON text inside strings
    included, and every passphrase-like member's value replaced."""
    if isinstance(value, str):
        inner = _json_value(value) if value.lstrip()[:1] in "{[" else None
        if inner is not None:
            scrubbed = _scrub(inner, secrets)
            return value if scrubbed == inner else json.dumps(scrubbed, ensure_ascii=False, default=str)
        for secret in secrets:
            value = value.replace(secret, REPLAY_PLACEHOLDER)
        return value
    if isinstance(value, dict):
        return {_scrub(k, secrets): REPLAY_PLACEHOLDER if isinstance(k, str) and _CREDENTIAL_NAME.fullmatch(k)
                else _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    return value


@dataclass
class Webhook:
    """One container's webhook: its settings, burst limiter and dependencies.

    ``secret_of`` / ``settings_of`` give a strategy's webhook secret and settings JSON (None
    when absent; SSM in AWS), ``send(queue_url, message, group, dedupe_id)`` sends to SQS and
    raises on failure. ``send_bars(bars)`` hands a TradingView bar alert's bar on to the stop
    monitor and returns those it forwarded (None: bar alerts are only checked).
    """

    env: WebhookEnv
    secret_of: Callable[[str], str | None]
    settings_of: Callable[[str], str | None]
    send: Callable[[str, BaseModel, str | None, str | None], None]
    send_bars: Callable[[list[Any]], list[Any]] | None = None
    limiter: BurstLimiter = field(init=False)
    allowed_ips: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        self.limiter = BurstLimiter(self.env.alert_burst, self.env.alert_burst_seconds)
        self.allowed_ips = frozenset(ip.strip() for ip in self.env.allowed_source_ips.split(",") if ip.strip())

    def accept(self, request: Request, now: datetime) -> Signal | BarReceived:
        """Queue the alert in ``request`` (received at ``now``, UTC) as a Signal and return it;
        a bar alert (``"action": "bar"``) is authenticated the same way but never trades,
        never notifies and takes nothing from the burst budget: its bar goes to the price
        feed and a :class:`~tradeflow.pipeline.market_data.BarReceived` is returned.

        Raises :class:`Refused` (4xx; after authentication also sent to the notifications
        queue), or the SQS/SSM failure (the caller answers 503).
        """
        who = _Caller()
        try:
            return self._accept(request, now, who)
        except Refused as exc:
            refused = exc
        except AlertError as exc:
            refused = Refused(400, exc.message, exc.field)
        for secret in who.secrets:  # a refusal may quote a field, and a field may hold the secret
            refused.error = refused.error.replace(secret, REDACTED)
        refused.strategy_id = who.strategy_id
        if who.strategy_id:
            self._record(refused, redact(who.text, who.secrets), now)
        raise refused

    def _accept(self, request: Request, now: datetime, who: _Caller) -> Signal | BarReceived:
        if self.allowed_ips and request.source_ip not in self.allowed_ips:
            raise Refused(403, f"source address {request.source_ip} is not allowed (ALLOWED_SOURCE_IPS)")
        token = request.path_token
        if token and "." in token:
            self._authenticate(token, who)
        raw = _raw_body(request)
        who.text = text = raw.decode("utf-8", "replace")
        if request.signature is not None and who.strategy_id is None:
            self._verify_signature(request.strategy_header or token, request.signature, raw, who)
        fields = _guarded(read_body, text)
        if who.strategy_id is None:
            passphrase = fields.get("passphrase")
            self._authenticate(passphrase if isinstance(passphrase, str) else None, who)
        check_storable(fields)
        if is_bar_alert(fields):
            bar = _guarded(parse_bar_alert, fields)
            forwarded = self.send_bars([bar]) if self.send_bars is not None else []
            return BarReceived(who.strategy_id, bar, bool(forwarded))
        alert = _guarded(normalise, fields)
        settings = self.settings_of(who.strategy_id)
        _check_age(alert.time, now, settings)
        if not self.limiter.allow(f"{who.strategy_id}:{alert.ticker}", now.timestamp()):
            raise Refused(429, f"more than {self.env.alert_burst} alerts for {alert.ticker} in "
                               f"{self.env.alert_burst_seconds:g} s on strategy {who.strategy_id}; TradingView "
                               f"stops a strategy alert firing that often too")
        signal = new_signal(who.strategy_id, alert, now, settings).model_copy(update={
            "raw_body": redact_for_replay(storable(text), who.secrets),
            "raw_path": None if who.signed else redact_for_replay(request.path_token or "", who.secrets)})
        self.send(self.env.signals_queue_url, signal, signal.message_group, signal.dedupe_key[:128])
        return signal

    def _authenticate(self, credential: str | None, who: _Caller) -> None:
        """``<strategy>.<secret>`` against the stored secret; sets ``who`` on success."""
        strategy_id, _, secret = (credential or "").partition(".")
        named = bool(secret) and STRATEGY_ID.match(strategy_id) is not None
        stored = self.secret_of(strategy_id) if named else None
        matched = same_secret(_bytes(secret) if named else None, _bytes(stored) if stored is not None else None)
        if not matched:  # an unknown strategy included: the answer does not say which names exist
            raise Refused(401, UNAUTHORIZED)
        who.strategy_id, who.secrets = strategy_id, (f"{strategy_id}.{secret}", secret)

    def _verify_signature(self, strategy_id: str | None, signature: str, raw: bytes, who: _Caller) -> None:
        """``sha256=<hex>`` of HMAC-SHA256(secret, raw body), compared in constant time."""
        if not strategy_id or not STRATEGY_ID.match(strategy_id):
            raise Refused(400, "a signed alert must name its strategy: post to /webhook/<strategy> or add an "
                               "X-Tradeflow-Strategy header", "strategy")
        stored = self.secret_of(strategy_id)
        scheme, _, given = signature.strip().partition("=")
        expected = hmac.new(stored.encode(), raw, hashlib.sha256).hexdigest() if stored is not None else None
        matched = same_secret(_bytes(given.strip().lower()) if scheme.lower() == "sha256" else None,
                              expected.encode() if expected else None)
        if not matched:  # an unknown strategy included, as for a secret
            raise Refused(401, UNAUTHORIZED)
        who.strategy_id, who.secrets, who.signed = strategy_id, (stored,), True

    def _record(self, refused: Refused, text: str, now: datetime) -> None:
        """Tell the notifier about a refused authenticated alert (best effort: a failure to do so
        must not turn a 4xx into a retry). One notification per strategy, status, field and
        body per minute; a 429 once per burst window."""
        excerpt = storable(" ".join(text.split())[:EXCERPT_CHARS])
        window = self.env.alert_burst_seconds if refused.status == 429 else UNTIMED_DEDUPE_SECONDS
        what = "" if refused.status == 429 else f"{refused.field}\n{excerpt}"
        digest = hashlib.sha256(_bytes(f"{refused.status}\n{what}\n{int(now.timestamp() // window)}")).hexdigest()
        event = NotificationEvent(
            key=f"alert_refused:{refused.strategy_id}:{digest[:32]}", kind="alert_refused",
            strategy_id=refused.strategy_id,
            facts={"status": refused.status, "field": refused.field, "reason": storable(refused.error), "excerpt": excerpt,
                   "received_at": now.isoformat()},
        )
        try:
            self.send(self.env.notifications_queue_url, event, None, None)
            refused.recorded = True
        except DeliveryError:
            pass  # the refusal stands; the handler logs that it was not recorded


@dataclass
class _Caller:
    """Who the request turned out to be, filled in as the checks pass."""

    strategy_id: str | None = None
    secrets: tuple[str, ...] = ()
    text: str = ""
    signed: bool = False


def _bytes(text: str) -> bytes:
    """UTF-8 of client text that may hold lone surrogates (a JSON ``\\ud800`` escape)."""
    return text.encode("utf-8", "surrogatepass")


def _raw_body(request: Request) -> bytes:
    body = request.body or ""
    # A cheap bound before decoding: base64 is 4/3 of the bytes, a character at most 4 bytes.
    if len(body) > (MAX_BODY_BYTES * 4 // 3 + 4 if request.is_base64 else MAX_BODY_BYTES * 4):
        raise Refused(413, f"the alert is larger than {MAX_BODY_BYTES} bytes; shorten the alert message", "body")
    if request.is_base64:
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise Refused(400, "the body is marked isBase64Encoded but is not valid base64", "body") from None
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused(400, "the alert message must be UTF-8 text (JSON or KEY=VALUE lines)", "body") from None
    else:
        raw = body.encode("utf-8", "replace")  # a lone surrogate becomes "?"
    if len(raw) > MAX_BODY_BYTES:
        raise Refused(413, f"the alert is larger than {MAX_BODY_BYTES} bytes; shorten the alert message", "body")
    return raw


#: Characters PostgreSQL text and jsonb cannot keep (NUL, lone UTF-16 surrogates) or that
#: never belong in an alert field (C0 and C1 control characters other than tab and newlines).
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def check_storable(fields: dict[str, Any]) -> None:
    """Refuse (400, naming the field) any key or text value of the alert, at any depth, that
    holds a character the pipeline cannot store (:data:`_UNSTORABLE`), so that the webhook
    never answers 202 for an alert that would fail downstream."""
    def walk(value: Any, path: str) -> None:
        if isinstance(value, str):
            if m := _UNSTORABLE.search(value):
                raise Refused(400, f"the field {path} holds the character U+{ord(m.group()):04X}, which tradeflow "
                                   "cannot store (NUL, a lone surrogate or a control character); remove it", path)
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and _UNSTORABLE.search(key):
                    raise Refused(400, f"a field name in {path} holds a character tradeflow cannot store "
                                       "(NUL, a lone surrogate or a control character); remove it", path)
                name = str(key) or "(empty name)"
                walk(item, f"{path}.{name}" if path != "body" else name)
        elif isinstance(value, list | tuple):
            for n, item in enumerate(value):
                walk(item, f"{path}[{n}]")

    walk(fields, "body")


def storable(text: str) -> str:
    """``text`` with every character of :data:`_UNSTORABLE` replaced by U+FFFD."""
    return _UNSTORABLE.sub("\ufffd", text)


def _check_age(alert_time: datetime | None, now: datetime, settings: str | None) -> None:
    """Refuse (400 on ``time``) an alert whose own time is more than the strategy's
    ``max_alert_age_seconds`` before ``now`` (TradingView delivers within seconds to a minute,
    so an older alert is a stale replay or a stuck sender)."""
    if alert_time is None:
        return
    limit = DEFAULT_MAX_ALERT_AGE_SECONDS
    if settings:
        try:
            limit = int(json.loads(settings).get("max_alert_age_seconds", limit))
        except (ValueError, TypeError, AttributeError):
            pass  # settings the signal processor will refuse anyway; the default applies here
    age = (now - alert_time).total_seconds()
    if limit and age > limit:
        raise Refused(400, f"the alert's time {alert_time.isoformat()} is {age:,.0f} s before it arrived, more than "
                           f"max_alert_age_seconds ({limit}); send {{{{timenow}}}} as its time, or raise the limit",
                      "time")


def _guarded(parse: Callable[[Any], Any], value: Any) -> Any:
    """Run a domain parser on client input: an unexpected exception is the client's input
    meeting a gap in the parser, so it becomes a 400 on ``body`` (chained, for the log)."""
    try:
        return parse(value)
    except AlertError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise Refused(400, "the alert message could not be read; send a JSON object or KEY=VALUE lines "
                           "(docs/alerts.md lists the templates tradeflow understands)", "body") from exc


# --- the HTTP contract, for the OpenAPI document ------------------------------------------

_REFUSAL = {"application/json": {"schema": {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "string", "description": "what was wrong and how to fix it"},
                   "field": {"type": "string", "description": "the offending field (400, 413)"}},
}}}

#: Every answer of ``POST /webhook[/{token}]``.
RESPONSES: dict[int, dict[str, Any]] = {
    202: {"description": "Queued. The same alert delivered again gets the same signal_id and trades once. "
                         "A bar alert (\"action\": \"bar\") answers with the bar instead: it moves the price "
                         "feed, never trades.",
          "content": {"application/json": {"schema": {
              "type": "object",
              "properties": {"signal_id": {"type": "string", "format": "uuid"},
                             "bar": {"type": "string", "description": "a bar alert's symbol and close time"},
                             "forwarded": {"type": "boolean",
                                           "description": "whether the bar was handed to the stop monitor "
                                                          "(which records it while anything is open)"}}}}}},
    400: {"description": "The alert cannot be traded (malformed body, unfilled placeholder, missing ticker or "
                         "action, a number that is not positive and finite, a character that cannot be stored "
                         "such as NUL, an alert time older than max_alert_age_seconds, ...); "
                         "`field` names the offending field.", "content": _REFUSAL},
    401: {"description": "Missing or wrong secret, or an unknown strategy (the same answer whichever).",
          "content": _REFUSAL},
    403: {"description": "Source address outside the allowlist (API Gateway's sourceIp).", "content": _REFUSAL},
    413: {"description": f"Body larger than {MAX_BODY_BYTES} bytes.", "content": _REFUSAL},
    429: {"description": "More alerts for one strategy and symbol than the burst limit (default 15 per 180 s, "
                         "per warm container).",
          "content": _REFUSAL},
    500: {"description": "A fault of tradeflow's own; the alert was not queued, so TradingView's retry is welcome.",
          "content": _REFUSAL},
    503: {"description": "The queue (or SSM) is unavailable; TradingView retries after a 5xx.", "content": _REFUSAL},
}

#: The request body: whatever TradingView posts, read whatever the content type says.
REQUEST_BODY: dict[str, Any] = {
    "description": "The alert message: a JSON object (TradersPost, nested strategy or connector style) or "
                   "KEY=VALUE lines. TradingView sends application/json only when the message is valid JSON, "
                   "text/plain otherwise; both are read the same way. Without a credential in the path or a "
                   "signature, the `passphrase` field carries `<strategy>.<secret>`.",
    "required": True,
    "content": {
        "application/json": {"schema": {"type": "object", "additionalProperties": True},
                             "example": {"passphrase": "<strategy>.<secret>", "ticker": "AAPL", "action": "buy",
                                         "quantity": "10", "price": "179.98", "time": "2024-03-01T15:30:02Z"}},
        "text/plain": {"schema": {"type": "string", "maxLength": MAX_BODY_BYTES},
                       "example": "SYMBOL=AAPL\nSIGNAL=BUY\nSTOP_PRICE=175\nTAKE_PROFIT_PRICE=190"},
    },
}

#: The path credential.
TOKEN_PARAMETER: dict[str, Any] = {
    "name": "token", "in": "path", "required": True, "schema": {"type": "string"},
    "description": "<strategy>.<secret> as printed by `tradeflow strategy add`; or <strategy> alone for a signed alert.",
}

#: Optional signing headers (senders that can sign; TradingView cannot send headers).
SIGNATURE_PARAMETERS: list[dict[str, Any]] = [
    {"name": "X-Tradeflow-Signature", "in": "header", "required": False, "schema": {"type": "string"},
     "description": "sha256=<hex of HMAC-SHA256(secret, raw body)>; the strategy is the path or X-Tradeflow-Strategy."},
    {"name": "X-Tradeflow-Strategy", "in": "header", "required": False, "schema": {"type": "string"},
     "description": "The strategy of a signed alert posted to /webhook."},
]
