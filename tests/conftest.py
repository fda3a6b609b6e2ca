"""Shared fixtures: one embedded PostgreSQL per test session, a fresh migrated database per
test (copied from a migrated template, ~50 ms), and the local stack on a replay clock."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from tradeflow.adapters import db
from tradeflow.clock import ReplayClock

_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory) -> str:
    """URL of the maintenance database of a session-wide server: DATABASE_URL's server if set,
    else an embedded one."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    from tradeflow.local.stack import embedded_database

    return embedded_database(tmp_path_factory.mktemp("pg") / "data", "postgres")


@pytest.fixture(scope="session")
def template_db(pg_server_url) -> str:
    with db.connect(pg_server_url) as conn:
        conn.execute("DROP DATABASE IF EXISTS tf_template")
        conn.execute("CREATE DATABASE tf_template")
    url = _with_database(pg_server_url, "tf_template")
    db.migrate(url)
    return "tf_template"


def _with_database(url: str, name: str) -> str:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    return make_conninfo(**{**conninfo_to_dict(url), "dbname": name})


@contextmanager
def migrated_copy(pg_server_url: str, template_db: str, prefix: str) -> Iterator[str]:
    """The URL of a new database ``<prefix>_<pid>_<n>`` copied from the migrated template,
    dropped on exit (the process's connection closed first)."""
    name = f"{prefix}_{os.getpid()}_{next(_counter)}"
    with db.connect(pg_server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    try:
        yield _with_database(pg_server_url, name)
    finally:
        db.close_connection()
        with db.connect(pg_server_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(pg_server_url, template_db) -> str:
    """A fresh, migrated database for one test; dropped afterwards."""
    with migrated_copy(pg_server_url, template_db, "tf_test") as url:
        yield url


@pytest.fixture
def conn(database_url):
    with db.connect(database_url) as connection:
        yield connection


START = datetime(2024, 3, 1, 15, 30, tzinfo=UTC)


@pytest.fixture
def replay_clock() -> ReplayClock:
    return ReplayClock(START)


@pytest.fixture
def stack(database_url, replay_clock, tmp_path, monkeypatch):
    """The local stack (in-memory SQS/SNS/SSM/S3 + this test's database) on a replay clock."""
    from tradeflow.local.stack import LocalStack

    for key in ("DATABASE_URL", "SIGNALS_QUEUE_URL", "TRADER_ALERTS_TOPIC_ARN", "URGENT_TOPIC_ARN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("TRADEFLOW_HOME", str(tmp_path / "home"))
    with LocalStack(tmp_path / "home", database_url, replay_clock) as local:
        yield local
    for key in ("DATABASE_URL",):
        os.environ.pop(key, None)


SECRET = "s3cret-passphrase-for-tests"


@pytest.fixture
def strategy(stack):
    """A registered strategy ``test`` with default settings, slippage 0, commission 0 and a
    default bracket (stop-loss 5 %, take-profit 10 % from the entry's price) unless a test
    re-registers it; each notification sent on its own (no burst hold: tests of bursts set
    their own). Returns its credential ``test.<secret>``."""
    from tradeflow.domain.alerting import NotificationSettings
    from tradeflow.domain.strategy import StrategyConfig

    stack.add_strategy("test", StrategyConfig(slippage_bps=Decimal(0), commission_bps=Decimal(0),
                                              stop_loss_pct=Decimal(5), take_profit_pct=Decimal(10),
                                              notifications=NotificationSettings(burst_hold_seconds=0)), SECRET)
    return f"test.{SECRET}"


def repo() -> Path:
    return Path(__file__).resolve().parents[1]
