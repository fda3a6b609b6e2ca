"""The deployed price path on the local stack: recorded 1-minute bars served by a replay
source, fetched by the market_data step for the watchlist in the state bucket and handed to
the stop monitor as the Lambda does (an event with "bars"); no trading alert carries a price."""

import csv
import json
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from tradeflow.adapters import aws, watchlist
from tradeflow.adapters.bars_handover import invoke_stop_monitor
from tradeflow.domain.ports import Bar
from tradeflow.domain.strategy import StrategyConfig
from tradeflow.domain.symbols import MarketDataSettings
from tradeflow.pipeline.market_data import MarketData

from tests.conftest import SECRET, START

BARS = Path(__file__).resolve().parents[1] / "fixtures" / "market_data" / "aapl_1min_bars.csv"
TRAIL_BARS = BARS.with_name("aapl_1min_trail.csv")


def recorded_bars(path: Path = BARS) -> list[Bar]:
    with path.open() as f:
        rows = list(csv.DictReader(f))
    out = []
    for r in rows:
        opened = datetime.fromisoformat(r["open_time"].replace("Z", "+00:00"))
        out.append(Bar("AAPL", opened, opened + timedelta(minutes=1), Decimal(r["open"]), Decimal(r["high"]),
                       Decimal(r["low"]), Decimal(r["close"]), "replay", Decimal(r["volume"])))
    return out


def replay_source(bars: list[Bar]):
    """A provider serving the latest recorded bar closed by ``now`` (by provider symbol)."""
    def fetch(symbols, now):
        closed = [b for b in bars if b.closes_at <= now]
        return {s: closed[-1] for s in symbols if closed}
    return fetch


def fetcher(stack, bars: list[Bar] | None = None) -> MarketData:
    """The market_data step as its handler wires it, with the replay source standing in for
    Alpaca and the stop monitor invoked in process with the same JSON payload."""
    def hand_over(bars):
        stack.invoke("stop_monitor", json.loads(json.dumps({"bars": [b.to_json() for b in bars]})))
    return MarketData(watchlist=lambda: watchlist.read(stack.state_bucket), settings_of=MarketDataSettings,
                      fetchers={"alpaca": replay_source(bars or recorded_bars())}, hand_over=hand_over)


def test_a_limit_entry_and_its_stop_loss_fire_at_the_bars_an_independent_walk_says(stack, conn, replay_clock):
    stack.add_strategy("test", StrategyConfig(fill_model="bar", slippage_bps=Decimal(0), commission_bps=Decimal(0),
                                              stop_loss_pct=Decimal(2), take_profit_pct=None), SECRET)
    limit, quantity, pct = Decimal("100"), Decimal(10), Decimal(2)
    alert_at = START + timedelta(seconds=30)
    replay_clock.set(alert_at)
    md = fetcher(stack)
    assert md.tick(alert_at).watched == 0  # nothing open yet: nothing fetched, nothing woken
    body = json.dumps({"ticker": "NASDAQ:AAPL", "action": "buy", "quantity": str(quantity), "order_type": "limit",
                       "limit_price": str(limit), "time": alert_at.isoformat()})
    assert stack.post_webhook(body, token=f"test.{SECRET}")["statusCode"] == 202
    stack.drain()
    assert watchlist.read(stack.state_bucket) == ["AAPL"]

    bars = recorded_bars()
    # independently: a buy limit fills in the first bar closing after the alert whose low
    # reaches it, at the better of its open and the limit; the stop (2 % under the limit)
    # fills in the first later bar whose low reaches it, at the worse of its open and the stop
    after = [b for b in bars if b.closes_at > alert_at]
    entry_bar = next(b for b in after if b.low <= limit)
    entry_price = min(entry_bar.open, limit)
    stop = limit * (1 - pct / 100)
    exit_bar = next(b for b in after if b.opened_at > entry_bar.opened_at and b.low <= stop)
    exit_price = min(exit_bar.open, stop)

    for b in bars:
        replay_clock.set(b.closes_at + timedelta(seconds=2))
        md.tick(b.closes_at + timedelta(seconds=2))
        stack.drain()

    fills = conn.execute("SELECT o.purpose, f.price, f.filled_at FROM fills f JOIN orders o USING (order_id) "
                         "ORDER BY f.fill_id").fetchall()
    assert [(f["purpose"], f["price"], f["filled_at"]) for f in fills] == [
        ("entry", entry_price, entry_bar.opened_at), ("stop_loss", exit_price, exit_bar.opened_at)]
    position = conn.execute("SELECT * FROM positions").fetchone()
    assert (position["status"], position["realised_pnl"]) == ("closed", (exit_price - entry_price) * quantity)
    priced = conn.execute("SELECT price_source, price_as_of, price_age_seconds FROM fills ORDER BY fill_id").fetchall()
    assert [(p["price_source"], p["price_as_of"], p["price_age_seconds"]) for p in priced] == [
        ("alpaca", entry_bar.closes_at, 2), ("alpaca", exit_bar.closes_at, 2)]  # fetched and booked 2 s after the close
    feed = conn.execute("SELECT count(*) AS n, min(source) AS s FROM quotes WHERE symbol = 'AAPL'").fetchone()
    assert (feed["n"], feed["s"]) == (len(bars) - 1, "alpaca")  # the last bar came after the exit: not fetched
    assert watchlist.read(stack.state_bucket) == []


