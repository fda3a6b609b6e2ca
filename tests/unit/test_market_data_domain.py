"""The price-feed port, symbol mapping, staleness and TradingView bar alerts (pure)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tradeflow.domain import bar_alerts, symbols
from tradeflow.domain.alerts import AlertError, read_body
from tradeflow.domain.ports import Bar, PriceError, age_seconds, fresh_enough

T0 = datetime(2024, 3, 1, 15, 30, tzinfo=UTC)
prices = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("100000"), places=4, allow_nan=False)


@given(st.lists(prices, min_size=4, max_size=4), st.integers(min_value=1, max_value=3600))
def test_a_bar_round_trips_through_its_event_json(values, seconds):
    low, high = min(values), max(values)
    bar = Bar("AAPL", T0, T0 + timedelta(seconds=seconds), values[0], high, low, values[1], "alpaca", Decimal(7))
    assert Bar.from_json(bar.to_json()) == bar
    assert bar.as_of == bar.closes_at


@pytest.mark.parametrize("change, says", [
    ({"high": Decimal("9")}, "enclose"), ({"low": Decimal("0")}, "positive"),
    ({"closes_at": T0}, "before it closes"), ({"opened_at": T0.replace(tzinfo=None)}, "timezone"),
])
def test_an_impossible_bar_is_refused_naming_the_symbol(change, says):
    fields = dict(symbol="AAPL", opened_at=T0, closes_at=T0 + timedelta(minutes=1), open=Decimal(10),
                  high=Decimal(11), low=Decimal(9.5), close=Decimal(10.5), source="x") | change
    with pytest.raises(PriceError, match=f"AAPL.*{says}|{says}.*"):
        Bar(**fields)


def test_a_bar_event_missing_a_field_says_which():
    with pytest.raises(PriceError, match="'close'"):
        Bar.from_json({"symbol": "AAPL", "opened_at": T0.isoformat(), "closes_at": T0.isoformat(), "open": "1",
                       "high": "1", "low": "1", "source": "x"})


@given(st.integers(min_value=-10_000, max_value=10_000), st.integers(min_value=0, max_value=5000))
def test_a_price_is_fresh_exactly_while_its_age_is_within_the_limit(offset_seconds, limit):
    now = T0 + timedelta(seconds=offset_seconds)
    expected_age = max(offset_seconds, 0)
    assert age_seconds(T0, now) == expected_age
    assert fresh_enough(T0, now, limit) is (expected_age <= limit)


@pytest.mark.parametrize("ticker, expected", [
    ("NASDAQ:AAPL", [("alpaca", "AAPL")]),
    ("AAPL", [("alpaca", "AAPL")]),
    ("NYSE:BRK.B", [("alpaca", "BRK.B")]),
    ("COINBASE:BTCUSD", [("alpaca_crypto", "BTC/USD"), ("coinbase", "BTC-USD")]),
    ("BINANCE:ETHUSDT", [("alpaca_crypto", "ETH/USDT"), ("coinbase", "ETH-USDT")]),
    ("NASDAQ_DL:MSFT", [("alpaca", "MSFT")]),
])
def test_tradingview_tickers_map_to_each_providers_symbol(ticker, expected):
    assert symbols.sources_for(ticker, symbols.MarketDataSettings()) == expected


@pytest.mark.parametrize("ticker, kind", [("BINANCE:BTCUSDT.P", "perpetual swap"), ("NQ1!", "continuous future"),
                                          ("CME_MINI_DL:NQ1!", "continuous future")])
def test_a_symbol_without_a_source_is_refused_saying_what_to_configure(ticker, kind):
    with pytest.raises(symbols.NoPriceSource, match=f"no price source for .* \\(a {kind}\\).*\"tradingview\" symbols"):
        symbols.sources_for(ticker, symbols.MarketDataSettings())


def test_a_mapping_or_a_bar_alert_gives_a_perpetual_or_a_future_a_price():
    settings = symbols.MarketDataSettings(symbols={"BTCUSDT.P": {"coinbase": "BTC-USDT"}}, tradingview=("NQ1!",))
    assert symbols.sources_for("BINANCE:BTCUSDT.P", settings) == [("coinbase", "BTC-USDT")]
    assert symbols.sources_for("NQ1!", settings) == []  # fed by the trader's bar alerts only


def test_the_trader_can_reorder_the_crypto_sources():
    settings = symbols.MarketDataSettings(sources={"crypto": ("coinbase", "alpaca_crypto")})
    assert [s for s, _ in symbols.sources_for("BTCUSD", settings)] == ["coinbase", "alpaca_crypto"]


BAR_MESSAGE = ('{"action": "bar", "ticker": "NASDAQ:AAPL", "open": "179.55", "high": "180.1", "low": "179.4", '
               '"close": "179.98", "volume": "150177", "time": "2024-03-01T15:25:00Z", "interval": "5"}')


def test_a_bar_alert_becomes_a_tradingview_bar_closing_one_interval_after_it_opened():
    fields = read_body(BAR_MESSAGE)
    assert bar_alerts.is_bar_alert(fields)
    bar = bar_alerts.parse_bar_alert(fields)
    assert (bar.symbol, bar.source, bar.opened_at, bar.closes_at) == ("AAPL", "tradingview", T0 - timedelta(minutes=5), T0)
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (
        Decimal("179.55"), Decimal("180.1"), Decimal("179.4"), Decimal("179.98"), Decimal(150177))


def test_the_printed_template_is_a_bar_alert():
    assert bar_alerts.is_bar_alert(read_body(bar_alerts.MESSAGE_TEMPLATE))
    assert not bar_alerts.is_bar_alert(read_body('{"action": "buy", "ticker": "AAPL"}'))


@pytest.mark.parametrize("raw, length", [("1", timedelta(minutes=1)), ("240", timedelta(hours=4)),
                                         ("30S", timedelta(seconds=30))])
def test_intraday_intervals_are_read(raw, length):
    assert bar_alerts.interval_length(raw) == length


@pytest.mark.parametrize("change, field", [
    ({"close": "{{close}}"}, "close"), ({"interval": "D"}, "interval"), ({"interval": "480"}, "interval"),
    ({"high": "179"}, "body"), ({"low": "-1"}, "low"), ({"time": "2024-03-01T15:25:00"}, "time"),
])
def test_a_bad_bar_alert_is_refused_naming_the_field(change, field):
    with pytest.raises(AlertError) as caught:
        bar_alerts.parse_bar_alert(read_body(BAR_MESSAGE) | change)
    assert caught.value.field == field


# --- staleness at fill time and of open exposure ----------------------------------------------

@given(st.integers(min_value=0, max_value=7200), st.integers(min_value=1, max_value=3600))
def test_a_stale_refusal_names_age_source_and_limit_exactly_when_the_price_is_too_old(age, limit):
    from tradeflow.domain.ports import stale_refusal

    reason = stale_refusal("AAPL", T0, "alpaca", T0 + timedelta(seconds=age), limit)
    assert (reason is None) == (age <= limit)
    if reason:
        assert f"{age} s old" in reason and "alpaca" in reason and f"max_price_age_seconds {limit}" in reason


@given(st.lists(st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(["AAPL", "MSFT", "IBM"]),
                          st.none() | st.integers(min_value=0, max_value=5000)), max_size=8, unique_by=lambda t: t[:2]),
       st.none() | st.integers(min_value=0, max_value=5000))
def test_stale_exposures_are_those_without_a_price_fresher_than_their_strategy_limit(rows, opened_ago):
    from tradeflow.domain.ports import Exposure, stale_exposures

    now = T0 + timedelta(hours=2)
    limits, closes = {"a": 300, "b": 900}, {"a": True, "b": False}
    exposures = [Exposure(s, sym, n, "long", Decimal(3), None if ago is None else Decimal(10),
                          None if ago is None else now - timedelta(seconds=ago), None if ago is None else "alpaca")
                 for n, (s, sym, ago) in enumerate(rows)]
    session_open = None if opened_ago is None else now - timedelta(seconds=opened_ago)
    found = stale_exposures(exposures, limits.__getitem__, closes.__getitem__, now, session_open)
    # independently: age counts from the later of the price and the session open
    expected = []
    for (s, sym, ago) in rows:
        ages = [a for a in (ago, opened_ago) if a is not None]
        if not ages or min(ages) > limits[s]:
            expected.append((s, sym, closes[s] and ago is not None))
    assert [(f.exposure.strategy_id, f.exposure.symbol, f.close) for f in found] == expected
    assert len({f.key for f in found}) == len(found)  # one notice per strategy, symbol and episode


def test_a_stale_price_notice_is_urgent_reading():
    from tradeflow.domain.messages import NotificationEvent
    from tradeflow.domain.notifications import render

    facts = {"symbol": "AAPL", "side": "long", "quantity": "5", "price": "100.5", "source": "alpaca",
             "age_seconds": "1200", "max_age_seconds": 900, "closing": False}
    subject, text = render(NotificationEvent(key="k", kind="stale_price", strategy_id="s", facts=facts))
    assert subject == "tradeflow: stale price for AAPL"
    assert "100.5 (alpaca) is 1200 s old" in text and "limit 900 s" in text and len(text) <= 160
    _, none = render(NotificationEvent(key="k", kind="stale_price", strategy_id="s",
                                       facts=facts | {"price": None, "closing": True}))
    assert "has no price at all" in none and "closing it" in none
