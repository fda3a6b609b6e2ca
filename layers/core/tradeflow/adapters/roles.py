"""Database roles: one login role per database function, granted only what its step needs.

Migration 0005 creates the roles (``tradeflow_<function>``, see :data:`tradeflow.names.DATABASE_ROLE`);
:func:`sync_grants` makes every role's privileges exactly :data:`TABLE_GRANTS` says and is run
after every migration (the migrator calls :func:`migrate_and_grant`), so tables added by later
migrations get their grants in the same deploy. Only the master user (the migrator) owns the
tables, so only it can run DDL; the roles cannot create anything (no CREATE on the schema, no
TEMPORARY on the database).

A table that :data:`TABLE_GRANTS` does not name is granted to no role: the function that needs it
fails with "permission denied" in the tests (tests/integration/test_roles.py runs the pipeline
with each function on its own role, and checks that every table is named here), never silently
in production.

Privileges follow PostgreSQL's definitions (docs, "Privileges" 5.8): ``INSERT ... ON CONFLICT DO
UPDATE`` and ``SELECT ... FOR UPDATE`` need UPDATE; a ``bigserial`` column's default needs USAGE
on its sequence, granted here with INSERT.
"""

from __future__ import annotations

from collections.abc import Mapping

import psycopg
from psycopg import sql

from tradeflow.adapters import db
from tradeflow.names import DATABASE_FUNCTIONS, DATABASE_ROLE

S, SI, SU, SIU = "SELECT", "SELECT, INSERT", "SELECT, UPDATE", "SELECT, INSERT, UPDATE"
SP, OC, PE, SM, NT, CT = DATABASE_FUNCTIONS

#: table -> {function: privileges}. Every table of the schema must be a key (an empty dict
#: grants it to no function); a function not listed for a table gets nothing on it.
TABLE_GRANTS: dict[str, dict[str, str]] = {
    # CT, the control API: reads of the books; the guardian's actions (trading states, breaker
    # resets, a flatten's market exits, the accounts it locks) and a cancel or moved stop
    # the first signal of a strategy registers it and opens its account (signal processor)
    "strategies": {SP: SIU, OC: S, PE: S, SM: S, NT: S, CT: S},
    "accounts": {SP: SI, OC: S, PE: SU, SM: S, NT: S, CT: SU},
    # trading states: read with every strategy's settings; set by the control actions (and the
    # kill switch) only
    # the notifier reads a strategy's notification settings through store.strategy, which joins it
    "trading_states": {SP: S, OC: S, PE: S, SM: S, NT: S, CT: SIU},
    "trading_state_changes": {CT: SI},
    # breakers trip on fills (executor) and marks (stop monitor); the gates read them
    "breaker_trips": {SP: S, PE: SI, SM: SI, CT: S},
    "breaker_resets": {SP: S, PE: S, SM: S, CT: SI},
    "signals": {SP: SI, OC: S, CT: S},
    # the raw body of each signal (secrets redacted): kept by the signal processor, exported by
    # the control API
    "alert_bodies": {SP: SI, CT: S},
    # an approved entry whose orders never materialised expires (signal processor); the order
    # creator locks the decision it turns into orders, so the two never race, and notes in it
    # how an exposure cap shrank the entry
    "decisions": {SP: SIU, OC: SU, CT: S},
    # a message that can never succeed is recorded by the consumer that received it
    "rejected_messages": {SP: SI, OC: SI, PE: SI, NT: SI},
    # alerts carry prices: the signal processor records them (an upsert); so does the stop
    # monitor, for the bars handed to it by the market_data function and TradingView bar alerts
    "quotes": {SP: SIU, OC: S, PE: S, SM: SIU, NT: S, CT: S},
    # the signal processor cancels entries that never reached the executor (through order_events);
    # the stop monitor creates the market exits of a position past its maximum loss, of the
    # end-of-day flatten and of a position left without a fresh price (filled by the executor)
    "orders": {SP: SU, OC: SIU, PE: SU, SM: SIU, NT: S, CT: SIU},
    "order_statuses": {SP: S, OC: S, PE: S, SM: S, CT: S},
    "order_transitions": {SP: S, OC: S, PE: S, SM: S, CT: S},
    # INSERT runs the triggers that apply the change to orders (UPDATE on orders, above)
    "order_events": {SP: SI, OC: SI, PE: SI, SM: SI, CT: SI},
    "order_amendments": {OC: SI, PE: SI, SM: SI, CT: SI},
    # a flatten (control) books its market exits' fills itself: the fill, the position it closes
    # (locked, then updated: never a new one) and the account's cash
    "fills": {PE: SI, SM: S, NT: S, CT: SI},
    "positions": {SP: S, OC: S, PE: SIU, SM: S, NT: S, CT: SU},
    # the executor reads the start-of-day equity and the peak for the breakers
    "equity_snapshots": {PE: S, SM: SI, NT: SI, CT: S},
    # the stop monitor reads which stale-price notices were claimed, to tell the trader once
    "notifications": {SM: S, NT: SIU, CT: S},
    # one row per notification and channel (sms, email, digest), kept by the notifier
    "notification_deliveries": {NT: SIU, CT: S},
    "schema_migrations": {},
    # a settings change is appended where the strategy is (re-)registered: the signal processor
    "strategy_settings_history": {SP: SI, CT: S},
}