def test_the_local_stack_runs_the_deployed_path_market_data_function_async_invoke_stop_monitor(
        stack, conn, replay_clock):
    stack.add_strategy("test", StrategyConfig(fill_model="bar", slippage_bps=Decimal(0), commission_bps=Decimal(0),
                                              stop_loss_pct=Decimal(2), take_profit_pct=None), SECRET)
    bars = recorded_bars()
    stack.serve_bars(bars)
    limit, quantity, pct = Decimal("100"), Decimal(10), Decimal(2)
    alert_at = START + timedelta(seconds=30)
    replay_clock.set(alert_at)
    stack.market_tick()  # nothing watched: no fetch, no invoke, nothing recorded
    assert stack.wire.calls.get("lambda.Invoke", 0) == 0
    body = json.dumps({"ticker": "NASDAQ:AAPL", "action": "buy", "quantity": str(quantity), "order_type": "limit",
                       "limit_price": str(limit), "time": alert_at.isoformat()})
    assert stack.post_webhook(body, token=f"test.{SECRET}")["statusCode"] == 202
    stack.drain()
    for b in bars:
        replay_clock.set(b.closes_at + timedelta(seconds=2))
        stack.market_tick()
        stack.drain()

    # independently, as in the in-process test above: the limit in the first bar after the
    # alert whose low reaches it, the stop 2 % under the limit in the first later bar reaching it
    after = [b for b in bars if b.closes_at > alert_at]
    entry_bar = next(b for b in after if b.low <= limit)
    stop = limit * (1 - pct / 100)
    exit_bar = next(b for b in after if b.opened_at > entry_bar.opened_at and b.low <= stop)
    fills = conn.execute("SELECT o.purpose, f.price, f.filled_at, f.price_source FROM fills f JOIN orders o "
                         "USING (order_id) ORDER BY f.fill_id").fetchall()
    assert [(f["purpose"], f["price"], f["filled_at"], f["price_source"]) for f in fills] == [
        ("entry", min(entry_bar.open, limit), entry_bar.opened_at, "replay"),
        ("stop_loss", min(exit_bar.open, stop), exit_bar.opened_at, "replay")]
    handed = [b for b in bars if alert_at < b.closes_at <= exit_bar.closes_at]  # watched from the alert to the exit
    assert stack.wire.calls["lambda.Invoke"] == len(handed)
    feed = conn.execute("SELECT ts, source FROM quotes WHERE symbol = 'AAPL' ORDER BY ts").fetchall()
    assert [(r["ts"], r["source"]) for r in feed] == [(b.closes_at, "replay") for b in handed]


def test_each_new_bar_is_handed_over_once(stack):
    handed: list[list[Bar]] = []
    bars = recorded_bars()
    md = MarketData(watchlist=lambda: ["AAPL"], settings_of=MarketDataSettings,
                    fetchers={"alpaca": replay_source(bars)}, hand_over=handed.append)
    for seconds in (60, 65, 120, 125):
        md.tick(START + timedelta(seconds=seconds))
    assert [[b.closes_at for b in batch] for batch in handed] == [[bars[0].closes_at], [bars[1].closes_at]]


