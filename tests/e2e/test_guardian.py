"""The guardian on the local stack over real daily bars (examples/data, May 2010: the flash
crash week). A strategy long 300 AAPL with a daily loss limit of 1,000 USD: the trip comes at
the first close where the day's loss (equity at that close minus the last mark before the
session opened, computed here from the bars) reaches the limit, and not before; every later
entry that day is refused with the daily-loss reason, the exit fills, the next session trades
again, and the trader gets one urgent message per trip. Then the kill switch with flatten
closes every position at market."""

import csv
import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from tradeflow.domain.strategy import StrategyConfig
from tradeflow.local.stack import flat_bar
from tradeflow.pipeline import control

from tests.conftest import SECRET, repo

NEW_YORK = ZoneInfo("America/New_York")
LIMIT = Decimal(1000)
QUANTITY = 300
TOKEN = f"test.{SECRET}"


def real_closes(symbols, start, end):
    days = {}
    with (repo() / "examples/data/daily_2010_2013.csv").open() as f:
        for r in csv.DictReader(f):
            day = date.fromisoformat(r["date"])
            if r["symbol"] in symbols and start <= day <= end:
                days.setdefault(day, {})[r["symbol"]] = Decimal(r["close"])
    return sorted(days.items())


def close_of(day):
    return datetime.combine(day, time(16), NEW_YORK).astimezone(UTC)


def post(stack, action, ticker, price, at, quantity=None):
    body = {"ticker": ticker, "action": action, "price": str(price), "time": at.isoformat()}
    if quantity:
        body["quantity"] = str(quantity)
    return stack.post_webhook(json.dumps(body), token=TOKEN)


def decisions(conn):
    return conn.execute("SELECT s.symbol, s.action, s.received_at, d.approved, d.reasons FROM decisions d "
                        "JOIN signals s USING (signal_id) ORDER BY s.received_at").fetchall()


def test_daily_loss_trips_at_the_first_close_past_the_limit(stack, conn, replay_clock):
    days = real_closes({"AAPL", "MSFT"}, date(2010, 4, 29), date(2010, 5, 14))
    stack.add_strategy("test", StrategyConfig(slippage_bps=Decimal(0), commission_bps=Decimal(0),
                                              daily_loss_limit=LIMIT), SECRET)
    # independently: cash and the 300 shares, the day's loss against the previous close's equity
    (_first_day, first), rest = days[0], days[1:]
    cash = Decimal(100000) - QUANTITY * first["AAPL"]
    previous = cash + QUANTITY * first["AAPL"]
    expected = None
    for day, closes in rest:
        equity = cash + QUANTITY * closes["AAPL"]
        if previous - equity >= LIMIT:
            expected = day
            break
        previous = equity
    assert expected is not None  # the week of 6 May 2010 has one

    tripped_on = None
    for n, (day, closes) in enumerate(days):
        close = close_of(day)
        replay_clock.set(close)
        stack.hand_over([flat_bar(symbol, close, price) for symbol, price in closes.items()])  # records, ticks
        stack.run_schedule("stop_monitor")  # the same tick again: trips once
        stack.drain()
        trips = conn.execute("SELECT * FROM breaker_trips").fetchall()
        if n == 0:
            replay_clock.set(close + timedelta(seconds=5))
            post(stack, "buy", "AAPL", closes["AAPL"], close, QUANTITY)
            stack.drain()
            continue
        if day < expected:
            assert trips == []
            continue
        if tripped_on is None:
            tripped_on = day
            assert [(t["breaker"], t["tripped_at"]) for t in trips] == [("daily_loss", close)]
            assert trips[0]["until"] == datetime.combine(days[n + 1][0], time(9, 30), NEW_YORK).astimezone(UTC)
            replay_clock.set(close + timedelta(seconds=5))
            post(stack, "buy", "MSFT", closes["MSFT"], close, 10)  # refused: exits only
            post(stack, "sell", "AAPL", closes["AAPL"], close + timedelta(seconds=1))  # the exit fills
            stack.drain()
            continue
        replay_clock.set(close + timedelta(seconds=5))  # the next session trades again
        post(stack, "buy", "MSFT", closes["MSFT"], close, 10)
        stack.drain()
        break
    assert tripped_on == expected

    made = decisions(conn)
    refused = [d for d in made if not d["approved"]]
    assert len(refused) == 1 and refused[0]["symbol"] == "MSFT"
    assert refused[0]["reasons"][0].startswith("daily loss limit: lost ")
    aapl = conn.execute("SELECT * FROM positions WHERE symbol = 'AAPL'").fetchone()
    assert aapl["status"] == "closed" and aapl["exit_reason"] == "exit"
    assert aapl["closed_at"].astimezone(NEW_YORK).date() == expected
    msft = conn.execute("SELECT * FROM positions WHERE symbol = 'MSFT'").fetchone()
    assert msft["status"] == "open" and msft["opened_at"].astimezone(NEW_YORK).date() > expected
    urgent = [n for n in stack.inbox() if n["subject"].startswith("URGENT")]
    assert len(urgent) == 1 and "daily_loss tripped" in urgent[0]["message"]
    assert len(urgent[0]["message"]) <= 160


