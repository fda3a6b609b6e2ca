"""The watchlist: the symbols the market_data function fetches prices for, one small S3
object in the state bucket next to the open-positions flag.

``state/watchlist`` holds ``{"symbols": [...]}``: every symbol with an open position or an
order still working (pending, accepted or partially filled). It is written from PostgreSQL
under the flag's advisory lock (by the open-positions flag's sync), so it never lags the
flag; an empty list lets the fetcher (and so Aurora) rest. A missing or unreadable object
reads as None: the fetcher then fetches nothing rather than wake anything.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from tradeflow.adapters import aws
from tradeflow.names import WATCHLIST_KEY

if TYPE_CHECKING:  # the market_data function reads the watchlist without the database driver
    import psycopg


def symbols_to_watch(conn: psycopg.Connection) -> list[str]:
    """The symbols with an open position or a working order, sorted."""
    return [r["symbol"] for r in conn.execute(
        "SELECT symbol FROM positions WHERE status = 'open' UNION "
        "SELECT symbol FROM orders WHERE status IN ('pending', 'accepted', 'partially_filled') ORDER BY symbol"
    )]


def write(conn: psycopg.Connection, bucket: str) -> list[str]:
    """Write the watchlist from the database; returns it. Raises DeliveryError if S3 refuses
    (the caller's message is then retried). Call it under the open-positions flag's lock."""
    watched = symbols_to_watch(conn)
    try:
        aws.client("s3").put_object(Bucket=bucket, Key=WATCHLIST_KEY, Body=json.dumps({"symbols": watched}).encode(),
                                    ContentType="application/json")
    except Exception as exc:
        raise aws.DeliveryError(f"could not write the watchlist: {exc}") from exc
    return watched


def read(bucket: str) -> list[str] | None:
    """The watched symbols, or None if the object is missing or unreadable."""
    try:
        body = aws.client("s3").get_object(Bucket=bucket, Key=WATCHLIST_KEY)["Body"].read()
        symbols = json.loads(body)["symbols"]
        return [str(s) for s in symbols] if isinstance(symbols, list) else None
    except Exception:  # NoSuchKey, access or network trouble, garbage
        return None
