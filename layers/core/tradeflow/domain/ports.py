"""The price feed's edge in trading terms: bars and quotes with their source and as-of time,
the :class:`PriceFeed` protocol the steps read prices through, and the staleness rule.

A bar's ``as_of`` is its CLOSE time (the moment its high, low and close are known); a quote's
is the time it was observed. The ``quotes`` table is the store of record: a bar is kept there
under its close time with its open, high, low and open time (see the store's ``record_bars``).
Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # imported when used: the webhook reads bar alerts without the fill model's imports
    from tradeflow.domain import fills

#: A market order needs a price at most this old during the session (seconds): 15 minutes,
#: the delay of the free delayed feeds (TradingView's ``_DL`` exchanges, IEX-only snapshots).
DEFAULT_MAX_PRICE_AGE_SECONDS = 900


class PriceError(ValueError):
    """A bar or quote that cannot be a price: not positive, high below low, a naive time, an
    open time not before the close. The message names the symbol and what was wrong."""


@dataclass(frozen=True)
class Bar:
    """One OHLC bar of ``symbol`` (prices in the instrument's quote currency per share or
    unit; ``volume`` in shares or units, None when the source has none), from ``opened_at``
    (inclusive) to ``closes_at`` (exclusive), both timezone-aware UTC. ``source`` names the
    provider (``alpaca``, ``coinbase``, ``tradingview``, ``replay``...). Raises
    :class:`PriceError` when the bar is impossible."""

    symbol: str
    opened_at: datetime
    closes_at: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    source: str
    volume: Decimal | None = None

    def __post_init__(self) -> None:
        for name in ("opened_at", "closes_at"):
            if getattr(self, name).tzinfo is None:
                raise PriceError(f"{self.symbol}: {name} must be timezone-aware (UTC)")
        if not self.opened_at < self.closes_at:
            raise PriceError(f"{self.symbol}: a bar must open ({self.opened_at}) before it closes ({self.closes_at})")
        prices = (self.open, self.high, self.low, self.close)
        if not all(isinstance(p, Decimal) and p.is_finite() and p > 0 for p in prices):
            raise PriceError(f"{self.symbol}: open, high, low and close must be positive finite decimals, got {prices}")
        if not (self.low <= min(self.open, self.close) and max(self.open, self.close) <= self.high):
            raise PriceError(f"{self.symbol}: low {self.low} and high {self.high} must enclose open {self.open} "
                             f"and close {self.close}")
        if self.volume is not None and not (self.volume.is_finite() and self.volume >= 0):
            raise PriceError(f"{self.symbol}: volume must be zero or more, got {self.volume}")

    @property
    def as_of(self) -> datetime:
        """When the bar's prices were all known: its close time."""
        return self.closes_at

    def prices(self) -> fills.Bar:
        """The matcher's view (open, high, low, close)."""
        from tradeflow.domain import fills

        return fills.Bar(self.open, self.high, self.low, self.close)

    def to_json(self) -> dict[str, Any]:
        """The bar as a JSON object (decimals as strings, times ISO-8601 UTC), the shape of the
        ``{"bars": [...]}`` event handed to the stop monitor."""
        return {"symbol": self.symbol, "opened_at": self.opened_at.isoformat(), "closes_at": self.closes_at.isoformat(),
                "open": str(self.open), "high": str(self.high), "low": str(self.low), "close": str(self.close),
                "volume": None if self.volume is None else str(self.volume), "source": self.source}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Bar:
        """The inverse of :meth:`to_json`. Raises :class:`PriceError` naming what is missing
        or malformed."""
        try:
            volume = data.get("volume")
            return cls(
                symbol=str(data["symbol"]),
                opened_at=datetime.fromisoformat(str(data["opened_at"]).replace("Z", "+00:00")),
                closes_at=datetime.fromisoformat(str(data["closes_at"]).replace("Z", "+00:00")),
                open=Decimal(str(data["open"])), high=Decimal(str(data["high"])), low=Decimal(str(data["low"])),
                close=Decimal(str(data["close"])), source=str(data["source"]),
                volume=None if volume is None else Decimal(str(volume)),
            )
        except KeyError as exc:
            raise PriceError(f"a bar needs {exc.args[0]!r} (symbol, opened_at, closes_at, open, high, low, close, "
                             f"source)") from None
        except (ValueError, InvalidOperation, TypeError) as exc:
            if isinstance(exc, PriceError):
                raise
            raise PriceError(f"malformed bar {str(data)[:120]}: {exc}") from None


@dataclass(frozen=True)
class Quote:
    """The last trade ``price`` of ``symbol`` (quote currency per share or unit) and the bid
    and ask when known, observed at ``as_of`` (timezone-aware UTC), from ``source``."""

    symbol: str
    price: Decimal
    as_of: datetime
    source: str
    bid: Decimal | None = None
    ask: Decimal | None = None

    def __post_init__(self) -> None:
        if self.as_of.tzinfo is None:
            raise PriceError(f"{self.symbol}: a quote's time must be timezone-aware (UTC)")
        for name in ("price", "bid", "ask"):
            value = getattr(self, name)
            if value is not None and not (value.is_finite() and value > 0):
                raise PriceError(f"{self.symbol}: {name} must be a positive finite decimal, got {value}")


