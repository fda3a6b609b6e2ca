"""TradingView alert bodies, read and normalised into one :class:`Alert`.

TradingView posts the alert message as the request body, as ``application/json`` only when
it is valid JSON and as ``text/plain`` otherwise (TradingView support 43000529348), so the
body is read whatever the content type. Placeholders render as fixed-point decimals, quoted
or bare depending on the template, so ``"50"`` and ``50`` are the same quantity. Templates
understood here (see ``shared/tradingview.md``):

* TradersPost style: ``{"ticker", "action", "sentiment", "quantity", "price", "time", ...}``
* nested strategy style: ``{"passphrase", "time", "exchange", "ticker", "bar": {...},
  "strategy": {"order_action", "order_contracts", "order_price", "market_position", ...}}``
* connector style: ``{"exchange", "market", "order", "size", "price", "position"}``
* plain text, one ``KEY=VALUE`` per line or separated by ``;``.

Every refusal is an :class:`AlertError` naming the field and what was expected.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Action = Literal["buy", "sell", "exit"]
Sentiment = Literal["long", "short", "flat"]

#: Largest body accepted, in bytes (TradingView alert messages are far smaller).
MAX_BODY_BYTES = 16 * 1024


class AlertError(ValueError):
    """An alert that cannot be traded. ``field`` names the offending field (``body`` for the
    whole message); ``str(error)`` says what was expected and how to fix it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class Alert(BaseModel):
    """A normalised alert. Prices are in the instrument's quote currency, quantities in
    shares or contracts; ``time`` is when TradingView fired it (UTC), if the template says."""

    model_config = ConfigDict(frozen=True)

    ticker: str
    exchange: str | None = None
    action: Action
    sentiment: Sentiment | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    time: datetime | None = None
    interval: str | None = None
    comment: str | None = None


#: Field names seen in the wild, per normalised field (first match wins).
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "ticker": ("ticker", "symbol", "market", "instrument"),
    "exchange": ("exchange",),
    "action": ("action", "order_action", "order", "side", "signal"),
    "sentiment": ("sentiment", "market_position", "position"),
    "quantity": ("quantity", "order_contracts", "contracts", "size", "qty", "volume"),
    "price": ("price", "order_price", "close", "bar_close"),
    "stop_loss": ("stop_loss", "stoploss", "stop_price", "sl"),
    "take_profit": ("take_profit", "takeprofit", "take_profit_price", "tp"),
    "time": ("time", "timenow"),
    "interval": ("interval",),
    "comment": ("comment", "order_id", "order_comment"),
}
_ACTIONS = {
    "buy": "buy", "long": "buy", "sell": "sell", "short": "sell",
    "exit": "exit", "close": "exit", "flat": "exit",
}
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_.0-9]+)\s*\}\}", re.IGNORECASE)


