"""TradingView alert bodies, read and normalised into one :class:`Alert`.

TradingView posts the alert message as the request body, as ``application/json`` only when
it is valid JSON and as ``text/plain`` otherwise (TradingView support 43000529348), so the
body is read whatever the content type. Placeholders render as fixed-point decimals, quoted
or bare depending on the template, so ``"50"`` and ``50`` are the same quantity. Templates
understood here (each with an example in docs/alerts.md):

* TradersPost style: ``{"ticker", "action", "sentiment", "quantity", "price", "time", ...}``
  with ``orderType``, ``limitPrice``, ``stopPrice``, ``timeInForce`` and ``stopLoss`` /
  ``takeProfit`` given as prices or as objects (``{"type": "stop", "stopPrice": 175}``,
  ``{"percent": 2}``, ``{"amount": 5}``, ``{"type": "trailing_stop", "trailPercent": 2}``,
  ``{"limitPrice": 190}``);
* nested strategy style: ``{"passphrase", "time", "exchange", "ticker", "bar": {...},
  "strategy": {"position_size", "order_action", "order_contracts", "order_price",
  "market_position", "prev_market_position", ...}}``;
* connector style: ``{"exchange", "market", "order", "size", "price", "position", "reverse"}``;
* plain text, one ``KEY=VALUE`` per line or separated by ``;``;
* TradingView's default strategy alert message, the order-fill sentence
  ``<strategy name> (<inputs>): order buy @ 0.05 filled on BTCUSDT. New strategy position is
  0.05`` (``{{strategy.order.action}} @ {{strategy.order.contracts}} filled on {{ticker}}.
  New strategy position is {{strategy.position_size}}``): the action, the order's contracts,
  the ticker and the target position (the sentence has no price: the latest quote is used);
* ``{{strategy.order.alert_message}}``: the text a Pine script gives its order in
  ``strategy.entry(..., alert_message=...)``, as the whole message or as the value of an
  ``"alert_message"`` (or ``"message"``) field beside other fields; it may be any form above,
  and the fields around it win over its own.

The bar's volume (``{{volume}}``, top level or inside ``bar``) never sets the order's quantity:
only ``quantity``, ``contracts``, ``order_contracts``, ``size`` or ``qty`` do.

Field names are matched case-insensitively through :data:`_SYNONYMS` (first match wins).
Every refusal is an :class:`AlertError` naming the field and what was expected.

Stop-loss and take-profit representation (one each, never two):

* a price (``stop_loss``, ``take_profit``/``take_profits``) — absolute, quote currency;
* a percent (``stop_loss_pct``, ``take_profit_pct``) — distance from the entry's reference
  price, 2 = 2 %;
* an amount (currency per share from the entry): converted to a price (``entry ∓ amount``)
  when the alert has a reference price (``limit_price`` for limit orders, ``stop_price`` for
  stop orders, else ``price``) and a direction (buy = long, sell = short); otherwise kept as
  the distance ``stop_loss_amount`` / ``take_profit_amount``.

The order creator turns a percent or a distance into a price when it builds the bracket,
measured from the same reference price (else the latest quote), so the trader sees the exit
prices as soon as the order exists — as a broker's bracket order does — rather than after the
entry fills.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Action = Literal["buy", "sell", "exit", "cancel"]
Sentiment = Literal["long", "short", "flat"]
OrderType = Literal["market", "limit", "stop", "stop_limit"]
TimeInForce = Literal["day", "gtc", "ioc"]

#: Largest body accepted, in bytes (TradingView alert messages are far smaller).
MAX_BODY_BYTES = 16 * 1024
#: Numbers must be below this magnitude and have at most this many decimal places.
MAX_NUMBER = Decimal(10) ** 15
MAX_DECIMALS = 12


class AlertError(ValueError):
    """An alert that cannot be traded. ``field`` names the offending field (``body`` for the
    whole message); ``str(error)`` says what was expected and how to fix it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class Alert(BaseModel):
    """A normalised alert. Prices are in the instrument's quote currency, quantities in
    shares or contracts, percents are percent (2 = 2 %); ``time`` is when TradingView fired
    it (UTC), if the template says. All numbers are positive and finite, except
    ``position_size`` (signed target position, may be 0)."""

    model_config = ConfigDict(frozen=True)

    ticker: str
    #: Exchange beside the symbol, without a delayed feed's ``_DL`` suffix (see ``delayed``).
    exchange: str | None = None
    delayed: bool = False
    action: Action
    sentiment: Sentiment | None = None
    #: Entry quantity; with a non-zero ``position_size``, at most its size (see _target_quantity).
    quantity: Decimal | None = None
    price: Decimal | None = None
    #: Entry order: type, its prices and time in force.
    order_type: OrderType | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: TimeInForce | None = None
    #: Exits: stop-loss as a price, a percent or an amount (currency per share) from the entry.
    stop_loss: Decimal | None = None
    stop_loss_pct: Decimal | None = None
    stop_loss_amount: Decimal | None = None
    #: Take-profit: first target price (== take_profits[0] when several), percent or amount.
    take_profit: Decimal | None = None
    take_profit_pct: Decimal | None = None
    take_profit_amount: Decimal | None = None
    take_profits: tuple[Decimal, ...] = ()
    trailing_stop_pct: Decimal | None = None
    trailing_stop_amount: Decimal | None = None
    breakeven_after_first_target: bool = False
    #: Close an opposite position and open this side.
    reverse: bool = False
    #: Target position from ``{{strategy.position_size}}``: > 0 long, < 0 short, 0 flat.
    position_size: Decimal | None = None
    prev_sentiment: Sentiment | None = None
    time: datetime | None = None
    interval: str | None = None
    comment: str | None = None
    #: The strategy's confidence in the signal (e.g. 0.8), read by the sizing's confidence tiers.
    confidence: Decimal | None = None


