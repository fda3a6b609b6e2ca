"""Context parsing: lists from cdk.json or -c strings, defaults, refusals."""

import pytest
from aws_cdk import App
from tradeflow_cdk.config import TRADINGVIEW_IPS, StackConfig


def config(**context: object) -> StackConfig:
    return StackConfig.from_context(App(context={f"tradeflow:{k}": v for k, v in context.items()}).node)


def test_defaults_allow_only_tradingview_and_keep_the_database_pausable() -> None:
    c = config()
    assert c.allowed_source_ips == TRADINGVIEW_IPS
    assert c.db_min_acu == 0 and c.deletion_protection and c.egress == "ipv6"
    assert not c.reserved_concurrency and not c.stop_monitor_24_7


def test_comma_separated_context_strings_become_lists() -> None:
    c = config(alert_emails="a@example.com, b@example.com", sms_numbers="+15555550100", allowed_source_ips="")
    assert c.alert_emails == ("a@example.com", "b@example.com")
    assert c.ops_emails == c.alert_emails
    assert c.sms_numbers == ("+15555550100",)
    assert c.allowed_source_ips == ()


def test_boolean_context_strings() -> None:
    assert config(stop_monitor_24_7="true", deletion_protection="false").stop_monitor_24_7
    assert not config(deletion_protection="false").deletion_protection


@pytest.mark.parametrize("bad", [{"egress": "nat"}, {"sms_numbers": "5551234"}, {"db_min_acu": 4, "db_max_acu": 2}])
def test_refuses_what_cannot_deploy(bad: dict) -> None:
    with pytest.raises(ValueError):
        config(**bad)