def read_body(body: str) -> dict[str, Any]:
    """Parse a raw alert body into a flat dict of lower-case keys.

    JSON objects are flattened one level (``strategy.order_action`` becomes ``order_action``,
    ``bar.close`` becomes ``close`` unless the top level has it). Raises :class:`AlertError`.
    """
    if len(body.encode()) > MAX_BODY_BYTES:
        raise AlertError("body", f"the alert is larger than {MAX_BODY_BYTES} bytes; shorten the alert message")
    text = body.strip()
    if not text:
        raise AlertError("body", "the alert message is empty; paste the alert template into TradingView's Message box")
    if text[0] in "{[":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AlertError(
                "body",
                f"the alert message is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            ) from None
        if not isinstance(data, dict):
            raise AlertError("body", "the alert message must be a JSON object {...}, not a list")
        return _flatten(data)
    pairs = [p for p in re.split(r"[;\n]", text) if p.strip()]
    if not all("=" in p for p in pairs):
        raise AlertError("body", "the alert message must be JSON or KEY=VALUE lines, e.g. SYMBOL=AAPL and SIGNAL=BUY")
    return {k.strip().lower(): v.strip() for k, v in (p.split("=", 1) for p in pairs)}


def _flatten(data: dict[str, Any]) -> dict[str, Any]:
    """Top-level keys win; ``strategy.*`` keys join the top level; ``bar.*`` become ``bar_*``
    so that a bar's ``volume`` or ``time`` is never read as the order's."""
    flat = {str(k).lower(): v for k, v in data.items() if not isinstance(v, dict)}
    for name, value in data.items():
        if isinstance(value, dict):
            prefix = "bar_" if str(name).lower() == "bar" else ""
            for k, v in value.items():
                flat.setdefault(prefix + str(k).lower(), v)
    return flat


def _pick(fields: dict[str, Any], name: str) -> tuple[str, Any] | tuple[None, None]:
    for key in _SYNONYMS[name]:
        if fields.get(key) not in (None, ""):
            return key, fields[key]
    return None, None


def _number(key: str, value: Any) -> Decimal:
    if isinstance(value, bool):
        raise AlertError(key, f"{key} must be a number, got {json.dumps(value)}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise AlertError(key, f"{key} must be a number such as 50 or \"179.98\", got {json.dumps(value)}") from None
    if not number.is_finite() or number <= 0:
        raise AlertError(key, f"{key} must be a positive finite number, got {value}")
    return number


def _time(key: str, value: Any) -> datetime:
    try:
        t = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise AlertError(key, f"{key} must be an ISO-8601 time such as 2024-03-01T15:30:02Z ({{{{timenow}}}})") from None
    if t.tzinfo is None:
        raise AlertError(key, f"{key} must carry a time zone, e.g. 2024-03-01T15:30:02Z")
    return t.astimezone(UTC)


def split_symbol(raw: str) -> tuple[str, str | None]:
    """``NASDAQ:AAPL`` -> (``AAPL``, ``NASDAQ``); ``BTCUSDT.P`` and ``NQ1!`` are kept as they are."""
    symbol = raw.strip().upper()
    exchange, _, ticker = symbol.rpartition(":")
    if not ticker or not re.fullmatch(r"[A-Z0-9._!/\-]{1,32}", ticker):
        raise AlertError("ticker", f"ticker {raw!r} is not a symbol; use {{{{ticker}}}} or a symbol such as AAPL")
    return ticker, exchange or None


def parse_alert(body: str) -> Alert:
    """Read and normalise an alert body; raises :class:`AlertError` naming the field."""
    return normalise(read_body(body))


def normalise(fields: dict[str, Any]) -> Alert:
    """The :class:`Alert` for the flat fields from :func:`read_body`. Credentials such as
    ``passphrase`` never enter it. Raises :class:`AlertError` naming the field."""
    for key, value in fields.items():
        if isinstance(value, str) and (m := _PLACEHOLDER.search(value)):
            hint = (
                " An indicator alert cannot use strategy variables: create the alert from a strategy, "
                "or replace the placeholder with a fixed value."
                if m.group(1).lower().startswith("strategy.")
                else ""
            )
            raise AlertError(key, f"{key} holds {m.group(0)}, a placeholder TradingView did not fill.{hint}")

    ticker_key, ticker_value = _pick(fields, "ticker")
    if ticker_value is None:
        raise AlertError("ticker", "the alert has no ticker; add \"ticker\": \"{{ticker}}\"")
    ticker, exchange_in_symbol = split_symbol(str(ticker_value))
    _, exchange = _pick(fields, "exchange")
    action_key, action_value = _pick(fields, "action")
    if action_value is None:
        raise AlertError("action", "the alert has no action; add \"action\": \"{{strategy.order.action}}\" (buy, sell or exit)")
    action = _ACTIONS.get(str(action_value).strip().lower())
    if action is None:
        raise AlertError(action_key, f"{action_key} must be buy, sell, exit or close, got {action_value!r}")
    sentiment_key, sentiment_value = _pick(fields, "sentiment")
    sentiment = str(sentiment_value).strip().lower() if sentiment_value is not None else None
    if sentiment is not None and sentiment not in ("long", "short", "flat"):
        raise AlertError(sentiment_key, f"{sentiment_key} must be long, short or flat, got {sentiment_value!r}")

    values: dict[str, Any] = {}
    for name in ("quantity", "price", "stop_loss", "take_profit"):
        key, value = _pick(fields, name)
        if value is not None:
            values[name] = _number(key, value)
    time_key, time_value = _pick(fields, "time")
    _, interval = _pick(fields, "interval")
    _, comment = _pick(fields, "comment")
    return Alert(
        ticker=ticker,
        exchange=(str(exchange).strip().upper() if exchange else exchange_in_symbol),
        action=action,
        sentiment=sentiment,
        time=_time(time_key, time_value) if time_value is not None else None,
        interval=str(interval) if interval is not None else None,
        comment=str(comment)[:200] if comment is not None else None,
        **values,
    )