#: Field names seen in the wild, per normalised field (first match wins). Keys are matched
#: lower-cased with ``-`` and spaces as ``_``: ``stopLoss`` is ``stoploss``. Note that
#: ``STOP_PRICE`` (plain-text template) is a stop-loss, while ``stopPrice`` is the trigger of
#: a stop entry order (TradersPost).
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "ticker": ("ticker", "symbol", "market", "instrument"),
    "exchange": ("exchange",),
    "action": ("action", "order_action", "order", "side", "signal"),
    "sentiment": ("sentiment", "market_position", "position"),
    "quantity": ("quantity", "order_contracts", "contracts", "size", "qty"),
    "price": ("price", "order_price", "signalprice", "close", "bar_close"),
    "order_type": ("ordertype", "order_type", "type"),
    "limit_price": ("limitprice", "limit_price"),
    "stop_price": ("stopprice",),
    "time_in_force": ("timeinforce", "time_in_force", "tif"),
    "stop_loss": ("stop_loss", "stoploss", "stop_price", "stop_loss_price", "stoplossprice", "sl"),
    "stop_loss_pct": ("stop_loss_pct", "stop_loss_percent", "stoplosspercent", "stoplosspct", "sl_pct",
                      "sl_percent"),
    "stop_loss_amount": ("stop_loss_amount", "stoplossamount", "sl_amount"),
    "take_profit": ("take_profit", "takeprofit", "take_profit_price", "takeprofitprice", "take_profits",
                    "takeprofits", "tp"),
    "take_profit_pct": ("take_profit_pct", "take_profit_percent", "takeprofitpercent", "takeprofitpct", "tp_pct",
                        "tp_percent"),
    "take_profit_amount": ("take_profit_amount", "takeprofitamount", "tp_amount"),
    "trailing_stop_pct": ("trailing_stop_pct", "trailing_stop_percent", "trailingstoppercent", "trailpercent",
                          "trail_pct", "trail_percent"),
    "trailing_stop_amount": ("trailing_stop_amount", "trailingstopamount", "trailamount", "trail_amount"),
    "breakeven_after_first_target": ("breakeven_after_first_target", "move_to_breakeven", "breakeven"),
    "reverse": ("reverse",),
    "position_size": ("position_size",),
    "prev_sentiment": ("prev_market_position", "prev_sentiment"),
    "time": ("time", "timenow"),
    "interval": ("interval",),
    "comment": ("comment", "order_id", "order_comment"),
    "confidence": ("confidence",),
}
#: Several take-profit targets as numbered keys: take_profit_1, takeprofit2, tp1, tp_2, ...
_NUMBERED_TARGET = re.compile(r"(?:take_?profit|tp)_?([1-9])")
#: Keys whose value may be a JSON object kept whole (not flattened into the top level).
_OBJECT_FIELDS = frozenset(_SYNONYMS["stop_loss"] + _SYNONYMS["take_profit"])

