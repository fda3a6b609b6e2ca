"""The replay source: recorded bars served as a market-data provider, as of the clock."""

import json
import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tradeflow.adapters.market_data import ProviderError, latest_bars
from tradeflow.adapters.market_data.replay import SOURCE, RecordedBars, save
from tradeflow.domain.ports import Bar
from tradeflow.domain.symbols import MarketDataSettings, sources_for

T0 = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)

bars_strategy = st.lists(
    st.tuples(st.sampled_from(["AAPL", "MSFT", "BTCUSD"]), st.integers(0, 500), st.integers(1, 30),
              st.integers(100, 200)),
    max_size=40, unique_by=lambda t: (t[0], t[1]),
).map(lambda rows: [Bar(s, T0 + timedelta(minutes=m), T0 + timedelta(minutes=m + n), Decimal(p), Decimal(p + 1),
                        Decimal(p - 1), Decimal(p), SOURCE) for s, m, n, p in rows])


@given(bars_strategy, st.integers(-5, 600), st.sets(st.sampled_from(["AAPL", "MSFT", "BTCUSD", "IBM"])))
def test_it_serves_the_latest_bar_closed_by_now_and_never_one_still_open(bars, minute, symbols):
    now = T0 + timedelta(minutes=minute)
    served = RecordedBars(bars)(sorted(symbols), now)
    for symbol in symbols:  # independently: the latest close at or before now, by a scan
        closed = [b for b in bars if b.symbol == symbol and b.closes_at <= now]
        latest = max(closed, key=lambda b: b.closes_at, default=None)
        assert (served.get(symbol).closes_at if symbol in served else None) == (latest.closes_at if latest else None)
    assert set(served) <= symbols


@settings(deadline=None, max_examples=30)
@given(bars=bars_strategy)
def test_saved_bars_load_back_equal(bars):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bars.jsonl"
        save(path, bars)
        loaded = RecordedBars.load(path)
    for minute in range(0, 560, 7):  # the same answer at every time
        now, symbols = T0 + timedelta(minutes=minute), sorted({b.symbol for b in bars})
        assert loaded(symbols, now) == RecordedBars(bars)(symbols, now)


def test_a_malformed_bars_file_is_one_line_naming_the_file_and_line(tmp_path):
    path = tmp_path / "bars.jsonl"
    good = Bar("AAPL", T0, T0 + timedelta(minutes=1), Decimal(1), Decimal(2), Decimal(1), Decimal(1), SOURCE)
    path.write_text(json.dumps(good.to_json()) + "\n" + json.dumps({**good.to_json(), "high": "0.5"}) + "\n")
    with pytest.raises(ProviderError) as caught:
        RecordedBars.load(path)
    assert f"{path} line 2" in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(ProviderError, match="cannot read"):
        RecordedBars.load(tmp_path / "missing.jsonl")


def test_the_replay_source_walks_the_fallback_chain_like_any_provider():
    bar = Bar("AAPL", T0, T0 + timedelta(minutes=1), Decimal(10), Decimal(11), Decimal(9), Decimal(10), "x")
    settings = MarketDataSettings(sources={"us_equity": (SOURCE,), "crypto": (SOURCE,)})
    chains = {s: sources_for(s, settings) for s in ("AAPL", "BTCUSD")}
    assert chains == {"AAPL": [(SOURCE, "AAPL")], "BTCUSD": [(SOURCE, "BTCUSD")]}
    fetched = latest_bars(chains, {SOURCE: RecordedBars([bar])}, T0 + timedelta(minutes=1))
    assert fetched.bars["AAPL"].source == SOURCE and fetched.bars["AAPL"].close == 10
    assert fetched.failures == {"BTCUSD": [f"{SOURCE}: no recent bar in its answer", "no source left"]}
