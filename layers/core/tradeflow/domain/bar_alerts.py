"""TradingView bar alerts: the trader's own chart as a price feed.

A Pine script sends one alert per bar close (``alert(message, alert.freq_once_per_bar_close)``)
whose message has ``"action": "bar"`` and the bar's ``{{open}}``, ``{{high}}``, ``{{low}}``,
``{{close}}``, ``{{volume}}``, ``{{time}}`` (the bar's OPEN time, UTC) and ``{{interval}}``
(minutes as ``1``, ``5``, ``60``; seconds as ``30S``). The bar closes at its open time plus
the interval. Such a message never trades and never notifies; it only moves the price feed.
Daily and longer intervals are refused: their close is the session's, not a fixed offset,
and a stop watched on daily bars is not what the feed is for.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tradeflow.domain.alerts import AlertError, split_symbol
from tradeflow.domain.ports import Bar, PriceError

SOURCE = "tradingview"
#: The longest interval a bar alert may carry (TradingView's 4-hour chart).
MAX_INTERVAL = timedelta(hours=4)
_INTERVAL = re.compile(r"^(\d{1,4})([SM]?)$")
_PLACEHOLDER = re.compile(r"\{\{[^}]*\}\}")

#: The alert message to paste in TradingView's Message box (the passphrase added by the CLI).
MESSAGE_TEMPLATE = (
    '{"action": "bar", "ticker": "{{ticker}}", "exchange": "{{exchange}}", "open": "{{open}}", '
    '"high": "{{high}}", "low": "{{low}}", "close": "{{close}}", "volume": "{{volume}}", '
    '"time": "{{time}}", "interval": "{{interval}}"}'
)


def is_bar_alert(fields: dict[str, Any]) -> bool:
    """Whether a read alert body (``read_body``'s dict) is a bar alert: ``action`` is ``bar``."""
    action = fields.get("action")
    return isinstance(action, str) and action.strip().lower() == "bar"


def interval_length(raw: Any) -> timedelta:
    """TradingView's ``{{interval}}`` as a length: ``1``..``240`` minutes, ``1S``..``59S``
    seconds (a trailing ``M`` on a number is read as minutes too). Raises AlertError (field
    ``interval``) for daily and longer intervals or anything else."""
    text = str(raw).strip().upper()
    m = _INTERVAL.match(text)
    if m is None or int(m.group(1)) == 0:
        raise AlertError("interval", f"interval {text[:16]!r} is not an intraday chart interval; a bar alert needs "
                                     "\"interval\": \"{{interval}}\" on a chart of 1 second to 240 minutes")
    length = timedelta(seconds=int(m.group(1))) if m.group(2) == "S" else timedelta(minutes=int(m.group(1)))
    if length > MAX_INTERVAL:
        raise AlertError("interval", f"interval {text} is longer than 240 minutes; use an intraday chart for a bar alert")
    return length


def parse_bar_alert(fields: dict[str, Any]) -> Bar:
    """The bar in a bar alert (``read_body``'s dict), with source ``tradingview``, opened at
    ``time`` and closing ``interval`` later. Raises AlertError naming the field: a placeholder
    TradingView did not fill, a missing or non-positive price, high below low, a time without
    a zone, an interval that is not intraday."""
    for key in ("ticker", "open", "high", "low", "close", "time", "interval"):
        value = fields.get(key)
        if value in (None, ""):
            raise AlertError(key, f"a bar alert needs \"{key}\"; paste the message tradeflow strategy add prints")
        if isinstance(value, str) and _PLACEHOLDER.search(value):
            raise AlertError(key, f"{key} is the unfilled placeholder {value[:40]!r}: create the alert on the chart "
                                  "with alert() in Pine, so TradingView fills the bar's values")
    symbol, exchange = split_symbol(str(fields["ticker"]))
    prices = {k: _price(k, fields[k]) for k in ("open", "high", "low", "close")}
    volume = fields.get("volume")
    opened_at = _time("time", fields["time"])
    try:
        return Bar(symbol=symbol, opened_at=opened_at, closes_at=opened_at + interval_length(fields["interval"]),
                   source=SOURCE, volume=None if volume in (None, "") else _price("volume", volume, zero=True),
                   **prices)
    except PriceError as exc:
        raise AlertError("body", f"the bar is impossible: {exc}") from None


def _time(key: str, value: Any) -> datetime:
    """``{{time}}``: ISO-8601 with a zone, e.g. 2024-03-01T15:30:00Z, as UTC."""
    try:
        t = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        t = None
    if t is None or t.tzinfo is None:
        raise AlertError(key, f"{key} must be an ISO-8601 time with a zone such as 2024-03-01T15:30:00Z "
                              "({{time}}, the bar's open time)")
    return t.astimezone(UTC)


def _price(key: str, value: Any, zero: bool = False) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        number = Decimal("NaN")
    if not number.is_finite() or number < 0 or (number == 0 and not zero):
        raise AlertError(key, f"{key} must be a {'non-negative' if zero else 'positive'} number, got {str(value)[:40]!r}")
    return number


#: Pine v5 lines that send one bar alert per bar close. In ``alert()`` TradingView does not
#: fill ``{{...}}`` placeholders (those are for the alert dialog's message), so the message is
#: built from the bar's own series; ``time`` is the bar's open time, formatted in UTC.
PINE_LINES = (
    "// tradeflow price feed: one bar alert per bar close (create the alert with the condition",
    "// \"Any alert() function call\" and the webhook URL that tradeflow strategy add printed)",
    "if barstate.isconfirmed",
    "    alert('{\"action\": \"bar\", \"ticker\": \"' + syminfo.prefix + ':' + syminfo.ticker + '\", "
    "\"open\": \"' + str.tostring(open) + '\", \"high\": \"' + str.tostring(high) + '\", "
    "\"low\": \"' + str.tostring(low) + '\", \"close\": \"' + str.tostring(close) + '\", "
    "\"volume\": \"' + str.tostring(volume) + '\", "
    "\"time\": \"' + str.format_time(time, \"yyyy-MM-dd'T'HH:mm:ss'Z'\", \"UTC\") + '\", "
    "\"interval\": \"' + timeframe.period + '\"}', alert.freq_once_per_bar_close)",
)
