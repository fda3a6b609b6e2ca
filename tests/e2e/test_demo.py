"""The demo on a slice of the real data, checked against outcomes computed here, independently
of tradeflow's code, from the rules the demo states: SMA(10)/SMA(30) cross on closes, $10,000
per entry in whole shares, the strategy's own 5 % stop and 10 % target from the alert price
(sent in the alert, rounded toward the entry), checked at each close before the day's alerts;
fills at the close with 5 bps slippage for market orders, on the cent against the trader (a buy
rounded up, a sell down), at the close for a take-profit; 1 bp commission rounded to the cent;
one position per symbol. The strategy knows its bracket, so no alert is ever refused. The daily
loss limit (1 % of the equity marked at the previous close) trips on the days whose close, or a
stop fill at it, loses that much."""

import csv
from collections import defaultdict
from datetime import date
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Decimal

import pytest
from tradeflow.local.demo import run_demo

from tests.conftest import repo

START, END = date(2010, 1, 1), date(2010, 9, 30)
CENT = Decimal("0.01")


def bought(close):
    return (close * Decimal("1.0005")).quantize(CENT, rounding=ROUND_CEILING)


def sold(close):
    return (close * Decimal("0.9995")).quantize(CENT, rounding=ROUND_FLOOR)


def expected_outcome():
    days = defaultdict(dict)
    with (repo() / "examples/data/daily_2010_2013.csv").open() as f:
        for r in csv.DictReader(f):
            if START <= date.fromisoformat(r["date"]) <= END:
                days[r["date"]][r["symbol"]] = Decimal(r["close"])
    cash = Decimal(100000)
    closes, positions, trades = defaultdict(list), {}, []
    start_equity, trip_days = cash, []  # the daily loss limit: 1 % of the last mark before the open

    def fee(notional):
        return (notional * Decimal("0.0001")).quantize(CENT, rounding=ROUND_HALF_UP)

    def sell(symbol, price, reason):
        nonlocal cash
        qty, _, _ = positions.pop(symbol)
        cash += qty * price - fee(qty * price)
        trades.append((symbol, reason))

    def equity(bar):
        return cash + sum(qty * bar[symbol] for symbol, (qty, _, _) in positions.items())

    for day in sorted(days):
        bar = days[day]
        lowest = equity(bar)  # the mark at the close, then after each stop fill
        for symbol in sorted(positions):  # the stop monitor at the close
            qty, stop, target = positions[symbol]
            c = bar[symbol]
            if c <= stop:
                sell(symbol, sold(c), "stop_loss")
            elif c >= target:
                sell(symbol, c, "take_profit")
            lowest = min(lowest, equity(bar))
        if start_equity - lowest >= start_equity / 100:
            trip_days.append(date.fromisoformat(day))
        for symbol in sorted(bar):  # the Pine strategy's alerts, then tradeflow's decisions
            c = bar[symbol]
            series = closes[symbol] + [c]
            closes[symbol] = series[-31:]
            if len(series) < 31:
                continue
            fast_now, slow_now = sum(series[-10:]) / 10, sum(series[-30:]) / 30
            fast_then, slow_then = sum(series[-11:-1]) / 10, sum(series[-31:-1]) / 30
            if symbol not in positions and fast_then <= slow_then and fast_now > slow_now:
                qty = (Decimal(10000) / c).to_integral_value(rounding=ROUND_DOWN)
                price = bought(c)
                cash -= qty * price + fee(qty * price)
                positions[symbol] = (qty, (c * Decimal("0.95")).quantize(CENT, rounding=ROUND_CEILING),
                                     (c * Decimal("1.10")).quantize(CENT, rounding=ROUND_FLOOR))
            elif symbol in positions and fast_then >= slow_then and fast_now < slow_now:
                sell(symbol, sold(c), "exit")
        start_equity = equity(bar)
    return cash, trades, len(positions), trip_days


@pytest.fixture(scope="module")
def demo(tmp_path_factory, pg_server_url):
    from psycopg.conninfo import conninfo_to_dict, make_conninfo
    from tradeflow.adapters import db

    with db.connect(pg_server_url) as conn:
        conn.execute("DROP DATABASE IF EXISTS tf_e2e_demo WITH (FORCE)")
        conn.execute("CREATE DATABASE tf_e2e_demo")
    url = make_conninfo(**{**conninfo_to_dict(pg_server_url), "dbname": "tf_e2e_demo"})
    return run_demo(tmp_path_factory.mktemp("demo-home"), start=START, end=END, progress=False, database_url=url)


def test_demo_trades_and_final_cash_match_an_independent_computation(demo):
    cash, trades, still_open, _ = expected_outcome()
    assert len(trades) >= 5, "the slice must exercise exits"
    assert {reason for _, reason in trades} >= {"stop_loss", "exit"}
    got = sorted((t["symbol"], t["exit_reason"]) for t in demo.trades)
    assert demo.summary["closed_trades"] == len(trades) and got == sorted(trades)
    assert demo.summary["final_cash"] == cash
    assert sum(1 for k, n in demo.summary["orders"].items() if k == "entry filled" for _ in range(n)) == \
        len(trades) + still_open


def test_demo_trips_its_daily_loss_limit_on_the_days_that_lose_it(demo):
    from zoneinfo import ZoneInfo

    *_, trip_days = expected_outcome()
    assert trip_days, "the slice must lose 1 % in a day at least once"
    got = [t["tripped_at"].astimezone(ZoneInfo("America/New_York")).date() for t in demo.summary["trips"]]
    assert got == trip_days and {t["breaker"] for t in demo.summary["trips"]} == {"daily_loss"}
    assert demo.notifications["breaker_tripped"] == len(trip_days)


def test_demo_collapses_retries_and_refuses_nothing(demo):
    assert demo.responses == {202: demo.alerts_posted}
    assert demo.duplicates_collapsed == demo.alerts_posted // 7
    assert not demo.summary["signals_refused"]  # every exit alert finds its position
    assert not any("cancelled" in k or "rejected" in k for k in demo.summary["orders"]
                   if k.startswith(("entry", "exit")))
    assert demo.dead_letters and not any(demo.dead_letters.values())


def test_demo_emits_the_metrics_the_dashboard_shows(demo):
    m = demo.metrics
    assert m["AlertsAccepted"] == demo.alerts_posted
    assert m["SignalsApproved"] + m["SignalsRefused"] == demo.alerts_posted - demo.duplicates_collapsed
    assert m["Fills"] == demo.summary["fills"]
    assert m["NotificationsSent"] == sum(demo.notifications.values())


def test_demo_notifies_every_fill_and_each_day(demo):
    assert demo.notifications["fill"] == demo.summary["fills"]
    assert demo.notifications["daily_summary"] == demo.days
    assert demo.summary["max_drawdown"] > 0 and len(demo.equity_curve) >= demo.days


def test_demo_html_report_has_the_equity_curve(demo, tmp_path):
    from tradeflow.local.report import write_html

    page = write_html(demo, tmp_path / "report.html").read_text()
    assert "<polyline" in page and "Closed trades" in page and page.count("<tr>") == demo.summary["closed_trades"] + 1
