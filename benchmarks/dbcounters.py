"""Server-side counters for the benchmarks: transactions committed in a database, those of
them that wrote, and rows read, from PostgreSQL's cumulative statistics (flushed on demand,
PostgreSQL 15+) and its transaction ids."""

from __future__ import annotations

import psycopg

#: Transactions that one :func:`counters` call adds itself (its flush and its read).
PROBE_COMMITS = 2


def counters(conn: psycopg.Connection) -> dict[str, int]:
    """xact_commit of the connection's database (every transaction, read-only autocommit
    statements included), ``xids``: the next transaction id (PostgreSQL assigns one only to a
    transaction, or savepoint, that writes: the ones whose commit flushes WAL), and rows read
    (tuples returned by sequential and index scans, user tables), after flushing this backend's
    pending statistics. Between two calls on the same connection, the difference of
    ``commits`` minus :data:`PROBE_COMMITS` is the number of transactions committed by
    everyone in between, and the difference of ``xids`` the writing ones (savepoints that wrote
    counted apart; the probes write nothing)."""
    # never prepared: psycopg prepares a statement on its 5th run, and outside a transaction
    # the Parse of a prepared statement is a transaction (and a commit) of its own
    conn.execute("SELECT pg_stat_force_next_flush()", prepare=False)
    row = conn.execute(
        "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()) AS commits, "
        "pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xids, "
        "(SELECT coalesce(sum(seq_tup_read + coalesce(idx_tup_fetch, 0)), 0) FROM pg_stat_user_tables) AS rows",
        prepare=False,
    ).fetchone()
    return {"commits": int(row["commits"]), "xids": int(row["xids"]), "rows": int(row["rows"])}
