"""The market_data construct: outside the VPC, least privilege, its schedule, cdk-nag clean."""

import json

from aws_cdk.assertions import Template
from infra_support import synthesise
from test_functions import PYTHON_VERSION, actions_of, functions, open_positions_arn, role_statements, s3_grants
from tradeflow import names
from tradeflow.settings import MarketDataEnv


def market_data(template: Template) -> dict:
    return functions(template)[names.MARKET_DATA_FUNCTION][1]


def arn_of(resources: dict, name: str) -> dict:
    return {"Fn::GetAtt": [functions(Template.from_json({"Resources": resources}))[name][0], "Arn"]}


def resource_list(statement: dict) -> list:
    return statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]


def test_the_fetcher_runs_outside_the_vpc_without_the_database(template: Template) -> None:
    props = market_data(template)
    assert "VpcConfig" not in props
    env = props["Environment"]["Variables"]
    assert "DATABASE_SECRET_ARN" not in env and "DATABASE_URL" not in env
    assert {k for k in env if not k.startswith("POWERTOOLS_")} <= {f.upper() for f in MarketDataEnv.model_fields}
    assert (props["Architectures"], props["Runtime"]) == (["arm64"], f"python{PYTHON_VERSION}")


def test_its_role_holds_only_the_watchlist_its_parameters_and_the_stop_monitor(template: Template,
                                                                               resources: dict) -> None:
    props = market_data(template)
    role = props["Role"]["Fn::GetAtt"][0]
    statements = role_statements(resources, role)
    assert actions_of(statements) == {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments",
                                      "xray:PutTelemetryRecords", "s3:GetObject", "ssm:GetParameter", "kms:Decrypt",
                                      "lambda:InvokeFunction"}
    watchlist = open_positions_arn(resources).replace(names.OPEN_POSITIONS_KEY, names.WATCHLIST_KEY)
    assert s3_grants(resources, role) == {("s3:GetObject", watchlist)}
    (ssm,) = [s for s in statements if s["Action"] == "ssm:GetParameter"]
    assert {r["Fn::Join"][1][-1] for r in ssm["Resource"]} == {
        f":parameter{names.MARKET_DATA_KEYS_PARAMETER}", f":parameter{names.MARKET_DATA_SETTINGS_PARAMETER}"}
    (invoke,) = [s for s in statements if s["Action"] == "lambda:InvokeFunction"]
    assert resource_list(invoke) == [arn_of(resources, "stop_monitor")]
    assert not resources[role]["Properties"].get("ManagedPolicyArns")


def test_the_webhook_may_invoke_the_stop_monitor_and_nothing_else_new(template: Template, resources: dict) -> None:
    _, webhook = functions(template)["webhook"]
    statements = role_statements(resources, webhook["Role"]["Fn::GetAtt"][0])
    (invoke,) = [s for s in statements if s["Action"] == "lambda:InvokeFunction"]
    assert resource_list(invoke) == [arn_of(resources, "stop_monitor")]
    assert webhook["Environment"]["Variables"]["STOP_MONITOR_FUNCTION"] == {
        "Ref": functions(template)["stop_monitor"][0]}


def test_the_watchlist_writers_and_the_endpoint_admit_that_one_object(template: Template, resources: dict) -> None:
    watchlist = open_positions_arn(resources).replace(names.OPEN_POSITIONS_KEY, names.WATCHLIST_KEY)
    for name in ("paper_executor", "stop_monitor"):
        grants = s3_grants(resources, functions(template)[name][1]["Role"]["Fn::GetAtt"][0])
        assert ("s3:PutObject", watchlist) in grants
    (endpoint,) = template.find_resources("AWS::EC2::VPCEndpoint").values()
    (statement,) = [s for s in endpoint["Properties"]["PolicyDocument"]["Statement"] if s["Sid"] == "WatchlistOnly"]
    assert (statement["Action"], json.dumps(statement["Resource"], sort_keys=True)) == ("s3:PutObject", watchlist)


def test_it_runs_every_minute_of_the_session_in_new_york(template: Template, resources: dict) -> None:
    schedules = {s["Properties"]["Name"]: s["Properties"]
                 for s in template.find_resources("AWS::Scheduler::Schedule").values()}
    schedule = schedules["tradeflow-market-data"]
    assert (schedule["ScheduleExpression"], schedule["ScheduleExpressionTimezone"]) == (
        names.MARKET_DATA_SCHEDULE, "America/New_York")
    assert schedule["Target"]["Arn"] == arn_of(resources, names.MARKET_DATA_FUNCTION)
    assert schedule["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 0


def test_the_24_7_option_runs_it_around_the_clock_and_cdk_nag_stays_clean(tmp_path, stub_layer, synth) -> None:
    assert synth.validation_error is None  # the default profile
    around = synthesise(tmp_path, stub_layer, stop_monitor_24_7=True)
    assert around.validation_error is None
    schedules = {s["Properties"]["Name"]: s["Properties"]
                 for s in around.template.find_resources("AWS::Scheduler::Schedule").values()}
    assert schedules["tradeflow-market-data"]["ScheduleExpression"] == names.MARKET_DATA_SCHEDULE_24_7 == "rate(1 minute)"
