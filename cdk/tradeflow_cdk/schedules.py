"""EventBridge Scheduler: the stop monitor every minute of the trading session (the regular
one, the extended one with ``tradeflow:extended_hours``, or around the clock), the daily
summary at 16:30 and the weekly digest on Fridays at 16:45, all in America/New_York
(Scheduler follows daylight saving time)."""

from __future__ import annotations

from aws_cdk import Aws, Duration, Stack, TimeZone
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from constructs import Construct
from tradeflow import names

from tradeflow_cdk.nag import acknowledge

STOP_MONITOR_SCHEDULE_NAME = f"{names.APP}-stop-monitor"
DAILY_SUMMARY_SCHEDULE_NAME = f"{names.APP}-daily-summary"
WEEKLY_DIGEST_SCHEDULE_NAME = f"{names.APP}-weekly-digest"


class Schedules(Construct):
    """``stop_monitor``, ``daily_summary`` and ``weekly_digest`` schedules invoking their Lambdas directly."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        stop_monitor: lambda_.IFunction,
        notifier: lambda_.IFunction,
        around_the_clock: bool = False,
        extended_hours: bool = False,
    ) -> None:
        super().__init__(scope, id)
        zone = TimeZone.of(names.MARKET_TIME_ZONE)
        # One role for both schedules, assumable only by Scheduler on behalf of this account.
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
            ),
            description="tradeflow schedules: invoke the stop monitor and the notifier",
        )
        expression = (names.STOP_MONITOR_SCHEDULE_24_7 if around_the_clock
                      else names.STOP_MONITOR_SCHEDULE_EXTENDED if extended_hours else names.STOP_MONITOR_SCHEDULE)
        self.stop_monitor = scheduler.Schedule(
            self,
            "StopMonitor",
            schedule_name=STOP_MONITOR_SCHEDULE_NAME,
            description="tradeflow stop monitor: sub-minute ticks inside each invocation",
            schedule=scheduler.ScheduleExpression.expression(expression, zone),
            target=targets.LambdaInvoke(
                stop_monitor,
                input=scheduler.ScheduleTargetInput.from_object({"source": "schedule"}),
                # The next minute's run replaces a failed one; never pile invocations up.
                role=role,
                retry_attempts=0,
                max_event_age=Duration.minutes(1),
            ),
        )
        self.daily_summary = scheduler.Schedule(
            self,
            "DailySummary",
            schedule_name=DAILY_SUMMARY_SCHEDULE_NAME,
            description="tradeflow daily summary after the close",
            schedule=scheduler.ScheduleExpression.expression(names.DAILY_SUMMARY_SCHEDULE, zone),
            target=targets.LambdaInvoke(
                notifier,
                input=scheduler.ScheduleTargetInput.from_object({"summary": "daily"}),
                role=role,
                retry_attempts=3,
                max_event_age=Duration.hours(1),
            ),
        )
        self.weekly_digest = scheduler.Schedule(
            self,
            "WeeklyDigest",
            schedule_name=WEEKLY_DIGEST_SCHEDULE_NAME,
            description="tradeflow weekly digest after Friday's close",
            schedule=scheduler.ScheduleExpression.expression(names.WEEKLY_DIGEST_SCHEDULE, zone),
            target=targets.LambdaInvoke(
                notifier,
                input=scheduler.ScheduleTargetInput.from_object({"summary": "weekly"}),
                role=role,
                retry_attempts=3,
                max_event_age=Duration.hours(1),
            ),
        )
        for function in (stop_monitor, notifier):
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::<{Stack.of(self).get_logical_id(function.node.default_child)}.Arn>:*]",
                "lambda:InvokeFunction on the function and its versions (ARN:*), as CDK grants it; "
                "the role can invoke only these two functions.",
            )
