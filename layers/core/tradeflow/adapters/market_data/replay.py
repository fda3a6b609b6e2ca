"""Recorded bars served as a market-data source: the replay source of the local stack.

The same fetch shape as :mod:`.alpaca` and :mod:`.coinbase` (``fetch(symbols, now) ->
{symbol: Bar}``): for each symbol asked for, the latest recorded bar that has CLOSED at or
before ``now`` (the injected clock in a demo or a replay), so that a recorded history reaches
the stop monitor through the path the deployed stack runs (watchlist, fetch, hand-over). A
bar is never served before its close time, as a provider publishes a bar only once it closed.

The bars live in a JSON Lines file, one :meth:`tradeflow.domain.ports.Bar.to_json` object per
line (:func:`save`), named by the market_data function's ``REPLAY_BARS_FILE``; unset in AWS.
"""

from __future__ import annotations

import bisect
import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from tradeflow.adapters.market_data import ProviderError
from tradeflow.domain.ports import Bar, PriceError

#: The source's name in the market-data settings and on the bars and fills it prices.
SOURCE = "replay"


class RecordedBars:
    """A replay source over ``bars`` (any order, any symbols); call it as a fetch. A symbol
    with no bar closed by ``now`` is left out of the answer, as a provider leaves out a
    symbol it has no recent bar for."""

    def __init__(self, bars: Iterable[Bar]) -> None:
        by_symbol: dict[str, list[Bar]] = defaultdict(list)
        for bar in bars:
            by_symbol[bar.symbol].append(bar)
        self._bars = {s: sorted(rows, key=lambda b: b.closes_at) for s, rows in by_symbol.items()}
        self._closes = {s: [b.closes_at for b in rows] for s, rows in self._bars.items()}

    def __call__(self, symbols: list[str], now: datetime) -> dict[str, Bar]:
        """The latest bar of each of ``symbols`` closed at or before ``now`` (UTC)."""
        out = {}
        for symbol in symbols:
            n = bisect.bisect_right(self._closes.get(symbol, ()), now)
            if n:
                out[symbol] = self._bars[symbol][n - 1]
        return out

    @classmethod
    def load(cls, path: str | Path) -> RecordedBars:
        """The source over the bars file ``path`` (:func:`save`'s JSON Lines). Raises
        ProviderError naming the file and line when it cannot be read or a bar is malformed."""
        try:
            lines = Path(path).read_text().splitlines()
        except OSError as exc:
            raise ProviderError(SOURCE, f"cannot read the recorded bars {path}: {exc.strerror or exc}") from None
        bars = []
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                bars.append(Bar.from_json(json.loads(line)))
            except (ValueError, PriceError) as exc:
                raise ProviderError(SOURCE, f"{path} line {n}: {exc}") from None
        return cls(bars)


def save(path: str | Path, bars: Iterable[Bar]) -> None:
    """Write ``bars`` to ``path`` as JSON Lines, the file :meth:`RecordedBars.load` reads."""
    Path(path).write_text("".join(json.dumps(bar.to_json()) + "\n" for bar in bars))
