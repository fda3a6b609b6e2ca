"""The six functions: runtime, layer, VPC placement, environment contract and least privilege
(including the open-positions flag in the state bucket)."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Template
from tradeflow import names, settings
from tradeflow_cdk.paths import layer_builder

PYTHON_VERSION = layer_builder().PYTHON_VERSION

ENV_MODELS = {
    "webhook": settings.WebhookEnv,
    "signal_processor": settings.SignalProcessorEnv,
    "order_creator": settings.OrderCreatorEnv,
    "paper_executor": settings.PaperExecutorEnv,
    "stop_monitor": settings.StopMonitorEnv,
    "notifier": settings.NotifierEnv,
}
DATABASE_FUNCTIONS = [n for n in names.FUNCTIONS if n != "webhook"]


def functions(template: Template) -> dict[str, tuple[str, dict]]:
    """function name (without the app prefix) -> (logical id, properties)."""
    found = {}
    for logical_id, resource in template.find_resources("AWS::Lambda::Function").items():
        name = resource["Properties"].get("FunctionName", "")
        if name.startswith(f"{names.APP}-"):
            found[name.removeprefix(f"{names.APP}-")] = (logical_id, resource["Properties"])
    return found


def role_statements(resources: dict, role_logical_id: str) -> list[dict]:
    """Every statement granted to a role: its inline policies and the policies attached to it."""
    role = resources[role_logical_id]["Properties"]
    statements = [s for p in role.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
    for resource in resources.values():
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_logical_id} in resource["Properties"]["Roles"]:
            statements += resource["Properties"]["PolicyDocument"]["Statement"]
    return statements


def actions_of(statements: list[dict]) -> set[str]:
    out = set()
    for s in statements:
        out |= {s["Action"]} if isinstance(s["Action"], str) else set(s["Action"])
    return out


def queue_logical_id(resources: dict, queue_name: str) -> str:
    return next(k for k, v in resources.items() if v["Type"] == "AWS::SQS::Queue" and v["Properties"]["QueueName"] == queue_name)


def test_six_functions_arm64_on_the_layers_python_with_handler_and_tracing(template: Template) -> None:
    found = functions(template)
    assert set(names.FUNCTIONS) <= set(found)
    for name in names.FUNCTIONS:
        props = found[name][1]
        assert props["Runtime"] == f"python{PYTHON_VERSION}"
        assert props["Architectures"] == ["arm64"]
        assert props["Handler"] == "handler.handler"
        assert props["TracingConfig"] == {"Mode": "Active"}


def test_the_layer_is_attached_to_all_six_functions(template: Template) -> None:
    (layer_id,) = template.find_resources("AWS::Lambda::LayerVersion")
    layer = template.find_resources("AWS::Lambda::LayerVersion")[layer_id]["Properties"]
    assert layer["CompatibleArchitectures"] == ["arm64"] and layer["CompatibleRuntimes"] == [f"python{PYTHON_VERSION}"]
    for name in names.FUNCTIONS:
        assert functions(template)[name][1]["Layers"] == [{"Ref": layer_id}], name


def test_each_function_has_its_own_role(template: Template) -> None:
    roles = [functions(template)[n][1]["Role"]["Fn::GetAtt"][0] for n in names.FUNCTIONS]
    assert len(set(roles)) == len(roles)


@pytest.mark.parametrize("name", names.FUNCTIONS)
def test_environment_satisfies_the_functions_settings_model(template: Template, name: str) -> None:
    # Given the function's environment and the pydantic model it is parsed into at cold start
    env = functions(template)[name][1]["Environment"]["Variables"]
    model = ENV_MODELS[name]
    fields = {f.upper() for f in model.model_fields}
    # Then every required field is set, every variable is one the model (or powertools) reads
    required = {f.upper() for f, info in model.model_fields.items() if info.is_required()}
    assert required <= set(env), required - set(env)
    assert {k for k in env if not k.startswith(("POWERTOOLS_", "AWS_"))} <= fields  # AWS_*: read by the SDK
    assert env["POWERTOOLS_SERVICE_NAME"] == name
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == names.METRICS_NAMESPACE
    if name in DATABASE_FUNCTIONS:
        assert "DATABASE_SECRET_ARN" in env


def test_webhook_is_outside_the_vpc_and_never_touches_the_database(template: Template, resources: dict) -> None:
    _, webhook = functions(template)["webhook"]
    assert "VpcConfig" not in webhook
    assert "DATABASE_SECRET_ARN" not in webhook["Environment"]["Variables"]
    statements = role_statements(resources, webhook["Role"]["Fn::GetAtt"][0])
    assert not [a for a in actions_of(statements) if a.startswith(("secretsmanager:", "rds", "ec2:"))]
    assert not resources[webhook["Role"]["Fn::GetAtt"][0]]["Properties"].get("ManagedPolicyArns")


def test_webhook_may_only_send_to_signals_and_notifications_and_read_strategy_secrets(template: Template,
                                                                                      resources: dict) -> None:
    _, webhook = functions(template)["webhook"]
    statements = role_statements(resources, webhook["Role"]["Fn::GetAtt"][0])
    assert actions_of(statements) == {
        "logs:CreateLogStream", "logs:PutLogEvents",
        "xray:PutTraceSegments", "xray:PutTelemetryRecords",
        "sqs:SendMessage", "ssm:GetParameter", "kms:Decrypt",
        "lambda:InvokeFunction",  # TradingView bar alerts to the stop monitor (test_market_data.py)
    }
    sqs = [s for s in statements if any(a.startswith("sqs:") for a in actions_of([s]))]
    assert actions_of(sqs) == {"sqs:SendMessage"}
    granted = [r for s in sqs for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])]
    assert sorted(r["Fn::GetAtt"][0] for r in granted) == sorted(
        queue_logical_id(resources, q) for q in (names.SIGNALS_QUEUE, names.NOTIFICATIONS_QUEUE))
    (ssm,) = [s for s in statements if s["Action"] == "ssm:GetParameter"]
    assert {r["Fn::Join"][1][-1] for r in ssm["Resource"]} == {
        f":parameter{p.format(strategy='*')}"
        for p in (names.STRATEGY_SECRET_PARAMETER, names.STRATEGY_SETTINGS_PARAMETER)
    }
    (kms,) = [s for s in statements if s["Action"] == "kms:Decrypt"]
    assert "kms:ViaService" in kms["Condition"]["StringEquals"]


def test_database_functions_run_in_the_vpc_with_ipv6_egress(template: Template) -> None:
    for name in DATABASE_FUNCTIONS:
        vpc = functions(template)[name][1]["VpcConfig"]
        assert vpc["Ipv6AllowedForDualStack"] is True
        assert len(vpc["SubnetIds"]) == 2


@pytest.mark.parametrize("name", DATABASE_FUNCTIONS)
def test_database_functions_send_only_to_their_next_queues(template: Template, resources: dict, name: str) -> None:
    from tradeflow_cdk.functions import SENDS_TO

    _, props = functions(template)[name]
    statements = role_statements(resources, props["Role"]["Fn::GetAtt"][0])
    sends = [s for s in statements if "sqs:SendMessage" in actions_of([s])]
    targets = {r["Fn::GetAtt"][0] for s in sends for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])}
    assert targets == {queue_logical_id(resources, q) for q in SENDS_TO[name]}
    assert {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"} <= actions_of(statements)


def test_consumers_report_partial_batch_failures_with_bounded_concurrency(template: Template, resources: dict) -> None:
    mappings = template.find_resources("AWS::Lambda::EventSourceMapping")
    assert len(mappings) == len(names.QUEUE_CONSUMERS)
    found = functions(template)
    by_queue = {}
    for mapping in mappings.values():
        props = mapping["Properties"]
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert props["ScalingConfig"]["MaximumConcurrency"] == 2
        queue = resources[props["EventSourceArn"]["Fn::GetAtt"][0]]["Properties"]["QueueName"]
        by_queue[queue] = props["FunctionName"]["Ref"]
    for queue, consumer in names.QUEUE_CONSUMERS.items():
        assert by_queue[queue] == found[consumer][0]


def test_notifier_publishes_to_the_trader_alerts_urgent_and_chat_topics_only(template: Template,
                                                                           resources: dict) -> None:
    _, notifier = functions(template)["notifier"]
    statements = role_statements(resources, notifier["Role"]["Fn::GetAtt"][0])
    topic_id = next(k for k, v in resources.items() if v["Type"] == "AWS::SNS::Topic"
                    and v["Properties"]["TopicName"] == names.TRADER_ALERTS_TOPIC)
    (publish,) = [s for s in statements if s["Action"] == "sns:Publish"]
    urgent_id = next(k for k, v in resources.items() if v["Type"] == "AWS::SNS::Topic"
                     and v["Properties"]["TopicName"] == names.URGENT_TOPIC)
    chat_id = next(k for k, v in resources.items() if v["Type"] == "AWS::SNS::Topic"
                   and v["Properties"]["TopicName"] == names.CHAT_TOPIC)
    assert sorted(r["Ref"] for r in publish["Resource"]) == sorted([topic_id, urgent_id, chat_id])
    assert notifier["Environment"]["Variables"]["URGENT_TOPIC_ARN"] == {"Ref": urgent_id}
    assert notifier["Environment"]["Variables"]["CHAT_TOPIC_ARN"] == {"Ref": chat_id}


def test_no_reserved_concurrency_by_default(template: Template) -> None:
    for name in names.FUNCTIONS:
        assert "ReservedConcurrentExecutions" not in functions(template)[name][1]


def s3_grants(resources: dict, role_logical_id: str) -> set[tuple[str, str]]:
    """(action, resource as JSON) for every S3 action granted to a role."""
    grants = set()
    for s in role_statements(resources, role_logical_id):
        resources_ = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        for action in actions_of([s]):
            if action.startswith("s3:"):
                assert s["Effect"] == "Allow"
                grants |= {(action, json.dumps(r, sort_keys=True)) for r in resources_}
    return grants


def open_positions_arn(resources: dict) -> str:
    (bucket_id,) = [k for k, v in resources.items() if v["Type"] == "AWS::S3::Bucket"]
    arn = {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, f"/{names.OPEN_POSITIONS_KEY}"]]}
    return json.dumps(arn, sort_keys=True)


@pytest.mark.parametrize(
    ("name", "actions"),
    [("paper_executor", {"s3:PutObject"}), ("stop_monitor", {"s3:GetObject", "s3:PutObject"})],
)
def test_open_positions_flag_access_is_exactly_that_object(
    template: Template, resources: dict, name: str, actions: set[str]
) -> None:
    # Given the function that keeps (executor) or reads and keeps (stop monitor) the flag
    _, props = functions(template)[name]
    # Then its role holds exactly these S3 actions, on the one object and not the bucket
    # (and PutObject on the watchlist kept beside it: test_market_data.py)
    grants = s3_grants(resources, props["Role"]["Fn::GetAtt"][0])
    assert {g for g in grants if g[1] == open_positions_arn(resources)} == {(a, open_positions_arn(resources)) for a in actions}
    assert {g[1] for g in grants} - {open_positions_arn(resources)} == {open_positions_arn(resources).replace(
        names.OPEN_POSITIONS_KEY, names.WATCHLIST_KEY)}


def test_no_other_function_has_s3_access(template: Template, resources: dict) -> None:
    for name, (_, props) in functions(template).items():
        if name not in ("paper_executor", "stop_monitor", names.MARKET_DATA_FUNCTION):
            assert not s3_grants(resources, props["Role"]["Fn::GetAtt"][0]), name


@pytest.mark.parametrize("name", ["paper_executor", "stop_monitor"])
def test_flag_functions_are_told_the_state_bucket(template: Template, resources: dict, name: str) -> None:
    (bucket_id,) = [k for k, v in resources.items() if v["Type"] == "AWS::S3::Bucket"]
    env = functions(template)[name][1]["Environment"]["Variables"]
    assert env[names.STATE_BUCKET_ENV] == {"Ref": bucket_id}
    assert names.STATE_BUCKET_ENV == "STATE_BUCKET"


def test_webhook_has_no_state_bucket(template: Template) -> None:
    env = functions(template)["webhook"][1]["Environment"]["Variables"]
    assert names.STATE_BUCKET_ENV not in env
