"""The control API in the synthesized stack: its /api routes on the HTTP API, every route
answering 401 without the token (through the handler the function runs), a role that reads
and writes only what the control function needs, the stack output the CLI looks for."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
from test_functions import actions_of, queue_logical_id, role_statements
from test_least_privilege import functions_props
from tradeflow import names

REPO = Path(__file__).resolve().parents[2]


def test_the_api_routes_go_to_the_control_function_in_the_vpc(resources: dict) -> None:
    routes = {r["Properties"]["RouteKey"]: r["Properties"]["Target"]
              for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Route"}
    assert {"ANY /api", "ANY /api/{proxy+}"} <= set(routes)
    control = next(k for k, v in resources.items() if v["Type"] == "AWS::Lambda::Function"
                   and v["Properties"].get("FunctionName") == f"{names.APP}-control")
    for key in ("ANY /api", "ANY /api/{proxy+}"):
        integration = routes[key]["Fn::Join"][1][1]["Ref"]
        uri = json.dumps(resources[integration]["Properties"]["IntegrationUri"])
        assert control in uri, key
    props = resources[control]["Properties"]
    assert props["VpcConfig"]["SubnetIds"] and props["Timeout"] < 30
    assert props["Environment"]["Variables"]["API_TOKEN_PARAMETER"] == names.CONTROL_API_TOKEN_PARAMETER


def test_the_control_role_reads_its_secret_and_the_token_and_sends_only_notifications(resources: dict) -> None:
    props = functions_props(resources)["control"]
    statements = role_statements(resources, props["Role"]["Fn::GetAtt"][0])
    actions = actions_of(statements)
    assert not {a for a in actions if a.split(":")[0] in ("sns", "s3", "lambda", "dynamodb")}
    # SQS: only sending the guardian's notifications, only to the notifications queue
    sqs = [s for s in statements if any(a.startswith("sqs:") for a in actions_of([s]))]
    assert {a for a in actions_of(sqs)} == {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
    notifications = queue_logical_id(resources, names.NOTIFICATIONS_QUEUE)
    assert [s["Resource"] for s in sqs] == [{"Fn::GetAtt": [notifications, "Arn"]}]
    queue_env = names.QUEUE_URL_ENV[names.NOTIFICATIONS_QUEUE]
    assert props["Environment"]["Variables"][queue_env] == {"Ref": notifications}
    assert {a for a in actions if a.startswith("ssm:")} == {"ssm:GetParameter"}
    [ssm] = [s for s in statements if "ssm:GetParameter" in actions_of([s])]
    assert names.CONTROL_API_TOKEN_PARAMETER in json.dumps(ssm["Resource"])
    [kms] = [s for s in statements if "kms:Decrypt" in actions_of([s])]
    assert "ssm." in json.dumps(kms["Condition"]["StringEquals"]["kms:ViaService"])
    read = [s["Resource"] for s in statements if "secretsmanager:GetSecretValue" in actions_of([s])]
    assert read == [props["Environment"]["Variables"]["DATABASE_SECRET_ARN"]]


def test_the_stack_tells_the_cli_where_the_api_is(template) -> None:
    outputs = template.find_outputs("ControlApiUrl")
    assert outputs and "api" in json.dumps(outputs["ControlApiUrl"]["Value"])


@pytest.fixture
def control_handler(monkeypatch):
    """functions/control/handler.py as the Lambda runs it, SSM in moto holding a token."""
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("DATABASE_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:never-read")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    with mock_aws():
        import boto3
        from aws_lambda_powertools.utilities.parameters import clear_caches
        from tradeflow.settings import env

        env.cache_clear()
        clear_caches()
        boto3.client("ssm").put_parameter(Name=names.CONTROL_API_TOKEN_PARAMETER, Value="the-real-token",
                                          Type="SecureString")
        spec = importlib.util.spec_from_file_location("control_handler_infra", REPO / "functions/control/handler.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
        env.cache_clear()
        clear_caches()


def test_every_route_answers_401_without_the_token_through_the_handler(control_handler, monkeypatch) -> None:
    from tradeflow.local.serve import request_event
    from tradeflow.local.stack import LambdaContext

    monkeypatch.setattr(control_handler, "get_connection", lambda *a, **k: pytest.fail("the database was touched"))
    document = json.loads((REPO / "docs/control-openapi.json").read_text())
    checked = 0
    for path, operations in document["paths"].items():
        if path == "/api/dashboard":
            continue
        for method in operations:
            concrete = re.sub(r"\{[^}]+\}", "x", path)
            for headers in ({}, {"Authorization": "Bearer not-the-token"}, {"Authorization": "the-real-token"}):
                event = request_event(method.upper(), concrete, headers, b'{"why": "x"}', "203.0.113.9")
                answer = control_handler.handler(event, LambdaContext(function_name="tradeflow-control"))
                assert (answer["statusCode"], json.loads(answer["body"])) == (401, {"message": "Unauthorized"})
            checked += 1
    assert checked == sum(len(ops) for p, ops in document["paths"].items() if p != "/api/dashboard") >= 19
