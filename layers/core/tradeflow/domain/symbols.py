"""TradingView tickers mapped to each market-data provider's symbol, per instrument.

TradingView names a symbol ``EXCHANGE:TICKER`` (``NASDAQ:AAPL``, ``COINBASE:BTCUSD``); a delayed
feed's exchange ends in ``_DL``; ``BTCUSDT.P`` is a perpetual swap and ``NQ1!`` a continuous
futures contract. The providers name them otherwise: Alpaca's stock bars take ``AAPL`` (class
shares with a dot, ``BRK.B``), its crypto bars ``BTC/USD``; Coinbase Exchange products are
``BTC-USD``. Perpetuals and futures have no free source here: they are priced by the trader's
own TradingView bar alerts, or by a mapping the trader configures. A symbol with no source is
refused once, with :class:`NoPriceSource` saying what to configure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tradeflow.domain.ports import DEFAULT_MAX_PRICE_AGE_SECONDS

#: The sources a price can come from. ``tradingview`` bars are pushed by the trader's alerts;
#: the others are fetched by the market_data function. ``replay`` serves recorded bars on the
#: local stack (the demo and the replay); a deployed market_data function has no such source.
Source = Literal["tradingview", "alpaca", "alpaca_crypto", "coinbase", "replay"]
FETCHED: tuple[Source, ...] = ("alpaca", "alpaca_crypto", "coinbase", "replay")
InstrumentKind = Literal["us_equity", "crypto", "perpetual", "future"]

#: TradingView exchange prefixes of US-listed stocks and ETFs.
US_EXCHANGES = frozenset({"NASDAQ", "NYSE", "AMEX", "NYSEARCA", "ARCA", "BATS", "CBOE", "IEX", "NYSEAMERICAN"})
#: TradingView exchange prefixes of crypto venues.
CRYPTO_EXCHANGES = frozenset({"COINBASE", "BINANCE", "BINANCEUS", "KRAKEN", "BITSTAMP", "BYBIT", "OKX", "GEMINI",
                              "BITFINEX", "CRYPTO", "KUCOIN"})
#: Quote currencies recognised at the end of a crypto pair, longest first (``BTCUSDT``: USDT).
CRYPTO_QUOTES = ("USDT", "USDC", "USD", "EUR", "GBP", "BTC", "ETH")
_STOCK = re.compile(r"^[A-Z]{1,5}(?:[./][A-Z]{1,2})?$")
_PAIR = re.compile(r"^([A-Z0-9]{2,10}?)(USDT|USDC|USD|EUR|GBP|BTC|ETH)$")


class NoPriceSource(ValueError):
    """A symbol that no configured source can price. The message names the symbol and what to
    configure (a TradingView bar alert, or a provider mapping in the market-data settings)."""


@dataclass(frozen=True)
class Instrument:
    """A TradingView ticker read: ``symbol`` as tradeflow books it (``AAPL``, ``BTCUSD``),
    ``exchange`` (None when the alert had none), ``kind``, and for a crypto pair its
    ``base`` and ``quote`` currencies."""

    symbol: str
    exchange: str | None
    kind: InstrumentKind
    base: str | None = None
    quote: str | None = None


class MarketDataSettings(BaseModel):
    """How prices are found, for the whole deployment (SSM ``/tradeflow/market-data/settings``).

    * ``sources``: per instrument kind, the fetched sources in fallback order.
    * ``symbols``: per tradeflow symbol, a provider symbol that overrides the mapping, e.g.
      ``{"BTCUSDT.P": {"coinbase": "BTC-USDT"}}`` to price a perpetual by the spot pair.
    * ``tradingview``: symbols the trader feeds with TradingView bar alerts (``tradeflow
      strategy add`` prints the Pine lines); they need no fetched source.
    * ``max_price_age_seconds``: the staleness limit (seconds) for a market order's price.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    sources: dict[InstrumentKind, tuple[Source, ...]] = Field(default_factory=lambda: {
        "us_equity": ("alpaca",), "crypto": ("alpaca_crypto", "coinbase"), "perpetual": (), "future": (),
    })
    symbols: dict[str, dict[Source, str]] = Field(default_factory=dict)
    tradingview: tuple[str, ...] = ()
    max_price_age_seconds: int = Field(default=DEFAULT_MAX_PRICE_AGE_SECONDS, ge=0, le=86_400)


