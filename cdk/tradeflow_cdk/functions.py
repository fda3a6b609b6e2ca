"""The six Lambdas, the shared layer, their roles and their event sources.

Every function: arm64, Python 3.11 (the layer's, layers/build.py), handler ``functions/<name>/handler.py:handler``, the
``tradeflow`` layer, active tracing, its own log group and its own role holding only what
it uses. The webhook runs outside the VPC and may only send to signals.fifo (and read the
strategies' webhook secrets), and to the notifications queue (refused alerts); the other five run in the VPC next to the database. The paper
executor and the stop monitor also keep the open-positions flag in the state bucket
(``STATE_BUCKET``; state.py): the executor writes it, the stop monitor reads and writes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from constructs import Construct
from tradeflow import names

from tradeflow_cdk import paths
from tradeflow_cdk.nag import acknowledge
from tradeflow_cdk.network import Network
from tradeflow_cdk.queues import Queues
from tradeflow_cdk.state import STATE_ACCESS, State

#: The Lambda runtime is the layer's Python (its wheels and bytecode are built for it).
RUNTIME = lambda_.Runtime(f"python{paths.layer_builder().PYTHON_VERSION}", lambda_.RuntimeFamily.PYTHON)
ARCHITECTURE = lambda_.Architecture.ARM_64
#: SQS event source mappings never run more than this many consumers of one queue, so a
#: flood of messages cannot exhaust the database's connections (and needs no reserved
#: concurrency, which new accounts with a quota of 10 cannot grant).
MAX_CONSUMERS_PER_QUEUE = 2
#: What a function in a VPC needs for its network interfaces: exactly the ec2 actions of AWS's
#: managed AWSLambdaVPCAccessExecutionRole (v3, 2024-01-05), without its logs:* on every log
#: group (each role writes only its own log group). Lambda developer guide, "Giving Lambda
#: functions access to resources in an Amazon VPC": DescribeNetworkInterfaces works only on "*".
ENI_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)
#: Scheduled functions: Lambda's asynchronous invocation retries a failed run twice by default,
#: overlapping the next minutes' runs; the next scheduled run replaces a failed one instead.
SCHEDULED = ("stop_monitor", "notifier")
ASYNC_RETRY_ATTEMPTS = 0
ASYNC_MAX_EVENT_AGE = Duration.minutes(1)
TICKS_PER_INVOCATION = 4
TICK_SECONDS = 15


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    description: str
    timeout: Duration
    memory_mb: int
    in_vpc: bool
    #: Reserved concurrency when the trader opts in (tradeflow:reserved_concurrency).
    reserved: int


SPECS = (
    # The webhook must answer TradingView within 3 s, cold start included: more memory, more CPU.
    FunctionSpec("webhook", "TradingView alert -> signals.fifo", Duration.seconds(10), 512, False, 10),
    FunctionSpec("signal_processor", "signal -> risk decision -> orders.fifo", Duration.seconds(60), 256, True, 2),
    FunctionSpec("order_creator", "decision -> sized bracket order -> executions.fifo", Duration.seconds(60), 256, True, 2),
    FunctionSpec("paper_executor", "order -> simulated fill, position, P&L", Duration.seconds(60), 256, True, 2),
    FunctionSpec("stop_monitor", "stop-loss / take-profit ticks every minute", Duration.seconds(90), 256, True, 1),
    FunctionSpec("notifier", "notifications -> email topic, SMS and chat topic; daily summary", Duration.seconds(60), 256,
                 True, 2),
)
assert tuple(s.name for s in SPECS) == names.FUNCTIONS, "SPECS must follow tradeflow.names.FUNCTIONS"

TIMEOUTS = {spec.name: spec.timeout for spec in SPECS}

#: The queues each function sends to (its environment carries their URLs).
SENDS_TO = {
    "webhook": (names.SIGNALS_QUEUE, names.NOTIFICATIONS_QUEUE),  # refused alerts reach the trader
    "signal_processor": (names.ORDERS_QUEUE, names.NOTIFICATIONS_QUEUE),
    "order_creator": (names.EXECUTIONS_QUEUE, names.NOTIFICATIONS_QUEUE),
    "paper_executor": (names.NOTIFICATIONS_QUEUE,),
    "stop_monitor": (names.EXECUTIONS_QUEUE, names.NOTIFICATIONS_QUEUE),
    "notifier": (names.NOTIFICATIONS_QUEUE,),  # a burst's timer: a delayed message to itself
}


def vpc_sdk_environment(dualstack: bool) -> dict[str, str]:
    """The AWS SDK settings of a function in the VPC: with IPv6 egress (``dualstack``) the
    SDK's dual-stack endpoints, which tradeflow.adapters.aws then reaches over IPv6 only."""
    return {"AWS_USE_DUALSTACK_ENDPOINT": "true"} if dualstack else {}


