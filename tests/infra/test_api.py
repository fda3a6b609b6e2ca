"""The webhook's HTTP API: two POST routes and the OpenAPI document, throttled, access logs without the secret path."""

import json

from aws_cdk.assertions import Match, Template


def test_routes_post_webhook_with_token_and_with_passphrase_and_get_the_openapi_document(template: Template) -> None:
    routes = {r["Properties"]["RouteKey"] for r in template.find_resources("AWS::ApiGatewayV2::Route").values()}
    webhook = {r for r in routes if "/webhook" in r}  # the control API's /api routes: test_control_api.py
    assert webhook == {"POST /webhook/{token}", "POST /webhook", "GET /webhook/openapi.json"}
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Integration", {"IntegrationType": "AWS_PROXY", "PayloadFormatVersion": "2.0"}
    )


def test_stage_is_throttled_and_auto_deployed(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "StageName": "$default",
            "AutoDeploy": True,
            "DefaultRouteSettings": Match.object_like({"ThrottlingRateLimit": 10, "ThrottlingBurstLimit": 20}),
        },
    )


def test_access_logs_never_record_the_request_path(template: Template) -> None:
    (stage,) = template.find_resources("AWS::ApiGatewayV2::Stage").values()
    fmt = stage["Properties"]["AccessLogSettings"]["Format"]
    fields = json.loads(fmt)
    assert "$context.path" not in fmt and "$context.routeKey" in fields.values()
