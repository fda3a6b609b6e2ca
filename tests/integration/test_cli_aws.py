"""The CLI against AWS: a missing region or missing credentials, a missing stack, and any
non-2xx answer are one line and exit 2, never a success; with the stack's output pointing at a
real control server (the local stack's, with its token in SSM), the verbs print what the API
answered. CloudFormation and SSM are moto's."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from tradeflow.local import cli, remote
from tradeflow.local.serve import ControlServer

from tests.integration.test_pipeline import alert


def run(capsys, *argv: str) -> tuple[int, str, str]:
    remote.api_url.cache_clear()
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_no_region_is_one_line(capsys, monkeypatch):
    for key in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(key, raising=False)
    for argv in (["status", "--aws"], ["strategy", "pause", "x", "--aws"], ["kill-switch", "on", "--aws"],
                 ["positions", "--aws"], ["api-token", "--aws"],
                 ["strategy", "add", "abc", "--aws", "--settings", '{"fill_model": "quote"}']):
        code, out, err = run(capsys, *argv)
        assert code == 2 and out == "" and "no AWS region: set AWS_REGION" in one_line(err), argv


def test_no_credentials_is_one_line(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, out, err = run(capsys, "status", "--aws")
    assert code == 2 and out == "" and "no AWS credentials" in one_line(err)


def test_local_only_verbs_refuse_aws_in_one_line(capsys):
    for verb in cli.LOCAL_ONLY:
        code, out, err = run(capsys, verb, "--aws")
        assert code == 2 and out == "" and one_line(err).startswith(f"tradeflow {verb}: --aws refused"), verb


def test_a_missing_stack_is_one_line(capsys, monkeypatch):
    from moto import mock_aws

    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        code, out, err = run(capsys, "status", "--aws")
    assert code == 2 and out == "" and "reading the CloudFormation stack 'tradeflow'" in one_line(err)


@pytest.fixture
def deployed(stack, strategy, monkeypatch):
    """The local control server, published as the stack ``tradeflow``'s ControlApiUrl output
    (CloudFormation is moto's: the local stack answers only what its functions call)."""
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_REGION", "us-east-1")
    stack.post_webhook(alert(quantity="10"), token=strategy)
    stack.drain()
    with ControlServer(stack, port=0) as server, mock_aws():
        template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
                    "Outputs": {"ControlApiUrl": {"Value": server.url.rstrip("/")}}}
        boto3.client("cloudformation", region_name="us-east-1").create_stack(
            StackName="tradeflow", TemplateBody=json.dumps(template))
        yield server


def test_reads_through_the_deployed_api_print_what_it_answered(deployed, capsys):
    code, out, err = run(capsys, "status", "--aws", "--json")
    assert code == 0 and err == ""
    status = json.loads(out)
    assert Decimal(status["cash"]) == Decimal(100000) - 10 * 100 and status["open_positions"] == 1
    code, out, _ = run(capsys, "positions", "--aws", "--json")
    [position] = json.loads(out)
    assert (position["symbol"], position["quantity"], position["stop_loss"]) == ("AAPL", "10", "95.00")
    code, out, _ = run(capsys, "trades", "--aws", "--symbol", "AAPL")
    assert code == 0 and out.strip() == "(none)"
    code, out, _ = run(capsys, "settings", "test", "--aws")
    assert code == 0 and json.loads(out)["strategy_id"] == "test"


def test_no_verb_prints_success_without_a_2xx(deployed, capsys, monkeypatch):
    code, out, err = run(capsys, "flatten", "--aws", "--reason", "r")  # no --confirm: the API says 400
    assert code == 2 and out == "" and "answered 400" in one_line(err) and "FLATTEN" in err
    code, out, err = run(capsys, "settings", "nope", "--aws")
    assert code == 2 and out == "" and "answered 404: no strategy 'nope'" in one_line(err)
    monkeypatch.setattr(remote, "aws_token", lambda: "a-stale-token")
    for argv in (["strategy", "pause", "test", "--aws"], ["kill-switch", "on", "--aws"],
                 ["risk", "reset", "daily_loss", "--reason", "r", "--aws"]):
        code, out, err = run(capsys, *argv)
        assert code == 2 and out == "" and "answered 401" in one_line(err), argv
