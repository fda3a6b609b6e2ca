"""PostgreSQL connections and schema migrations (psycopg 3).

Migrations are the numbered ``migrations/NNNN_name.sql`` files, applied in order, each in
its own transaction, and recorded in ``schema_migrations``. A session-level advisory lock
makes :func:`migrate` safe to run twice and from two processes at once.
"""

from __future__ import annotations

import json
import time
from functools import lru_cache
from importlib import resources
from pathlib import Path
from urllib.parse import quote, urlencode

import psycopg
from psycopg.rows import dict_row

from tradeflow import clock
from tradeflow.settings import DatabaseEnv

#: Arbitrary constant identifying tradeflow's migration lock (pg_advisory_lock key).
MIGRATION_LOCK = 7_231_004_117


#: Seconds to wait for a connection: Aurora Serverless v2 takes up to ~15 s to resume from a pause.
CONNECT_TIMEOUT = 30


def connect(conninfo: str, connect_timeout: int = CONNECT_TIMEOUT) -> psycopg.Connection:
    """A new autocommit connection returning rows as dicts; transactions are explicit
    (``with conn.transaction():``). ``connect_timeout`` in seconds."""
    return psycopg.connect(conninfo, autocommit=True, row_factory=dict_row, connect_timeout=connect_timeout)


#: The Amazon RDS root certificate authorities, shipped in the package (and so in the layer).
RDS_CA_BUNDLE = Path(__file__).resolve().parent / "rds-ca-bundle.pem"


def bound_transaction(conn: psycopg.Connection, idle_seconds: int, lock_wait_seconds: int) -> None:
    """Bound the open transaction of ``conn`` until it ends (``SET LOCAL``): PostgreSQL ends the
    session once the transaction has been idle ``idle_seconds`` (releasing its locks), and a
    lock waited for longer than ``lock_wait_seconds`` raises LockNotAvailable (retryable).
    PostgreSQL documentation, "Client Connection Defaults": idle_in_transaction_session_timeout,
    lock_timeout."""
    conn.execute("SELECT set_config('idle_in_transaction_session_timeout', %s, true), "
                 "set_config('lock_timeout', %s, true)", (f"{idle_seconds}s", f"{lock_wait_seconds}s"))


def conninfo_from_secret(secret: dict | str, *, ca_bundle: Path | str = RDS_CA_BUNDLE) -> str:
    """A libpq URL from an RDS/Aurora Secrets Manager secret (JSON with host, port,
    username, password and dbname), over TLS that verifies the server: ``sslmode=verify-full``
    (the certificate chains to ``ca_bundle`` and names ``host``; libpq's definition, PostgreSQL
    docs "SSL Support", 34.19) with ``sslrootcert`` the RDS CA bundle shipped in the package.

    Raises ``KeyError`` naming a missing secret field, ``FileNotFoundError`` if the bundle is
    missing (a layer built without it)."""
    s = json.loads(secret) if isinstance(secret, str) else secret
    ca_bundle = Path(ca_bundle)
    if not ca_bundle.is_file():
        raise FileNotFoundError(f"the CA bundle {ca_bundle} is missing; rebuild the layer (tradeflow build-layer)")
    user, password = quote(s["username"], safe=""), quote(s["password"], safe="")
    tls = urlencode({"sslmode": "verify-full", "sslrootcert": str(ca_bundle)}, safe="/")
    return f"postgresql://{user}:{password}@{s['host']}:{s.get('port', 5432)}/{s.get('dbname', 'postgres')}?{tls}"


def migrations() -> list[tuple[str, str]]:
    """(version, SQL) of every migration shipped with the package, in order."""
    folder = resources.files("tradeflow.adapters") / "migrations"
    files = sorted(f for f in folder.iterdir() if f.name.endswith(".sql"))
    return [(f.name.removesuffix(".sql"), f.read_text()) for f in files]


def migrate(conninfo: str) -> list[str]:
    """Apply the migrations not yet applied; return the versions applied by this call."""
    applied: list[str] = []
    with connect(conninfo) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["version"] for r in conn.execute("SELECT version FROM schema_migrations")}
            for version, sql in migrations():
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(sql)
                    conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                applied.append(version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    return applied


@lru_cache(maxsize=1)
def _conninfo(database_url: str | None, secret_arn: str | None) -> str:
    if database_url:
        return database_url
    from aws_lambda_powertools.utilities.parameters import get_secret

    return conninfo_from_secret(get_secret(secret_arn, transform="json"))


#: A connection unused for longer than this (seconds) is checked before use: the server may
#: have closed it meanwhile (Aurora's 2-minute ``idle_session_timeout``, or a pause).
PING_AFTER_SECONDS = 30.0
#: Seconds slept between connection attempts inside one invocation (about 15 s in all, the
#: time Aurora Serverless v2 takes to resume from a pause); beyond that the message goes back
#: to its queue with a growing delay (tradeflow.pipeline.consumer).
CONNECT_BACKOFF = (1.0, 2.0, 4.0, 8.0)
#: After the backoff gave up, further calls within this many seconds try once, without
#: sleeping, so one invocation's batch does not wait the backoff once per record.
GIVE_UP_SECONDS = 60.0

_connection: psycopg.Connection | None = None
_last_used = 0.0
_gave_up_at: float | None = None


def get_connection(settings: DatabaseEnv, connect_timeout: int = CONNECT_TIMEOUT,
                   retry: bool = True) -> psycopg.Connection:
    """The process's connection, opened on first use and kept for warm invocations. After
    :data:`PING_AFTER_SECONDS` unused it is checked with ``SELECT 1`` and reopened if the
    server closed it; within a busy batch it is handed out without a round trip.

    A connection that cannot be opened is retried after each pause of :data:`CONNECT_BACKOFF`
    (slept on the tradeflow clock); then psycopg.OperationalError is raised (retryable).
    ``connect_timeout`` (seconds) bounds each attempt; ``retry=False`` makes one attempt only
    (the control API answers a cold database itself, within API Gateway's 30 s)."""
    global _connection, _last_used, _gave_up_at
    now = time.monotonic()
    idle, _last_used = now - _last_used, now
    if _connection is not None and not _connection.closed:
        if idle < PING_AFTER_SECONDS:
            return _connection
        try:
            _connection.execute("SELECT 1")
            return _connection
        except psycopg.OperationalError:
            _connection.close()
    conninfo = _conninfo(settings.database_url, settings.database_secret_arn)
    at = clock.now().timestamp()
    pauses = () if not retry or (_gave_up_at is not None and at - _gave_up_at < GIVE_UP_SECONDS) \
        else CONNECT_BACKOFF
    for pause in pauses:
        try:
            return _open(conninfo, connect_timeout)
        except psycopg.OperationalError:
            clock.sleep(pause)
    try:
        return _open(conninfo, connect_timeout)
    except psycopg.OperationalError:
        _gave_up_at = clock.now().timestamp()
        raise


def _open(conninfo: str, connect_timeout: int) -> psycopg.Connection:
    global _connection, _gave_up_at
    _connection = connect(conninfo, connect_timeout)
    _gave_up_at = None
    return _connection


def close_connection() -> None:
    """Close the cached connection (the local stack calls this before switching databases)."""
    global _connection
    if _connection is not None:
        _connection.close()
        _connection = None
    _conninfo.cache_clear()