def test_a_symbol_without_a_source_is_reported_not_fetched(stack):
    md = MarketData(watchlist=lambda: ["NQ1!", "AAPL"], settings_of=MarketDataSettings,
                    fetchers={"alpaca": replay_source(recorded_bars())}, hand_over=lambda bars: None)
    report = md.tick(START + timedelta(minutes=1))
    assert report.fetched == 1 and "NQ1!" in report.unpriced and "TradingView bar alert" in report.unpriced["NQ1!"]


def test_bars_are_handed_over_by_an_asynchronous_invoke(monkeypatch):
    calls = []

    class FakeLambda:
        def invoke(self, **kwargs):
            calls.append(kwargs)

    monkeypatch.setattr(aws, "client", lambda service: FakeLambda())
    bar = recorded_bars()[0]
    invoke_stop_monitor("tradeflow-stop_monitor", [bar])
    assert calls[0]["InvocationType"] == "Event" and calls[0]["FunctionName"] == "tradeflow-stop_monitor"
    assert [Bar.from_json(b) for b in json.loads(calls[0]["Payload"])["bars"]] == [bar]


def test_recording_the_same_bars_twice_keeps_one_row_each(stack, conn):
    bars = recorded_bars()[:3]
    event = {"bars": [b.to_json() for b in bars]}
    stack.invoke("stop_monitor", event)
    stack.invoke("stop_monitor", event)
    rows = conn.execute("SELECT ts, open, high, low, price, opened_at, source FROM quotes ORDER BY ts").fetchall()
    assert [(r["ts"], r["open"], r["high"], r["low"], r["price"], r["opened_at"], r["source"]) for r in rows] == [
        (b.closes_at, b.open, b.high, b.low, b.close, b.opened_at, "replay") for b in bars]


# --- TradingView bar alerts through the webhook --------------------------------------------

def bar_alert(bar: Bar, passphrase: str | None = None) -> str:
    message = {"action": "bar", "ticker": f"NASDAQ:{bar.symbol}", "exchange": "NASDAQ", "open": str(bar.open),
               "high": str(bar.high), "low": str(bar.low), "close": str(bar.close), "volume": str(bar.volume),
               "time": bar.opened_at.isoformat().replace("+00:00", "Z"), "interval": "1"}
    return json.dumps(message | ({"passphrase": passphrase} if passphrase else {}))


def test_a_bar_alert_moves_the_feed_without_trading_notifying_or_using_the_burst(stack, strategy, conn, replay_clock):
    bars = recorded_bars()  # the webhook hands bar alerts over by an asynchronous invoke, answered at the wire
    replay_clock.set(bars[0].closes_at)
    stack.run_schedule("stop_monitor")  # looks once (no flag yet) and writes the flag: 0 open
    answer = stack.post_webhook(bar_alert(bars[0]), token=strategy)
    assert answer["statusCode"] == 202
    assert json.loads(answer["body"]) == {"bar": f"AAPL {bars[0].closes_at.isoformat()}", "forwarded": True}
    assert conn.execute("SELECT count(*) AS n FROM quotes").fetchone()["n"] == 0  # nothing open: not recorded
    assert stack.post_webhook(bar_alert(bars[0]), token="test.wrong-secret-123")["statusCode"] == 401

    buy = json.dumps({"ticker": "AAPL", "action": "buy", "quantity": "10", "price": "100.50",
                      "time": bars[0].closes_at.isoformat()})
    stack.post_webhook(buy, token=strategy)
    stack.drain()
    signals = conn.execute("SELECT count(*) AS n FROM signals").fetchone()["n"]
    stack.inbox()
    for b in bars[1:] * 4:  # 20 bar alerts in a minute: more than the trading alerts' burst of 15
        answer = stack.post_webhook(bar_alert(b, passphrase=strategy))
        assert (answer["statusCode"], json.loads(answer["body"])["forwarded"]) == (202, True)
    stack.drain()
    assert conn.execute("SELECT count(*) AS n FROM signals").fetchone()["n"] == signals  # no trading
    feed = conn.execute("SELECT ts, low, source FROM quotes WHERE source = 'tradingview' ORDER BY ts").fetchall()
    assert [(r["ts"], r["low"]) for r in feed] == [(b.closes_at, b.low) for b in bars[1:]]
    assert not [n for n in stack.inbox() if "refused" in n["message"].lower()]


