"""Safe by default, over the synthesized template: no managed VPC policy, SMS through a topic
(no sns:Publish on *), no phone number or email in any environment, one database secret per
function's role, the scheduled functions' asynchronous retries off, deletion protection set last,
and deploy settings that survive a deploy without flags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from infra_support import Synth, synthesise
from test_functions import actions_of, role_statements
from tradeflow import names
from tradeflow_cdk.functions import ENI_ACTIONS

PHONE, EMAIL = "+15555550100", "trader@example.com"


def resources_of(resources: dict, kind: str) -> dict:
    return {k: v for k, v in resources.items() if v["Type"] == kind}


def test_no_role_has_a_managed_vpc_policy_and_vpc_roles_have_only_the_eni_actions(resources: dict) -> None:
    for logical_id, role in resources_of(resources, "AWS::IAM::Role").items():
        managed = json.dumps(role["Properties"].get("ManagedPolicyArns", []))
        assert "AWSLambdaVPCAccessExecutionRole" not in managed, logical_id
    for name in names.DATABASE_FUNCTIONS:
        role_id = functions_props(resources)[name]["Role"]["Fn::GetAtt"][0]
        statements = role_statements(resources, role_id)
        ec2 = {a for a in actions_of(statements) if a.startswith("ec2:")}
        assert ec2 == set(ENI_ACTIONS), name
        # logs only on its own log group: no logs:CreateLogGroup, no logs:* on "*"
        logs = [s for s in statements if any(a.startswith("logs:") for a in actions_of([s]))]
        assert actions_of(logs) == {"logs:CreateLogStream", "logs:PutLogEvents"} and all(s["Resource"] != "*" for s in logs)


def functions_props(resources: dict) -> dict:
    return {p["Properties"]["FunctionName"].removeprefix(f"{names.APP}-"): p["Properties"]
            for p in resources_of(resources, "AWS::Lambda::Function").values()
            if str(p["Properties"].get("FunctionName", "")).startswith(f"{names.APP}-")}


def test_no_sns_publish_on_any_resource_and_phones_subscribe_to_the_urgent_topic(resources: dict) -> None:
    for policy in [*resources_of(resources, "AWS::IAM::Policy").values(), *resources_of(resources, "AWS::IAM::Role").values()]:
        props = policy["Properties"]
        documents = [props["PolicyDocument"]] if "PolicyDocument" in props else [p["PolicyDocument"] for p in props.get("Policies", [])]
        for statement in (s for d in documents for s in d["Statement"]):
            if any(a.startswith("sns:") for a in actions_of([statement])):
                assert statement["Resource"] != "*" and "*" not in json.dumps(statement["Resource"])
    urgent_id = next(k for k, v in resources_of(resources, "AWS::SNS::Topic").items()
                     if v["Properties"]["TopicName"] == names.URGENT_TOPIC)
    sms = [s["Properties"] for s in resources_of(resources, "AWS::SNS::Subscription").values()
           if s["Properties"]["Protocol"] == "sms"]
    assert sms == [{"Protocol": "sms", "Endpoint": PHONE, "TopicArn": {"Ref": urgent_id}}]


def test_no_phone_number_or_email_in_any_environment(resources: dict) -> None:
    for name, props in functions_props(resources).items():
        env = json.dumps(props.get("Environment", {}))
        assert PHONE not in env and EMAIL not in env and "@" not in env, name


def test_each_database_function_reads_only_its_own_role_secret(resources: dict) -> None:
    found = functions_props(resources)
    secrets = {}
    for name in names.DATABASE_FUNCTIONS:
        arn = found[name]["Environment"]["Variables"]["DATABASE_SECRET_ARN"]
        secrets[name] = arn["Ref"]
        statements = role_statements(resources, found[name]["Role"]["Fn::GetAtt"][0])
        read = [s for s in statements if "secretsmanager:GetSecretValue" in actions_of([s])]
        assert [s["Resource"] for s in read] == [arn], name
    assert len(set(secrets.values())) == len(secrets)  # one secret per function
    attachments = resources_of(resources, "AWS::SecretsManager::SecretTargetAttachment")
    by_attachment = {k: v["Properties"]["SecretId"]["Ref"] for k, v in attachments.items()}
    for name, attachment_id in secrets.items():
        secret_id = by_attachment[attachment_id]
        template = json.dumps(resources[secret_id]["Properties"]["GenerateSecretString"]["SecretStringTemplate"])
        assert f'\\"username\\":\\"{names.DATABASE_ROLE.format(function=name)}\\"' in template, template
    # the master secret is read by the migrator alone
    migrator = found["migrator"]
    master = migrator["Environment"]["Variables"]["DATABASE_SECRET_ARN"]

    def reads(props: dict) -> list:
        return [r for s in role_statements(resources, props["Role"]["Fn::GetAtt"][0])
                if "secretsmanager:GetSecretValue" in actions_of([s])
                for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])]

    assert [n for n, p in found.items() if master in reads(p)] == ["migrator"]
    assert sorted(map(json.dumps, reads(migrator))) == sorted(map(json.dumps, [master, *({"Ref": v} for v in secrets.values())]))


def test_scheduled_functions_never_retry_and_drop_events_older_than_a_minute(resources: dict) -> None:
    configs = {c["Properties"]["FunctionName"]["Ref"]: c["Properties"]
               for c in resources_of(resources, "AWS::Lambda::EventInvokeConfig").values()}
    ids = {p["Properties"]["FunctionName"].removeprefix(f"{names.APP}-"): k
           for k, p in resources_of(resources, "AWS::Lambda::Function").items()
           if str(p["Properties"].get("FunctionName", "")).startswith(f"{names.APP}-")}
    for name in ("stop_monitor", "notifier"):
        config = configs[ids[name]]
        assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (0, 60), name


def test_deletion_protection_is_switched_on_last(resources: dict) -> None:
    (cluster_id, cluster) = next(iter(resources_of(resources, "AWS::RDS::DBCluster").items()))
    assert cluster["Properties"]["DeletionProtection"] is False  # a failed first deploy can roll back
    (protect_id, protect) = next(iter(resources_of(resources, "Custom::AWS").items()))
    call = json.dumps(protect["Properties"]["Create"])
    assert "modifyDBCluster" in call and '\\"DeletionProtection\\":true' in call and cluster_id in call
    assert protect["Properties"]["Update"] == protect["Properties"]["Create"]
    assert "Delete" not in protect["Properties"]
    depends = set(protect.get("DependsOn", []))
    must_precede = {k for k, v in resources.items() if v["Type"] in (
        "Custom::TradeflowMigrations", "AWS::Lambda::Function", "AWS::Scheduler::Schedule",
        "AWS::ApiGatewayV2::Stage", "AWS::CloudWatch::Alarm", "AWS::RDS::DBInstance")
        and not k.startswith("AWS679f53fac002430cb0da5b7982bd2287")}
    assert must_precede <= depends, must_precede - depends


def test_a_deploy_without_flags_keeps_the_subscriptions_of_the_last_one(synth: Synth, tmp_path: Path,
                                                                       stub_layer: Path) -> None:
    # Given the last deploy, with the recipients as -c flags (conftest's synth), saved to its settings file
    first, settings = synth, synth.outdir / "tradeflow.deploy.json"
    assert json.loads(settings.read_text()) == {"alert_emails": [EMAIL], "sms_numbers": [PHONE]}
    # When the next deploy has no flag at all
    second = synthesise(tmp_path, stub_layer, settings_file=str(settings))

    # Then it has the same subscriptions (and the same template)
    def subscriptions(synth: Synth) -> list[tuple[str, str]]:
        return sorted((s["Properties"]["Protocol"], s["Properties"]["Endpoint"])
                      for s in resources_of(synth.resources, "AWS::SNS::Subscription").values()
                      if s["Properties"]["Protocol"] != "lambda")  # the chat sender (test_chat.py)

    expected = [("email", EMAIL), ("email", EMAIL), ("sms", PHONE)]  # the email: trader alerts and operations
    assert subscriptions(first) == subscriptions(second) == expected
    assert first.resources == second.resources
    assert second.validation_error is None, second.validation_error


@pytest.mark.parametrize("name", names.DATABASE_FUNCTIONS)
def test_database_functions_connect_with_tls_verifying_the_server(name: str) -> None:
    from tradeflow.adapters.db import RDS_CA_BUNDLE, conninfo_from_secret

    url = conninfo_from_secret({"username": names.DATABASE_ROLE.format(function=name), "password": "p@ss/word",
                                "host": "db.cluster-abc.us-east-1.rds.amazonaws.com", "port": 5432,
                                "dbname": "tradeflow"})
    assert "sslmode=verify-full" in url and f"sslrootcert={RDS_CA_BUNDLE}" in url


def test_vpc_functions_use_dual_stack_endpoints_and_the_stop_monitor_the_nyse_calendar(resources: dict) -> None:
    found = functions_props(resources)
    for name in (*names.DATABASE_FUNCTIONS, "migrator"):
        assert found[name]["Environment"]["Variables"]["AWS_USE_DUALSTACK_ENDPOINT"] == "true", name
    assert "AWS_USE_DUALSTACK_ENDPOINT" not in found["webhook"]["Environment"]["Variables"]  # outside the VPC
    assert found["stop_monitor"]["Environment"]["Variables"]["MARKET_CALENDAR"] == "NYSE"


def test_with_endpoints_and_around_the_clock_neither(alternative: Synth) -> None:
    found = functions_props(alternative.resources)
    assert not [n for n, p in found.items() if "AWS_USE_DUALSTACK_ENDPOINT" in p["Environment"]["Variables"]]
    assert "MARKET_CALENDAR" not in found["stop_monitor"]["Environment"]["Variables"]