_ACTIONS = {
    "buy": "buy", "long": "buy", "sell": "sell", "short": "sell",
    "exit": "exit", "close": "exit", "flat": "exit",
    "exit_long": "exit", "exit_short": "exit", "close_long": "exit", "close_short": "exit",
}
_SENTIMENTS = {"long": "long", "short": "short", "flat": "flat"}
_ORDER_TYPES = {
    "market": "market", "mkt": "market", "limit": "limit", "lmt": "limit", "stop": "stop", "stp": "stop",
    "stop_limit": "stop_limit", "stoplimit": "stop_limit",
}
_TIMES_IN_FORCE = {"day": "day", "gtc": "gtc", "ioc": "ioc"}
_FLAGS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_.0-9]+)\s*\}\}", re.IGNORECASE)
#: A placeholder written bare (``"size": {{strategy.order.contracts}}``), with the key before it.
_BARE_PLACEHOLDER = re.compile(r'(?:"([^"]{1,64})"\s*:\s*)?(\{\{\s*[a-z_.0-9]+\s*\}\})', re.IGNORECASE)
_EXCHANGE = re.compile(r"[A-Z0-9._\-]{1,32}")
#: TradingView's default strategy alert message (the order-fill sentence), with the alert's
#: name and the strategy's inputs before the colon.
_ORDER_FILLED = re.compile(
    r"^(?:(?P<name>.*?):\s*)?(?:order\s+)?(?P<action>buy|sell)\s+@\s+(?P<contracts>[0-9.eE+-]+)\s+filled\s+on\s+"
    r"(?P<ticker>\S+?)\.?\s+new\s+strategy\s+position\s+is\s+(?P<position>[0-9.eE+-]+)\.?\s*$",
    re.IGNORECASE | re.DOTALL)
#: Fields whose text is a whole alert message of its own ({{strategy.order.alert_message}}).
_MESSAGE_FIELDS = ("alert_message", "message")
#: The placeholder a field usually holds, for the line suggested when it was left unquoted.
_USUAL_PLACEHOLDER = {
    "ticker": "{{ticker}}", "symbol": "{{ticker}}", "exchange": "{{exchange}}",
    "action": "{{strategy.order.action}}", "order_action": "{{strategy.order.action}}",
    "side": "{{strategy.order.action}}", "order": "{{strategy.order.action}}",
    "sentiment": "{{strategy.market_position}}", "market_position": "{{strategy.market_position}}",
    "position": "{{strategy.market_position}}", "prev_market_position": "{{strategy.prev_market_position}}",
    "time": "{{timenow}}", "timenow": "{{timenow}}", "interval": "{{interval}}",
    "comment": "{{strategy.order.comment}}", "order_id": "{{strategy.order.id}}",
}
#: A key and a value that does not start as a string, object or list does (a bare word).
_KEY_AND_BARE_VALUE = re.compile(r'"([^"\\]{1,64})"\s*:\s*([^\s"{\[][^,}\]\n]*)')