def test_a_watched_symbol_whose_sources_are_all_down_turns_stale_after_the_age_limit():
    from tradeflow.adapters.market_data import ProviderError

    bars = recorded_bars()
    state = {"down": False}

    def flaky(symbols, now):
        if state["down"]:
            raise ProviderError("alpaca", "HTTP 503", 503)
        return replay_source(bars)(symbols, now)

    md = MarketData(watchlist=lambda: ["AAPL"], settings_of=lambda: MarketDataSettings(max_price_age_seconds=120),
                    fetchers={"alpaca": flaky}, hand_over=lambda b: None)
    first = bars[0].closes_at
    assert md.tick(first).stale == ()
    state["down"] = True
    # independently: stale once more than 120 s have passed since the last bar's close
    for seconds, stale in ((60, False), (120, False), (121, True), (600, True)):
        report = md.tick(first + timedelta(seconds=seconds))
        assert (report.fetched, report.stale) == (0, ("AAPL",) if stale else ()), seconds
        assert report.failures == {"AAPL": ["alpaca: HTTP 503", "no source left"]}


def synthetic(rows: list[tuple[str, str, str, str]], first_open: datetime) -> list[Bar]:
    """1-minute bars (open, high, low, close) from ``first_open`` on, source replay."""
    return [Bar("AAPL", first_open + timedelta(minutes=n), first_open + timedelta(minutes=n + 1), Decimal(o),
                Decimal(h), Decimal(lo), Decimal(c), "replay") for n, (o, h, lo, c) in enumerate(rows)]


def run_feed(stack, replay_clock, bars: list[Bar]) -> None:
    md = MarketData(watchlist=lambda: watchlist.read(stack.state_bucket), settings_of=MarketDataSettings,
                    fetchers={"alpaca": replay_source(bars)}, hand_over=lambda handed: stack.invoke(
                        "stop_monitor", json.loads(json.dumps({"bars": [b.to_json() for b in handed]}))))
    for b in bars:
        replay_clock.set(b.closes_at + timedelta(seconds=2))
        md.tick(b.closes_at + timedelta(seconds=2))
        stack.drain()


def test_a_take_profit_fires_at_the_bar_an_independent_walk_says(stack, conn, replay_clock):
    stack.add_strategy("test", StrategyConfig(fill_model="bar", slippage_bps=Decimal(0), commission_bps=Decimal(0),
                                              stop_loss_pct=Decimal(5), take_profit_pct=Decimal(1)), SECRET)
    limit = Decimal(100)
    bars = synthetic([("100.4", "100.6", "100.2", "100.3"), ("100.2", "100.4", "99.8", "100.1"),
                      ("100.1", "100.7", "100.0", "100.6"), ("100.6", "100.9", "100.5", "100.8"),
                      ("100.8", "101.4", "100.7", "101.2"), ("101.2", "101.5", "101.0", "101.3")], START)
    replay_clock.set(START + timedelta(seconds=30))
    stack.post_webhook(json.dumps({"ticker": "AAPL", "action": "buy", "quantity": "5", "order_type": "limit",
                                   "limit_price": str(limit), "time": replay_clock().isoformat()}),
                       token=f"test.{SECRET}")
    stack.drain()
    run_feed(stack, replay_clock, bars)
    # independently: the entry fills in the first bar reaching the limit, at the better of its
    # open and the limit; the take-profit (1 % above the limit) in the first later bar whose
    # high reaches it, at the better of its open and the target
    entry_bar = next(b for b in bars if b.low <= limit)
    entry_price = min(entry_bar.open, limit)
    target = limit * Decimal("1.01")
    exit_bar = next(b for b in bars if b.opened_at > entry_bar.opened_at and b.high >= target)
    fills = conn.execute("SELECT o.purpose, f.price, f.filled_at FROM fills f JOIN orders o USING (order_id) "
                         "ORDER BY f.fill_id").fetchall()
    assert [(f["purpose"], f["price"], f["filled_at"]) for f in fills] == [
        ("entry", entry_price, entry_bar.opened_at), ("take_profit", max(exit_bar.open, target), exit_bar.opened_at)]


