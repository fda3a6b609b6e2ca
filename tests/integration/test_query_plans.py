"""The hot paths read an index or a bounded set, never the whole history.

Given a long history seeded on the embedded PostgreSQL (50,000 round trips, ANALYZEd), the
statements that the real handlers execute for a few alerts (entry, stop-loss hit, exit), a
stop-monitor tick and the daily summary are captured as they run (a recording psycopg
cursor on every connection tradeflow opens), then each one is EXPLAINed with the same
parameters: as planned for this execution (a custom plan) and, where PostgreSQL would switch
to it, as a prepared statement's generic plan (psycopg prepares a statement run 5 times; after
5 custom plans PostgreSQL uses the generic plan unless it costs more than the custom ones plus
their planning, plancache.c ``choose_custom_plan``). No such plan may scan a history table
sequentially. A query added or rewritten in the store is covered without touching this test.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest
from tradeflow.adapters import db
from tradeflow.local.stack import flat_bar

from tests.conftest import START
from tests.seed import seed_round_trips

ROUND_TRIPS = 50_000
SYMBOLS = ["AAPL", "MSFT", "GOOG", "AMZN", "IBM", "NVDA", "META", "TSLA", "ORCL", "INTC"]
#: Tables that grow with every alert: none may be read by a sequential scan on a hot path.
HISTORY = {"signals", "decisions", "orders", "fills", "positions", "quotes", "order_events", "order_amendments",
           "equity_snapshots", "notifications"}
PLANNED = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", re.IGNORECASE)
PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s")
#: PostgreSQL's default cpu_operator_cost; plancache.c charges a custom plan 1000 of them per
#: relation (plus one) for its planning when it weighs it against the generic plan.
CPU_OPERATOR_COST = 0.0025


class RecordingCursor(psycopg.Cursor):
    """A cursor that notes every statement and its parameters before running it."""

    log: list[tuple[str, object]] = []

    def execute(self, query, params=None, **kwargs):
        RecordingCursor.log.append((query, params))
        return super().execute(query, params, **kwargs)

    def executemany(self, query, params_seq, **kwargs):
        params_seq = list(params_seq)
        RecordingCursor.log.extend((query, p) for p in params_seq[:1])
        return super().executemany(query, params_seq, **kwargs)


def scans(plan: dict) -> list[tuple[str, str | None]]:
    """(node type, relation) of every node of an EXPLAIN (FORMAT JSON) plan."""
    found = [(plan["Node Type"], plan.get("Relation Name"))]
    for child in plan.get("Plans", []):
        found += scans(child)
    return found


def generic_would_be_used(custom: dict, generic_plan: dict) -> bool:
    """Whether PostgreSQL would prefer ``generic_plan`` to custom plans like ``custom``."""
    relations = {relation for _, relation in scans(custom) if relation}
    planning = 1000 * CPU_OPERATOR_COST * (len(relations) + 1)
    return generic_plan["Total Cost"] < custom["Total Cost"] + planning


def generic(query: str, params) -> str:
    """``query`` with psycopg's placeholders as PostgreSQL's $n (for EXPLAIN (GENERIC_PLAN))."""
    names: list[str] = []

    def number(m: re.Match) -> str:
        if m.group(1) is None:
            names.append(str(len(names)))
            return f"${len(names)}"
        if m.group(1) not in names:
            names.append(m.group(1))
        return f"${names.index(m.group(1)) + 1}"

    return PLACEHOLDER.sub(number, query)


def alert(action: str, ticker: str, price: str, at) -> str:
    return json.dumps({"ticker": ticker, "action": action, "price": price, "quantity": "10", "time": at.isoformat()})


@pytest.fixture
def recorded(stack, strategy, database_url, replay_clock, monkeypatch):
    """The statements the handlers ran for a few alerts and ticks on top of a long history."""
    with db.connect(database_url) as conn:
        seed_round_trips(conn, "test", ROUND_TRIPS, SYMBOLS, START)
    real_connect = db.connect

    def connect(conninfo: str, *args, **kwargs) -> psycopg.Connection:
        connection = real_connect(conninfo, *args, **kwargs)
        connection.cursor_factory = RecordingCursor
        return connection

    db.close_connection()
    monkeypatch.setattr(db, "connect", connect)
    monkeypatch.setattr(RecordingCursor, "log", [])
    for ticker in ("AAPL", "MSFT"):
        stack.post_webhook(alert("buy", ticker, "100", START), token=strategy)
    stack.drain()
    replay_clock.set(START + timedelta(minutes=1))
    stack.hand_over([flat_bar("AAPL", START + timedelta(minutes=1), Decimal("96")),
                     flat_bar("MSFT", START + timedelta(minutes=1), Decimal("94"))])  # through MSFT's 95 stop
    stack.drain()
    replay_clock.set(START + timedelta(minutes=2))
    stack.post_webhook(alert("sell", "AAPL", "103", START + timedelta(minutes=2)), token=strategy)
    stack.drain()
    stack.run_schedule("notifier")
    stack.drain()
    return RecordingCursor.log


def test_no_hot_query_scans_a_history_table(recorded, database_url):
    statements = {}
    for query, params in recorded:
        text = query if isinstance(query, str) else query.as_string()
        if PLANNED.match(text):
            statements.setdefault((text, repr(params)), (text, params))
    assert len({text for text, _ in statements.values()}) > 30  # every step was recorded
    seen: set[str] = set()
    offenders = []
    with psycopg.connect(database_url) as conn:
        for text, params in statements.values():
            custom = conn.execute("EXPLAIN (FORMAT JSON) " + text, params).fetchone()[0][0]["Plan"]
            generic_plan = conn.execute(
                "EXPLAIN (GENERIC_PLAN, FORMAT JSON) " + generic(text, params)).fetchone()[0][0]["Plan"]
            plans = [("custom", custom)]
            if generic_would_be_used(custom, generic_plan):
                plans.append(("generic", generic_plan))
            for kind, plan in plans:
                for node, relation in scans(plan):
                    seen.add(relation)
                    if node == "Seq Scan" and relation in HISTORY:
                        offenders.append(f"{kind} plan: Seq Scan on {relation}: {text}")
            conn.rollback()
    assert {"signals", "decisions", "orders", "fills", "positions", "quotes"} <= seen  # the plans were read
    assert not offenders, "\n".join(sorted(set(offenders)))