def read_body(body: str) -> dict[str, Any]:
    """Parse a raw alert body into a flat dict of normalised keys (see :data:`_SYNONYMS`).

    JSON objects are flattened one level (``strategy.order_action`` becomes ``order_action``,
    ``bar.close`` becomes ``bar_close``); stop-loss and take-profit objects stay whole. JSON
    numbers are read as Decimal. Raises :class:`AlertError` (field ``body``).
    """
    if len(body.encode()) > MAX_BODY_BYTES:
        raise AlertError("body", f"the alert is larger than {MAX_BODY_BYTES} bytes; shorten the alert message")
    text = body.strip()
    if not text:
        raise AlertError("body", "the alert message is empty; paste the alert template into TradingView's Message box")
    fields = _read_text(text)
    for name in _MESSAGE_FIELDS:  # {{strategy.order.alert_message}} inside a template
        inner = fields.get(name)
        if not isinstance(inner, str) or not inner.strip() or _PLACEHOLDER.search(inner):
            continue
        try:
            embedded = _read_text(inner.strip())
        except AlertError:
            if inner.lstrip()[:1] in "{[":  # meant as JSON: say what is wrong with it
                raise
            continue  # a free-text message: kept as it is
        fields.pop(name)
        for key, value in embedded.items():
            fields.setdefault(key, value)
    return fields


def _read_text(text: str) -> dict[str, Any]:
    """One message (JSON, the order-fill sentence or KEY=VALUE lines) as flat fields."""
    if text[0] in "{[":
        try:
            data = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            if m := _BARE_PLACEHOLDER.search(text):  # an unfilled {{...}} written without quotes
                raise _unfilled(_key(m.group(1)) if m.group(1) else "body", m.group(2)) from None
            raise _unquoted(text, exc) from None
        except (ValueError, RecursionError):  # integers of thousands of digits, absurd nesting
            raise AlertError("body", "the alert message is JSON too deeply nested or with too long a number") from None
        if not isinstance(data, dict):
            raise AlertError("body", "the alert message must be a JSON object {...}, not a list")
        return _flatten(data)
    if m := _ORDER_FILLED.match(text):  # TradingView's default strategy alert message
        fields = {"action": m["action"], "contracts": m["contracts"], "ticker": m["ticker"],
                  "position_size": m["position"]}
        if m["name"]:
            fields["comment"] = m["name"].strip()
        return fields
    pairs = [p for p in re.split(r"[;\n]", text) if p.strip()]
    if not all("=" in p for p in pairs):
        raise AlertError("body", "the alert message must be JSON, KEY=VALUE lines (e.g. SYMBOL=AAPL and SIGNAL=BUY) "
                                 "or TradingView's default strategy message (\"... order buy @ 10 filled on AAPL. "
                                 "New strategy position is 10\")")
    return {_key(k): v.strip() for k, v in (p.split("=", 1) for p in pairs)}


def _unquoted(text: str, exc: json.JSONDecodeError) -> AlertError:
    """The refusal of invalid JSON: when a value is a bare word (a text placeholder such as
    {{strategy.order.action}} written without quotes renders as ``buy``), the line to write
    instead; otherwise where the JSON broke."""
    for m in _KEY_AND_BARE_VALUE.finditer(text):
        word = m.group(2).strip()
        if not m.start(2) <= exc.pos <= m.end(2):  # the JSON broke elsewhere
            continue
        try:
            json.loads(word)
        except ValueError:
            name = m.group(1)
            value = _USUAL_PLACEHOLDER.get(_key(name), word)
            return AlertError(_key(name), f"{name} is not quoted ({word[:40]} is not JSON): write "
                                          f"\"{name}\": \"{value}\" in the alert message; text placeholders "
                                          "need quotes")
    return AlertError("body", f"the alert message is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")


def _key(name: Any) -> str:
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