def test_a_day_limit_entry_that_never_fills_expires_at_the_first_tick_after_the_nyse_close(stack, conn, replay_clock):
    from zoneinfo import ZoneInfo

    stack.add_strategy("test", StrategyConfig(fill_model="bar", slippage_bps=Decimal(0), commission_bps=Decimal(0)),
                       SECRET)
    close = datetime(2024, 3, 1, 16, 0, tzinfo=ZoneInfo("America/New_York"))  # a Friday, a trading day
    first_open = close - timedelta(minutes=3)
    bars = synthetic([("101", "101.5", "100.5", "101")] * 6, first_open)
    replay_clock.set(first_open - timedelta(seconds=30))
    stack.post_webhook(json.dumps({"ticker": "AAPL", "action": "buy", "quantity": "5", "order_type": "limit",
                                   "limit_price": "99", "time_in_force": "day", "time": replay_clock().isoformat()}),
                       token=f"test.{SECRET}")
    stack.drain()
    run_feed(stack, replay_clock, bars)
    expected = next(b.closes_at + timedelta(seconds=2) for b in bars if b.closes_at + timedelta(seconds=2) >= close)
    event = conn.execute("SELECT e.to_status, e.at FROM order_events e JOIN orders o USING (order_id) "
                         "WHERE o.purpose = 'entry' ORDER BY e.event_id DESC LIMIT 1").fetchone()
    assert (event["to_status"], event["at"]) == ("expired", expected)
    assert not conn.execute("SELECT 1 FROM fills").fetchall()


def test_the_quotes_table_serves_the_price_feed_port_with_source_and_as_of(conn):
    from tradeflow.adapters import store
    from tradeflow.domain.ports import PriceFeed, Quote

    bars = [replace(b, volume=None) for b in recorded_bars()[:3]]  # the quotes table keeps no volume
    store.record_bars(conn, bars)
    later = bars[-1].closes_at + timedelta(seconds=30)
    store.record_quote(conn, "AAPL", later, Decimal("98.1"), "alert")
    feed: PriceFeed = store.QuotesFeed(conn)
    assert feed.latest_bar("AAPL", later) == bars[-1]  # the plain quote after it is not a bar
    assert feed.latest_bar("AAPL", bars[1].closes_at) == bars[1]
    assert feed.latest_bar("AAPL", bars[0].opened_at) is None
    assert feed.latest_quote("AAPL", later) == Quote("AAPL", Decimal("98.1"), later, "alert")
    assert feed.latest_quote("MSFT", later) is None
    # the bar fill model's reads: the price that closed at a time, the first to close in a window
    assert feed.closed_at("AAPL", bars[1].closes_at) == bars[1]
    assert feed.closed_at("AAPL", bars[1].closes_at + timedelta(seconds=1)) is None
    assert feed.first_closed_after("AAPL", bars[0].closes_at, later) == bars[1]
    assert feed.first_closed_after("AAPL", bars[-1].closes_at, later) == Quote("AAPL", Decimal("98.1"), later, "alert")
    assert feed.first_closed_after("AAPL", later, later + timedelta(hours=1)) is None


def test_the_bar_model_reads_a_plain_quote_as_a_flat_bar_stamped_at_its_time():
    from tradeflow.domain import fills
    from tradeflow.domain.ports import Quote, matched_prices, stamped_at

    bar = recorded_bars()[0]
    assert matched_prices(bar) == fills.Bar(bar.open, bar.high, bar.low, bar.close)
    assert stamped_at(bar) == bar.opened_at  # a fill in a bar is labelled with the bar's open time
    quote = Quote("AAPL", Decimal("98.1"), bar.closes_at, "alert")
    assert matched_prices(quote) == fills.Bar(*[Decimal("98.1")] * 4)
    assert stamped_at(quote) == bar.closes_at


