"""``tradeflow dlq show`` and ``tradeflow dlq redrive`` on the local stack: a message
dead-lettered in one run is kept in TRADEFLOW_HOME, shown, and replayed exactly once (a
second redrive finds nothing and books nothing); ``--aws`` refuses in one line without a region."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from tradeflow import names
from tradeflow.adapters import db
from tradeflow.clock import ReplayClock
from tradeflow.domain.strategy import StrategyConfig
from tradeflow.local import cli
from tradeflow.local.stack import LocalStack

from tests.conftest import SECRET as TEST_SECRET
from tests.conftest import START as TEST_START


def _alert(at: datetime) -> str:
    return json.dumps({"ticker": "AAPL", "action": "buy", "quantity": 10, "price": "100", "time": at.isoformat()})


@pytest.fixture
def local_home(database_url, tmp_path, monkeypatch):
    for key in ("SIGNALS_QUEUE_URL", "TRADER_ALERTS_TOPIC_ARN", "SMS_PHONE_NUMBERS"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("TRADEFLOW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    return tmp_path / "home"


def test_tradeflow_dlq_redrive_replays_a_dead_lettered_message_once(local_home, database_url, monkeypatch, capsys):
    from tradeflow.pipeline import paper_executor

    clock = ReplayClock(TEST_START)
    with LocalStack(local_home, database_url, clock) as stack:
        # the redrive below runs on the wall clock, years after the replayed alert's price:
        # a price-age limit that still lets that price fill
        stack.add_strategy("test", StrategyConfig(slippage_bps=Decimal(0), commission_bps=Decimal(0),
                                                  max_price_age_seconds=10**10), TEST_SECRET)
        real = paper_executor.process

        def database_away(*args, **kwargs):
            raise db.psycopg.OperationalError("connection refused (the database stays away)")

        monkeypatch.setattr(paper_executor, "process", database_away)
        assert stack.post_webhook(_alert(TEST_START), token=f"test.{TEST_SECRET}")["statusCode"] == 202
        stack.drain()  # the local stack retries at once: ten receives, then the dead-letter queue
        assert stack.dead_letters()[names.dead_letter_queue(names.EXECUTIONS_QUEUE)] == 1
        monkeypatch.setattr(paper_executor, "process", real)
    assert json.loads((local_home / "dead-letters.json").read_text())[0]["source"] == names.EXECUTIONS_QUEUE

    assert cli.main(["dlq", "show"]) == 0
    shown = capsys.readouterr().out
    assert names.EXECUTIONS_QUEUE in shown and "1 dead-lettered message(s) in the local stack" in shown
    assert cli.main(["dlq", "redrive"]) == 0
    assert "replayed 1 message(s) in the local stack; 1 to tradeflow-executions.fifo" in capsys.readouterr().out
    assert cli.main(["dlq", "redrive"]) == 0
    assert "nothing to replay in the local stack" in capsys.readouterr().out
    assert not (local_home / "dead-letters.json").exists()
    with db.connect(database_url) as conn:
        fills = conn.execute("SELECT o.purpose, f.quantity FROM fills f JOIN orders o USING (order_id)").fetchall()
        assert fills == [{"purpose": "entry", "quantity": Decimal(10)}]


def test_dlq_aws_refuses_in_one_line_without_a_region(monkeypatch, capsys):
    for key in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(Path("/nonexistent")))
    assert cli.main(["dlq", "show", "--aws"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tradeflow dlq: no AWS region")
