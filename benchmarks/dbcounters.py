"""Server-side counters for the benchmarks: transactions committed in a database and rows
read, from PostgreSQL's cumulative statistics, flushed on demand (PostgreSQL 15+)."""

from __future__ import annotations

import psycopg

#: Transactions that one :func:`counters` call adds itself (its flush and its read).
PROBE_COMMITS = 2


def counters(conn: psycopg.Connection) -> dict[str, int]:
    """xact_commit of the connection's database and rows read (tuples returned by sequential
    and index scans, user tables), after flushing this backend's pending statistics. Between
    two calls on the same connection, the difference of ``commits`` minus
    :data:`PROBE_COMMITS` is the number of transactions committed by everyone in between."""
    conn.execute("SELECT pg_stat_force_next_flush()")
    row = conn.execute(
        "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()) AS commits, "
        "(SELECT coalesce(sum(seq_tup_read + coalesce(idx_tup_fetch, 0)), 0) FROM pg_stat_user_tables) AS rows"
    ).fetchone()
    return {"commits": int(row["commits"]), "rows": int(row["rows"])}
