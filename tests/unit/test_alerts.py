"""Alert bodies as TradingView really sends them (TradingView's support pages; docs/alerts.md)."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tradeflow.domain.alerts import AlertError, parse_alert, read_body
from tradeflow.domain.signals import intent_of

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
    ('{"ticker": "AAPL", "action": "buy", "quantity": 1e999}', "quantity"),
    ('{"ticker": "AAPL", "action": "buy", "quantity": "1e999"}', "quantity"),
    ('{"ticker": "AAPL", "action": "buy", "quantity": NaN}', "quantity"),
    ('{"ticker": "AAPL", "action": "buy", "price": -Infinity}', "price"),
    ('{"ticker": "AAPL", "action": "buy", "quantity": 0}', "quantity"),
    ('{"ticker": "AAPL", "action": "buy", "quantity": true}', "quantity"),
    ('{"ticker": "AAPL", "action": "buy", "orderType": "limit"}', "limitPrice"),
    ('{"ticker": "AAPL", "action": "buy", "orderType": "stop", "limitPrice": 180}', "stopPrice"),
    ('{"ticker": "AAPL", "action": "buy", "orderType": "stop_limit", "stopPrice": 180}', "limitPrice"),
    ('{"ticker": "AAPL", "action": "buy", "orderType": "iceberg"}', "ordertype"),
    ('{"ticker": "AAPL", "action": "buy", "timeInForce": "fok"}', "timeinforce"),
    ('{"ticker": "AAPL", "action": "buy", "price": 180, "stopLoss": 185}', "stop_loss"),
    ('{"ticker": "AAPL", "action": "sell", "price": 180, "stop_loss": 175}', "stop_loss"),
    ('{"ticker": "AAPL", "action": "buy", "price": 180, "takeProfit": 170}', "take_profit"),
    ('{"ticker": "AAPL", "action": "buy", "price": 180, "stopLoss": {"amount": 200}}', "stop_loss"),
    ('{"ticker": "AAPL", "action": "buy", "stopLoss": {"type": "bogus", "percent": 2}}', "stoploss.type"),
    ('{"ticker": "AAPL", "action": "buy", "stopLoss": {}}', "stoploss"),
    ('{"ticker": "AAPL", "action": "buy", "stopLoss": {"percent": "abc"}}', "stoploss.percent"),
    ('{"ticker": "AAPL", "action": "buy", "stop_loss": 175, "stop_loss_pct": 2}', "stop_loss"),
    ('{"ticker": "AAPL", "action": "buy", "takeProfit": []}', "takeprofit"),
    ('{"ticker": "AAPL", "action": "buy", "take_profit": 190, "tp2": 195}', "tp2"),
    ('{"ticker": "AAPL", "action": "buy", "reverse": "maybe"}', "reverse"),
    ('{"ticker": "AAPL", "action": "buy", "exchange": "NAS DAQ!"}', "exchange"),
    ('{"ticker": "AAPL", "action": "buy", "quantity": 0.0000000000001}', "quantity"),
    ('{"ticker": "AAPL", "action": "buy", "stopLoss": {"percent": "{{plot_0}}"}}', "stoploss.percent"),
    ('{"ticker": "AAPL", "action": "buy", "size": {{strategy.order.contracts}}}', "size"),
    ("[" * 5000, "body"),
    ('{"quantity": ' + "9" * 5000 + "}", "body"),
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


_KEYS = ["ticker", "action", "quantity", "price", "sentiment", "time", "x", "stopLoss", "takeProfit", "tp1",
         "orderType", "limitPrice", "stopPrice", "timeInForce", "reverse", "exchange", "strategy", "bar", "type",
         "percent", "amount", "trailPercent", "position_size", "prev_market_position", "take_profit"]
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
                     st.sampled_from(["buy", "sell", "exit", "AAPL", "NASDAQ_DL:AAPL", "limit", "stop", "gtc",
                                      "trailing_stop", "long", "short", "flat", "1e999", "NaN", "-1", "0", "175",
                                      "2024-03-01T15:30:02Z", "true", "{{close}}"]))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                          st.dictionaries(st.sampled_from(_KEYS), inner, max_size=4)),
                       max_leaves=8)


@given(st.dictionaries(st.sampled_from(_KEYS), _VALUES))
def test_any_json_object_is_an_alert_or_an_alert_error_naming_a_field(fields):
    try:
        alert = parse_alert(json.dumps(fields))
    except AlertError as err:
        assert err.field and err.message
    else:
        assert alert.ticker and alert.action in ("buy", "sell", "exit")


def test_read_body_flattens_strategy_and_prefixes_bar():
    fields = read_body(NESTED)
    assert fields["order_action"] == "sell" and fields["bar_volume"] == 150177 and "volume" not in fields


# -- vocabulary variants ------------------------------------------------------------------------

def alert_of(**fields):
    return parse_alert(json.dumps({"ticker": "AAPL", **fields}))


@pytest.mark.parametrize("key", ["action", "order", "side", "signal", "SIGNAL", "Action"])
@pytest.mark.parametrize("word, action", [("buy", "buy"), ("SELL", "sell"), ("long", "buy"), ("short", "sell"),
                                          ("exit", "exit"), ("close", "exit"), ("Close_Long", "exit")])
def test_action_vocabulary(key, word, action):
    assert parse_alert(json.dumps({"ticker": "AAPL", key: word})).action == action


@pytest.mark.parametrize("sentiment, action", [("long", "buy"), ("short", "sell"), (None, "buy")])
def test_add_adds_on_the_sentiment_side(sentiment, action):
    assert alert_of(action="add", **({"sentiment": sentiment} if sentiment else {})).action == action


@pytest.mark.parametrize("key", ["sentiment", "position", "market_position", "MARKET_POSITION"])
def test_sentiment_vocabulary(key):
    assert parse_alert(json.dumps({"ticker": "AAPL", "action": "sell", key: "Short"})).sentiment == "short"


@pytest.mark.parametrize("key", ["quantity", "contracts", "size", "qty", "order_contracts"])
def test_quantity_vocabulary(key):
    assert alert_of(action="buy", **{key: "2.5"}).quantity == Decimal("2.5")


def test_bar_volume_is_never_the_quantity():
    alert = alert_of(action="buy", bar={"volume": 150177, "close": 179.98})
    assert alert.quantity is None and alert.price == Decimal("179.98")


@pytest.mark.parametrize("body", [
    '{"ticker": "AAPL", "action": "buy", "volume": "4500", "price": "229.99"}',
    "SYMBOL=AAPL\nSIGNAL=BUY\nVOLUME=4500",
])
def test_top_level_volume_is_the_bars_volume_not_the_quantity(body):
    assert parse_alert(body).quantity is None  # the strategy's sizing decides


@pytest.mark.parametrize("name, action, contracts, ticker, position", [
    ("MA Cross (10, 30)", "buy", "0.05", "BTCUSDT", "0.05"),
    ("My strategy (close, 14, 2.5)", "sell", "10", "BTCUSDT.P", "-10"),
    ("x", "sell", "150", "NASDAQ:AAPL", "0"),
])
def test_tradingviews_default_strategy_message_is_an_alert(name, action, contracts, ticker, position):
    alert = parse_alert(f"{name}: order {action} @ {contracts} filled on {ticker}. New strategy position is {position}")
    assert (alert.action, alert.quantity, alert.position_size) == (action, Decimal(contracts), Decimal(position))
    assert alert.ticker == ticker.rpartition(":")[2] and alert.comment == name
    expected = "exit" if position == "0" else "enter_long" if action == "buy" else "enter_short"
    assert intent_of(alert) == expected


def test_order_alert_message_is_read_whole_or_inside_a_template():
    message = '{"ticker": "AAPL", "action": "sell", "sentiment": "short", "quantity": "7"}'
    assert parse_alert(message).quantity == Decimal(7)
    wrapped = parse_alert(json.dumps({"passphrase": "p", "ticker": "MSFT", "alert_message": message}))
    assert (wrapped.ticker, wrapped.action, wrapped.quantity) == ("MSFT", "sell", Decimal(7))  # outer fields win
    sentence = parse_alert(json.dumps({"message": "S: order buy @ 3 filled on IBM. New strategy position is 3"}))
    assert (sentence.ticker, sentence.quantity) == ("IBM", Decimal(3))
    with pytest.raises(AlertError, match="alert_message argument"):
        parse_alert('{"ticker": "AAPL", "alert_message": "{{strategy.order.alert_message}}"}')


@pytest.mark.parametrize("template, line", [
    ('{"ticker": "{{ticker}}", "action": {{strategy.order.action}}}', '"action": "{{strategy.order.action}}"'),
    ('{"ticker": {{ticker}}, "action": "buy"}', '"ticker": "{{ticker}}"'),
    ('{"ticker": "AAPL", "action": "buy", "time": {{timenow}}}', '"time": "{{timenow}}"'),
    ('{"ticker": "AAPL", "Signal": {{plot_0}}, "action": "buy"}', '"Signal": "long"'),
])
def test_unquoted_text_placeholder_is_answered_with_the_line_to_write(template, line):
    rendered = (template.replace("{{ticker}}", "NASDAQ:AAPL").replace("{{strategy.order.action}}", "buy")
                .replace("{{timenow}}", "2024-03-01T15:30:02Z").replace("{{plot_0}}", "long"))
    with pytest.raises(AlertError) as err:
        parse_alert(rendered)
    assert f"write {line}" in str(err.value) and "column" not in str(err.value)


@pytest.mark.parametrize("key", ["stop_loss", "stopLoss", "STOP_PRICE", "sl", "stop_loss_price"])
def test_stop_loss_price_vocabulary(key):
    assert alert_of(action="buy", price=180, **{key: "175"}).stop_loss == Decimal(175)


@pytest.mark.parametrize("key", ["take_profit", "takeProfit", "TAKE_PROFIT_PRICE", "tp"])
def test_take_profit_price_vocabulary(key):
    alert = alert_of(action="buy", price=180, **{key: 190})
    assert (alert.take_profit, alert.take_profits) == (Decimal(190), (Decimal(190),))


@pytest.mark.parametrize("key", ["stop_loss_pct", "stopLossPercent", "sl_pct", "stop_loss_percent"])
def test_stop_loss_percent_vocabulary(key):
    alert = alert_of(action="buy", **{key: "2"})
    assert (alert.stop_loss_pct, alert.stop_loss) == (Decimal(2), None)


@pytest.mark.parametrize("key", ["take_profit_pct", "takeProfitPercent", "tp_pct"])
def test_take_profit_percent_vocabulary(key):
    assert alert_of(action="buy", **{key: 10}).take_profit_pct == Decimal(10)


@pytest.mark.parametrize("stop_loss, expected", [
    ({"type": "stop", "stopPrice": 175}, {"stop_loss": Decimal(175)}),
    ({"percent": 2}, {"stop_loss_pct": Decimal(2)}),
    ({"amount": 5}, {"stop_loss": Decimal(175)}),  # 180 - 5: converted, the alert has a price
    ({"type": "trailing_stop", "trailPercent": 2}, {"trailing_stop_pct": Decimal(2)}),
    ({"type": "trailing_stop", "trailAmount": "1.5"}, {"trailing_stop_amount": Decimal("1.5")}),
])
def test_traderspost_stop_loss_objects(stop_loss, expected):
    alert = alert_of(action="buy", price="180", stopLoss=stop_loss)
    names = ("stop_loss", "stop_loss_pct", "stop_loss_amount", "trailing_stop_pct", "trailing_stop_amount")
    assert {n: getattr(alert, n) for n in names if getattr(alert, n) is not None} == expected


@pytest.mark.parametrize("take_profit, expected", [
    ({"limitPrice": 190}, {"take_profit": Decimal(190)}),
    ({"percent": 10}, {"take_profit_pct": Decimal(10)}),
    ({"amount": 5}, {"take_profit": Decimal(185)}),
])
def test_traderspost_take_profit_objects(take_profit, expected):
    alert = alert_of(action="buy", price="180", takeProfit=take_profit)
    names = ("take_profit", "take_profit_pct", "take_profit_amount")
    assert {n: getattr(alert, n) for n in names if getattr(alert, n) is not None} == expected


def test_amounts_for_a_short_are_measured_the_other_way():
    alert = alert_of(action="sell", sentiment="short", price=180, stopLoss={"amount": 5}, takeProfit={"amount": 5})
    assert (alert.stop_loss, alert.take_profit) == (Decimal(185), Decimal(175))


def test_amounts_without_a_price_stay_distances():
    alert = alert_of(action="buy", stopLoss={"amount": 5}, takeProfit={"amount": "7.50"})
    assert (alert.stop_loss, alert.stop_loss_amount) == (None, Decimal(5))
    assert (alert.take_profit, alert.take_profit_amount) == (None, Decimal("7.5"))


@pytest.mark.parametrize("fields", [
    {"take_profit": [185, "190", 195.5]},
    {"take_profit_1": 185, "take_profit_2": 190, "take_profit_3": "195.5"},
    {"tp3": "195.5", "tp1": 185, "tp2": 190},
    {"TP_1": 185, "TP_2": 190, "TP_3": 195.5},
    {"takeProfits": [185, 190, 195.5]},
])
def test_several_take_profits_in_order(fields):
    alert = alert_of(action="buy", price=180, **fields)
    assert alert.take_profits == (Decimal(185), Decimal(190), Decimal("195.5"))
    assert alert.take_profit == Decimal(185)


def test_several_take_profits_as_plain_text():
    alert = parse_alert("SYMBOL=AAPL;SIGNAL=BUY;PRICE=180;TP1=185;TP2=190;BREAKEVEN=true")
    assert alert.take_profits == (Decimal(185), Decimal(190)) and alert.breakeven_after_first_target


@pytest.mark.parametrize("fields, order_type, limit, stop", [
    ({"orderType": "limit", "limitPrice": "179.5"}, "limit", Decimal("179.5"), None),
    ({"order_type": "STOP", "stopPrice": 181}, "stop", None, Decimal(181)),
    ({"type": "stop-limit", "stopPrice": 181, "limitPrice": 181.5}, "stop_limit", Decimal("181.5"), Decimal(181)),
    ({"orderType": "market"}, "market", None, None),
    ({"limitPrice": 179}, "limit", Decimal(179), None),  # a limit price alone implies a limit order
    ({"stopPrice": 181}, "stop", None, Decimal(181)),
])
def test_entry_order_types(fields, order_type, limit, stop):
    alert = alert_of(action="buy", **fields)
    assert (alert.order_type, alert.limit_price, alert.stop_price) == (order_type, limit, stop)


@pytest.mark.parametrize("key, value, tif", [("timeInForce", "GTC", "gtc"), ("tif", "day", "day"),
                                             ("time_in_force", "IOC", "ioc")])
def test_time_in_force(key, value, tif):
    assert alert_of(action="buy", **{key: value}).time_in_force == tif


def test_stop_loss_side_is_checked_against_the_limit_price_of_a_limit_order():
    with pytest.raises(AlertError) as err:
        alert_of(action="buy", price=170, orderType="limit", limitPrice=174, stopLoss=175)
    assert err.value.field == "stop_loss" and "below" in err.value.message
    assert alert_of(action="buy", price=170, orderType="limit", limitPrice=176, stopLoss=175).stop_loss == 175


def test_an_exit_may_carry_any_stop_loss():
    assert alert_of(action="sell", sentiment="flat", price=180, stop_loss=185).stop_loss == Decimal(185)


@pytest.mark.parametrize("value, expected", [(True, True), ("true", True), ("TRUE", True), (False, False),
                                             ("false", False), ("0", False)])
def test_reverse_flag(value, expected):
    assert alert_of(action="sell", reverse=value).reverse is expected


@pytest.mark.parametrize("size, expected", [(0, Decimal(0)), ("-10", Decimal(-10)), ("2.50", Decimal("2.5"))])
def test_position_size_is_signed_and_may_be_zero(size, expected):
    alert = alert_of(action="buy", strategy={"position_size": size, "prev_market_position": "flat"})
    assert (alert.position_size, alert.prev_sentiment) == (expected, "flat")


@pytest.mark.parametrize("symbol, exchange_field, ticker, exchange, delayed", [
    ("AAPL", None, "AAPL", None, False),
    ("NASDAQ:AAPL", None, "AAPL", "NASDAQ", False),
    ("BTCUSDT.P", "BINANCE", "BTCUSDT.P", "BINANCE", False),
    ("NQ1!", "CME_MINI_DL", "NQ1!", "CME_MINI", True),
    ("AAPL", "NASDAQ_DL", "AAPL", "NASDAQ", True),
    ("NASDAQ_DL:AAPL", None, "AAPL", "NASDAQ", True),
    ("nasdaq:aapl", "nasdaq", "AAPL", "NASDAQ", False),
])
def test_symbols_and_delayed_feeds(symbol, exchange_field, ticker, exchange, delayed):
    extra = {"exchange": exchange_field} if exchange_field else {}
    alert = parse_alert(json.dumps({"ticker": symbol, "action": "buy", **extra}))
    assert (alert.ticker, alert.exchange, alert.delayed) == (ticker, exchange, delayed)


def test_passphrase_never_enters_the_alert():
    alert = alert_of(action="buy", passphrase="abcdefgh")
    assert "abcdefgh" not in alert.model_dump_json()


# -- properties -----------------------------------------------------------------------------------

_DECIMALS = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("100000"), places=4)


@given(price=_DECIMALS, quantity=_DECIMALS, stop=_DECIMALS, targets=st.lists(_DECIMALS, max_size=3))
def test_quoted_and_bare_numbers_give_equal_alerts(price, quantity, stop, targets):
    def body(number):
        fields = {"ticker": "AAPL", "action": "buy", "price": number(price), "quantity": number(quantity),
                  "stopLoss": {"stopPrice": number(stop)}}
        if targets:
            fields["take_profit"] = [number(t) for t in targets]
        return json.dumps(fields).replace('"@', "").replace('@"', "")

    try:
        quoted = parse_alert(body(str))
    except AlertError as err:
        with pytest.raises(AlertError) as again:
            parse_alert(body(lambda n: f"@{n}@"))
        assert again.value.field == err.field
    else:
        assert parse_alert(body(lambda n: f"@{n}@")) == quoted


@given(price=_DECIMALS, stop=st.one_of(_DECIMALS.map(lambda d: {"stopLoss": d}),
                                       _DECIMALS.map(lambda d: {"stopLoss": {"amount": d}}),
                                       _DECIMALS.map(lambda d: {"sl": d})),
       limit=st.one_of(st.none(), _DECIMALS))
def test_a_stop_loss_for_a_long_is_always_below_its_price(price, stop, limit):
    fields = {"ticker": "AAPL", "action": "buy", "price": str(price)} | {k: str(v) if not isinstance(v, dict) else
                                                                          {"amount": str(v["amount"])}
                                                                          for k, v in stop.items()}
    if limit is not None:
        fields |= {"orderType": "limit", "limitPrice": str(limit)}
    try:
        alert = parse_alert(json.dumps(fields))
    except AlertError as err:
        assert err.field == "stop_loss"
    else:
        assert alert.stop_loss < (alert.limit_price or alert.price)
