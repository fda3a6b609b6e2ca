"""EventBridge Scheduler: both schedules in America/New_York, invoking their Lambdas directly."""

from aws_cdk.assertions import Template
from tradeflow import names


def _schedules(template: Template) -> dict[str, dict]:
    return {s["Properties"]["Name"]: s["Properties"] for s in template.find_resources("AWS::Scheduler::Schedule").values()}


def test_every_schedule_carries_the_market_time_zone(template: Template) -> None:
    schedules = _schedules(template)
    assert len(schedules) == 3  # with the market-data fetch (test_market_data.py)
    for schedule in schedules.values():
        assert schedule["ScheduleExpressionTimezone"] == names.MARKET_TIME_ZONE == "America/New_York"


def test_stop_monitor_runs_every_minute_of_the_session(template: Template, resources: dict) -> None:
    schedule = _schedules(template)["tradeflow-stop-monitor"]
    assert schedule["ScheduleExpression"] == names.STOP_MONITOR_SCHEDULE
    assert schedule["Target"]["Input"] == '{"source":"schedule"}'
    assert schedule["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 0
    target = resources[schedule["Target"]["Arn"]["Fn::GetAtt"][0]]
    assert target["Properties"]["FunctionName"] == "tradeflow-stop_monitor"


def test_daily_summary_invokes_the_notifier_at_1630(template: Template, resources: dict) -> None:
    schedule = _schedules(template)["tradeflow-daily-summary"]
    assert schedule["ScheduleExpression"] == names.DAILY_SUMMARY_SCHEDULE
    assert schedule["Target"]["Input"] == '{"summary":"daily"}'
    target = resources[schedule["Target"]["Arn"]["Fn::GetAtt"][0]]
    assert target["Properties"]["FunctionName"] == "tradeflow-notifier"
