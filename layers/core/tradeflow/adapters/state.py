"""The open-positions flag: one small S3 object that lets the stop monitor leave an idle
Aurora asleep.

Safety: a flag saying 0 while a position is open would stop the stop monitor from looking,
so the flag is only ever written with a count read from PostgreSQL under a transaction-level
advisory lock, as the last step of the writer's own transaction (the executor's fill, or the
stop monitor's own short transaction): the count sees that transaction's writes, and the
lock is held until it commits. Of two writers, the later one to take the lock counts after
the other committed and writes last. If a commit fails after the flag was written, the flag
holds the count of the work rolled back; the writer's message is retried, and the retry
writes it again. An unreadable or missing flag means "look".
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
    """Count open positions and working entries and write the flag, under the lock, in the
    caller's transaction if one is open (else in one of its own); returns the count. Raises
    DeliveryError if S3 refuses, so that the transaction rolls back and the caller's message
    is retried."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (FLAG_LOCK,))
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
