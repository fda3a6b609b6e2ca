"""Deploy settings: the settings file, -c flags that override it and are saved into it,
defaults and refusals."""

import json
from pathlib import Path

import pytest
from aws_cdk import App
from tradeflow_cdk.config import TRADINGVIEW_IPS, StackConfig


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    return tmp_path / "tradeflow.deploy.json"


def config(settings_file: Path, **context: object) -> StackConfig:
    app = App(context={"tradeflow:settings_file": str(settings_file)} | {f"tradeflow:{k}": v for k, v in context.items()})
    return StackConfig.from_context(app.node)


def test_defaults_allow_only_tradingview_and_keep_the_database_pausable(settings_file) -> None:
    c = config(settings_file)
    assert c.allowed_source_ips == TRADINGVIEW_IPS
    assert c.db_min_acu == 0 and c.deletion_protection and c.egress == "ipv6"
    assert not c.reserved_concurrency and not c.stop_monitor_24_7
    assert not settings_file.exists()  # nothing given, nothing written


def test_comma_separated_context_strings_become_lists(settings_file) -> None:
    c = config(settings_file, alert_emails="a@example.com, b@example.com", sms_numbers="+15555550100",
               allowed_source_ips="")
    assert c.alert_emails == ("a@example.com", "b@example.com")
    assert c.ops_emails == c.alert_emails
    assert c.sms_numbers == ("+15555550100",)
    assert c.allowed_source_ips == ()


def test_boolean_context_strings(settings_file) -> None:
    assert config(settings_file, stop_monitor_24_7="true", deletion_protection="false").stop_monitor_24_7
    assert not config(settings_file, deletion_protection="false").deletion_protection


def test_a_flag_is_saved_and_a_later_run_without_flags_keeps_it(settings_file) -> None:
    config(settings_file, alert_emails="a@example.com", sms_numbers="+15555550100")
    assert json.loads(settings_file.read_text()) == {"alert_emails": ["a@example.com"], "sms_numbers": ["+15555550100"]}
    again = config(settings_file)
    assert (again.alert_emails, again.sms_numbers) == (("a@example.com",), ("+15555550100",))
    # a flag overrides the file for its key only
    third = config(settings_file, alert_emails="b@example.com")
    assert (third.alert_emails, third.sms_numbers) == (("b@example.com",), ("+15555550100",))


def test_the_file_written_by_hand_is_read(settings_file) -> None:
    settings_file.write_text(json.dumps({"egress": "endpoints", "db_max_acu": 4, "ops_emails": "ops@example.com"}))
    c = config(settings_file)
    assert (c.egress, c.db_max_acu, c.ops_emails) == ("endpoints", 4, ("ops@example.com",))


@pytest.mark.parametrize("bad", [{"egress": "nat"}, {"sms_numbers": "5551234"}, {"db_min_acu": 4, "db_max_acu": 2},
                                 {"alert_emails": "not-an-email"}, {"deletion_protection": "maybe"}])
def test_refuses_what_cannot_deploy(settings_file, bad: dict) -> None:
    with pytest.raises(ValueError):
        config(settings_file, **bad)


def test_a_malformed_file_is_refused_with_the_fix(settings_file) -> None:
    settings_file.write_text("{not json")
    with pytest.raises(ValueError, match="tradeflow configure"):
        config(settings_file)
    settings_file.write_text(json.dumps({"alert_email": "a@example.com"}))
    with pytest.raises(ValueError, match="unknown setting 'alert_email'"):
        config(settings_file)