def test_a_trailing_stop_fires_at_the_bar_an_independent_walk_says(stack, conn, replay_clock):
    stack.add_strategy("test", StrategyConfig(fill_model="bar", slippage_bps=Decimal(0), commission_bps=Decimal(0)),
                       SECRET)
    bars = recorded_bars(TRAIL_BARS)
    quantity, pct, limit = Decimal(10), Decimal(1), Decimal("100.50")
    alert_at = START + timedelta(seconds=30)
    replay_clock.set(alert_at)
    md = fetcher(stack, bars)
    body = json.dumps({"ticker": "NASDAQ:AAPL", "action": "buy", "quantity": str(quantity), "order_type": "limit",
                       "limit_price": str(limit), "trailing_stop_pct": str(pct), "time": alert_at.isoformat()})
    assert stack.post_webhook(body, token=f"test.{SECRET}")["statusCode"] == 202
    stack.drain()

    # independently: the buy limit fills in the first bar closing after the alert whose low
    # reaches it, at the better of its open and the limit; the stop starts 1 % under the fill
    # (rounded up to the cent); each later bar first fills the stop if its low reaches it (at
    # the worse of its open and the stop), else raises the high-water mark to its high and the
    # stop to 1 % under the mark (never down)
    cent = Decimal("0.01")
    entry_bar = next(b for b in bars if b.closes_at > alert_at and b.low <= limit)
    entry_price = min(entry_bar.open, limit)
    mark, stop = entry_price, (entry_price * (1 - pct / 100)).quantize(cent, "ROUND_CEILING")
    exit_bar = exit_price = None
    for b in bars[bars.index(entry_bar) + 1:]:
        if b.low <= stop:
            exit_bar, exit_price = b, min(b.open, stop)
            break
        mark = max(mark, b.high)
        stop = max(stop, (mark * (1 - pct / 100)).quantize(cent, "ROUND_CEILING"))
    assert exit_bar is not None and exit_bar is not bars[-1]  # the bars make the stop fire before the end

    for b in bars:
        replay_clock.set(b.closes_at + timedelta(seconds=2))
        md.tick(b.closes_at + timedelta(seconds=2))
        stack.drain()
        # the scheduled stop monitor ticks again on the same latest bar, as it does in AWS
        replay_clock.set(b.closes_at + timedelta(seconds=17))
        stack.run_schedule("stop_monitor")
        stack.drain()

    fills = conn.execute("SELECT o.purpose, o.order_type, f.price, f.filled_at, f.price_source FROM fills f "
                         "JOIN orders o USING (order_id) ORDER BY f.fill_id").fetchall()
    assert [(f["purpose"], f["order_type"], f["price"], f["filled_at"], f["price_source"]) for f in fills] == [
        ("entry", "limit", entry_price, entry_bar.opened_at, "alpaca"),
        ("stop_loss", "trailing_stop", exit_price, exit_bar.opened_at, "alpaca")]
    assert conn.execute("SELECT count(*) AS n FROM quotes WHERE source <> 'alpaca'").fetchone()["n"] == 0


# --- staleness ------------------------------------------------------------------------------

def hand_over(stack, *bars: Bar) -> None:
    stack.invoke("stop_monitor", json.loads(json.dumps({"bars": [b.to_json() for b in bars]})))


def stale_notes(stack) -> list[str]:
    return [n["message"] for n in stack.inbox() if "stale price" in n["subject"]]


def test_a_market_order_is_not_filled_at_a_price_older_than_the_limit(stack, conn, replay_clock):
    stack.add_strategy("test", StrategyConfig(slippage_bps=Decimal(0), commission_bps=Decimal(0),
                                              max_price_age_seconds=120), SECRET)
    bar = recorded_bars()[0]
    replay_clock.set(bar.closes_at)
    hand_over(stack, bar)
    for age, status in ((120, "filled"), (121, "rejected")):
        at = bar.closes_at + timedelta(seconds=age)
        replay_clock.set(at)
        body = json.dumps({"ticker": "AAPL", "action": "buy" if status == "filled" else "sell", "quantity": "1",
                           "time": at.isoformat()})  # no price: only the feed can price it
        assert stack.post_webhook(body, token=f"test.{SECRET}")["statusCode"] == 202
        stack.drain()
        order = conn.execute("SELECT status, reason FROM orders WHERE purpose IN ('entry', 'exit') "
                             "ORDER BY order_id DESC LIMIT 1").fetchone()
        assert order["status"] == status, (age, order)
    assert "121 s old (from replay" in order["reason"] and "max_price_age_seconds 120" in order["reason"]
    fill = conn.execute("SELECT price, price_age_seconds, price_source FROM fills").fetchone()
    assert (fill["price"], fill["price_age_seconds"], fill["price_source"]) == (bar.close, 120, "replay")


