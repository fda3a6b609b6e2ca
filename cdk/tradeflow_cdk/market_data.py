"""The market_data function: the price fetch outside the VPC, its schedule and its narrow role.

The functions in the VPC have no IPv4 way out (IPv6 egress and the S3 gateway only) and a NAT
gateway would cost about $33 a month, so the fetch runs outside the VPC. Every minute of the
NYSE session (or around the clock, ``tradeflow:stop_monitor_24_7``) it reads the watchlist
object in the state bucket, fetches the latest 1-minute bars of those symbols (Alpaca, Coinbase)
a few times within the minute, and hands each new bar to the stop monitor by an asynchronous
invoke. Its role may: read the watchlist object, read its two SSM parameters (and decrypt the
keys through SSM), invoke the stop monitor, write its own logs and traces. Nothing else.

The construct also gives the two watchlist writers (the paper executor and the stop monitor,
which keep it next to the open-positions flag) PutObject on that one object, admits it through
the S3 gateway endpoint, and lets the webhook hand TradingView bar alerts to the stop monitor.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, Stack, TimeZone
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from constructs import Construct
from tradeflow import names

from tradeflow_cdk.functions import (
    grant_secure_parameters,
    outside_vpc_function,
)
from tradeflow_cdk.nag import acknowledge
from tradeflow_cdk.network import Network
from tradeflow_cdk.state import State

SCHEDULE_NAME = f"{names.APP}-market-data"
#: Fetches per invocation and seconds between them: a new 1-minute bar reaches the stop
#: monitor at most TICK_SECONDS after the provider publishes it (7.5 s leaves the stop
#: monitor's own work inside the 10 s stop-latency goal; the invocation still spans ~52 s).
TICKS_PER_INVOCATION = 8
TICK_SECONDS = 7.5
MEMORY_MB = 256
TIMEOUT = Duration.seconds(90)
#: Functions that write the watchlist (from PostgreSQL, with the open-positions flag).
WATCHLIST_WRITERS = ("paper_executor", "stop_monitor")


class MarketData(Construct):
    """``function`` (tradeflow-market_data) and ``schedule``, wired to ``functions`` (the six
    pipeline functions by name), the state bucket and the network's S3 endpoint."""

    def __init__(self, scope: Construct, id: str, *, layer: lambda_.ILayerVersion, state: State, network: Network,
                 functions: dict[str, lambda_.Function], around_the_clock: bool = False,
                 extended_hours: bool = False) -> None:
        super().__init__(scope, id)
        stop_monitor = functions["stop_monitor"]
        watchlist_arn = state.bucket.arn_for_objects(names.WATCHLIST_KEY)
        self.function, role = outside_vpc_function(
            self, names.MARKET_DATA_FUNCTION, names.MARKET_DATA_FUNCTION_NAME,
            description="tradeflow market_data: latest 1-minute bars of the watchlist -> stop monitor",
            layer=layer, timeout=TIMEOUT, memory_mb=MEMORY_MB,
            environment={
                names.STATE_BUCKET_ENV: state.bucket.bucket_name,
                "STOP_MONITOR_FUNCTION": stop_monitor.function_name,
                "TICKS_PER_INVOCATION": str(TICKS_PER_INVOCATION),
                "TICK_SECONDS": str(TICK_SECONDS),
                **({} if around_the_clock else {"MARKET_CALENDAR": "NYSE_EXTENDED" if extended_hours else "NYSE"}),
            },
        )
        role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[watchlist_arn]))
        grant_secure_parameters(role, [names.MARKET_DATA_KEYS_PARAMETER, names.MARKET_DATA_SETTINGS_PARAMETER],
                                "the Alpaca keys SecureString")
        invoke = iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[stop_monitor.function_arn])
        role.add_to_policy(invoke)

        # TradingView bar alerts: the webhook hands them to the stop monitor the same way.
        webhook = functions["webhook"]
        webhook.add_to_role_policy(invoke)
        webhook.add_environment("STOP_MONITOR_FUNCTION", stop_monitor.function_name)

        # The watchlist is written next to the open-positions flag, through the S3 endpoint.
        for writer in WATCHLIST_WRITERS:
            functions[writer].add_to_role_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[watchlist_arn]))
        network.s3_endpoint.add_to_policy(iam.PolicyStatement(
            sid="WatchlistOnly", principals=[iam.AnyPrincipal()], actions=["s3:PutObject"], resources=[watchlist_arn],
            conditions={"StringEquals": {"aws:PrincipalAccount": Aws.ACCOUNT_ID}},
        ))

        schedule_role = iam.Role(
            self, "ScheduleRole",
            assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com",
                                            conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}),
            description="tradeflow market-data schedule: invoke the market_data function",
        )
        expression = (names.MARKET_DATA_SCHEDULE_24_7 if around_the_clock
                      else names.MARKET_DATA_SCHEDULE_EXTENDED if extended_hours else names.MARKET_DATA_SCHEDULE)
        self.schedule = scheduler.Schedule(
            self, "Schedule", schedule_name=SCHEDULE_NAME,
            description="tradeflow market data: sub-minute fetches inside each invocation",
            schedule=scheduler.ScheduleExpression.expression(expression, TimeZone.of(names.MARKET_TIME_ZONE)),
            target=targets.LambdaInvoke(
                self.function, input=scheduler.ScheduleTargetInput.from_object({"source": "schedule"}),
                role=schedule_role, retry_attempts=0, max_event_age=Duration.minutes(1),
            ),
        )
        acknowledge(schedule_role,
            f"AwsSolutions-IAM5[Resource::<{Stack.of(self).get_logical_id(self.function.node.default_child)}.Arn>:*]",
            "lambda:InvokeFunction on the market_data function and its versions (ARN:*), as CDK grants it; the "
            "role can invoke nothing else.",
        )
