"""The cockpit's control API: the control function in the VPC next to the database, and its
``/api`` routes on the existing HTTP API.

No API Gateway authorizer: the handler checks ``Authorization: Bearer <token>`` against the
SSM SecureString ``tradeflow api-token --aws`` writes (CloudFormation cannot create a
SecureString), in constant time, and answers 401 to anything else before touching the
database; only the static dashboard page answers without it. The webhook's TradingView
allowlist does not apply here. The function's role may: read its own database role's secret,
read (and decrypt through SSM) that one token parameter, manage its ENIs, write its own logs
and traces. In the database it logs in as ``tradeflow_control`` (tradeflow.adapters.roles).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from tradeflow import names

from tradeflow_cdk import paths
from tradeflow_cdk.database import Database
from tradeflow_cdk.functions import (
    ARCHITECTURE,
    RUNTIME,
    acknowledge_eni,
    acknowledge_runtime,
    function_name,
    grant_secure_parameters,
    lambda_role,
    vpc_sdk_environment,
)
from tradeflow_cdk.nag import acknowledge
from tradeflow_cdk.network import Network

#: API Gateway gives up after 30 s; the handler answers a cold database with 503 within ~10 s.
TIMEOUT = Duration.seconds(29)
MEMORY_MB = 512
#: The routes (HTTP API paths); every method goes to the function, which knows its own routes.
PATHS = ("/api", "/api/{proxy+}")


class ControlApi(Construct):
    """``function`` (tradeflow-control) and its routes on ``api``."""

    def __init__(self, scope: Construct, id: str, *, layer: lambda_.ILayerVersion, network: Network,
                 database: Database, api: apigwv2.HttpApi, notifications: sqs.IQueue,
                 dualstack: bool = True) -> None:
        super().__init__(scope, id)
        name = names.CONTROL_FUNCTION
        log_group = logs.LogGroup(
            self, "Logs", log_group_name=f"/aws/lambda/{function_name(name)}",
            retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY,
        )
        description = "tradeflow control: the cockpit's API and dashboard under /api"
        role = lambda_role(self, "Role", log_group=log_group, in_vpc=True, description=description)
        secret = database.role_secrets[name]
        self.function = lambda_.Function(
            self, "Function",
            function_name=function_name(name), description=description,
            runtime=RUNTIME, architecture=ARCHITECTURE, handler="handler.handler",
            code=lambda_.Code.from_asset(str(paths.FUNCTIONS / name), exclude=["__pycache__", "*.pyc"]),
            layers=[layer], timeout=TIMEOUT, memory_size=MEMORY_MB, tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group, role=role,
            vpc=network.vpc, vpc_subnets=network.subnets, security_groups=[network.functions],
            allow_public_subnet=False, ipv6_allowed_for_dual_stack=True,
            environment={
                "POWERTOOLS_SERVICE_NAME": name,
                "POWERTOOLS_METRICS_NAMESPACE": names.METRICS_NAMESPACE,
                "DATABASE_SECRET_ARN": secret.secret_arn,
                "API_TOKEN_PARAMETER": names.CONTROL_API_TOKEN_PARAMETER,
                # the guardian's actions (kill switch, pause, reset) notify the trader, urgently
                names.QUEUE_URL_ENV[names.NOTIFICATIONS_QUEUE]: notifications.queue_url,
                **vpc_sdk_environment(dualstack),
            },
        )
        acknowledge_runtime(self.function)
        acknowledge_eni(role)
        secret.grant_read(self.function)
        notifications.grant_send_messages(self.function)
        grant_secure_parameters(role, [names.CONTROL_API_TOKEN_PARAMETER], "the API token SecureString")
        integration = integrations.HttpLambdaIntegration("Control", self.function)
        self.routes = []
        for path in PATHS:
            self.routes += api.add_routes(path=path, methods=[apigwv2.HttpMethod.ANY], integration=integration)
        for route in self.routes:
            acknowledge(route, "AwsSolutions-APIG4",
                "The control function authenticates every route itself (bearer token from SSM, SHA-256 digests "
                "compared in constant time) and answers 401 before any database access; only the static "
                "dashboard page, which holds no data, answers without it.",
            )
