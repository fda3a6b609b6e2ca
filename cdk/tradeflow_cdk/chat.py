"""Chat channels: the chat topic, the chat_sender function outside the VPC, its dead-letter
queue and alarm.

The notifier runs in the VPC with IPv6 egress only; whether api.telegram.org, discord.com and
hooks.slack.com answer over IPv6 from a Lambda subnet is not something a synth can prove, and a
NAT gateway would cost about $33 a month. So the notifier publishes one message per chat channel
to the chat topic (SNS, which it already reaches over IPv6), and ``tradeflow-chat_sender``,
outside the VPC and subscribed to the topic, posts it with httpx. SNS invokes it asynchronously:
a failed post is retried twice by Lambda (that one message, so one channel), then the event goes
to ``tradeflow-chat-dlq``, whose alarm tells the operations topic.

Its role may: read the three chat parameters (and decrypt them through SSM), write its own logs
and traces. Nothing else. The notifier may publish to the chat topic and (for a burst's timer)
send to its own queue.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from tradeflow import names

from tradeflow_cdk.functions import (
    grant_secure_parameters,
    outside_vpc_function,
)
from tradeflow_cdk.nag import acknowledge

CHAT_DLQ = names.CHAT_DEAD_LETTER_QUEUE
MEMORY_MB = 256
#: Three tries of a post with waits of up to 10 s between them (tradeflow.adapters.chat).
TIMEOUT = Duration.seconds(45)
#: Lambda's asynchronous retries of a failed post (its default), then the dead-letter queue.
RETRY_ATTEMPTS = 2


class Chat(Construct):
    """``topic`` (tradeflow-chat), ``function`` (tradeflow-chat_sender) and ``dead_letters``;
    the notifier (``notifier``) may publish to the topic."""

    def __init__(self, scope: Construct, id: str, *, layer: lambda_.ILayerVersion, notifier: lambda_.Function,
                 operations: sns.ITopic) -> None:
        super().__init__(scope, id)
        key = kms.Alias.from_alias_name(self, "SnsKey", "alias/aws/sns")
        self.topic = sns.Topic(self, "Topic", topic_name=names.CHAT_TOPIC, display_name="tradeflow chat",
                               master_key=key, enforce_ssl=True)
        self.dead_letters = sqs.Queue(self, "Dlq", queue_name=CHAT_DLQ, encryption=sqs.QueueEncryption.SQS_MANAGED,
                                      enforce_ssl=True, retention_period=Duration.days(14))
        acknowledge(self.dead_letters, "AwsSolutions-SQS3",
            "This queue is the chat sender's dead-letter queue (its on-failure destination); it has no "
            "dead-letter queue of its own.",
        )
        self.function, role = outside_vpc_function(
            self, names.CHAT_SENDER_FUNCTION, names.CHAT_SENDER_FUNCTION_NAME,
            description="tradeflow chat_sender: chat topic -> Telegram, Discord, Slack",
            layer=layer, timeout=TIMEOUT, memory_mb=MEMORY_MB,
        )
        self.function.configure_async_invoke(
            retry_attempts=RETRY_ATTEMPTS, max_event_age=Duration.hours(1),
            on_failure=destinations.SqsDestination(self.dead_letters),
        )
        grant_secure_parameters(role, list(names.CHAT_PARAMETERS.values()), "the chat SecureStrings")
        self.topic.add_subscription(subscriptions.LambdaSubscription(self.function))

        # The notifier publishes each chat message to the topic (and names only this topic).
        self.topic.grant_publish(notifier)
        notifier.add_environment("CHAT_TOPIC_ARN", self.topic.topic_arn)

        self.alarm = cw.Alarm(
            self, "DlqAlarm", alarm_name=f"{names.APP}-dlq-{CHAT_DLQ.removeprefix(names.APP + '-')}",
            alarm_description=f"A chat message could not be posted after {RETRY_ATTEMPTS + 1} tries: see "
                              f"{CHAT_DLQ} and the log group /aws/lambda/{names.CHAT_SENDER_FUNCTION_NAME} (a refused "
                              "token or webhook URL: tradeflow notify set-chat CHANNEL --aws).",
            metric=self.dead_letters.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"),
            threshold=1, evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        self.alarm.add_alarm_action(actions.SnsAction(operations))
