"""The market_data step: fetch the latest 1-minute bars of the watchlist and hand them to the
stop monitor; and, on the stop monitor's side, record bars handed over before its tick.

Outside the VPC (the functions in it have no IPv4 way out) and without a database: it reads
the watchlist from the state bucket, maps each symbol to its sources
(:func:`tradeflow.domain.symbols.sources_for`), walks the fallback chain
(:func:`tradeflow.adapters.market_data.latest_bars`) and hands over only bars newer than the
ones this container handed over already. An empty watchlist fetches nothing and invokes
nothing, so an idle Aurora stays paused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tradeflow.adapters.market_data import Fetch, latest_bars
from tradeflow.domain.ports import Bar, fresh_enough
from tradeflow.domain.symbols import MarketDataSettings, NoPriceSource, sources_for

if TYPE_CHECKING:  # the fetcher has no database: psycopg is imported only by the stop monitor's side
    import psycopg


@dataclass(frozen=True)
class TickReport:
    """One fetch: symbols ``watched``, bars ``fetched`` and ``handed_over`` (new ones), HTTP
    ``calls`` per source, ``failures`` (symbol -> each source's reason), ``unpriced``
    (symbol -> why no source can price it) and ``stale``: fetched symbols whose newest bar
    known here is older than the settings' ``max_price_age_seconds``, or that have none."""

    watched: int
    fetched: int = 0
    handed_over: int = 0
    calls: dict[str, int] = field(default_factory=dict)
    failures: dict[str, list[str]] = field(default_factory=dict)
    unpriced: dict[str, str] = field(default_factory=dict)
    stale: tuple[str, ...] = ()


@dataclass
class MarketData:
    """One container's fetcher. ``watchlist()`` gives the symbols to fetch (None when
    unreadable), ``settings_of()`` the market-data settings, ``fetchers`` each configured
    source's fetch, ``hand_over(bars)`` sends bars to the stop monitor (raises on failure)."""

    watchlist: Callable[[], list[str] | None]
    settings_of: Callable[[], MarketDataSettings]
    fetchers: Mapping[str, Fetch]
    hand_over: Callable[[list[Bar]], None]
    #: symbol -> close time of the last bar handed over by this container.
    handed: dict[str, datetime] = field(default_factory=dict)

    def tick(self, now: datetime) -> TickReport:
        """Fetch once at ``now`` (UTC) and hand over the new bars; returns what happened."""
        watched = self.watchlist() or []
        if not watched:
            return TickReport(watched=0)
        settings = self.settings_of()
        chains: dict[str, list[tuple[str, str]]] = {}
        unpriced: dict[str, str] = {}
        for symbol in watched:
            try:
                chain = sources_for(symbol, settings)
            except NoPriceSource as exc:
                unpriced[symbol] = str(exc)
                continue
            if chain:
                chains[symbol] = list(chain)
        fetched = latest_bars(chains, self.fetchers, now)
        new = [bar for symbol, bar in sorted(fetched.bars.items())
               if symbol not in self.handed or bar.closes_at > self.handed[symbol]]
        if new:
            self.hand_over(new)
            self.handed |= {bar.symbol: bar.closes_at for bar in new}
        stale = tuple(s for s in sorted(chains) if s not in self.handed
                      or not fresh_enough(self.handed[s], now, settings.max_price_age_seconds))
        return TickReport(watched=len(watched), fetched=len(fetched.bars), handed_over=len(new), calls=fetched.calls,
                          failures=fetched.failures, unpriced=unpriced, stale=stale)


@dataclass(frozen=True)
class BarReceived:
    """A TradingView bar alert accepted by the webhook for ``strategy_id``: its ``bar``, and
    whether it was ``forwarded`` to the stop monitor (which records it only while something
    is open, so an idle Aurora is not woken by a chart's every bar close)."""

    strategy_id: str
    bar: Bar
    forwarded: bool


def record_handed_bars(conn: psycopg.Connection, event: dict[str, Any]) -> int:
    """The stop monitor's side: record the bars of a ``{"bars": [...]}`` event (from this
    fetcher or a TradingView bar alert) in the price feed, in one transaction, before its
    tick (the handler skips it while the open-positions flag says nothing is open). Returns how many bars the event carried; a bar already recorded is ignored. Raises
    PriceError for a malformed bar, before anything is recorded."""
    from tradeflow.adapters import store

    bars = [Bar.from_json(b) for b in event.get("bars") or []]
    if bars:
        with conn.transaction():
            store.record_bars(conn, bars)
    return len(bars)


def bar_forwarder(function_name: str | None) -> Callable[[list[Bar]], list[Bar]] | None:
    """The webhook's ``send_bars``: bar alerts to the stop monitor ``function_name`` by an
    asynchronous invoke (returns the bars sent); None when no stop monitor is named."""
    if not function_name:
        return None
    from tradeflow.adapters.bars_handover import invoke_stop_monitor

    def send(bars: list[Bar]) -> list[Bar]:
        invoke_stop_monitor(function_name, bars)
        return bars

    return send
