"""Database roles on the embedded PostgreSQL: each function's role may do what its step needs
(the whole pipeline runs with each function on its own role) and is refused everything else."""

import json
from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest
from psycopg import errors, sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from tradeflow import names
from tradeflow.adapters import db, roles
from tradeflow.domain.ports import Bar

from tests.conftest import START

PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")


def as_role(database_url: str, function: str) -> psycopg.Connection:
    """A connection whose session runs as ``function``'s role from the start (libpq options)."""
    params = conninfo_to_dict(database_url) | {"options": f"-c role={roles.role(function)}"}
    return db.connect(make_conninfo(**params))


def attempt(conn: psycopg.Connection, statement: sql.Composable) -> bool:
    """Whether ``statement`` passes the privilege check (any later error counts as allowed)."""
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(statement)
    except errors.InsufficientPrivilege:
        return False
    except psycopg.Error:
        return True
    return True


def statement(conn: psycopg.Connection, privilege: str, table: str) -> sql.Composable:
    """A statement that needs exactly ``privilege`` on ``table`` and changes no row."""
    column = conn.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
                          "AND table_name = %s ORDER BY ordinal_position LIMIT 1", (table,)).fetchone()["column_name"]
    return {
        "SELECT": sql.SQL("SELECT 1 FROM {} LIMIT 0"),
        "INSERT": sql.SQL("INSERT INTO {} DEFAULT VALUES"),
        "UPDATE": sql.SQL("UPDATE {} SET {} = DEFAULT WHERE false"),
        "DELETE": sql.SQL("DELETE FROM {} WHERE false"),
    }[privilege].format(sql.Identifier(table), sql.Identifier(column))


@pytest.fixture
def granted(database_url, conn):
    roles.sync_grants(conn)
    return database_url


def test_every_table_of_the_schema_is_named_in_the_grants(conn):
    # a table added by a later migration without an entry in TABLE_GRANTS fails here
    assert roles.unknown_tables(conn) == set()
    assert set(roles.TABLE_GRANTS) - roles.schema_tables(conn) == set(), "TABLE_GRANTS names a table that is gone"


@pytest.mark.parametrize("function", names.DATABASE_FUNCTIONS)
def test_each_role_is_refused_every_privilege_outside_its_grants(granted, conn, function):
    with as_role(granted, function) as role_conn:
        assert role_conn.execute("SELECT current_user AS u").fetchone()["u"] == roles.role(function)
        for table in sorted(roles.schema_tables(conn)):
            allowed = {p.strip() for p in roles.TABLE_GRANTS[table].get(function, "").split(",") if p.strip()}
            for privilege in PRIVILEGES:
                expected = privilege in allowed
                assert attempt(role_conn, statement(conn, privilege, table)) is expected, (function, table, privilege)


@pytest.mark.parametrize("function", names.DATABASE_FUNCTIONS)
def test_no_role_runs_ddl(granted, function):
    ddl = [
        "CREATE TABLE intruder (x int)",
        "CREATE TEMP TABLE intruder (x int)",
        "DROP TABLE fills",
        "ALTER TABLE orders ADD COLUMN intruder int",
        "TRUNCATE notifications",
        "CREATE INDEX intruder ON quotes (price)",
        "CREATE FUNCTION intruder() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "ALTER TABLE fills DISABLE TRIGGER fills_append_only",
    ]
    with as_role(granted, function) as role_conn:
        for text in ddl:
            with pytest.raises(errors.InsufficientPrivilege), role_conn.transaction(force_rollback=True):
                role_conn.execute(text)


def test_the_signal_processor_cannot_write_fills_nor_orders(granted):
    with as_role(granted, "signal_processor") as role_conn:
        for text in ("INSERT INTO fills (order_id, seq, quantity, price) VALUES (1, 1, 1, 1)",
                     "UPDATE fills SET price = 0", "INSERT INTO orders DEFAULT VALUES", "UPDATE accounts SET cash = 0"):
            with pytest.raises(errors.InsufficientPrivilege), role_conn.transaction(force_rollback=True):
                role_conn.execute(text)


def test_the_whole_pipeline_runs_with_each_function_on_its_own_role(stack, strategy, granted, conn, replay_clock,
                                                                    monkeypatch):
    # Given every database function connected as its own role
    connections = {f: as_role(granted, f) for f in names.DATABASE_FUNCTIONS}
    from tradeflow import settings as envs
    from tradeflow.pipeline import consumer

    by_settings = {envs.SignalProcessorEnv: "signal_processor", envs.OrderCreatorEnv: "order_creator",
                   envs.PaperExecutorEnv: "paper_executor", envs.StopMonitorEnv: "stop_monitor",
                   envs.NotifierEnv: "notifier"}
    assert set(by_settings.values()) == set(names.DATABASE_FUNCTIONS) - {"control"}  # its own test

    def role_connection(settings):  # the queue consumers share one module: pick by the settings' type
        return connections[by_settings[type(settings)]]

    monkeypatch.setattr(consumer, "get_connection", role_connection)
    for function in ("stop_monitor", "notifier"):  # their schedules connect in the handler
        monkeypatch.setattr(stack.handler(function), "get_connection", role_connection)

    def alert(**fields):
        return json.dumps({"ticker": "AAPL", "price": "100", "time": replay_clock().isoformat(), **fields})

    try:
        # When alerts go through every step: an entry with a trailing stop and two targets, a
        # bar alert, a limit day entry, its cancel, a stop-monitor exit and the daily summary
        stack.post_webhook(alert(action="buy", quantity="10", take_profit=["105", "110"], trail_percent="2"),
                           token=strategy)
        stack.drain()
        replay_clock.set(replay_clock() + timedelta(minutes=1))
        stack.record_quote("AAPL", replay_clock(), Decimal("106"))  # handed to the stop monitor, which ticks
        stack.drain()
        replay_clock.set(replay_clock() + timedelta(minutes=1))
        stack.post_webhook(alert(action="buy", ticker="MSFT", quantity="5", order_type="limit", limit_price="90",
                                 time_in_force="day"), token=strategy)
        stack.drain()
        stack.post_webhook(alert(action="cancel", ticker="MSFT"), token=strategy)
        stack.drain()
        replay_clock.set(replay_clock() + timedelta(minutes=1))
        price = Decimal("111")  # a 1-minute bar handed over as the market_data function does: recorded, one tick
        bar = Bar("AAPL", replay_clock() - timedelta(minutes=1), replay_clock(), price, price, price, price, "alpaca")
        stack.invoke("stop_monitor", {"bars": [bar.to_json()]})
        stack.drain()
        stack.run_schedule("notifier")
        stack.drain()
    finally:
        for role_conn in connections.values():
            role_conn.close()

    # Then nothing was refused: no dead letter, no failed delivery, and the trades happened
    assert set(stack.dead_letters().values()) == {0}
    assert not [d for d in stack.deliveries if d.failed]
    fills = conn.execute("SELECT o.purpose, f.price FROM fills f JOIN orders o USING (order_id) "
                         "ORDER BY f.fill_id").fetchall()
    assert [f["purpose"] for f in fills] == ["entry", "take_profit", "take_profit"]
    assert conn.execute("SELECT status FROM positions").fetchone()["status"] == "closed"
    kinds = {r["kind"] for r in conn.execute("SELECT DISTINCT kind FROM notifications")}
    assert "daily_summary" in kinds
    assert conn.execute("SELECT count(*) AS n FROM equity_snapshots").fetchone()["n"] >= 1
    assert START < replay_clock()