def test_kill_switch_with_flatten_closes_every_position_at_market(stack, conn, replay_clock):
    stack.add_strategy("test", StrategyConfig(slippage_bps=Decimal(10), commission_bps=Decimal(0),
                                              max_open_positions=20), SECRET)
    now = replay_clock()
    symbols = [f"S{i:02d}" for i in range(12)]
    for i, symbol in enumerate(symbols):
        stack.record_quote(symbol, now, Decimal(20 + i))
        post(stack, "buy", symbol, 20 + i, now, 10)
    stack.drain()
    limit_entry = json.dumps({"ticker": "WAIT", "action": "buy", "price": "50", "quantity": "1",
                              "order_type": "limit", "limit_price": "40", "time": now.isoformat()})
    stack.record_quote("WAIT", now, Decimal(50))
    stack.post_webhook(limit_entry, token=TOKEN)
    stack.drain()
    assert conn.execute("SELECT count(*) AS n FROM positions WHERE status = 'open'").fetchone()["n"] == 12
    later = now + timedelta(minutes=1)
    for i, symbol in enumerate(symbols):
        stack.record_quote(symbol, later, Decimal(30 + i))
    replay_clock.set(later)

    done = control.kill_switch(conn, True, "test", "flatten test", later, flatten=True)

    assert (done["state"], done["previous"], done["flattened_positions"], done["cancelled_orders"]) == \
        ("HALTED", "ACTIVE", 12, 1)
    assert conn.execute("SELECT count(*) AS n FROM positions WHERE status = 'open'").fetchone()["n"] == 0
    for i, symbol in enumerate(symbols):  # sold at the latest price less 10 bps, on the cent
        fill = conn.execute("SELECT f.price FROM fills f JOIN orders o USING (order_id) WHERE o.symbol = %s "
                            "AND o.purpose = 'exit'", (symbol,)).fetchone()
        assert fill["price"] == (Decimal(30 + i) * Decimal("0.999")).quantize(Decimal("0.01"), "ROUND_FLOOR")
    wait = conn.execute("SELECT status FROM orders WHERE symbol = 'WAIT'").fetchone()
    assert wait["status"] == "cancelled"
    stack.record_quote("WAIT", later + timedelta(minutes=1), Decimal(39))  # its limit is touched: no fill
    replay_clock.set(later + timedelta(minutes=1))
    stack.run_schedule("stop_monitor")
    stack.drain()
    assert conn.execute("SELECT count(*) AS n FROM positions WHERE symbol = 'WAIT'").fetchone()["n"] == 0
    log = conn.execute("SELECT scope, from_state, to_state, who, why FROM trading_state_changes").fetchall()
    assert [tuple(r.values()) for r in log] == [("account", "ACTIVE", "HALTED", "test", "flatten test")]


def test_control_errors_resets_and_the_cli(stack, conn, replay_clock, capsys, monkeypatch, database_url):
    import pytest
    from tradeflow.domain.risk.breakers import Trip
    from tradeflow.domain.risk.states import TradingState
    from tradeflow.local.cli import main

    stack.add_strategy("test", StrategyConfig(daily_loss_limit=LIMIT), SECRET)
    now = replay_clock()
    with pytest.raises(control.UnknownStrategy, match="no strategy 'nope'"):
        control.pause(conn, "nope", "test", "why", now)
    with pytest.raises(control.BadControlRequest, match="use ACTIVE, REDUCING or HALTED"):
        control.set_trading_state(conn, "test", "STOPPED", "test", "why", now)
    with pytest.raises(control.BadControlRequest, match="unknown breaker"):
        control.reset_breaker(conn, "test", "volatility", "test", "why", now)
    from tradeflow.adapters import store

    store.record_trip(conn, Trip("daily_loss", "test", "daily_loss:x", TradingState.REDUCING, None, "lost"), now)
    assert control.risk_status(conn, now)["strategies"]["test"]["effective"] == "REDUCING"
    done = control.reset_breaker(conn, "test", "daily_loss", "test", "checked", now)
    assert done["reset"] == 1 and control.reset_breaker(conn, "test", "daily_loss", "test", "again", now)["reset"] == 0
    assert control.risk_status(conn, now)["strategies"]["test"]["effective"] == "ACTIVE"
    stack.drain()
    assert [n["subject"] for n in stack.inbox()] == ["URGENT tradeflow: daily_loss reset"]

    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["risk", "reset", "daily_loss"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a reset needs --reason" in err
    assert main(["strategy", "pause", "test", "--reason", "lunch"]) == 0
    assert main(["risk", "status"]) == 0
    out = capsys.readouterr().out
    assert "test: HALTED (effective HALTED), P&L today 0.00, daily loss limit 1000.00" in out
    assert main(["kill-switch", "off", "--flatten"]) == 2
    assert "--flatten goes with kill-switch on" in capsys.readouterr().err
