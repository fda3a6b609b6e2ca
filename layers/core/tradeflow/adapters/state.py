"""The open-positions flag: one small S3 object that lets the stop monitor leave an idle
Aurora asleep.

Safety: a flag saying 0 while a position is open would stop the stop monitor from looking,
so the flag is only ever written with a count read from PostgreSQL under an advisory lock,
after the writer's own transaction committed. Of two writers, the later one to take the lock
counts after both commits and writes last. An unreadable or missing flag means "look".
"""

from __future__ import annotations

import psycopg

from tradeflow.adapters import aws, watchlist
from tradeflow.names import OPEN_POSITIONS_KEY

#: pg_advisory_lock key serialising flag writes.
FLAG_LOCK = 7_231_004_118


def open_positions(bucket: str) -> int | None:
    """The flagged number of open positions, or None if the flag is missing or unreadable."""
    try:
        body = aws.client("s3").get_object(Bucket=bucket, Key=OPEN_POSITIONS_KEY)["Body"].read()
        return int(body)
    except Exception:  # NoSuchKey, access or network trouble, garbage: all mean "look"
        return None


def sync_open_positions(conn: psycopg.Connection, bucket: str) -> int:
    """Count open positions and write the flag, under the lock; returns the count. Raises
    DeliveryError if S3 refuses, so the caller's message is retried."""
    conn.execute("SELECT pg_advisory_lock(%s)", (FLAG_LOCK,))
    try:
        count = conn.execute(  # open positions, and entries working for a price (limit, stop, next bar)
            "SELECT (SELECT count(*) FROM positions WHERE status = 'open') + (SELECT count(*) FROM orders "
            "WHERE purpose = 'entry' AND status IN ('accepted', 'partially_filled')) AS n"
        ).fetchone()["n"]
        try:
            aws.client("s3").put_object(Bucket=bucket, Key=OPEN_POSITIONS_KEY, Body=str(count).encode())
        except Exception as exc:
            raise aws.DeliveryError(f"could not write the open-positions flag: {exc}") from exc
        watchlist.write(conn, bucket)  # the symbols the market_data function fetches, under the same lock
        return count
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (FLAG_LOCK,))