class UnknownTables(RuntimeError):
    """Tables in the schema that :data:`TABLE_GRANTS` does not name (no role may use them)."""


def role(function: str) -> str:
    """The login role of ``function`` (one of :data:`tradeflow.names.DATABASE_FUNCTIONS`)."""
    if function not in DATABASE_FUNCTIONS:
        raise ValueError(f"{function!r} has no database role; choose one of {', '.join(DATABASE_FUNCTIONS)}")
    return DATABASE_ROLE.format(function=function)


def schema_tables(conn: psycopg.Connection) -> set[str]:
    """The ordinary tables of the ``public`` schema."""
    rows = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    ).fetchall()
    return {r["tablename"] if isinstance(r, dict) else r[0] for r in rows}


def unknown_tables(conn: psycopg.Connection) -> set[str]:
    """Tables of the schema with no entry in :data:`TABLE_GRANTS`."""
    return schema_tables(conn) - TABLE_GRANTS.keys()


def sync_grants(conn: psycopg.Connection, passwords: Mapping[str, str] | None = None) -> None:
    """Make each function role's privileges exactly :data:`TABLE_GRANTS` (revoke all, then
    grant), in one transaction; with ``passwords`` ({function: password}) also set the roles'
    login passwords. Run as the tables' owner (the master user). Tables missing from the
    schema are skipped (a grant for a table a later migration adds); tables the map does not
    name are granted to nobody (see :func:`unknown_tables`)."""
    present = schema_tables(conn)
    database = conn.execute("SELECT current_database() AS name").fetchone()
    database = database["name"] if isinstance(database, dict) else database[0]
    with conn.transaction():
        # No one but the owner creates objects (a database's ACL is not copied from its template)
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        conn.execute(sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database)))
        for function in DATABASE_FUNCTIONS:
            name = sql.Identifier(role(function))
            conn.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(name))
            conn.execute(sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {}").format(name))
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database), name))
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(name))
            if passwords and function in passwords:
                conn.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(name, sql.Literal(passwords[function])))
        for table, grants in TABLE_GRANTS.items():
            if table not in present:
                continue
            for function, privileges in grants.items():
                conn.execute(sql.SQL("GRANT {} ON TABLE {} TO {}").format(
                    sql.SQL(privileges), sql.Identifier(table), sql.Identifier(role(function))))
                if "INSERT" in privileges:
                    for sequence in _owned_sequences(conn, table):
                        conn.execute(sql.SQL("GRANT USAGE ON SEQUENCE {} TO {}").format(
                            sql.Identifier(sequence), sql.Identifier(role(function))))


def _owned_sequences(conn: psycopg.Connection, table: str) -> list[str]:
    """Sequences owned by ``table``'s columns (bigserial defaults)."""
    rows = conn.execute(
        "SELECT s.relname FROM pg_class s JOIN pg_depend d ON d.objid = s.oid "
        "WHERE s.relkind = 'S' AND d.refobjid = %s::regclass AND d.deptype IN ('a', 'i') ORDER BY 1",
        (f'public."{table}"',),
    ).fetchall()
    return [r["relname"] if isinstance(r, dict) else r[0] for r in rows]


def migrate_and_grant(conninfo: str, passwords: Mapping[str, str] | None = None) -> list[str]:
    """Apply the pending migrations (:func:`tradeflow.adapters.db.migrate`), then
    :func:`sync_grants`; returns the versions applied. ``conninfo`` is the master user's."""
    applied = db.migrate(conninfo)
    with db.connect(conninfo) as conn:
        sync_grants(conn, passwords)
    return applied
