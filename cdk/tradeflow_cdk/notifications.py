"""SNS: the trader-alerts topic (fills, stops, daily summary) and the operations topic (alarms).

Email addresses come from context and are subscribed here; each recipient confirms by
clicking the link AWS sends. SMS goes out from the notifier straight to the numbers in
``SMS_PHONE_NUMBERS`` (short texts, no topic), so phones are not subscribed to a topic.
"""

from __future__ import annotations

from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct
from tradeflow import names

from tradeflow_cdk.nag import acknowledge


class Notifications(Construct):
    """``trader_alerts`` and ``operations`` topics with their email subscriptions."""

    def __init__(
        self, scope: Construct, id: str, *, alert_emails: tuple[str, ...], ops_emails: tuple[str, ...]
    ) -> None:
        super().__init__(scope, id)
        # Trade details are encrypted at rest with the AWS managed key for SNS (no key fee).
        self.trader_alerts = sns.Topic(
            self,
            "TraderAlerts",
            topic_name=names.TRADER_ALERTS_TOPIC,
            display_name="tradeflow",
            master_key=kms.Alias.from_alias_name(self, "SnsKey", "alias/aws/sns"),
            enforce_ssl=True,
        )
        self.operations = sns.Topic(
            self,
            "Operations",
            topic_name=names.OPERATIONS_TOPIC,
            display_name="tradeflow ops",
            enforce_ssl=True,
        )
        acknowledge(self.operations, "AwsSolutions-SNS2",
            "CloudWatch alarms cannot publish to a topic encrypted with the AWS managed SNS key, "
            "and a customer managed key would cost $1/month of a $5 budget; alarm messages carry only "
            "alarm names and metric values, no trade data or secrets. TLS is enforced (SNS3).",
        )
        for email in alert_emails:
            self.trader_alerts.add_subscription(subscriptions.EmailSubscription(email))
        for email in ops_emails:
            self.operations.add_subscription(subscriptions.EmailSubscription(email))