def test_an_open_position_without_a_fresh_price_is_told_once_per_gap(stack, conn, replay_clock):
    stack.add_strategy("test", StrategyConfig(slippage_bps=Decimal(0), commission_bps=Decimal(0),
                                              max_price_age_seconds=120), SECRET)
    bars = recorded_bars()
    replay_clock.set(bars[0].closes_at)
    hand_over(stack, bars[0])
    buy = json.dumps({"ticker": "AAPL", "action": "buy", "quantity": "5", "time": bars[0].closes_at.isoformat()})
    stack.post_webhook(buy, token=f"test.{SECRET}")
    stack.drain()
    stack.inbox()
    told = []
    later = replace(bars[1], opened_at=bars[0].closes_at + timedelta(seconds=900),
                    closes_at=bars[0].closes_at + timedelta(seconds=960))
    for last, seconds in ((bars[0], 60), (bars[0], 121), (bars[0], 300), (bars[0], 900), (later, 10),
                          (later, 200), (later, 400)):
        replay_clock.set(last.closes_at + timedelta(seconds=seconds))
        if last is later and seconds == 10:
            hand_over(stack, later)  # a fresh price ends the gap
        stack.run_schedule("stop_monitor")
        stack.drain()
        told.append(len(stale_notes(stack)))
    # independently: a note when a price first gets older than 120 s, none while it stays so
    assert told == [0, 1, 0, 0, 0, 1, 0]
    assert conn.execute("SELECT status FROM positions").fetchone()["status"] == "open"  # not asked to close


def test_close_on_stale_price_closes_the_position_at_the_last_price(stack, conn, replay_clock):
    stack.add_strategy("test", StrategyConfig(fill_model="bar", slippage_bps=Decimal(0), commission_bps=Decimal(0),
                                              stop_loss_pct=Decimal(5), max_price_age_seconds=120,
                                              close_on_stale_price=True), SECRET)
    bars = recorded_bars()
    replay_clock.set(bars[0].closes_at)
    hand_over(stack, bars[0])
    alert_at = bars[0].closes_at + timedelta(seconds=5)
    replay_clock.set(alert_at)
    buy = json.dumps({"ticker": "AAPL", "action": "buy", "quantity": "5", "time": alert_at.isoformat()})
    stack.post_webhook(buy, token=f"test.{SECRET}")
    stack.drain()
    replay_clock.set(bars[1].closes_at + timedelta(seconds=1))
    hand_over(stack, bars[1])  # the entry fills at this bar's open
    stack.drain()
    stack.inbox()
    gone = bars[1].closes_at + timedelta(seconds=121)
    replay_clock.set(gone)
    stack.run_schedule("stop_monitor")
    stack.drain()
    notes = stale_notes(stack)
    assert len(notes) == 1 and "121 s old" in notes[0] and "closing it at the last price" in notes[0]
    exit_ = conn.execute("SELECT o.client_order_id, f.price, f.price_source, f.price_age_seconds FROM fills f "
                         "JOIN orders o USING (order_id) WHERE o.purpose = 'exit'").fetchone()
    position = conn.execute("SELECT position_id, status, realised_pnl FROM positions").fetchone()
    assert exit_["client_order_id"] == f"stale:{position['position_id']}"
    assert (exit_["price"], exit_["price_source"], exit_["price_age_seconds"]) == (bars[1].close, "replay", 121)
    assert (position["status"], position["realised_pnl"]) == ("closed", (bars[1].close - bars[1].open) * 5)
    legs = conn.execute("SELECT status FROM orders WHERE purpose = 'stop_loss'").fetchall()
    assert [leg["status"] for leg in legs] == ["cancelled"]
    stack.run_schedule("stop_monitor")
    stack.drain()
    assert stale_notes(stack) == [] and conn.execute("SELECT count(*) AS n FROM fills").fetchone()["n"] == 2
