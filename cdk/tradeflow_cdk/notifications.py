"""SNS: the trader-alerts topic (fills, stops, daily summary), the urgent topic (the same
messages as SMS texts) and the operations topic (alarms).

Email addresses and phone numbers come from the deploy settings and are subscribed here (each
email recipient confirms by clicking the link AWS sends); no function's environment holds
them. The notifier publishes each text to the urgent topic, whose SMS subscriptions deliver it,
so its ``sns:Publish`` names two topics, never ``*`` (publishing to a phone number directly has
no resource ARN to scope to). Without phone numbers there is no urgent topic.
"""

from __future__ import annotations

from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct
from tradeflow import names

from tradeflow_cdk.nag import acknowledge


class Notifications(Construct):
    """``trader_alerts`` and ``operations`` topics with their email subscriptions, and
    ``urgent`` (None without ``sms_numbers``) with an SMS subscription per number."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        alert_emails: tuple[str, ...],
        ops_emails: tuple[str, ...],
        sms_numbers: tuple[str, ...] = (),
    ) -> None:
        super().__init__(scope, id)
        # Trade details are encrypted at rest with the AWS managed key for SNS (no key fee).
        key = kms.Alias.from_alias_name(self, "SnsKey", "alias/aws/sns")
        self.trader_alerts = sns.Topic(
            self,
            "TraderAlerts",
            topic_name=names.TRADER_ALERTS_TOPIC,
            display_name="tradeflow",
            master_key=key,
            enforce_ssl=True,
        )
        self.urgent: sns.Topic | None = None
        if sms_numbers:
            # The display name prefixes each text ("tradeflow> ..."); at most 10 characters for SMS.
            self.urgent = sns.Topic(
                self, "Urgent", topic_name=names.URGENT_TOPIC, display_name="tradeflow", master_key=key, enforce_ssl=True
            )
            for number in sms_numbers:
                self.urgent.add_subscription(subscriptions.SmsSubscription(number))
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
