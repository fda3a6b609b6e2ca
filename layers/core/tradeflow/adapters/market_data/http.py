"""One GET against a provider, its failures told apart as the fallback chain needs them.

httpx (a well-kept client with timeouts and a mock transport for tests); measured in a cold
process it imports in about the time of urllib3 (both ~90 ms, mostly the ssl and http.client
standard modules they share), for about 4 MiB more in the layer.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from tradeflow.adapters.market_data import HTTP_TIMEOUT_SECONDS, ProviderError, RateLimited


def client(transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """An HTTP client with the providers' timeout (:data:`HTTP_TIMEOUT_SECONDS`); tests pass
    an ``httpx.MockTransport``."""
    return httpx.Client(timeout=HTTP_TIMEOUT_SECONDS, transport=transport,
                        headers={"User-Agent": "tradeflow-market-data"})


def get_json(http: httpx.Client, source: str, url: str, params: dict[str, str],
             headers: dict[str, str] | None = None) -> Any:
    """GET ``url`` and return its JSON body with numbers as Decimal. Raises
    :class:`RateLimited` on 429 (Retry-After in seconds, or an HTTP date) and
    :class:`ProviderError` on a timeout, a connection failure, another non-2xx status or a
    body that is not JSON. Never puts a header value (an API key) in a message."""
    try:
        response = http.get(url, params=params, headers=headers or {})
    except httpx.TimeoutException:
        raise ProviderError(source, f"no answer within {HTTP_TIMEOUT_SECONDS:g} s") from None
    except httpx.HTTPError as exc:
        raise ProviderError(source, f"{type(exc).__name__}") from None
    if response.status_code == 429:
        raise RateLimited(source, retry_after(response.headers.get("Retry-After")))
    if not response.is_success:
        raise ProviderError(source, f"HTTP {response.status_code}: {response.text[:120]}", response.status_code)
    try:
        return json.loads(response.text, parse_float=Decimal, parse_int=Decimal)
    except ValueError:
        raise ProviderError(source, "the answer is not JSON", response.status_code) from None


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (RFC 9110: delay-seconds or an HTTP date);
    None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
