"""The fault suite's shared stack and its figures, printed at the end of the pytest run."""

from __future__ import annotations

import itertools
import os
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from tradeflow.adapters import db
from tradeflow.clock import ReplayClock

from tests.conftest import _with_database, migrated_copy
from tests.faults.harness import SECRET, START, FaultyStack, patched

#: Totals over every fault schedule run in this session (see test_fault_schedules).
FIGURES: Counter[str] = Counter()
_numbers = itertools.count()


def pytest_configure(config):
    config.addinivalue_line("filterwarnings", "ignore:No application metrics to publish")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not FIGURES:
        return
    f = FIGURES
    terminalreporter.section("fault schedules")
    if f["schedules"]:
        terminalreporter.write_line(
            f"schedules run {f['schedules']}, alerts accepted {f['accepted']} (never accepted after retries "
            f"{f['unaccepted']}), lost {f['lost']}, fills doubled {f['doubled']}, stuck {f['stuck']}, "
            f"symbols blocked {f['blocked']}, notifications sent twice {f['sent_twice']} (marked possible repeats "
            f"{f['marked_repeats']}), notifications lost {f['notifications_lost']}, ledgers differing "
            f"{f['ledger_differs']}, valid messages set aside {f['rejected_valid']}, poison set aside "
            f"{f['poison_set_aside']}, entries filled after the kill switch {f['killed_fills']}")
    if f["webhook_requests"]:
        terminalreporter.write_line(f"webhook: {f['webhook_requests']} generated requests, {f['webhook_5xx']} answered 5xx")


@pytest.fixture(scope="module")
def fault_stack(pg_server_url, template_db):
    """One FaultyStack per module, on a replay clock, with the crash and outage hooks in (its
    wire answers every boto3 client's SQS and SNS calls while it runs, so no other local stack
    may run beside it)."""
    name = f"tf_fault_base_{os.getpid()}_{next(_numbers)}"
    with db.connect(pg_server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    clock = ReplayClock(START)
    os.environ["ALERT_BURST"] = "0"  # the same alert posted again (a retry) must not be throttled
    try:
        with tempfile.TemporaryDirectory() as home, \
                FaultyStack(Path(home), _with_database(pg_server_url, name), clock) as stack, patched(stack):
            yield stack, clock
    finally:
        os.environ.pop("ALERT_BURST", None)
        os.environ.pop("DATABASE_URL", None)
        db.close_connection()
        with db.connect(pg_server_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def books_url(pg_server_url, template_db):
    """The database every run uses, emptied at the start of each run (harness.empty_books)."""
    with migrated_copy(pg_server_url, template_db, "tf_fault_books") as url:
        yield url


def register(stack: FaultyStack, strategy_id: str, config=None) -> None:
    """The strategy's secret in SSM, and its settings when given (without, the webhook sends
    none and the database row each run writes is the strategy's settings)."""
    from tradeflow.adapters.aws import client
    from tradeflow.adapters.parameters import put_strategy
    from tradeflow.names import STRATEGY_SECRET_PARAMETER

    if config is not None:
        put_strategy(strategy_id, SECRET, config.model_dump_json())
    else:
        client("ssm").put_parameter(Name=STRATEGY_SECRET_PARAMETER.format(strategy=strategy_id), Value=SECRET,
                                    Type="SecureString", Overwrite=True)