def function_name(name: str) -> str:
    return f"{names.APP}-{name}"


def strategy_parameter_arn(pattern: str = names.STRATEGY_SECRET_PARAMETER) -> str:
    parameter = pattern.format(strategy="*")
    return f"arn:{Aws.PARTITION}:ssm:{Aws.REGION}:{Aws.ACCOUNT_ID}:parameter{parameter}"


class Layer(Construct):
    """The shared layer: tradeflow and its dependencies for arm64 / the runtime's CPython, with bytecode."""

    def __init__(self, scope: Construct, id: str, *, code_path: str) -> None:
        super().__init__(scope, id)
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            layer_version_name=f"{names.APP}-core",
            code=lambda_.Code.from_asset(code_path),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="tradeflow package, powertools, pydantic, psycopg (layers/build.py)",
        )



def parameter_arn(name: str) -> str:
    """The ARN of the SSM parameter ``name`` (a path starting with ``/``) in this stack's account and region."""
    return f"arn:{Aws.PARTITION}:ssm:{Aws.REGION}:{Aws.ACCOUNT_ID}:parameter{name}"


def grant_secure_parameters(role: iam.IRole, parameters: list[str], what: str) -> None:
    """Let ``role`` read the SSM parameters ``parameters`` (names), SecureStrings included:
    ``ssm:GetParameter`` on exactly those, and ``kms:Decrypt`` of the AWS managed ``aws/ssm`` key
    only through SSM (``kms:ViaService``; its key id is not known at synth, hence the cdk-nag
    acknowledgement, which names ``what`` the parameters hold)."""
    role.add_to_policy(iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[parameter_arn(p) for p in parameters]))
    role.add_to_policy(iam.PolicyStatement(
        actions=["kms:Decrypt"], resources=[f"arn:{Aws.PARTITION}:kms:{Aws.REGION}:{Aws.ACCOUNT_ID}:key/*"],
        conditions={"StringEquals": {"kms:ViaService": f"ssm.{Aws.REGION}.amazonaws.com"}},
    ))
    acknowledge(role, "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*]",
        f"Decrypting {what} with the AWS managed aws/ssm key, whose id is not known at synth; limited to calls "
        "made through SSM (kms:ViaService).",
    )


def lambda_role(scope: Construct, id: str, *, log_group: logs.ILogGroup, in_vpc: bool, description: str) -> iam.Role:
    """A role for one function: write to its own log group; in the VPC, manage its ENIs
    (:data:`ENI_ACTIONS`, no managed policy)."""
    policies = {
        "logs": iam.PolicyDocument(statements=[
            iam.PolicyStatement(actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn])
        ])
    }
    if in_vpc:
        policies["eni"] = iam.PolicyDocument(statements=[iam.PolicyStatement(actions=list(ENI_ACTIONS), resources=["*"])])
    role = iam.Role(
        scope,
        id,
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=description,
        inline_policies=policies,
    )
    return role


def outside_vpc_function(scope: Construct, name: str, full_name: str, *, description: str,
                         layer: lambda_.ILayerVersion, timeout: Duration, memory_mb: int,
                         environment: dict[str, str] | None = None) -> tuple[lambda_.Function, iam.Role]:
    """A function outside the VPC (``name``: its folder under functions/ and powertools'
    service; ``full_name``: its log group's name) with its own one-month log group ``Logs``,
    role ``Role`` (:func:`lambda_role`) and function ``Function`` in ``scope``, X-Ray tracing
    and the runtime and tracing findings acknowledged; ``environment`` is added to powertools'
    service and namespace. Returns (function, role)."""
    log_group = logs.LogGroup(
        scope, "Logs", log_group_name=f"/aws/lambda/{full_name}",
        retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY,
    )
    role = lambda_role(scope, "Role", log_group=log_group, in_vpc=False, description=description)
    function = lambda_.Function(
        scope, "Function",
        function_name=function_name(name),
        description=description,
        runtime=RUNTIME, architecture=ARCHITECTURE, handler="handler.handler",
        code=lambda_.Code.from_asset(str(paths.FUNCTIONS / name), exclude=["__pycache__", "*.pyc"]),
        layers=[layer], timeout=timeout, memory_size=memory_mb, tracing=lambda_.Tracing.ACTIVE,
        log_group=log_group, role=role,
        environment={"POWERTOOLS_SERVICE_NAME": name, "POWERTOOLS_METRICS_NAMESPACE": names.METRICS_NAMESPACE,
                     **(environment or {})},
    )
    acknowledge_runtime(function)
    acknowledge_tracing(role)
    return function, role


