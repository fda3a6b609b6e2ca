"""`tradeflow configure`: writes the deploy settings file that the CDK app reads; bad input is one line."""

import json

import pytest
from tradeflow.local import deploy_settings
from tradeflow.local.cli import main


def test_configure_writes_validated_settings_and_keeps_the_others(tmp_path, capsys):
    path = tmp_path / "tradeflow.deploy.json"
    assert main(["configure", "--file", str(path), "alert_emails=a@example.com, b@example.com",
                 "sms_numbers=+15551234567"]) == 0
    assert main(["configure", "--file", str(path), "db_max_acu=4", "deletion_protection=false"]) == 0
    assert json.loads(path.read_text()) == {"alert_emails": ["a@example.com", "b@example.com"], "db_max_acu": 4.0,
                                            "deletion_protection": False, "sms_numbers": ["+15551234567"]}
    assert main(["configure", "--file", str(path), "--unset", "sms_numbers"]) == 0
    assert "sms_numbers" not in deploy_settings.load(path)
    assert "saved" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "message"), [
    (["sms_numbers=5551234"], "sms_numbers: '5551234' is not an E.164 phone number"),
    (["alert_emails=nobody"], "alert_emails: 'nobody' is not an email address"),
    (["egress=nat"], "egress: expected one of ipv6, endpoints"),
    (["colour=blue"], "unknown setting 'colour'"),
    (["alert_emails"], "expected key=value"),
    (["--unset", "colour"], "unknown setting 'colour'"),
])
def test_bad_settings_are_refused_in_one_line_and_nothing_is_written(tmp_path, capsys, args, message):
    path = tmp_path / "tradeflow.deploy.json"
    assert main(["configure", "--file", str(path), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not path.exists()


def test_without_arguments_it_shows_the_settings(tmp_path, capsys):
    path = tmp_path / "tradeflow.deploy.json"
    assert main(["configure", "--file", str(path)]) == 0
    assert "defaults" in capsys.readouterr().out
    assert not path.exists()
