"""TradingView's own messages and the buying-power check, through the whole local stack: the
default strategy message trades, an unquoted placeholder is answered with the line to write, a
short alert goes short by default, and an entry the cash cannot pay for at its fill price is
cancelled with the numbers (its exit legs too)."""

import json
from datetime import timedelta
from decimal import Decimal

from tradeflow.domain.strategy import StrategyConfig

from tests.conftest import SECRET, START

TOKEN = f"test.{SECRET}"


def rows(conn, sql, *args):
    return conn.execute(sql, args).fetchall()


def register(stack, name="test", **settings):
    stack.add_strategy(name, StrategyConfig(**{"slippage_bps": 0, "commission_bps": 0, **settings}), SECRET)


def test_the_default_strategy_message_opens_and_reverses_positions(stack, conn, replay_clock):
    register(stack)
    stack.record_quote("AAPL", START - timedelta(minutes=1), Decimal("100"))
    answer = stack.post_webhook("MA Cross (10, 30): order buy @ 10 filled on NASDAQ:AAPL. New strategy position is 10",
                                token=TOKEN)
    assert answer["statusCode"] == 202, answer
    stack.drain()
    replay_clock.set(START + timedelta(minutes=5))
    stack.post_webhook("MA Cross (10, 30): order sell @ 20 filled on NASDAQ:AAPL. New strategy position is -10",
                       token=TOKEN)
    stack.drain()
    positions = rows(conn, "SELECT side, quantity, status FROM positions ORDER BY position_id")
    assert [(p["side"], p["status"]) for p in positions] == [("long", "closed"), ("short", "open")]
    assert positions[1]["quantity"] == 10  # the target position, not the order's 20 contracts


def test_an_unquoted_placeholder_is_answered_with_the_line_to_write(stack, conn):
    register(stack)
    answer = stack.post_webhook('{"ticker": "AAPL", "action": buy, "quantity": 5}', token=TOKEN)
    body = json.loads(answer["body"])
    assert answer["statusCode"] == 400 and body["field"] == "action"
    assert 'write "action": "{{strategy.order.action}}"' in body["error"]


def test_a_sell_that_says_short_goes_short_unless_the_settings_forbid_it(stack, conn):
    register(stack)
    short = '{"ticker": "AAPL", "action": "sell", "sentiment": "short", "quantity": "5", "price": "100"}'
    stack.post_webhook(short, token=TOKEN)
    stack.drain()
    assert [p["side"] for p in rows(conn, "SELECT side FROM positions")] == ["short"]
    register(stack, "long-only", allow_short=False)
    stack.post_webhook(short, token=f"long-only.{SECRET}")
    stack.drain()
    refused = rows(conn, "SELECT reasons FROM decisions WHERE NOT approved")
    assert refused and "allow_short is false" in refused[0]["reasons"][0]


def test_an_entry_the_cash_cannot_pay_for_at_its_fill_is_cancelled_with_the_numbers(stack, conn):
    register(stack, starting_cash=Decimal(1000), commission_bps=Decimal(10), stop_loss_pct=Decimal(5))
    stack.post_webhook('{"ticker": "AAPL", "action": "buy", "quantity": "10", "price": "99.95"}', token=TOKEN)
    stack.drain()
    orders = {o["purpose"]: o for o in rows(conn, "SELECT purpose, status, reason FROM orders")}
    assert orders["entry"]["status"] == "cancelled" and orders["stop_loss"]["status"] == "cancelled"
    # 999.50 of shares fit in 1,000.00 of cash; with the commission at the fill they do not
    assert "10 x 99.95 + commission 1.00 = 1000.50 exceeds buying power 1000.00" in orders["entry"]["reason"]
    assert rows(conn, "SELECT cash FROM accounts")[0]["cash"] == 1000 and not rows(conn, "SELECT * FROM fills")
    register(stack, "margin", starting_cash=Decimal(1000), commission_bps=Decimal(10),
             buying_power_multiplier=Decimal(2))
    stack.post_webhook('{"ticker": "AAPL", "action": "buy", "quantity": "10", "price": "99.95"}',
                       token=f"margin.{SECRET}")
    stack.drain()
    assert [f["price"] for f in rows(conn, "SELECT price FROM fills")] == [Decimal("99.95")]  # a margin account
