"""Alarms to the operations topic and a dashboard of the pipeline's powertools metrics.

Alarms (13 alarm metrics; CloudWatch's free tier covers 10, the rest is $0.10 each/month):
any message in a dead-letter queue, any error of a function, any Lambda throttle in the
account, any webhook 5xx, and a spike of webhook 4xx (wrong secrets, bad templates, probes).
"""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from constructs import Construct
from tradeflow import names

from tradeflow_cdk.queues import Queues

DASHBOARD_NAME = names.APP
PERIOD = Duration.minutes(5)
CLIENT_ERROR_SPIKE = 10

#: Powertools metrics emitted by each function (namespace tradeflow, dimension service=<function>).
PIPELINE_METRICS: dict[str, dict[str, tuple[str, ...]]] = {
    "Alerts": {"webhook": ("AlertsAccepted", "AlertsRefused", "AlertsUnauthorized", "AlertsForbidden",
                           "AlertsThrottled", "AlertsUnavailable", "WebhookFaults")},
    "Risk decisions": {"signal_processor": ("SignalsApproved", "SignalsRefused")},
    "Orders, fills and stop exits": {
        "order_creator": ("OrdersSent",),
        "paper_executor": ("Fills", "StopExits"),
        "stop_monitor": ("StopTriggers",),
    },
    "Notifications": {"notifier": ("NotificationsSent", "NotificationsFailed")},
}


def pipeline_metric(service: str, metric_name: str) -> cw.Metric:
    return cw.Metric(
        namespace=names.METRICS_NAMESPACE,
        metric_name=metric_name,
        dimensions_map={"service": service},
        statistic="Sum",
        period=PERIOD,
        label=metric_name,
    )


class Monitoring(Construct):
    """``alarms`` (all sent to ``operations``) and the ``dashboard``."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        functions: dict[str, lambda_.IFunction],
        queues: Queues,
        api: apigwv2.HttpApi,
        cluster: rds.IDatabaseCluster,
        operations: sns.ITopic,
    ) -> None:
        super().__init__(scope, id)
        action = actions.SnsAction(operations)
        self.alarms: list[cw.Alarm] = []

        def alarm(construct_id: str, metric: cw.IMetric, threshold: float, description: str) -> None:
            created = cw.Alarm(
                self,
                construct_id,
                alarm_name=f"{names.APP}-{construct_id}",
                alarm_description=description,
                metric=metric,
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )
            created.add_alarm_action(action)
            self.alarms.append(created)

        for queue_name, dead_letter in queues.dead_letters.items():
            alarm(
                f"dlq-{names.dead_letter_queue(queue_name).removesuffix('.fifo')}",
                dead_letter.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
                1,
                f"A message gave up after {names.MAX_RECEIVE_COUNT} attempts on {queue_name}: inspect it in "
                f"{names.dead_letter_queue(queue_name)}, fix the cause, then redrive it.",
            )
        for name, function in functions.items():
            alarm(
                f"errors-{name}",
                function.metric_errors(period=PERIOD, statistic="Sum"),
                1,
                f"The {name} function failed; see its log group /aws/lambda/{names.APP}-{name}.",
            )
        alarm(
            "lambda-throttles",
            cw.Metric(namespace="AWS/Lambda", metric_name="Throttles", statistic="Sum", period=PERIOD),
            1,
            "A Lambda function in this account was throttled (concurrency quota reached).",
        )
        alarm("webhook-5xx", api.metric_server_error(period=PERIOD, statistic="Sum"), 1,
              "The webhook answered 5xx: TradingView retries, but check the webhook's log.")
        alarm("webhook-4xx", api.metric_client_error(period=PERIOD, statistic="Sum"), CLIENT_ERROR_SPIKE,
              "Many refused webhook calls: wrong secret, broken alert template, or someone probing the URL.")

        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=DASHBOARD_NAME)
        widgets: list[cw.IWidget] = [
            cw.GraphWidget(
                title=title,
                left=[pipeline_metric(service, m) for service, metrics in per_service.items() for m in metrics],
                width=12,
            )
            for title, per_service in PIPELINE_METRICS.items()
        ]
        widgets += [
            cw.GraphWidget(
                title="Function errors",
                left=[f.metric_errors(period=PERIOD, statistic="Sum", label=n) for n, f in functions.items()],
                width=12,
            ),
            cw.GraphWidget(
                title="Dead-letter queues (messages)",
                left=[
                    q.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum", label=n)
                    for n, q in queues.dead_letters.items()
                ],
                width=12,
            ),
            cw.GraphWidget(
                title="Webhook requests",
                left=[
                    api.metric_count(period=PERIOD, statistic="Sum", label="requests"),
                    api.metric_client_error(period=PERIOD, statistic="Sum", label="4xx"),
                    api.metric_server_error(period=PERIOD, statistic="Sum", label="5xx"),
                ],
                width=12,
            ),
            cw.GraphWidget(
                title="Database capacity (ACU; 0 = paused)",
                left=[cluster.metric("ServerlessDatabaseCapacity", period=PERIOD, statistic="Maximum")],
                width=12,
            ),
        ]
        for row in range(0, len(widgets), 2):
            self.dashboard.add_widgets(*widgets[row : row + 2])
        self.dashboard_url = (
            f"https://{Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region={Aws.REGION}"
            f"#dashboards:name={DASHBOARD_NAME}"
        )
