"""The webhook's HTTP API: ``POST /webhook/{token}`` and ``POST /webhook`` -> webhook Lambda,
and ``GET /webhook/openapi.json`` (its OpenAPI document, public: it holds no secret).

No IAM or JWT authorizer: TradingView can send neither a header nor a signature. Each
request is authenticated by the webhook itself with the strategy's secret (in the path as
``<strategy>.<secret>`` or as the body's ``passphrase``, compared in constant time) and,
by default, TradingView's source addresses. The stage is throttled and access-logged; the
log format leaves out the request path, which would hold the secret.
"""

from __future__ import annotations

import jsii
from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct
from tradeflow import names

from tradeflow_cdk.nag import acknowledge

#: TradingView alerts are rare; anything beyond this is a misconfigured loop or an attack.
RATE_LIMIT_PER_SECOND = 10
BURST_LIMIT = 20

#: Access log fields: never $context.path (it carries the webhook secret).
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "time": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "route": "$context.routeKey",
    "status": "$context.status",
    "latencyMs": "$context.responseLatency",
    "integrationError": "$context.integrationErrorMessage",
}


class WebhookApi(Construct):
    """``api`` and ``url`` (the base URL; alerts go to ``{url}webhook/<strategy>.<secret>``)."""

    def __init__(self, scope: Construct, id: str, *, webhook: lambda_.IFunction) -> None:
        super().__init__(scope, id)
        self.api = apigwv2.HttpApi(
            self,
            "Api",
            api_name=f"{names.APP}-webhook",
            description="TradingView alerts for tradeflow",
            create_default_stage=False,
        )
        integration = integrations.HttpLambdaIntegration("Webhook", webhook)
        for path in ("/webhook/{token}", "/webhook"):
            self.api.add_routes(path=path, methods=[apigwv2.HttpMethod.POST], integration=integration)
        self.api.add_routes(path="/webhook/openapi.json", methods=[apigwv2.HttpMethod.GET], integration=integration)
        access_logs = logs.LogGroup(
            self, "AccessLogs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
        )
        self.stage = apigwv2.HttpStage(
            self,
            "Stage",
            http_api=self.api,
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=RATE_LIMIT_PER_SECOND, burst_limit=BURST_LIMIT),
            access_log_settings=_AccessLogSettings(
                apigwv2.LogGroupLogDestination(access_logs), apigw.AccessLogFormat.custom(_json(ACCESS_LOG_FORMAT))
            ),
        )
        self.url = self.stage.url
        for route in self.api.node.find_all():
            if isinstance(route, apigwv2.HttpRoute):
                acknowledge(
                    route,
                    "AwsSolutions-APIG4",
                    "TradingView cannot send an Authorization header or sign requests; the webhook "
                    "authenticates every alert with the strategy's secret (constant-time compare) and "
                    "TradingView's source-address allowlist, and the stage is throttled.",
                )


def _json(fields: dict[str, str]) -> str:
    return "{" + ",".join(f'"{k}":"{v}"' for k, v in fields.items()) + "}"


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    def __init__(self, destination: apigwv2.IAccessLogDestination, format: apigw.AccessLogFormat) -> None:
        self._destination, self._format = destination, format

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        return self._format
