"""Alarms to the operations topic, the dashboard and the stack outputs."""

from aws_cdk.assertions import Template
from tradeflow import names


def _alarms(template: Template) -> dict[str, dict]:
    return {a["Properties"]["AlarmName"]: a["Properties"] for a in template.find_resources("AWS::CloudWatch::Alarm").values()}


def test_an_alarm_for_every_dead_letter_queue_and_function(template: Template) -> None:
    alarms = _alarms(template)
    for queue in names.QUEUE_CONSUMERS:
        assert f"{names.APP}-dlq-{names.dead_letter_queue(queue).removesuffix('.fifo')}" in alarms
    for function in names.FUNCTIONS:
        assert f"{names.APP}-errors-{function}" in alarms
    assert {f"{names.APP}-lambda-throttles", f"{names.APP}-webhook-5xx", f"{names.APP}-webhook-4xx"} <= set(alarms)


def test_every_alarm_notifies_the_operations_topic(template: Template, resources: dict) -> None:
    ops = next(k for k, v in resources.items() if v["Type"] == "AWS::SNS::Topic"
               and v["Properties"]["TopicName"] == names.OPERATIONS_TOPIC)
    for name, alarm in _alarms(template).items():
        assert alarm["AlarmActions"] == [{"Ref": ops}], name


def test_dashboard_shows_the_pipeline_metrics(template: Template) -> None:
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    body = str(dashboard["Properties"]["DashboardBody"])
    for metric in ("AlertsAccepted", "AlertsRefused", "AlertsThrottled", "AlertsUnavailable", "WebhookFaults",
                   "OrdersSent", "Fills", "StopExits", "NotificationsSent"):
        assert metric in body


def test_outputs_the_webhook_url_topics_and_dashboard(template: Template) -> None:
    outputs = template.find_outputs("*")
    assert {"WebhookUrl", "TraderAlertsTopicArn", "OperationsTopicArn", "DashboardUrl"} <= set(outputs)


def test_trader_email_is_subscribed_and_topics_refuse_plain_http(template: Template) -> None:
    template.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "trader@example.com"})
    for policy in template.find_resources("AWS::SNS::TopicPolicy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(s["Effect"] == "Deny" and "aws:SecureTransport" in str(s["Condition"]) for s in statements)
