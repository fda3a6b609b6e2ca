"""Provider contracts against recorded answers (tests/fixtures/market_data, built from the
providers' documented shapes), through httpx's own MockTransport: nothing leaves the machine.
Then provider errors, 429s, fallback to the next source, and all sources down."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from tradeflow.adapters.market_data import ProviderError, RateLimited, alpaca, coinbase, latest_bars
from tradeflow.adapters.market_data.http import client, retry_after
from tradeflow.domain.ports import Bar

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "market_data"
NOW = datetime(2024, 3, 1, 15, 30, 5, tzinfo=UTC)


def recorded(name: str) -> str:
    return (FIXTURES / name).read_text()


def serving(routes: dict[str, tuple[int, str, dict]], seen: list[httpx.Request] | None = None) -> httpx.Client:
    """A client whose transport answers each URL path from ``routes`` (status, body, headers)."""
    def answer(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        status, body, headers = routes.get(request.url.path, (404, '{"message": "not found"}', {}))
        return httpx.Response(status, text=body, headers=headers)
    return client(httpx.MockTransport(answer))


def test_alpaca_stocks_latest_bars_for_the_whole_watchlist_in_one_call():
    seen: list[httpx.Request] = []
    http = serving({"/v2/stocks/bars/latest": (200, recorded("alpaca_stocks_latest_bars.json"), {})}, seen)
    bars = alpaca.stock_bars(http, "KEYID", "SECRET", ["AAPL", "MSFT"], NOW)
    assert len(seen) == 1
    request = seen[0]
    assert (request.url.host, request.url.params["symbols"], request.url.params["feed"]) == (
        "data.alpaca.markets", "AAPL,MSFT", "iex")
    assert (request.headers["APCA-API-KEY-ID"], request.headers["APCA-API-SECRET-KEY"]) == ("KEYID", "SECRET")
    raw = json.loads(recorded("alpaca_stocks_latest_bars.json"))["bars"]["AAPL"]
    opened = datetime.fromisoformat(raw["t"].replace("Z", "+00:00"))
    assert bars["AAPL"] == Bar("AAPL", opened, opened + timedelta(minutes=1), Decimal(str(raw["o"])),
                               Decimal(str(raw["h"])), Decimal(str(raw["l"])), Decimal(str(raw["c"])), "alpaca",
                               Decimal(raw["v"]))
    assert set(bars) == {"AAPL", "MSFT"}


def test_alpaca_crypto_needs_no_keys():
    seen: list[httpx.Request] = []
    http = serving({"/v1beta3/crypto/us/latest/bars": (200, recorded("alpaca_crypto_latest_bars.json"), {})}, seen)
    bars = alpaca.crypto_bars(http, ["BTC/USD"], NOW)
    assert "APCA-API-KEY-ID" not in seen[0].headers
    assert seen[0].url.params["symbols"] == "BTC/USD"
    assert (bars["BTC/USD"].close, bars["BTC/USD"].volume) == (Decimal("62310.5"), Decimal("1.2345"))


def test_coinbase_uses_the_latest_completed_candle_of_its_rows():
    rows = json.loads(recorded("coinbase_candles_btc_usd.json"))
    http = serving({"/products/BTC-USD/candles": (200, recorded("coinbase_candles_btc_usd.json"), {})})
    for now in (NOW, NOW - timedelta(seconds=40)):  # at 15:29:25 the 15:29 candle is still trading
        completed = [r for r in rows if r[0] + 60 <= now.timestamp()]
        t, low, high, open_, close, volume = max(completed, key=lambda r: r[0])
        bar = coinbase.candles(http, ["BTC-USD"], now)["BTC-USD"]
        assert (bar.opened_at.timestamp(), bar.low, bar.high, bar.open, bar.close, bar.volume) == (
            t, Decimal(str(low)), Decimal(str(high)), Decimal(str(open_)), Decimal(str(close)), Decimal(str(volume)))
        assert bar.closes_at == bar.opened_at + timedelta(minutes=1)


def test_coinbase_leaves_out_a_product_it_does_not_list():
    http = serving({"/products/BTC-USD/candles": (200, recorded("coinbase_candles_btc_usd.json"), {})})
    assert set(coinbase.candles(http, ["NOPE-USD", "BTC-USD"], NOW)) == {"BTC-USD"}


@pytest.mark.parametrize("status, body, error", [
    (500, "oops", ProviderError), (403, '{"message": "forbidden"}', ProviderError), (200, "<html>", ProviderError),
    (200, '{"bars": {"AAPL": {"t": "2024-03-01T15:29:00Z", "o": 1}}}', ProviderError),
    (429, "", RateLimited),
])
def test_provider_failures_are_told_apart(status, body, error):
    http = serving({"/v2/stocks/bars/latest": (status, body, {"Retry-After": "2"})})
    with pytest.raises(error) as caught:
        alpaca.stock_bars(http, "KEYID", "SECRET", ["AAPL"], NOW)
    assert "SECRET" not in str(caught.value)
    if error is RateLimited:
        assert caught.value.retry_after == 2


def test_a_timeout_is_a_provider_error():
    def hang(request):
        raise httpx.ReadTimeout("timed out", request=request)
    with pytest.raises(ProviderError, match="no answer within"):
        alpaca.crypto_bars(client(httpx.MockTransport(hang)), ["BTC/USD"], NOW)


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after("3") == 3
    assert retry_after("Fri, 01 Mar 2024 15:30:10 GMT", NOW) == 5
    assert retry_after(None) is None and retry_after("soon") is None


# --- the fallback chain ------------------------------------------------------------------

def bar(symbol: str, source: str = "any") -> Bar:
    return Bar(symbol, NOW - timedelta(minutes=1, seconds=5), NOW - timedelta(seconds=5), Decimal(10), Decimal(11),
               Decimal(9), Decimal(10), source)


class Provider:
    """A scripted source: answers from ``script`` in turn (an exception to raise or a set of
    provider symbols to give bars for) and records each call's symbols."""

    def __init__(self, *script):
        self.script, self.calls = list(script), []

    def __call__(self, symbols, now):
        self.calls.append(list(symbols))
        step = self.script.pop(0) if self.script else set(symbols)
        if isinstance(step, Exception):
            raise step
        return {s: bar(s) for s in symbols if s in step}


