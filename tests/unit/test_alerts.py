"""Alert bodies as TradingView really sends them (shared/tradingview.md)."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradeflow.domain.alerts import AlertError, parse_alert, read_body

TRADERSPOST = ('{"ticker":"SPY","action":"sell","sentiment":"flat","quantity":"50","price":"660",'
               '"time":"2025-09-09T14:07:08Z","interval":"5"}')
NESTED = ('{"passphrase":"abcdefgh","time":"2024-03-01T15:30:02Z","exchange":"NASDAQ","ticker":"AAPL","bar":'
          '{"time":"2024-03-01T15:25:00Z","open":179.55,"high":180.1,"low":179.4,"close":179.98,"volume":150177},'
          '"strategy":{"position_size":0,"order_action":"sell","order_contracts":10,"order_price":179.98,'
          '"order_id":"Close entry(s) order long","market_position":"flat","market_position_size":0,'
          '"prev_market_position":"long","prev_market_position_size":10}}')
CONNECTOR = ('{"exchange":"binance","strategy":"MyStrategy","market":"BTCUSDT","size":0.01,"order":"buy",'
             '"price":64250.5,"position":"long","reverse":false}')
PLAIN = "EXCHANGE=NASDAQ\nSYMBOL=AAPL\nSIGNAL=BUY\nSTOP_PRICE=175\nTAKE_PROFIT_PRICE=190"


def test_traderspost_template_with_quoted_numbers():
    alert = parse_alert(TRADERSPOST)
    assert (alert.ticker, alert.action, alert.sentiment) == ("SPY", "sell", "flat")
    assert alert.quantity == Decimal(50) and alert.price == Decimal(660)
    assert alert.time == datetime(2025, 9, 9, 14, 7, 8, tzinfo=UTC)


def test_nested_strategy_template_with_bare_numbers_reads_the_order_not_the_bar():
    alert = parse_alert(NESTED)
    assert (alert.ticker, alert.exchange, alert.action, alert.sentiment) == ("AAPL", "NASDAQ", "sell", "flat")
    assert alert.quantity == Decimal(10)  # order_contracts, not the bar's volume 150177
    assert alert.price == Decimal("179.98")
    assert alert.time == datetime(2024, 3, 1, 15, 30, 2, tzinfo=UTC)  # fire time, not bar time


def test_connector_template():
    alert = parse_alert(CONNECTOR)
    assert (alert.ticker, alert.action, alert.sentiment, alert.quantity) == ("BTCUSDT", "buy", "long", Decimal("0.01"))


def test_plain_text_key_value_lines():
    alert = parse_alert(PLAIN)
    assert (alert.ticker, alert.exchange, alert.action) == ("AAPL", "NASDAQ", "buy")
    assert (alert.stop_loss, alert.take_profit) == (Decimal(175), Decimal(190))


def test_json_with_trailing_newline_is_still_json():
    assert parse_alert(TRADERSPOST + "\n") == parse_alert(TRADERSPOST)


def test_quoted_and_bare_numbers_are_the_same_alert():
    bare = TRADERSPOST.replace('"50"', "50").replace('"660"', "660")
    assert parse_alert(bare) == parse_alert(TRADERSPOST)


@pytest.mark.parametrize("symbol, ticker, exchange", [
    ("NASDAQ:AAPL", "AAPL", "NASDAQ"), ("BTCUSDT.P", "BTCUSDT.P", None), ("NQ1!", "NQ1!", None),
])
def test_symbol_forms(symbol, ticker, exchange):
    alert = parse_alert(json.dumps({"ticker": symbol, "action": "buy"}))
    assert (alert.ticker, alert.exchange) == (ticker, exchange)


def test_broken_json_names_line_and_column():
    with pytest.raises(AlertError) as err:
        parse_alert('{"key": "mysecretkey" "msg": Long #AAPL at 179.98"}')
    assert err.value.field == "body" and "line 1 column 23" in err.value.message


def test_unfilled_strategy_placeholder_says_indicator_alerts_cannot_use_it():
    with pytest.raises(AlertError) as err:
        parse_alert('{"ticker": "AAPL", "action": "{{strategy.order.action}}"}')
    assert err.value.field == "action" and "indicator alert cannot use strategy variables" in err.value.message


@pytest.mark.parametrize("body, field", [
    ('{"action": "buy"}', "ticker"),
    ('{"ticker": "AAPL"}', "action"),
    ('{"ticker": "AAPL", "action": "hold"}', "action"),
    ('{"ticker": "AAPL", "action": "buy", "quantity": "-5"}', "quantity"),
    ('{"ticker": "AAPL", "action": "buy", "quantity": "NaN"}', "quantity"),
    ('{"ticker": "AAPL", "action": "buy", "price": "Infinity"}', "price"),
    ('{"ticker": "AAPL", "action": "buy", "price": "abc"}', "price"),
    ('{"ticker": "AAPL", "action": "buy", "time": "yesterday"}', "time"),
    ("[1, 2]", "body"),
    ("", "body"),
    ("hello world", "body"),
])
def test_refusals_name_the_field(body, field):
    with pytest.raises(AlertError) as err:
        parse_alert(body)
    assert err.value.field == field and err.value.message


@given(st.text(max_size=300))
def test_any_text_is_an_alert_or_an_alert_error(body):
    try:
        parse_alert(body)
    except AlertError as err:
        assert err.field and err.message


@given(st.dictionaries(st.sampled_from(["ticker", "action", "quantity", "price", "sentiment", "time", "x"]),
                       st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20))))
def test_any_json_object_is_an_alert_or_names_a_field(fields):
    try:
        parse_alert(json.dumps(fields))
    except AlertError as err:
        assert err.field in set(fields) | {"ticker", "action", "body"}


def test_read_body_flattens_strategy_and_prefixes_bar():
    fields = read_body(NESTED)
    assert fields["order_action"] == "sell" and fields["bar_volume"] == 150177 and "volume" not in fields