class PriceFeed(Protocol):
    """Where the steps read prices: the latest bar and the latest quote of a symbol at a time
    (the last one whose ``as_of`` is at or before ``at``), or None when there is none; and, for
    the bar fill model, the price that closed at a time or the first one to close in a window
    (a :class:`Bar`, or a :class:`Quote` where the feed holds a plain price there, such as an
    alert's ``{{close}}``, which the bar model reads as a flat bar: :func:`matched_prices`)."""

    def latest_bar(self, symbol: str, at: datetime) -> Bar | None: ...

    def latest_quote(self, symbol: str, at: datetime) -> Quote | None: ...

    def closed_at(self, symbol: str, at: datetime) -> Bar | Quote | None: ...

    def first_closed_after(self, symbol: str, after: datetime, until: datetime) -> Bar | Quote | None: ...


def matched_prices(price: Bar | Quote) -> fills.Bar:
    """The bar fill model's view of a feed price: a bar's open, high, low and close, or a plain
    quote as a flat bar at its price (what it would show as a one-trade bar)."""
    from tradeflow.domain import fills

    if isinstance(price, Bar):
        return price.prices()
    return fills.Bar(price.price, price.price, price.price, price.price)


def stamped_at(price: Bar | Quote) -> datetime:
    """When a fill in ``price`` happened in the market: a bar's open time (its label, as
    TradingView's List of Trades and backtesting.py show it), or a quote's time."""
    return price.opened_at if isinstance(price, Bar) else price.as_of


# --- staleness ---------------------------------------------------------------------------

def age_seconds(as_of: datetime, now: datetime) -> Decimal:
    """How old a price observed at ``as_of`` is at ``now``, in whole milliseconds as seconds
    (0 for a price stamped after ``now``, e.g. a bar whose close time the clock has just
    reached)."""
    age = max(now - as_of, timedelta(0))
    return Decimal(int(age / timedelta(milliseconds=1))) / 1000


def fresh_enough(as_of: datetime, now: datetime, max_age_seconds: int = DEFAULT_MAX_PRICE_AGE_SECONDS) -> bool:
    """Whether a price observed at ``as_of`` may still fill a market order at ``now``: its age
    is at most ``max_age_seconds`` (inclusive). An older price is stale and fills no market
    order. Raises ValueError for a negative age limit."""
    if max_age_seconds < 0:
        raise ValueError("max_age_seconds must be zero or more (seconds)")
    return age_seconds(as_of, now) <= max_age_seconds


def stale_refusal(symbol: str, as_of: datetime, source: str, now: datetime, max_age_seconds: int) -> str | None:
    """Why the price of ``symbol`` observed at ``as_of`` from ``source`` may not fill an order
    at ``now`` (UTC), or None when it is fresh enough (:func:`fresh_enough`). The reason names
    the price's age and source, the limit, and the setting that sets it."""
    if fresh_enough(as_of, now, max_age_seconds):
        return None
    return (f"the last price of {symbol} is {age_seconds(as_of, now):f} s old (from {source}, as of "
            f"{as_of:%Y-%m-%d %H:%M:%S}Z), older than max_price_age_seconds {max_age_seconds}: "
            f"no order fills at a stale price")


@dataclass(frozen=True)
class Exposure:
    """An open position of ``strategy_id`` in ``symbol`` (``position_id``; ``side`` long or
    short; ``quantity`` in shares or units) with the latest price of its symbol: ``price``
    (currency per share), ``as_of`` and ``source``, all None when the feed has none."""

    strategy_id: str
    symbol: str
    position_id: int
    side: str
    quantity: Decimal
    price: Decimal | None
    as_of: datetime | None
    source: str | None


@dataclass(frozen=True)
class StalePrice:
    """An open exposure without a fresh price: ``key`` is the notification's natural key (one
    per strategy, symbol and episode, an episode being the last price the feed had: a fresh
    price ends it, the next gap is a new one); ``close`` says whether to close the position at
    the last price (``close_on_stale_price``); ``facts`` are the notification's values."""

    exposure: Exposure
    key: str
    close: bool
    facts: dict[str, Any]


def stale_exposures(exposures: list[Exposure], max_age_of: Any, close_of: Any, now: datetime,
                    session_open: datetime | None = None) -> list[StalePrice]:
    """The exposures whose symbol has no price at most ``max_age_of(strategy_id)`` seconds old
    at ``now`` (UTC); ``close_of(strategy_id)`` says whether that strategy closes such a
    position at its last price. With ``session_open`` (the open of the exchange session ``now``
    is in) age counts from the open at the earliest: the first bars of a session get the same
    time to arrive as any later one, so overnight is not a gap. A position without any price
    is reported but never closed (there is no price to close it at)."""
    found = []
    for e in exposures:
        limit = max_age_of(e.strategy_id)
        since = max(e.as_of, session_open) if e.as_of and session_open else (e.as_of or session_open)
        if since is not None and fresh_enough(since, now, limit):
            continue
        episode = e.as_of.isoformat() if e.as_of else "none"
        age = None if e.as_of is None else f"{age_seconds(e.as_of, now):f}"
        close = bool(close_of(e.strategy_id)) and e.price is not None
        found.append(StalePrice(e, f"stale_price:{e.strategy_id}:{e.symbol}:{episode}", close, {
            "symbol": e.symbol, "side": e.side, "quantity": f"{e.quantity.normalize():f}",
            "price": None if e.price is None else str(e.price), "source": e.source, "age_seconds": age,
            "max_age_seconds": limit, "closing": close,
        }))
    return found
