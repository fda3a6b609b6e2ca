"""Alpaca market data: the latest 1-minute bars of many symbols in one REST call.

* Stocks and ETFs: ``GET https://data.alpaca.markets/v2/stocks/bars/latest?symbols=AAPL,MSFT&feed=iex``
  with the ``APCA-API-KEY-ID`` and ``APCA-API-SECRET-KEY`` headers (the free plan's IEX feed,
  200 calls a minute).
* Crypto: ``GET https://data.alpaca.markets/v1beta3/crypto/us/latest/bars?symbols=BTC/USD``, no keys.

Both answer ``{"bars": {"AAPL": {"t": "2024-03-01T15:30:00Z", "o": ..., "h": ..., "l": ...,
"c": ..., "v": ..., "n": ..., "vw": ...}}}``, ``t`` being the bar's START (Alpaca Market Data
API v2, "Latest bars"); a 1-minute bar closes 60 s later. Plain HTTPS: the alpaca-py SDK pulls
pandas, far too heavy for a Lambda.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from tradeflow.adapters.market_data import ProviderError
from tradeflow.adapters.market_data.http import get_json
from tradeflow.domain.ports import Bar, PriceError

BASE_URL = "https://data.alpaca.markets"
STOCKS_URL = f"{BASE_URL}/v2/stocks/bars/latest"
CRYPTO_URL = f"{BASE_URL}/v1beta3/crypto/us/latest/bars"
BAR_LENGTH = timedelta(minutes=1)


def stock_bars(http: httpx.Client, key_id: str, secret_key: str, symbols: list[str], now: datetime,
               feed: str = "iex") -> dict[str, Bar]:
    """The latest 1-minute bar of each stock symbol (``AAPL``, ``BRK.B``) from ``feed``
    (``iex`` on the free plan, ``sip`` with a subscription), in one call. Raises
    ProviderError / RateLimited."""
    body = get_json(http, "alpaca", STOCKS_URL, {"symbols": ",".join(symbols), "feed": feed},
                    {"APCA-API-KEY-ID": key_id, "APCA-API-SECRET-KEY": secret_key})
    return _bars("alpaca", body)


def crypto_bars(http: httpx.Client, symbols: list[str], now: datetime) -> dict[str, Bar]:
    """The latest 1-minute bar of each crypto pair (``BTC/USD``), in one call, no keys.
    Raises ProviderError / RateLimited."""
    return _bars("alpaca_crypto", get_json(http, "alpaca_crypto", CRYPTO_URL, {"symbols": ",".join(symbols)}))


def _bars(source: str, body: Any) -> dict[str, Bar]:
    bars = body.get("bars") if isinstance(body, dict) else None
    if not isinstance(bars, dict):
        raise ProviderError(source, "the answer has no \"bars\" object")
    out = {}
    for symbol, row in bars.items():
        try:
            opened_at = datetime.fromisoformat(str(row["t"]).replace("Z", "+00:00"))
            out[symbol] = Bar(symbol=symbol, opened_at=opened_at, closes_at=opened_at + BAR_LENGTH, source=source,
                              open=row["o"], high=row["h"], low=row["l"], close=row["c"], volume=row.get("v"))
        except (KeyError, TypeError, ValueError, AttributeError, PriceError) as exc:
            raise ProviderError(source, f"malformed bar for {symbol}: {type(exc).__name__}: {exc}") from None
    return out
