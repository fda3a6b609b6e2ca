"""Every template of docs/alerts.md, rendered as TradingView would render it for an
entry and for an exit, becomes the expected normalised Alert and trading intent."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from tradeflow.domain.alerts import Alert, AlertError, parse_alert
from tradeflow.domain.signals import intent_of

# The templates as a trader pastes them into TradingView's Message box.
TRADERSPOST = ('{"ticker":"{{ticker}}","action":"{{strategy.order.action}}","sentiment":"{{strategy.market_position}}",'
               '"quantity":"{{strategy.order.contracts}}","price":"{{close}}","time":"{{timenow}}",'
               '"interval":"{{interval}}"}')
NESTED = ('{"passphrase":"abcdefgh","time":"{{timenow}}","exchange":"{{exchange}}","ticker":"{{ticker}}","bar":'
          '{"time":"{{time}}","open":{{open}},"high":{{high}},"low":{{low}},"close":{{close}},"volume":{{volume}}},'
          '"strategy":{"position_size":{{strategy.position_size}},"order_action":"{{strategy.order.action}}",'
          '"order_contracts":{{strategy.order.contracts}},"order_price":{{strategy.order.price}},'
          '"order_id":"{{strategy.order.id}}","market_position":"{{strategy.market_position}}",'
          '"market_position_size":{{strategy.market_position_size}},'
          '"prev_market_position":"{{strategy.prev_market_position}}",'
          '"prev_market_position_size":{{strategy.prev_market_position_size}}}}')
CONNECTOR = ('{"exchange":"{{exchange}}","strategy":"MyStrategy","market":"{{ticker}}",'
             '"size":{{strategy.order.contracts}},"order":"{{strategy.order.action}}","price":{{close}},'
             '"position":"{{strategy.market_position}}","reverse":REVERSE}')
PLAIN_ENTRY = "EXCHANGE={{exchange}}\nSYMBOL={{ticker}}\nSIGNAL=BUY\nSTOP_PRICE=175\nTAKE_PROFIT_PRICE=190"
PLAIN_EXIT = "EXCHANGE={{exchange}};SYMBOL={{ticker}};SIGNAL=CLOSE"
BROKEN = '{"key": "mysecretkey" "msg": {{strategy.order.action}} #{{ticker}} at {{close}}"}'

# What TradingView substitutes when the strategy opens a long, and when it closes it.
ENTRY = {
    "ticker": "AAPL", "exchange": "NASDAQ", "open": "179.55", "high": "180.1", "low": "179.4", "close": "179.98",
    "volume": "150177", "time": "2024-03-01T15:25:00Z", "timenow": "2024-03-01T15:30:02Z", "interval": "5",
    "strategy.order.action": "buy", "strategy.order.contracts": "10", "strategy.order.price": "179.98",
    "strategy.order.id": "Long", "strategy.market_position": "long", "strategy.market_position_size": "10",
    "strategy.prev_market_position": "flat", "strategy.prev_market_position_size": "0",
    "strategy.position_size": "10",
}
EXIT = ENTRY | {
    "close": "182.5", "timenow": "2024-03-01T16:00:01Z", "strategy.order.action": "sell",
    "strategy.order.price": "182.5", "strategy.order.id": "Close entry(s) order Long",
    "strategy.market_position": "flat", "strategy.market_position_size": "0",
    "strategy.prev_market_position": "long", "strategy.prev_market_position_size": "10",
    "strategy.position_size": "0",
}


def render(template: str, values: dict[str, str]) -> str:
    """Substitute placeholders as TradingView does (fixed-point numbers, text as is)."""
    for name, value in values.items():
        template = template.replace("{{" + name + "}}", value)
    return template


ENTRY_TIME = datetime(2024, 3, 1, 15, 30, 2, tzinfo=UTC)
EXIT_TIME = datetime(2024, 3, 1, 16, 0, 1, tzinfo=UTC)
D = Decimal

CASES = [
    ("traderspost entry", TRADERSPOST, ENTRY, "enter_long", Alert(
        ticker="AAPL", action="buy", sentiment="long", quantity=D(10), price=D("179.98"), time=ENTRY_TIME,
        interval="5")),
    ("traderspost exit", TRADERSPOST, EXIT, "exit", Alert(
        ticker="AAPL", action="sell", sentiment="flat", quantity=D(10), price=D("182.5"), time=EXIT_TIME,
        interval="5")),
    ("nested entry", NESTED, ENTRY, "enter_long", Alert(
        ticker="AAPL", exchange="NASDAQ", action="buy", sentiment="long", quantity=D(10), price=D("179.98"),
        position_size=D(10), prev_sentiment="flat", time=ENTRY_TIME, comment="Long")),
    ("nested exit", NESTED, EXIT, "exit", Alert(
        ticker="AAPL", exchange="NASDAQ", action="sell", sentiment="flat", quantity=D(10), price=D("182.5"),
        position_size=D(0), prev_sentiment="long", time=EXIT_TIME, comment="Close entry(s) order Long")),
    ("connector entry", CONNECTOR.replace("REVERSE", "false"), ENTRY, "enter_long", Alert(
        ticker="AAPL", exchange="NASDAQ", action="buy", sentiment="long", quantity=D(10), price=D("179.98"))),
    ("connector exit", CONNECTOR.replace("REVERSE", "false"), EXIT, "exit", Alert(
        ticker="AAPL", exchange="NASDAQ", action="sell", sentiment="flat", quantity=D(10), price=D("182.5"))),
    ("connector reverse to short", CONNECTOR.replace("REVERSE", "true"),
     EXIT | {"strategy.market_position": "short"}, "enter_short", Alert(
        ticker="AAPL", exchange="NASDAQ", action="sell", sentiment="short", quantity=D(10), price=D("182.5"),
        reverse=True)),
    ("plain text entry", PLAIN_ENTRY, ENTRY, "enter_long", Alert(
        ticker="AAPL", exchange="NASDAQ", action="buy", stop_loss=D(175), take_profit=D(190),
        take_profits=(D(190),))),
    ("plain text exit", PLAIN_EXIT, EXIT, "exit", Alert(ticker="AAPL", exchange="NASDAQ", action="exit")),
]


@pytest.mark.parametrize("template, values, intent, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_template_becomes_the_expected_alert_and_intent(template, values, intent, expected):
    body = render(template, values)
    assert "{{" not in body  # every placeholder of the template was rendered
    alert = parse_alert(body)
    assert alert == expected
    assert intent_of(alert, allow_short=True) == intent


@pytest.mark.parametrize("template, values, intent, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_template_sent_as_text_plain_with_trailing_newline_is_the_same_alert(template, values, intent, expected):
    assert parse_alert(render(template, values) + "\n") == expected


def test_reverse_to_short_in_a_long_only_strategy_closes_the_long():
    body = render(CONNECTOR.replace("REVERSE", '"true"'), EXIT | {"strategy.market_position": "short"})
    assert intent_of(parse_alert(body), allow_short=False) == "exit"


def test_nested_reversal_enters_short_with_the_target_size_not_the_order_contracts():
    reversal = EXIT | {"strategy.position_size": "-10", "strategy.order.contracts": "20",
                       "strategy.market_position": "short", "strategy.market_position_size": "10"}
    alert = parse_alert(render(NESTED, reversal))
    assert (alert.position_size, alert.quantity) == (D(-10), D(10))
    assert intent_of(alert, allow_short=True) == "enter_short"


@pytest.mark.parametrize("values", [ENTRY, EXIT], ids=["entry", "exit"])
def test_broken_json_template_is_refused_with_line_and_column(values):
    with pytest.raises(AlertError) as err:
        parse_alert(render(BROKEN, values))
    assert err.value.field == "body" and "line 1 column 23" in err.value.message


@pytest.mark.parametrize("template", [TRADERSPOST, NESTED, CONNECTOR.replace("REVERSE", "false")])
def test_template_from_an_indicator_alert_names_the_unfilled_strategy_placeholder(template):
    indicator = {k: v for k, v in ENTRY.items() if not k.startswith("strategy.")}
    with pytest.raises(AlertError) as err:
        parse_alert(render(template, indicator))
    assert "{{strategy." in err.value.message and "indicator alert cannot use strategy variables" in err.value.message
