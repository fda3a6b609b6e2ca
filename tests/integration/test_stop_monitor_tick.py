"""The stop monitor reads only the working orders near the market: leaving the others out
never changes what a tick does.

Random working orders (entries and exits of every type and side, bracket legs of open
positions, day and ioc orders, triggered stop-limits, trailing stops) and random latest
quotes or bars (with and without bid/ask, none at all) are written to the embedded
PostgreSQL; the tick planned from the pruned read equals the tick planned from every working
order, under both fill models.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tradeflow.adapters import store
from tradeflow.domain.monitor import plan_tick
from tradeflow.domain.strategy import StrategyConfig

from tests.conftest import START

NOW = START + timedelta(minutes=10)
SYMBOLS = ("AAA", "BBB", "CCC")
price = st.integers(90, 110).map(Decimal)


@st.composite
def quote(draw):
    """None (no price yet), a last-trade quote (maybe with bid/ask) or a bar."""
    kind = draw(st.sampled_from(["none", "last", "bar"]))
    if kind == "none":
        return None
    ts = NOW - timedelta(minutes=draw(st.integers(0, 5)))
    if kind == "last":
        last = draw(price)
        spread = draw(st.sampled_from([None, Decimal(1)]))
        return {"ts": ts, "price": last, "bid": spread and last - spread, "ask": spread and last + spread,
                "open": None, "high": None, "low": None}
    values = sorted(draw(st.lists(price, min_size=4, max_size=4)))
    low, high = values[0], values[3]
    open_, close = draw(st.permutations([values[1], values[2]]))
    return {"ts": ts, "price": close, "bid": None, "ask": None, "open": open_, "high": high, "low": low}


@st.composite
def order(draw):
    purpose = draw(st.sampled_from(["entry", "exit", "stop_loss", "take_profit"]))
    types = {"stop_loss": ["stop", "trailing_stop", "stop_limit"], "take_profit": ["limit"]}.get(
        purpose, ["market", "limit", "stop", "stop_limit"])
    order_type = draw(st.sampled_from(types))
    stop = draw(price) if order_type in ("stop", "trailing_stop", "stop_limit") else None
    limit = draw(price) if order_type in ("limit", "stop_limit") else None
    tif = draw(st.sampled_from(["gtc", "day", "ioc"]))
    return {
        "strategy_id": draw(st.sampled_from(["quote-model", "bar-model"])), "symbol": draw(st.sampled_from(SYMBOLS)),
        "side": draw(st.sampled_from(["buy", "sell"])), "order_type": order_type, "purpose": purpose,
        "stop_price": stop, "limit_price": limit, "time_in_force": tif,
        "expires_at": NOW + timedelta(minutes=draw(st.integers(-2, 2))) if tif == "day" else None,
        "working_since": NOW - timedelta(minutes=draw(st.integers(0, 6))),
        "stop_triggered_at": NOW - timedelta(minutes=3) if order_type == "stop_limit" and draw(st.booleans()) else None,
        "trail_amount": Decimal(2) if order_type == "trailing_stop" else None,
        "high_water_mark": draw(st.one_of(st.none(), price)) if order_type == "trailing_stop" else None,
        "status": draw(st.sampled_from(["accepted", "accepted", "partially_filled"])),
    }


def write(conn, quotes: dict, orders: list[dict]) -> None:
    conn.execute("DELETE FROM orders")
    conn.execute("DELETE FROM positions")
    conn.execute("DELETE FROM quotes")
    for symbol, q in quotes.items():
        if q is not None:
            store.record_quote(conn, symbol, q["ts"], q["price"], "test", q["bid"], q["ask"], q["open"], q["high"],
                               q["low"])
    positions = {}
    for sid in ("quote-model", "bar-model"):
        for symbol in SYMBOLS:
            positions[sid, symbol] = conn.execute(
                "INSERT INTO positions (strategy_id, symbol, side, quantity, cost_basis, avg_entry_price, status, "
                "opened_at) VALUES (%s, %s, 'long', 1, 100, 100, 'open', %s) RETURNING position_id",
                (sid, symbol, START)).fetchone()["position_id"]
    for n, o in enumerate(orders):
        leg = o["purpose"] in ("stop_loss", "take_profit")
        conn.execute(
            "INSERT INTO orders (client_order_id, strategy_id, symbol, side, quantity, order_type, purpose, stop_price, "
            "limit_price, time_in_force, expires_at, working_since, stop_triggered_at, trail_amount, high_water_mark, "
            "position_id, status, created_at) VALUES (%s, %s, %s, %s, 1, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
            "%s, %s)",
            (f"o{n}", o["strategy_id"], o["symbol"], o["side"], o["order_type"], o["purpose"], o["stop_price"],
             o["limit_price"], o["time_in_force"], o["expires_at"], o["working_since"], o["stop_triggered_at"],
             o["trail_amount"], o["high_water_mark"], positions[o["strategy_id"], o["symbol"]] if leg else None,
             o["status"], START))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(quotes=st.fixed_dictionaries({s: quote() for s in SYMBOLS}), orders=st.lists(order(), max_size=12))
def test_the_pruned_read_plans_the_same_tick_as_every_working_order(conn, quotes, orders):
    for sid, model in (("quote-model", "quote"), ("bar-model", "bar")):
        store.add_strategy(conn, sid, StrategyConfig(fill_model=model), START)
    write(conn, quotes, orders)
    configs = store.strategy_configs(conn)
    everything = store.working_orders(conn, NOW, everything=True)
    near = store.working_orders(conn, NOW)
    assert len(everything) == len(orders)
    assert {o.order_id for o in near} <= {o.order_id for o in everything}
    assert plan_tick(near, configs.__getitem__, NOW) == plan_tick(everything, configs.__getitem__, NOW)


def test_a_resting_leg_away_from_the_market_is_not_read(conn):
    """Given a bracket far from the last price, the read leaves it out; once the price reaches
    the stop, the stop-loss is read (and the take-profit, still away, is not)."""
    for sid in ("quote-model", "bar-model"):
        store.add_strategy(conn, sid, StrategyConfig(), START)
    write(conn, {"AAA": None}, [order_fields("stop_loss", "sell", stop=Decimal(95)),
                                order_fields("take_profit", "sell", limit=Decimal(110))])
    store.record_quote(conn, "AAA", NOW - timedelta(minutes=1), Decimal(100), "test")
    assert store.working_orders(conn, NOW) == []
    store.record_quote(conn, "AAA", NOW, Decimal(95), "test")
    assert [o.purpose for o in store.working_orders(conn, NOW)] == ["stop_loss"]


def order_fields(purpose: str, side: str, stop=None, limit=None) -> dict:
    return {"strategy_id": "quote-model", "symbol": "AAA", "side": side, "purpose": purpose,
            "order_type": "stop" if stop else "limit", "stop_price": stop, "limit_price": limit,
            "time_in_force": "gtc", "expires_at": None, "working_since": START, "stop_triggered_at": None,
            "trail_amount": None, "high_water_mark": None, "status": "accepted"}