def instrument(ticker: str, exchange: str | None = None) -> Instrument:
    """Read a TradingView ticker (``NASDAQ:AAPL``, ``AAPL``, ``COINBASE:BTCUSD``,
    ``BINANCE:BTCUSDT.P``, ``NQ1!``; an ``exchange`` given apart, as ``{{exchange}}``, and a
    ``_DL`` delayed-feed suffix are accepted). Raises :class:`NoPriceSource` for a ticker that
    is none of a US stock, a crypto pair, a perpetual or a continuous future."""
    raw = ticker.strip().upper()
    prefix, _, symbol = raw.rpartition(":")
    venue = (prefix or (exchange or "").strip().upper()) or None
    if venue and venue.endswith("_DL"):
        venue = venue[:-3]
    if symbol.endswith("!"):
        return Instrument(symbol, venue, "future")
    if symbol.endswith(".P"):
        pair = _PAIR.match(symbol[:-2])
        return Instrument(symbol, venue, "perpetual", *(pair.groups() if pair else (None, None)))
    pair = _PAIR.match(symbol.replace("/", "").replace("-", ""))
    if venue in CRYPTO_EXCHANGES or (venue not in US_EXCHANGES and pair and not _STOCK.match(symbol)):
        if pair is None:
            raise NoPriceSource(f"{raw}: not a crypto pair tradeflow can read (BASE then one of "
                                f"{', '.join(CRYPTO_QUOTES)}, e.g. BTCUSD)")
        return Instrument(symbol.replace("/", "").replace("-", ""), venue, "crypto", *pair.groups())
    if _STOCK.match(symbol):
        return Instrument(symbol, venue, "us_equity")
    raise NoPriceSource(f"{raw}: not a symbol tradeflow can price (a US stock such as NASDAQ:AAPL, a crypto pair "
                        f"such as COINBASE:BTCUSD, a perpetual BTCUSDT.P or a future NQ1!)")


def provider_symbol(item: Instrument, source: Source, settings: MarketDataSettings | None = None) -> str | None:
    """``item``'s symbol at ``source`` (``AAPL``, ``BTC/USD``, ``BTC-USD``), the trader's
    mapping first; None when the source does not carry that kind of instrument."""
    override = (settings.symbols.get(item.symbol, {}) if settings else {}).get(source)
    if override:
        return override
    if source == "alpaca" and item.kind == "us_equity":
        return item.symbol.replace("/", ".")
    if source == "alpaca_crypto" and item.kind == "crypto":
        return f"{item.base}/{item.quote}"
    if source == "coinbase" and item.kind == "crypto":
        return f"{item.base}-{item.quote}"
    if source in ("tradingview", "replay"):
        return item.symbol
    return None


def sources_for(ticker: str, settings: MarketDataSettings, exchange: str | None = None) -> list[tuple[Source, str]]:
    """The fetched sources of ``ticker`` in fallback order, each with the provider's symbol:
    the trader's explicit mappings for the symbol first, then the kind's default order. Empty
    for a symbol fed only by TradingView bar alerts. Raises :class:`NoPriceSource` when no
    source at all can price it, saying what to configure."""
    item = instrument(ticker, exchange)
    order = list(settings.symbols.get(item.symbol, {}))
    order += [s for s in settings.sources.get(item.kind, ()) if s not in order]
    found = [(s, p) for s in order if s in FETCHED and (p := provider_symbol(item, s, settings))]
    if not found and item.symbol not in settings.tradingview:
        what = {"future": "a continuous future", "perpetual": "a perpetual swap"}.get(item.kind, f"a {item.kind}")
        mapping = (f", or price it by its spot pair with \"symbols\": {{\"{item.symbol}\": {{\"coinbase\": "
                   f"\"{item.base}-{item.quote}\"}}}}" if item.base else "")
        raise NoPriceSource(
            f"no price source for {item.symbol} ({what}): send a TradingView bar alert for it and list it in the "
            f"market-data settings' \"tradingview\" symbols{mapping} (docs/market-data.md)")
    return found
