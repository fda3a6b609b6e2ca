"""The market_data handler as Lambda runs it: moto S3 for the watchlist, providers and the
stop-monitor invoke replaced at their module edges."""

import importlib.util
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from tradeflow import clock, names
from tradeflow.adapters import aws
from tradeflow.domain.ports import Bar

from tests.conftest import repo

NOW = datetime(2024, 3, 1, 15, 30, 5, tzinfo=UTC)


@pytest.fixture
def handler(monkeypatch):
    from aws_lambda_powertools.utilities.parameters import clear_caches
    from moto import mock_aws
    from tradeflow.settings import env

    for key, value in {"AWS_DEFAULT_REGION": "us-east-1", "STATE_BUCKET": "state", "TICKS_PER_INVOCATION": "2",
                       "TICK_SECONDS": "0", "POWERTOOLS_METRICS_NAMESPACE": "tradeflow",
                       "POWERTOOLS_METRICS_DISABLED": "true"}.items():
        monkeypatch.setenv(key, value)
    aws.client.cache_clear()
    env.cache_clear()
    clear_caches()
    with mock_aws(), clock.use_clock(lambda: NOW):
        aws.client("s3").create_bucket(Bucket="state")
        spec = importlib.util.spec_from_file_location("market_data_handler", repo() / "functions" / "market_data" / "handler.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    aws.client.cache_clear()
    env.cache_clear()


class Context:
    function_name, memory_limit_in_mb, aws_request_id = "tradeflow-market_data", 256, "test"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:tradeflow-market_data"


def test_an_empty_or_missing_watchlist_calls_no_provider_and_invokes_nothing(handler, monkeypatch):
    calls = []
    monkeypatch.setattr(handler, "invoke_stop_monitor", lambda *a: calls.append(a))
    monkeypatch.setattr(handler.alpaca, "crypto_bars", lambda *a: calls.append(a))
    assert handler.handler({"source": "schedule"}, Context()) == {"bars": 0}
    aws.client("s3").put_object(Bucket="state", Key=names.WATCHLIST_KEY, Body=b'{"symbols": []}')
    assert handler.handler({"source": "schedule"}, Context()) == {"bars": 0}
    assert calls == []


def test_a_watched_crypto_pair_is_fetched_and_handed_to_the_stop_monitor_once(handler, monkeypatch):
    handed, fetched = [], []
    bar = Bar("BTC/USD", NOW - timedelta(seconds=65), NOW - timedelta(seconds=5), Decimal(1), Decimal(2),
              Decimal(1), Decimal(2), "alpaca_crypto")

    def crypto_bars(http, symbols, now):
        fetched.append(symbols)
        return {"BTC/USD": bar}

    monkeypatch.setattr(handler.alpaca, "crypto_bars", crypto_bars)
    monkeypatch.setattr(handler, "invoke_stop_monitor", lambda name, bars: handed.append((name, bars)))
    aws.client("s3").put_object(Bucket="state", Key=names.WATCHLIST_KEY, Body=json.dumps({"symbols": ["BTCUSD"]}))
    assert handler.handler({"source": "schedule"}, Context()) == {"bars": 1}  # two fetches, one new bar
    assert fetched == [["BTC/USD"], ["BTC/USD"]]
    ((name, bars),) = handed
    assert name == "tradeflow-stop_monitor" and [(b.symbol, b.source, b.close) for b in bars] == [
        ("BTCUSD", "alpaca_crypto", Decimal(2))]
