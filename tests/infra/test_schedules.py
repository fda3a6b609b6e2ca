"""EventBridge Scheduler: both schedules in America/New_York, invoking their Lambdas directly."""

from aws_cdk.assertions import Template
from tradeflow import names


def _schedules(template: Template) -> dict[str, dict]:
    return {s["Properties"]["Name"]: s["Properties"] for s in template.find_resources("AWS::Scheduler::Schedule").values()}


def test_every_schedule_carries_the_market_time_zone(template: Template) -> None:
    schedules = _schedules(template)
    assert len(schedules) == 4  # with the market-data fetch (test_market_data.py)
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


def test_weekly_digest_runs_on_fridays_after_the_close_new_york_time(template: Template, resources: dict) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from tradeflow.domain import calendar

    schedule = _schedules(template)["tradeflow-weekly-digest"]
    assert schedule["ScheduleExpressionTimezone"] == "America/New_York"
    assert schedule["Target"]["Input"] == '{"summary":"weekly"}'
    target = resources[schedule["Target"]["Arn"]["Fn::GetAtt"][0]]
    assert target["Properties"]["FunctionName"] == "tradeflow-notifier"
    # cron(minutes hours day-of-month month day-of-week year): read back, not compared as text
    minute, hour, dom, month, dow, year = schedule["ScheduleExpression"].removeprefix("cron(").rstrip(")").split()
    assert (dom, month, dow, year) == ("?", "*", "FRI", "*")
    zone = ZoneInfo("America/New_York")
    for day in ("2024-03-08", "2024-07-05", "2024-11-29"):  # winter, summer, and a half day (13:00 close)
        at = datetime.fromisoformat(f"{day}T{int(hour):02d}:{int(minute):02d}").replace(tzinfo=zone)
        assert at.weekday() == 4
        _, close = calendar.session(at.date())
        assert close < at  # after the close, whatever daylight saving time says


def test_the_extended_hours_option_runs_the_stop_monitor_and_the_fetch_from_4_to_20_new_york(
        tmp_path, stub_layer) -> None:
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from infra_support import synthesise
    from test_functions import functions
    from tradeflow.domain import calendar
    from tradeflow.settings import in_session

    extended = synthesise(tmp_path, stub_layer, extended_hours=True)
    assert extended.validation_error is None  # cdk-nag stays clean
    schedules = _schedules(extended.template)
    found = {name: (schedules[f"tradeflow-{name.replace('_', '-')}"]["ScheduleExpression"],
                    functions(extended.template)[name][1]["Environment"]["Variables"]["MARKET_CALENDAR"])
             for name in ("stop_monitor", "market_data")}
    assert {expression for expression, _ in found.values()} == {names.STOP_MONITOR_SCHEDULE_EXTENDED}
    assert {calendar_name for _, calendar_name in found.values()} == {"NYSE_EXTENDED"}
    # the cron's hours, read back, cover the calendar's extended session and the functions
    # are idle outside it: every minute of a winter, a summer and a half day (New York time)
    _, hours, _, _, dow, _ = names.STOP_MONITOR_SCHEDULE_EXTENDED.removeprefix("cron(").rstrip(")").split()
    first, last = (int(h) for h in hours.split("-"))
    zone = ZoneInfo("America/New_York")
    for day in ("2024-01-09", "2024-07-09", "2024-11-29"):
        midnight = datetime.fromisoformat(day).replace(tzinfo=zone)
        opens, closes = calendar.session(midnight.date(), extended=True)
        assert dow == "MON-FRI" and opens.astimezone(zone).hour == first and closes.astimezone(zone).hour <= last
        for minute in range(0, 24 * 60, 5):
            at = (midnight + timedelta(minutes=minute)).astimezone(ZoneInfo("UTC"))
            scheduled = first <= at.astimezone(zone).hour <= last
            assert in_session("NYSE_EXTENDED", at) == (opens <= at <= closes)  # the close's own tick included
            assert not in_session("NYSE_EXTENDED", at) or scheduled  # the session never outruns the schedule