CHAINS = {"BTCUSD": [("alpaca_crypto", "BTC/USD"), ("coinbase", "BTC-USD")],
          "ETHUSD": [("alpaca_crypto", "ETH/USD"), ("coinbase", "ETH-USD")]}


def test_one_call_per_source_for_all_its_symbols_and_renamed_bars():
    first = Provider()
    got = latest_bars(CHAINS, {"alpaca_crypto": first, "coinbase": Provider()}, NOW)
    assert first.calls == [["BTC/USD", "ETH/USD"]]
    assert {s: (b.symbol, b.source) for s, b in got.bars.items()} == {
        "BTCUSD": ("BTCUSD", "alpaca_crypto"), "ETHUSD": ("ETHUSD", "alpaca_crypto")}


def test_an_error_or_a_missing_symbol_moves_to_the_next_source():
    first, second = Provider({"BTC/USD"}), Provider()
    got = latest_bars(CHAINS, {"alpaca_crypto": first, "coinbase": second}, NOW)
    assert second.calls == [["ETH-USD"]]
    assert {s: b.source for s, b in got.bars.items()} == {"BTCUSD": "alpaca_crypto", "ETHUSD": "coinbase"}
    first, second = Provider(ProviderError("alpaca_crypto", "HTTP 503", 503)), Provider()
    got = latest_bars(CHAINS, {"alpaca_crypto": first, "coinbase": second}, NOW)
    assert {b.source for b in got.bars.values()} == {"coinbase"} and not got.failures


def test_a_429_waits_its_retry_after_within_the_budget_then_moves_on():
    waits: list[float] = []
    first = Provider(RateLimited("alpaca_crypto", 2.0))
    got = latest_bars(CHAINS, {"alpaca_crypto": first, "coinbase": Provider()}, NOW, budget_seconds=5, sleep=waits.append)
    assert (waits, len(first.calls), {b.source for b in got.bars.values()}) == ([2.0], 2, {"alpaca_crypto"})
    waits.clear()
    first = Provider(RateLimited("alpaca_crypto", 30.0))
    got = latest_bars(CHAINS, {"alpaca_crypto": first, "coinbase": Provider()}, NOW, budget_seconds=5, sleep=waits.append)
    assert (waits, len(first.calls), {b.source for b in got.bars.values()}) == ([], 1, {"coinbase"})


def test_all_sources_down_leaves_the_symbols_without_a_price_and_says_why():
    down = ProviderError("x", "HTTP 500", 500)
    got = latest_bars(CHAINS, {"alpaca_crypto": Provider(down), "coinbase": Provider(down, down)}, NOW)
    assert got.bars == {}
    assert set(got.failures) == {"BTCUSD", "ETHUSD"}
    assert all(len(reasons) == 3 for reasons in got.failures.values())  # two sources, then none left