def _flatten(data: dict[str, Any]) -> dict[str, Any]:
    """Top-level keys win; other objects' keys join the top level (``strategy.*``), except
    ``bar.*``, which become ``bar_*`` so that a bar's ``volume`` or ``time`` is never read as
    the order's, and stop-loss / take-profit objects, kept whole with lower-case keys."""
    flat: dict[str, Any] = {}
    nested: list[tuple[str, dict[str, Any]]] = []
    for name, value in data.items():
        key = _key(name)
        if isinstance(value, dict) and key not in _OBJECT_FIELDS:
            nested.append((key, value))
        else:
            flat[key] = {_key(k): v for k, v in value.items()} if isinstance(value, dict) else value
    for name, value in nested:
        prefix = "bar_" if name == "bar" else ""
        for k, v in value.items():
            flat.setdefault(prefix + _key(k), {_key(kk): vv for kk, vv in v.items()} if isinstance(v, dict) else v)
    return flat


# -- small readers: each returns a normalised value or raises AlertError naming ``key`` ----------

def _pick(fields: dict[str, Any], name: str) -> tuple[str, Any] | tuple[None, None]:
    for key in _SYNONYMS[name]:
        if fields.get(key) not in (None, ""):
            return key, fields[key]
    return None, None


def _decimal(key: str, value: Any) -> Decimal:
    """Any finite number within :data:`MAX_NUMBER`, canonical (``1.0`` -> ``1``, ``1E+2`` -> ``100``)."""
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        raise AlertError(key, f"{key} must be a number such as 50 or \"179.98\", got {json.dumps(value, default=str)}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise AlertError(key, f"{key} must be a number such as 50 or \"179.98\", got {str(value)[:40]!r}") from None
    if not number.is_finite():
        raise AlertError(key, f"{key} must be a finite number, got {value}")
    if abs(number) >= MAX_NUMBER:
        raise AlertError(key, f"{key} must be below {MAX_NUMBER:,.0f}, got {str(value)[:40]}")
    number = number.normalize() + 0  # drops trailing zeros and exponents; -0 becomes 0
    if number.as_tuple().exponent < -MAX_DECIMALS:  # type: ignore[operator]
        raise AlertError(key, f"{key} must have at most {MAX_DECIMALS} decimal places, got {str(value)[:40]}")
    return number


def _number(key: str, value: Any) -> Decimal:
    """A positive finite number (price, quantity, percent, amount)."""
    number = _decimal(key, value)
    if number <= 0:
        raise AlertError(key, f"{key} must be a positive number, got {value}")
    return number