def acknowledge_eni(role: iam.Role) -> None:
    """The ENI actions' ``Resource: *`` (kept apart so the finding's reason says why)."""
    acknowledge(role, "AwsSolutions-IAM5[Resource::*]",
        "The ENI actions Lambda needs in a VPC (ec2:CreateNetworkInterface, DescribeNetworkInterfaces "
        "and DescribeSubnets) act on interfaces Lambda creates at run time; DescribeNetworkInterfaces works "
        "only on '*' (Lambda developer guide, VPC access). Active X-Ray tracing: xray:PutTraceSegments "
        "and xray:PutTelemetryRecords do not support resource-level permissions.",
    )


def acknowledge_tracing(role: iam.Role, also: str = "") -> None:
    acknowledge(role, "AwsSolutions-IAM5[Resource::*]",
        "Active X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords do not "
        "support resource-level permissions." + also,
    )


def acknowledge_runtime(function: lambda_.Function) -> None:
    acknowledge(function, "AwsSolutions-L1",
        "The runtime is the Python the layer is built for and compiled to bytecode with (layers/build.py "
        "PYTHON_VERSION, docs/decisions.md), supported by AWS Lambda; moving to a newer runtime is a "
        "deliberate change of the build interpreter and the layer.",
    )


class Functions(Construct):
    """``by_name[name]`` for each of the six functions, wired to their queues and grants."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        layer: lambda_.ILayerVersion,
        network: Network,
        queues: Queues,
        database_secrets: dict[str, secretsmanager.ISecret],
        state: State,
        trader_alerts: sns.ITopic,
        urgent: sns.ITopic | None,
        allowed_source_ips: tuple[str, ...],
        reserved_concurrency: bool,
        around_the_clock: bool = False,
        extended_hours: bool = False,
        dualstack: bool = True,
    ) -> None:
        super().__init__(scope, id)
        self.by_name: dict[str, lambda_.Function] = {}
        extra_env = {
            "webhook": {"ALLOWED_SOURCE_IPS": ",".join(allowed_source_ips)},
            "stop_monitor": {
                "TICKS_PER_INVOCATION": str(TICKS_PER_INVOCATION),
                "TICK_SECONDS": str(TICK_SECONDS),
                # idle outside the NYSE session (holidays, half days; the extended one with
                # extended_hours) unless watching around the clock
                **({} if around_the_clock else {"MARKET_CALENDAR": "NYSE_EXTENDED" if extended_hours else "NYSE"}),
            },
            "notifier": {
                "TRADER_ALERTS_TOPIC_ARN": trader_alerts.topic_arn,
                **({"URGENT_TOPIC_ARN": urgent.topic_arn} if urgent is not None else {}),
            },
        }
        for spec in SPECS:
            environment = {
                "POWERTOOLS_SERVICE_NAME": spec.name,
                "POWERTOOLS_METRICS_NAMESPACE": names.METRICS_NAMESPACE,
                **{names.QUEUE_URL_ENV[q]: queues.by_name[q].queue_url for q in SENDS_TO[spec.name]},
                **extra_env.get(spec.name, {}),
            }
            if spec.in_vpc:  # each database function logs in as its own role (tradeflow.adapters.roles)
                environment["DATABASE_SECRET_ARN"] = database_secrets[spec.name].secret_arn
                environment.update(vpc_sdk_environment(dualstack))
            if spec.name in STATE_ACCESS:
                environment[names.STATE_BUCKET_ENV] = state.bucket.bucket_name
            function = self._function(spec, layer, network, environment, reserved_concurrency)
            if spec.in_vpc:
                acknowledge_eni(function.role)
            else:
                acknowledge_tracing(function.role)
            self.by_name[spec.name] = function
            for queue_name in SENDS_TO[spec.name]:
                function.add_to_role_policy(
                    iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[queues.by_name[queue_name].queue_arn])
                )
            if spec.in_vpc:
                database_secrets[spec.name].grant_read(function)
            if spec.name in SCHEDULED:
                function.configure_async_invoke(
                    retry_attempts=ASYNC_RETRY_ATTEMPTS, max_event_age=ASYNC_MAX_EVENT_AGE
                )
            if spec.name in STATE_ACCESS:
                state.grant(spec.name, function)

        for queue_name, consumer in names.QUEUE_CONSUMERS.items():
            self.by_name[consumer].add_event_source(
                sources.SqsEventSource(
                    queues.by_name[queue_name],
                    batch_size=10,
                    report_batch_item_failures=True,
                    max_concurrency=MAX_CONSUMERS_PER_QUEUE,
                )
            )

        self._webhook_secrets(self.by_name["webhook"])
        trader_alerts.grant_publish(self.by_name["notifier"])
        if urgent is not None:
            urgent.grant_publish(self.by_name["notifier"])

    def _function(
        self,
        spec: FunctionSpec,
        layer: lambda_.ILayerVersion,
        network: Network,
        environment: dict[str, str],
        reserved_concurrency: bool,
    ) -> lambda_.Function:
        construct_id = "".join(part.capitalize() for part in spec.name.split("_"))
        log_group = logs.LogGroup(
            self,
            f"{construct_id}Logs",
            log_group_name=f"/aws/lambda/{function_name(spec.name)}",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = lambda_role(
            self, f"{construct_id}Role", log_group=log_group, in_vpc=spec.in_vpc,
            description=f"tradeflow {spec.name}: {spec.description}",
        )
        vpc_props = (
            {
                "vpc": network.vpc,
                "vpc_subnets": network.subnets,
                "security_groups": [network.functions],
                "allow_public_subnet": False,
                "ipv6_allowed_for_dual_stack": True,
            }
            if spec.in_vpc
            else {}
        )
        function = lambda_.Function(
            self,
            construct_id,
            function_name=function_name(spec.name),
            description=f"tradeflow {spec.name}: {spec.description}",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler="handler.handler",
            code=lambda_.Code.from_asset(str(paths.FUNCTIONS / spec.name), exclude=["__pycache__", "*.pyc"]),
            layers=[layer],
            timeout=spec.timeout,
            memory_size=spec.memory_mb,
            environment=environment,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            role=role,
            reserved_concurrent_executions=spec.reserved if reserved_concurrency else None,
            **vpc_props,
        )
        acknowledge_runtime(function)
        return function

    @staticmethod
    def _webhook_secrets(webhook: lambda_.Function) -> None:
        """Read (and decrypt) the strategies' webhook secrets and read their settings, nothing
        else in SSM. The settings travel on with each signal, so no VPC function needs SSM."""
        webhook.add_to_role_policy(iam.PolicyStatement(
            actions=["ssm:GetParameter"],
            resources=[strategy_parameter_arn(), strategy_parameter_arn(names.STRATEGY_SETTINGS_PARAMETER)],
        ))
        webhook.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[f"arn:{Aws.PARTITION}:kms:{Aws.REGION}:{Aws.ACCOUNT_ID}:key/*"],
                conditions={"StringEquals": {"kms:ViaService": f"ssm.{Aws.REGION}.amazonaws.com"}},
            )
        )
        parameter = names.STRATEGY_SECRET_PARAMETER.format(strategy="*")
        acknowledge(webhook.role, f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter{parameter}]",
            "One SecureString per strategy; strategies are added at run time by `tradeflow strategy add`, "
            "so the webhook may read any strategy's webhook secret and nothing else in SSM.",
        )
        settings = names.STRATEGY_SETTINGS_PARAMETER.format(strategy="*")
        acknowledge(webhook.role, f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter{settings}]",
            "One settings parameter per strategy, added at run time by `tradeflow strategy add --aws`; "
            "the webhook reads them (nothing else) and passes them on with each signal.",
        )
        acknowledge(webhook.role, "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*]",
            "Decrypting SecureString parameters with the AWS managed aws/ssm key, whose id is not known "
            "at synth; limited to calls made through SSM (kms:ViaService).",
        )
