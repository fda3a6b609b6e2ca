"""tradeflow market-data and strategy add --aws with the bar fill model, against moto's SSM."""

import json

import pytest
from tradeflow import names
from tradeflow.adapters import aws


@pytest.fixture
def ssm(monkeypatch):
    from aws_lambda_powertools.utilities.parameters import clear_caches
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    aws.client.cache_clear()
    clear_caches()
    with mock_aws():
        yield aws.client("ssm")
    aws.client.cache_clear()
    clear_caches()


def run(*argv: str) -> int:
    from tradeflow.local.cli import main

    return main(list(argv))


def test_set_keys_stores_one_securestring_read_back_by_the_fetcher(ssm, monkeypatch):
    from tradeflow.adapters.market_data import keys

    monkeypatch.setenv("ALPACA_API_SECRET_KEY", "the-secret-key")
    assert run("market-data", "set-keys", "--aws", "--key-id", "AKID123") == 0
    stored = ssm.get_parameter(Name=names.MARKET_DATA_KEYS_PARAMETER)["Parameter"]
    assert stored["Type"] == "SecureString"
    assert keys.alpaca_keys(fresh=True) == ("AKID123", "the-secret-key")


def test_settings_merge_and_a_bad_value_is_one_line(ssm, capsys):
    from tradeflow.adapters.market_data import keys

    assert run("market-data", "settings", "--aws", "--tradingview", "nq1!,BTCUSDT.P", "--max-price-age", "600") == 0
    assert run("market-data", "settings", "--aws", "--json", '{"symbols": {"BTCUSDT.P": {"coinbase": "BTC-USDT"}}}') == 0
    settings = keys.settings(fresh=True)
    assert (settings.tradingview, settings.max_price_age_seconds, settings.symbols) == (
        ("NQ1!", "BTCUSDT.P"), 600, {"BTCUSDT.P": {"coinbase": "BTC-USDT"}})
    capsys.readouterr()
    assert run("market-data", "settings", "--aws", "--json", '{"sources": {"crypto": ["binance"]}}') == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad market-data settings: sources.crypto" in err


def test_market_data_without_aws_says_so_in_one_line(capsys):
    assert run("market-data", "settings") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "add --aws" in err


def test_the_bar_fill_model_is_accepted_in_aws_once_a_bar_source_is_configured(ssm, monkeypatch, capsys):
    from tradeflow.adapters.parameters import strategy_settings

    add = ("strategy", "add", "bars", "--secret", "abcdefghijklmnop", "--aws", "--settings", '{"fill_model": "bar"}')
    assert run(*add) == 2 and strategy_settings("bars") is None
    monkeypatch.setenv("ALPACA_API_SECRET_KEY", "the-secret-key")
    assert run("market-data", "set-keys", "--aws", "--key-id", "AKID123") == 0
    assert run(*add) == 0
    assert json.loads(strategy_settings("bars"))["fill_model"] == "bar"
    out = capsys.readouterr().out
    assert "alert.freq_once_per_bar_close" in out and '"action": "bar"' in out
