"""Orders through the local stack: the bar fill model, order types, time in force, scale-out
brackets, trailing stops, replace, and OCO under concurrent delivery."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from tradeflow import names
from tradeflow.adapters import aws
from tradeflow.domain.strategy import StrategyConfig
from tradeflow.local.stack import sqs_event

from tests.conftest import SECRET, START

TOKEN = f"test.{SECRET}"
MINUTE = timedelta(minutes=1)


def D(x):
    return Decimal(str(x))


def register(stack, **settings):
    base = dict(fill_model="bar", slippage_bps=0, commission_bps=0, stop_loss_pct=None, take_profit_pct=None)
    stack.add_strategy("test", StrategyConfig(**{**base, **settings}), SECRET)


def alert(action="buy", at=START, **extra):
    return json.dumps({"ticker": "AAPL", "action": action, "price": "100", "time": at.isoformat(), **extra})


def bar(stack, clock, n, o, h, lo, c, drain=True):
    """Close bar ``n`` (closing at START + n minutes), move the clock there and hand the bar to
    the stop monitor (which records it and ticks once); then deliver the queues unless not ``drain``."""
    at = START + n * MINUTE
    clock.set(at)
    stack.record_bar("AAPL", at, D(o), D(h), D(lo), D(c))
    if drain:
        stack.drain()


def orders(conn):
    return {o["client_order_id"].rsplit("-", 1)[1]: o for o in conn.execute("SELECT * FROM orders ORDER BY order_id")}


def orders_by_id(conn):
    return conn.execute("SELECT * FROM orders ORDER BY order_id").fetchall()


def fills(conn):
    return [(r["leg"], r["price"], r["quantity"]) for r in conn.execute(
        "SELECT split_part(o.client_order_id, '-', 3) AS leg, f.price, f.quantity FROM fills f "
        "JOIN orders o USING (order_id) ORDER BY f.fill_id")]


def cash(conn):
    return conn.execute("SELECT cash FROM accounts").fetchone()["cash"]


@pytest.fixture
def bars(stack, replay_clock):
    register(stack)
    return lambda *a, **k: bar(stack, replay_clock, *a, **k)


def enter(stack, **extra):
    stack.post_webhook(alert(**{"quantity": "10", **extra}), token=TOKEN)
    stack.drain()


# --- the bar fill model ------------------------------------------------------------------

def test_a_market_entry_fills_at_the_next_bars_open_then_its_stop_on_the_bar_low(stack, bars, conn):
    bars(0, 99, 100, 98, 100)
    enter(stack, stop_loss="95", take_profit="110")
    assert orders(conn)["entry"]["status"] == "accepted" and fills(conn) == []  # waits for the next bar
    bars(1, 101, 102, 100, 101.5)
    assert fills(conn) == [("entry", D(101), 10)]
    bars(2, 100, 100.5, 95.5, 96)
    assert len(fills(conn)) == 1
    bars(3, 96, 96, 94, 95)
    assert fills(conn)[1:] == [("sl", D(95), 10)]
    assert orders(conn)["tp"]["status"] == "cancelled"
    assert cash(conn) == Decimal(100000) - 60


def test_a_stop_that_gaps_fills_at_the_open_and_a_target_that_gaps_at_the_open(stack, bars, conn):
    bars(0, 99, 100, 98, 100)
    enter(stack, stop_loss="95", take_profit="110")
    bars(1, 100, 101, 99, 100)
    bars(2, 92, 93, 91, 92)
    assert fills(conn)[-1] == ("sl", D(92), 10)
    enter(stack, stop_loss="95", take_profit="110", comment="again")
    bars(3, 100, 101, 99, 100)
    bars(4, 112, 113, 111, 112)
    assert fills(conn)[-1] == ("tp", D(112), 10)


def test_an_entry_rechecks_its_exits_in_the_bar_it_filled_and_the_stop_loss_wins(stack, bars, conn):
    bars(0, 99, 100, 98, 100)
    enter(stack, stop_loss="95", take_profit="110")
    bars(1, 100, 111, 94, 100)  # opens at 100, touches both 94 and 111
    assert fills(conn) == [("entry", D(100), 10), ("sl", D(95), 10)]
    assert orders(conn)["tp"]["status"] == "cancelled"


def test_same_bar_exit_take_profit_is_configurable(stack, replay_clock, conn):
    register(stack, same_bar_exit="take_profit")
    bar(stack, replay_clock, 0, 99, 100, 98, 100)
    enter(stack, stop_loss="95", take_profit="110")
    bar(stack, replay_clock, 1, 100, 111, 94, 100)
    assert fills(conn)[-1] == ("tp", D(110), 10)


def test_an_exit_at_the_open_precedes_a_stop_later_in_the_bar(stack, bars, conn, replay_clock):
    bars(0, 99, 100, 98, 100)
    enter(stack, stop_loss="95", take_profit="110")
    bars(1, 100, 101, 99, 100)
    stack.post_webhook(alert("exit", at=START + MINUTE), token=TOKEN)
    stack.drain()
    bars(2, 97, 98, 94, 95)  # the exit fills at 97; the stop at 95 must not fill too
    assert fills(conn)[-1] == ("exit", D(97), 10)
    assert {orders(conn)["sl"]["status"], orders(conn)["tp"]["status"]} == {"cancelled"}


def test_delivering_the_same_execution_twice_fills_once(stack, bars, conn):
    bars(0, 99, 100, 98, 100)
    enter(stack, stop_loss="95")
    bars(1, 100, 101, 99, 100, drain=False)
    stack.run_schedule("stop_monitor")
    sqs = aws.client("sqs")
    messages = sqs.receive_message(QueueUrl=stack.queue_urls[names.EXECUTIONS_QUEUE], MaxNumberOfMessages=10,
                                   AttributeNames=["All"])["Messages"]
    event = sqs_event(names.EXECUTIONS_QUEUE, messages)
    for _ in range(2):
        stack.invoke("paper_executor", event)
    stack.run_schedule("stop_monitor")  # and a second tick on the same bar
    stack.drain()
    assert fills(conn) == [("entry", D(100), 10)]
    assert cash(conn) == Decimal(100000) - 1000


# --- order types and time in force -------------------------------------------------------

def test_a_limit_entry_works_until_the_bar_touches_it_and_fills_at_the_better_price(stack, bars, conn):
    bars(0, 99, 100, 98, 100)
    enter(stack, orderType="limit", limitPrice="97", stop_loss="90")
    bars(1, 100, 101, 97.5, 100)
    assert orders(conn)["entry"]["status"] == "accepted"
    bars(2, 96, 98, 95, 97)  # opens below the limit: fills at the open
    assert fills(conn) == [("entry", D(96), 10)]
    assert orders(conn)["sl"]["status"] == "accepted"


def test_a_stop_entry_triggers_on_the_high_and_a_stop_limit_beyond_its_limit_waits(stack, bars, conn):
    bars(0, 99, 100, 98, 100)
    enter(stack, orderType="stop", stopPrice="102")
    bars(1, 100, 101.99, 99, 101)
    assert fills(conn) == []
    bars(2, 101, 103, 100, 102.5)
    assert fills(conn) == [("entry", D(102), 10)]


def test_a_stop_entry_takes_its_target_in_the_same_bar_only_when_the_stop_loss_is_untouched(stack, bars, conn):
    bars(0, 99, 100, 98, 100)
    enter(stack, orderType="stop", stopPrice="102", stop_loss="99", take_profit="104")
    bars(1, 101, 104.5, 100, 104)  # through 102 on the way to 104.5: entry, then target
    assert fills(conn) == [("entry", D(102), 10), ("tp", D(104), 10)]


def test_a_stop_entry_whose_bar_touches_its_stop_loss_waits_for_the_next_bar(stack, bars, conn):
    bars(0, 99, 100, 98, 100)
    enter(stack, orderType="stop", stopPrice="102", stop_loss="99", take_profit="104")
    bars(1, 101, 104.5, 98.5, 103)  # 99 and 104 both touched: which came after the entry is unknown
    assert fills(conn) == [("entry", D(102), 10)]
    bars(2, 103, 104.2, 102.5, 104)
    assert fills(conn)[1:] == [("tp", D(104), 10)]


def test_a_stop_limit_gapping_past_its_limit_works_on_as_a_limit(stack, bars, conn):
    bars(0, 99, 100, 98, 100)
    enter(stack, orderType="stop_limit", stopPrice="102", limitPrice="103")
    bars(1, 105, 106, 104, 105)  # stop touched, but the open is beyond the limit
    assert fills(conn) == [] and orders(conn)["entry"]["stop_triggered_at"] is not None
    bars(2, 104, 104.5, 102.5, 103)  # back within the limit: a limit order now
    assert fills(conn) == [("entry", D(103), 10)]


def test_a_day_order_expires_at_the_session_close(stack, bars, conn, replay_clock):
    bars(0, 99, 100, 98, 100)
    enter(stack, orderType="limit", limitPrice="90", timeInForce="day")
    entry = orders(conn)["entry"]
    assert entry["expires_at"].isoformat() == "2024-03-01T21:00:00+00:00"  # 16:00 New York
    bars(1, 100, 101, 99, 100)
    assert orders(conn)["entry"]["status"] == "accepted"
    replay_clock.set(START + timedelta(hours=6))
    stack.run_schedule("stop_monitor")
    assert orders(conn)["entry"]["status"] == "expired"


def test_an_ioc_order_not_filled_by_the_next_bar_is_cancelled(stack, bars, conn):
    bars(0, 99, 100, 98, 100)
    enter(stack, orderType="limit", limitPrice="90", timeInForce="ioc")
    bars(1, 100, 101, 99, 100)
    assert orders(conn)["entry"]["status"] == "cancelled"


def test_an_ioc_order_in_the_quote_model_fills_now_or_is_cancelled(stack, conn):
    register(stack, fill_model="quote")
    enter(stack, orderType="limit", limitPrice="90", timeInForce="ioc")
    assert orders(conn)["entry"]["status"] == "cancelled"


def test_a_trailing_stop_follows_the_high_and_never_loosens(stack, bars, conn):
    bars(0, 99, 100, 98, 100)
    enter(stack, stopLoss={"type": "trailing_stop", "trailAmount": 5})
    bars(1, 100, 101, 99, 100)  # fills at 100 and trails from the fill (the entry bar's high is not used)
    stops = [orders(conn)["sl"]["stop_price"]]
    for n, (o, h, lo, c) in enumerate([(100, 104, 99.5, 103), (103, 103.5, 99.5, 100), (100, 108, 100, 107)], 2):
        bars(n, o, h, lo, c)
        stops.append(orders(conn)["sl"]["stop_price"])
    assert stops == [D(95), D(99), D(99), D(103)]
    bars(5, 106, 106, 102, 102.5)
    assert fills(conn)[-1] == ("sl", D(103), 10)
    reasons = [r["reason"] for r in conn.execute("SELECT reason FROM order_amendments ORDER BY amendment_id")]
    assert len(reasons) == 2 and all("trailing" in r for r in reasons)


# --- order classes -----------------------------------------------------------------------

def test_scale_out_targets_close_in_parts_and_the_stop_moves_to_breakeven(stack, bars, conn):
    bars(0, 99, 100, 98, 100)
    enter(stack, quantity="11", stop_loss="95", take_profits=["105", "110"], breakeven_after_first_target=True)
    legs = orders(conn)
    assert (legs["tp1"]["quantity"], legs["tp2"]["quantity"]) == (5, 6)  # the last leg takes the remainder
    assert legs["sl1"]["oco_group"] == legs["tp1"]["oco_group"] != legs["sl2"]["oco_group"]
    bars(1, 100, 101, 99, 100)
    bars(2, 101, 106, 100, 105)
    assert fills(conn)[-1] == ("tp1", D(105), 5)
    legs = orders(conn)
    assert legs["sl1"]["status"] == "cancelled" and legs["sl2"]["stop_price"] == D(100)  # breakeven
    position = conn.execute("SELECT * FROM positions").fetchone()
    assert (position["status"], position["quantity"], position["realised_pnl"]) == ("open", 6, 25)
    bars(3, 104, 104, 99.5, 100)
    assert fills(conn)[-1] == ("sl2", D(100), 6)
    assert conn.execute("SELECT status FROM positions").fetchone()["status"] == "closed"
    assert orders(conn)["tp2"]["status"] == "cancelled"
    assert cash(conn) == Decimal(100000) + 25


def test_an_exit_alert_cancels_a_working_entry(stack, bars, conn):
    bars(0, 99, 100, 98, 100)
    enter(stack, orderType="limit", limitPrice="90", stop_loss="85")
    stack.post_webhook(alert("exit", comment="flat"), token=TOKEN)
    stack.drain()
    legs = orders(conn)
    assert legs["entry"]["status"] == "cancelled" and legs["entry"]["reason"] == "exit signal"
    bars(1, 89, 90, 88, 89)
    assert fills(conn) == []


def test_a_cancel_alert_cancels_working_entries_and_leaves_the_position_open(stack, bars, conn):
    register(stack, allow_add=True)
    bars(0, 99, 100, 98, 100)
    enter(stack, stop_loss="90")
    bars(1, 100, 101, 99, 100)  # the market entry fills
    enter(stack, orderType="limit", limitPrice="95", comment="add at 95")  # works: the price is above it
    working = [o for o in orders_by_id(conn) if o["status"] == "accepted" and o["purpose"] == "entry"]
    assert len(working) == 1
    stack.post_webhook(alert("cancel", at=START + 2 * MINUTE), token=TOKEN)
    stack.drain()
    assert conn.execute("SELECT status, reason FROM orders WHERE order_id = %s",
                        (working[0]["order_id"],)).fetchone() == {"status": "cancelled", "reason": "cancel signal"}
    assert conn.execute("SELECT status, quantity FROM positions").fetchone() == {"status": "open", "quantity": 10}
    assert orders(conn)["sl"]["status"] == "accepted"  # the position keeps its stop


def test_replace_moves_an_exit_and_the_database_refuses_it_once_closed(stack, bars, conn):
    import psycopg
    from tradeflow.pipeline.order_creator import replace_exit_price

    bars(0, 99, 100, 98, 100)
    enter(stack, stop_loss="95", take_profit="110")
    bars(1, 100, 101, 99, 100)
    sl = orders(conn)["sl"]["client_order_id"]
    assert replace_exit_price(conn, sl, D(98))["stop_price"] == D(98)
    with pytest.raises(ValueError, match="only a stop-loss or take-profit"):
        replace_exit_price(conn, orders(conn)["entry"]["client_order_id"], D(99))
    bars(2, 99, 99.5, 97.5, 98)
    assert fills(conn)[-1] == ("sl", D(98), 10)
    with pytest.raises(ValueError, match="is filled"):
        replace_exit_price(conn, sl, D(97))
    with pytest.raises(psycopg.errors.CheckViolation, match="only an open order can be replaced"):
        conn.execute("INSERT INTO order_amendments (order_id, field, new_value, reason, at) "
                     "SELECT order_id, 'stop_price', 90, 'x', now() FROM orders WHERE client_order_id = %s", (sl,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("UPDATE orders SET stop_price = 1")


# --- OCO under concurrent delivery -------------------------------------------------------

def test_two_executors_on_two_connections_never_fill_both_legs_of_an_oco_group(stack, bars, conn, database_url):
    import threading

    from tradeflow.adapters import db
    from tradeflow.domain.messages import ExecutionRequest
    from tradeflow.pipeline import paper_executor
    from tradeflow.settings import PaperExecutorEnv, env

    bars(0, 99, 100, 98, 100)
    enter(stack, stop_loss="95", take_profit="110")
    bars(1, 100, 101, 99, 100)
    bars(2, 100, 111, 94, 100, drain=False)  # both legs touched: send both, as two ticks might
    legs = orders(conn)
    settings = env(PaperExecutorEnv).model_copy(update={"state_bucket": None})
    barrier, results = threading.Barrier(2), {}

    def execute(leg):
        request = ExecutionRequest(client_order_id=legs[leg]["client_order_id"], strategy_id="test", symbol="AAPL",
                                   trigger="stop_loss" if leg == "sl" else "take_profit",
                                   bar_ts=START + 2 * MINUTE)
        with db.connect(database_url) as own:
            barrier.wait()
            results[leg] = paper_executor.process(request, own, settings)

    threads = [threading.Thread(target=execute, args=(leg,)) for leg in ("sl", "tp")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()) == ["cancelled", "filled"]
    assert len(fills(conn)) == 2  # the entry and one exit
    position = conn.execute("SELECT * FROM positions").fetchone()
    assert position["status"] == "closed" and cash(conn) == Decimal(100000) + 10 * (fills(conn)[-1][1] - 100)


def test_the_database_refuses_a_second_fill_in_an_oco_group(stack, bars, conn):
    import psycopg

    bars(0, 99, 100, 98, 100)
    enter(stack, stop_loss="95", take_profit="110")
    bars(1, 100, 101, 99, 100)
    bars(2, 100, 101, 94, 100)
    tp = orders(conn)["tp"]
    assert tp["status"] == "cancelled"
    # even with the transition table widened (rolled back), the other leg cannot be filled
    with pytest.raises(psycopg.errors.UniqueViolation):
        with conn.transaction():
            conn.execute("INSERT INTO order_transitions VALUES ('cancelled', 'filled')")
            conn.execute("INSERT INTO order_events (order_id, from_status, to_status, at) "
                         "VALUES (%s, 'cancelled', 'filled', now())", (tp["order_id"],))


def test_the_database_refuses_every_transition_outside_the_table(stack, strategy, conn):
    import psycopg
    from tradeflow.domain.orders import TRANSITIONS

    statuses = ["pending", "accepted", "partially_filled", "filled", "cancelled", "rejected", "expired"]
    stack.post_webhook(alert(quantity="1"), token=strategy)
    stack.drain()
    order_id = orders(conn)["sl"]["order_id"]
    for a in statuses:
        for b in statuses:
            with conn.transaction(force_rollback=True):
                conn.execute("ALTER TABLE orders DISABLE TRIGGER orders_status_guard")
                conn.execute("UPDATE orders SET status = %s WHERE order_id = %s", (a, order_id))
                conn.execute("ALTER TABLE orders ENABLE TRIGGER orders_status_guard")
                insert = "INSERT INTO order_events (order_id, from_status, to_status, at) VALUES (%s, %s, %s, now())"
                if (a, b) in TRANSITIONS:
                    conn.execute(insert, (order_id, a, b))
                else:
                    with pytest.raises(psycopg.errors.CheckViolation), conn.transaction():
                        conn.execute(insert, (order_id, a, b))


# --- FIFO lots beside average cost -------------------------------------------------------

def test_a_trade_built_in_two_entries_reports_its_fifo_lots_which_add_up_to_its_pnl(stack, replay_clock, conn,
                                                                                   database_url):
    from tradeflow.local.report import read_results

    register(stack, allow_add=True)
    bar(stack, replay_clock, 0, 99, 100, 98, 100)
    enter(stack)
    bar(stack, replay_clock, 1, 100, 101, 99, 100)  # 10 at 100
    enter(stack, comment="add")
    bar(stack, replay_clock, 2, 110, 111, 109, 110)  # 10 more at 110: average cost 105
    stack.post_webhook(alert("exit", at=START + 2 * MINUTE), token=TOKEN)
    stack.drain()
    bar(stack, replay_clock, 3, 120, 121, 119, 120)  # all 20 out at 120
    _, _, trades, _ = read_results(database_url, "test")
    (trade,) = trades
    assert (trade["quantity"], trade["entry_price"], trade["pnl"]) == (20, 105, 300)
    assert [(lot.quantity, lot.open_price, lot.close_price, lot.pnl) for lot in trade["lots"]] == [
        (10, 100, 120, 200), (10, 110, 120, 100)]
    assert sum(lot.pnl for lot in trade["lots"]) == trade["pnl"]


# --- target position: a sell toward a smaller long reduces it ------------------------------

def test_a_target_position_below_the_position_reduces_it_and_keeps_its_stop(stack, bars, conn):
    bars(0, 99, 100, 98, 100)
    enter(stack, stop_loss="90", strategy={"position_size": 10})
    bars(1, 100, 101, 99, 100)
    # the alert's own price lands in the feed at its time; the bar closing then replaces it
    stack.post_webhook(alert("sell", at=START + 2 * MINUTE, quantity="6", strategy={"position_size": 4}), token=TOKEN)
    stack.drain()
    bars(2, 102, 103, 101, 102)
    assert fills(conn) == [("entry", D(100), 10), ("reduce", D(102), 6)]
    position = conn.execute("SELECT side, quantity, status, realised_pnl FROM positions").fetchone()
    assert (position["side"], position["quantity"], position["status"]) == ("long", 4, "open")
    assert position["realised_pnl"] == 6 * (D(102) - D(100))
    assert orders(conn)["sl"]["status"] == "accepted"  # the stop still guards the rest
    bars(3, 95, 96, 89, 90)
    assert fills(conn)[-1] == ("sl", D(90), 4)  # closes what is left, not the original 10
    assert conn.execute("SELECT status FROM positions").fetchone()["status"] == "closed"


def test_a_reduce_with_no_position_is_refused_with_its_reason(stack, bars, conn):
    bars(0, 99, 100, 98, 100)
    stack.post_webhook(alert("sell", quantity="6", strategy={"position_size": 4}), token=TOKEN)
    stack.drain()
    decision = conn.execute("SELECT approved, intent, reasons FROM decisions").fetchone()
    assert (decision["approved"], decision["intent"]) == (False, "reduce")
    assert decision["reasons"] == ["no open position in AAPL to reduce"]
