"""Coinbase Exchange public candles (no keys): one product per call.

``GET https://api.exchange.coinbase.com/products/BTC-USD/candles?granularity=60`` answers rows
``[time, low, high, open, close, volume]``, ``time`` the bucket's START in UNIX seconds,
newest first, at most 300 (Coinbase Exchange REST API, "Get product candles"). The newest row
may be the bucket still trading; only completed buckets (closed at or before now) are used.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx

from tradeflow.adapters.market_data import ProviderError
from tradeflow.adapters.market_data.http import get_json
from tradeflow.domain.ports import Bar, PriceError

BASE_URL = "https://api.exchange.coinbase.com"
GRANULARITY_SECONDS = 60
#: Minutes of candles asked for: enough to find the last completed one on a quiet market.
LOOKBACK_MINUTES = 10


def candles(http: httpx.Client, products: list[str], now: datetime) -> dict[str, Bar]:
    """The latest completed 1-minute candle of each product (``BTC-USD``), one call each. A
    product the exchange refuses (404) or with no completed candle is left out; any other
    failure raises ProviderError / RateLimited."""
    out = {}
    start = now - timedelta(minutes=LOOKBACK_MINUTES)
    for product in products:
        try:
            rows = get_json(http, "coinbase", f"{BASE_URL}/products/{product}/candles",
                            {"granularity": str(GRANULARITY_SECONDS), "start": start.isoformat(),
                             "end": now.isoformat()})
        except ProviderError as exc:
            if exc.status in (400, 404):  # an unknown product: this symbol moves on, the others are asked
                continue
            raise
        bar = _latest_completed(product, rows, now)
        if bar is not None:
            out[product] = bar
    return out


def _latest_completed(product: str, rows: object, now: datetime) -> Bar | None:
    if not isinstance(rows, list):
        raise ProviderError("coinbase", f"candles of {product} are not a list")
    best = None
    for row in rows:
        try:
            t, low, high, open_, close, volume = row
            opened_at = datetime.fromtimestamp(int(t), UTC)
        except (TypeError, ValueError, OverflowError):
            raise ProviderError("coinbase", f"malformed candle of {product}: {str(row)[:80]}") from None
        closes_at = opened_at + timedelta(seconds=GRANULARITY_SECONDS)
        if closes_at <= now and (best is None or opened_at > best[0]):
            best = (opened_at, closes_at, low, high, open_, close, volume)
    if best is None:
        return None
    opened_at, closes_at, low, high, open_, close, volume = best
    try:
        return Bar(symbol=product, opened_at=opened_at, closes_at=closes_at, source="coinbase",
                   open=Decimal(open_), high=Decimal(high), low=Decimal(low), close=Decimal(close),
                   volume=Decimal(volume))
    except (PriceError, ArithmeticError, TypeError) as exc:
        raise ProviderError("coinbase", f"malformed candle of {product}: {exc}") from None
