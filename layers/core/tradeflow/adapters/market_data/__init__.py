"""Market-data providers behind one fetch shape, and the fallback chain across them.

Each provider module (:mod:`.alpaca`, :mod:`.coinbase`) has fetch functions
``fetch(client, provider_symbols, now) -> {provider_symbol: Bar}``: the latest completed
1-minute bar of each symbol it knows, in as few HTTP calls as the provider allows. They raise
:class:`ProviderError` (a 5xx, a timeout, a malformed answer, a refusal) or
:class:`RateLimited` (429, with the provider's Retry-After). :func:`latest_bars` walks each
symbol's sources in order: a failure, a 429 whose wait does not fit the budget, or a symbol
missing from the answer moves that symbol to its next source; when every source fails the
symbol gets no price, and the feed's last price ages until it is stale.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from tradeflow.domain.ports import Bar

#: Seconds a fetch may wait in total for providers' Retry-After before moving on.
RETRY_BUDGET_SECONDS = 5.0
#: Seconds an HTTP call may take (connect, read) before it counts as the provider being down.
HTTP_TIMEOUT_SECONDS = 4.0


class ProviderError(RuntimeError):
    """A provider could not answer (HTTP ``status`` when it answered, else None): the symbols
    move to their next source."""

    def __init__(self, source: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{source}: {message}")
        self.source, self.status = source, status


class RateLimited(ProviderError):
    """HTTP 429: ``retry_after`` seconds to wait (the Retry-After header; None when absent)."""

    def __init__(self, source: str, retry_after: float | None) -> None:
        super().__init__(source, f"rate limited (Retry-After {retry_after})", 429)
        self.retry_after = retry_after


#: A provider's fetch: (provider symbols, now) -> {provider symbol: latest bar}.
Fetch = Callable[[list[str], datetime], dict[str, Bar]]


@dataclass
class Fetched:
    """What one fetch found: ``bars`` per tradeflow symbol (``source`` the provider it came
    from), ``failures`` per tradeflow symbol (each source's reason, in order) for the symbols
    left without a price, and ``calls`` made per source."""

    bars: dict[str, Bar] = field(default_factory=dict)
    failures: dict[str, list[str]] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)


def latest_bars(chains: Mapping[str, list[tuple[str, str]]], fetchers: Mapping[str, Fetch], now: datetime,
                budget_seconds: float = RETRY_BUDGET_SECONDS,
                sleep: Callable[[float], None] = time.sleep) -> Fetched:
    """The latest bar of each tradeflow symbol in ``chains`` (symbol -> [(source, provider
    symbol), ...] in fallback order), calling each source once per round for all the symbols
    that are at it. A 429 is retried once at the same source when its Retry-After fits what
    is left of ``budget_seconds``; otherwise the symbols move on."""
    result = Fetched()
    position = {symbol: 0 for symbol in chains}
    budget = budget_seconds
    while position:
        at: dict[str, dict[str, str]] = {}  # source -> {provider symbol: tradeflow symbol}
        for symbol, n in list(position.items()):
            chain = chains[symbol]
            if n >= len(chain):
                del position[symbol]
                result.failures.setdefault(symbol, []).append("no source left")
                continue
            source, provider_symbol = chain[n]
            if source not in fetchers:
                result.failures.setdefault(symbol, []).append(f"{source}: not configured")
                position[symbol] += 1
                continue
            at.setdefault(source, {})[provider_symbol] = symbol
        for source, wanted in at.items():
            found: dict[str, Bar] = {}
            for attempt in (1, 2):
                result.calls[source] = result.calls.get(source, 0) + 1
                try:
                    found = fetchers[source](list(wanted), now)
                    reason = f"{source}: no recent bar in its answer"
                    break
                except RateLimited as exc:
                    reason = str(exc)
                    wait = exc.retry_after if exc.retry_after is not None else budget + 1
                    if attempt == 1 and wait <= budget:
                        budget -= wait
                        sleep(wait)
                        continue
                    break
                except ProviderError as exc:
                    reason = str(exc)
                    break
            for provider_symbol, symbol in wanted.items():
                bar = found.get(provider_symbol)
                if bar is not None:
                    result.bars[symbol] = replace(bar, symbol=symbol, source=source)
                    result.failures.pop(symbol, None)
                    del position[symbol]
                else:
                    result.failures.setdefault(symbol, []).append(reason)
                    position[symbol] += 1
    return result
