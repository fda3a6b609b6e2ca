"""cdk-nag's AwsSolutions pack runs at synth; an unacknowledged finding fails the synth."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match
from infra_support import Synth
from tradeflow_cdk import nag


def test_default_profile_has_no_unacknowledged_finding(synth: Synth) -> None:
    assert synth.validation_error is None, synth.validation_error


def test_an_unacknowledged_finding_fails_the_synth(tmp_path: Path) -> None:
    # Given an app with the same checks and a queue with no DLQ and no TLS enforcement
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Bad")
    sqs.Queue(stack, "Queue")
    nag.add_checks(app)
    # When it is synthesised, Then the synth fails naming the rule
    with pytest.raises(Exception, match="AwsSolutions-SQS3"):
        app.synth()


def test_an_acknowledgment_needs_a_reason() -> None:
    app = App()
    with pytest.raises(ValueError):
        nag.acknowledge(Stack(app, "S"), "AwsSolutions-SQS3", "because")


def test_alternative_profile_is_also_clean_and_wired(alternative: Synth) -> None:
    assert alternative.validation_error is None, alternative.validation_error
    template = alternative.template
    endpoints = [e["Properties"]["VpcEndpointType"] for e in template.find_resources("AWS::EC2::VPCEndpoint").values()]
    assert sorted(endpoints) == ["Gateway", "Interface", "Interface", "Interface"]  # S3 gateway in both profiles
    template.resource_count_is("AWS::EC2::Route", 0)
    template.resource_count_is("AWS::EC2::NatGateway", 0)
    template.has_resource_properties(
        "AWS::Lambda::Function", {"FunctionName": "tradeflow-stop_monitor", "ReservedConcurrentExecutions": 1}
    )
    template.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {"Name": "tradeflow-stop-monitor", "ScheduleExpression": "rate(1 minute)",
         "ScheduleExpressionTimezone": "America/New_York"},
    )
    # Without phone numbers the notifier gets no wildcard publish permission.
    for policy in template.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if "sns:Publish" in statement["Action"]:
                assert statement["Resource"] != "*"
    # No IPv6 egress: only HTTPS over IPv4 (S3 gateway endpoint), and the endpoints and the
    # database through their security groups (separate rules).
    template.has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {"GroupDescription": "tradeflow functions that use the database",
         "SecurityGroupEgress": [Match.object_like({"CidrIp": "0.0.0.0/0", "FromPort": 443, "ToPort": 443})]},
    )