def _flag(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    flag = _FLAGS.get(str(value).strip().lower())
    if flag is None:
        raise AlertError(key, f"{key} must be true or false, got {str(value)[:40]!r}")
    return flag


def _choice(vocabulary: dict[str, str], expected: str) -> Callable[[str, Any], str]:
    def read(key: str, value: Any) -> str:
        word = vocabulary.get(_key(value)) if isinstance(value, str) else None
        if word is None:
            raise AlertError(key, f"{key} must be {expected}, got {str(value)[:40]!r}")
        return word
    return read


def _time(key: str, value: Any) -> datetime:
    try:
        t = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        if t.tzinfo is None:
            raise AlertError(key, f"{key} must carry a time zone, e.g. 2024-03-01T15:30:02Z")
        return t.astimezone(UTC)
    except (ValueError, OverflowError):
        raise AlertError(key, f"{key} must be an ISO-8601 time such as 2024-03-01T15:30:02Z "
                              "({{timenow}})") from None


def _text(limit: int) -> Callable[[str, Any], str]:
    return lambda key, value: str(value)[:limit]


#: How each simple field is read (the others are read by the functions below).
_READERS: dict[str, Callable[[str, Any], Any]] = {
    "sentiment": _choice(_SENTIMENTS, "long, short or flat"),
    "prev_sentiment": _choice(_SENTIMENTS, "long, short or flat"),
    "quantity": _number,
    "price": _number,
    "limit_price": _number,
    "stop_price": _number,
    "order_type": _choice(_ORDER_TYPES, "market, limit, stop or stop_limit"),
    "time_in_force": _choice(_TIMES_IN_FORCE, "day, gtc or ioc"),
    "breakeven_after_first_target": _flag,
    "reverse": _flag,
    "position_size": _decimal,
    "time": _time,
    "interval": _text(16),
    "comment": _text(200),
    "confidence": _number,
}


def split_symbol(raw: str) -> tuple[str, str | None]:
    """``NASDAQ:AAPL`` -> (``AAPL``, ``NASDAQ``); ``BTCUSDT.P`` and ``NQ1!`` are kept as they are."""
    symbol = raw.strip().upper()
    exchange, _, ticker = symbol.rpartition(":")
    if not ticker or not re.fullmatch(r"[A-Z0-9._!/\-]{1,32}", ticker):
        raise AlertError("ticker", f"ticker {raw[:40]!r} is not a symbol; use {{{{ticker}}}} or a symbol such as AAPL")
    return ticker, exchange or None


def _exchange(key: str, raw: str) -> tuple[str, bool]:
    """``NASDAQ`` -> (``NASDAQ``, False); a delayed feed ``NASDAQ_DL`` -> (``NASDAQ``, True)."""
    exchange = raw.strip().upper()
    if not _EXCHANGE.fullmatch(exchange):
        raise AlertError(key, f"{key} {raw[:40]!r} is not an exchange; use {{{{exchange}}}} or e.g. NASDAQ")
    if exchange.endswith("_DL") and len(exchange) > 3:
        return exchange[:-3], True
    return exchange, False


def _action(fields: dict[str, Any]) -> Action:
    key, value = _pick(fields, "action")
    if value is None:
        raise AlertError("action", "the alert has no action; "
                                   "add \"action\": \"{{strategy.order.action}}\" (buy, sell or exit)")
    word = _key(value) if isinstance(value, str) else ""
    if word == "cancel":  # cancel the symbol's working entries; an open position stays
        return "cancel"
    if word == "add":  # add to the position on the sentiment's side
        return "sell" if _key(fields.get("sentiment") or fields.get("market_position") or "") == "short" else "buy"
    action = _ACTIONS.get(word)
    if action is None:
        raise AlertError(key, f"{key} must be buy, sell, exit, close, add or cancel, got {str(value)[:40]!r}")
    return action  # type: ignore[return-value]


def _placeholder(key: str, value: Any) -> None:
    """Refuse a ``{{...}}`` TradingView did not fill, anywhere in ``value``."""
    if isinstance(value, dict):
        for k, v in value.items():
            _placeholder(f"{key}.{k}", v)
    elif isinstance(value, list):
        for v in value:
            _placeholder(key, v)
    elif isinstance(value, str) and (m := _PLACEHOLDER.search(value)):
        raise _unfilled(key, m.group(0))


def _unfilled(key: str, placeholder: str) -> AlertError:
    name = placeholder.strip("{} ").lower()
    hint = (
        " It is the text of the order's alert_message argument: give the strategy's"
        " strategy.entry / strategy.exit / strategy.close calls an alert_message, and create the alert"
        " from the strategy."
        if name == "strategy.order.alert_message"
        else " An indicator alert cannot use strategy variables: create the alert from a strategy, "
        "or replace the placeholder with a fixed value."
        if name.startswith("strategy.")
        else ""
    )
    return AlertError(key, f"{key} holds {placeholder}, a placeholder TradingView did not fill.{hint}")


def _stop_loss(fields: dict[str, Any]) -> dict[str, Decimal]:
    """The stop-loss as {stop_loss | stop_loss_pct | stop_loss_amount | trailing_stop_*: value}:
    a price, flat keys, or a TradersPost object (``{"type": "stop", "stopPrice": 175}``,
    ``{"percent": 2}``, ``{"amount": 5}``, ``{"type": "trailing_stop", "trailPercent": 2}``)."""
    found: dict[str, Decimal] = {}
    key, value = _pick(fields, "stop_loss")
    if isinstance(value, dict):
        kind = _key(value.get("type") or "stop")
        if kind not in ("stop", "stop_limit", "trailing_stop"):
            raise AlertError(f"{key}.type",
                             f"{key}.type must be stop or trailing_stop, got {str(value['type'])[:40]!r}")
        trailing = kind == "trailing_stop"
        members = {
            "stopprice": "stop_loss", "stop_price": "stop_loss", "price": "stop_loss",
            "percent": "trailing_stop_pct" if trailing else "stop_loss_pct",
            "amount": "trailing_stop_amount" if trailing else "stop_loss_amount",
            "trailpercent": "trailing_stop_pct", "trailamount": "trailing_stop_amount",
        }
        found = {name: _number(f"{key}.{member}", value[member]) for member, name in members.items()
                 if value.get(member) not in (None, "")}
        if not found:
            raise AlertError(key, f"{key} needs one of stopPrice, percent, amount, trailPercent or trailAmount")
    elif value is not None:
        found["stop_loss"] = _number(key, value)
    for name in ("stop_loss_pct", "stop_loss_amount", "trailing_stop_pct", "trailing_stop_amount"):
        k, v = _pick(fields, name)
        if v is not None:
            found.setdefault(name, _number(k, v))
    _one_of(found, ("stop_loss", "stop_loss_pct", "stop_loss_amount"), key or "stop_loss", "stop-loss")
    _one_of(found, ("trailing_stop_pct", "trailing_stop_amount"), "trailing_stop", "trailing stop")
    return found


def _take_profit(fields: dict[str, Any]) -> dict[str, Any]:
    """The take-profit as {take_profits (prices) | take_profit_pct | take_profit_amount: value}:
    a price, a JSON list of prices, numbered keys (tp1, take_profit_2, ...), flat keys, or a
    TradersPost object (``{"limitPrice": 190}``, ``{"percent": 10}``, ``{"amount": 5}``)."""
    found: dict[str, Any] = {}
    key, value = _pick(fields, "take_profit")
    if isinstance(value, dict):
        members = {"limitprice": "take_profits", "limit_price": "take_profits", "price": "take_profits",
                   "percent": "take_profit_pct", "amount": "take_profit_amount"}
        found = {name: _number(f"{key}.{member}", value[member]) for member, name in members.items()
                 if value.get(member) not in (None, "")}
        if not found:
            raise AlertError(key, f"{key} needs one of limitPrice, percent or amount")
        if "take_profits" in found:
            found["take_profits"] = (found["take_profits"],)
    elif isinstance(value, list):
        if not value:
            raise AlertError(key, f"{key} must list at least one price, e.g. [190, 195]")
        found["take_profits"] = tuple(_number(key, v) for v in value)
    elif value is not None:
        found["take_profits"] = (_number(key, value),)
    numbered = sorted((int(m.group(1)), k) for k in fields if (m := _NUMBERED_TARGET.fullmatch(k))
                      and fields[k] not in (None, ""))
    if numbered:
        if "take_profits" in found:
            raise AlertError(numbered[0][1], f"give the take-profits either as {key} or as numbered keys, not both")
        found["take_profits"] = tuple(_number(k, fields[k]) for _, k in numbered)
    for name in ("take_profit_pct", "take_profit_amount"):
        k, v = _pick(fields, name)
        if v is not None:
            found.setdefault(name, _number(k, v))
    _one_of(found, ("take_profits", "take_profit_pct", "take_profit_amount"), key or "take_profit", "take-profit")
    return found


def _one_of(found: dict[str, Any], names: tuple[str, ...], field: str, what: str) -> None:
    given = [n for n in names if n in found]
    if len(given) > 1:
        raise AlertError(field, f"give the {what} one way only (a price, a percent or an amount); "
                                f"got {', '.join(given)}")


def _entry_order(values: dict[str, Any]) -> None:
    """Infer or check the entry order type: a limit order needs limitPrice, a stop order
    stopPrice, a stop-limit both; limitPrice / stopPrice without a type imply it."""
    limit, stop = values.get("limit_price"), values.get("stop_price")
    kind = values.get("order_type")
    if kind is None and (limit or stop):
        kind = values["order_type"] = "stop_limit" if limit and stop else "limit" if limit else "stop"
    if kind in ("limit", "stop_limit") and limit is None:
        raise AlertError("limitPrice", f"a {kind} order needs \"limitPrice\": the price to buy or sell at")
    if kind in ("stop", "stop_limit") and stop is None:
        raise AlertError("stopPrice", f"a {kind} order needs \"stopPrice\": the price that triggers it")


def _target_quantity(values: dict[str, Any]) -> None:
    """With a non-zero target position, the entry quantity is at most its size: the order's
    contracts of a reversal (long 10 -> short 10: 20 contracts) include the closing ones."""
    size = values.get("position_size")
    if size:
        values["quantity"] = min(values.get("quantity", abs(size)), abs(size))


def _side(values: dict[str, Any]) -> Literal["long", "short"] | None:
    """The side the alert enters, if it clearly enters one."""
    size = values.get("position_size")
    if size is not None:
        return "long" if size > 0 else "short" if size < 0 else None
    if values["action"] in ("exit", "cancel") or values.get("sentiment") == "flat":
        return None
    return "long" if values["action"] == "buy" else "short"


def _exits(values: dict[str, Any]) -> None:
    """Convert stop-loss / take-profit amounts to prices when there is a reference price, and
    refuse exits on the wrong side of it (long: stop-loss below, take-profit above)."""
    kind = values.get("order_type")
    reference = (values.get("limit_price") if kind in ("limit", "stop_limit")
                 else values.get("stop_price") if kind == "stop" else values.get("price"))
    side = _side(values)
    if reference is None or side is None:
        return
    sign = 1 if side == "long" else -1
    if "stop_loss_amount" in values:
        values["stop_loss"] = _positive_price("stop_loss", reference - sign * values.pop("stop_loss_amount"))
    if "take_profit_amount" in values:
        values["take_profits"] = (_positive_price("take_profit", reference + sign * values.pop("take_profit_amount")),)
    below, above = ("below", "above") if side == "long" else ("above", "below")
    stop = values.get("stop_loss")
    if stop is not None and (stop - reference) * sign >= 0:
        raise AlertError("stop_loss", f"the stop-loss {stop} of a {side} entry must be {below} its price {reference}")
    for target in values.get("take_profits", ()):
        if (target - reference) * sign <= 0:
            raise AlertError("take_profit",
                             f"the take-profit {target} of a {side} entry must be {above} its price {reference}")


def _positive_price(field: str, price: Decimal) -> Decimal:
    if price <= 0:
        raise AlertError(field, f"the {field.replace('_', '-')} amount puts its price at {price}; use a smaller amount")
    return price


def parse_alert(body: str) -> Alert:
    """Read and normalise an alert body; raises :class:`AlertError` naming the field."""
    return normalise(read_body(body))


def normalise(fields: dict[str, Any]) -> Alert:
    """The :class:`Alert` for the flat fields from :func:`read_body`. Credentials such as
    ``passphrase`` never enter it. Raises :class:`AlertError` naming the field."""
    for key, value in fields.items():
        _placeholder(key, value)

    ticker_key, ticker_value = _pick(fields, "ticker")
    if ticker_value is None:
        raise AlertError("ticker", "the alert has no ticker; add \"ticker\": \"{{ticker}}\"")
    ticker, exchange = split_symbol(str(ticker_value))
    exchange_key, exchange_value = _pick(fields, "exchange")
    if exchange_value is not None:
        exchange = str(exchange_value)
    values: dict[str, Any] = {"ticker": ticker, "action": _action(fields)}
    if exchange is not None:
        values["exchange"], values["delayed"] = _exchange(exchange_key or "ticker", exchange)
    for name, read in _READERS.items():
        key, value = _pick(fields, name)
        if value is not None:
            values[name] = read(key, value)
    _target_quantity(values)
    values.update(_stop_loss(fields))
    values.update(_take_profit(fields))
    _entry_order(values)
    _exits(values)
    if values.get("take_profits"):
        values["take_profit"] = values["take_profits"][0]
    return Alert(**values)
