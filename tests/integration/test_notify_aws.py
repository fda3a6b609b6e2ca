"""``tradeflow notify test --aws`` and ``notify set-chat --aws`` against moto (SNS, SSM, STS):
one message per deployed channel, chat ones included; refusals are one line, exit 2."""

from __future__ import annotations

import json

import pytest
from tradeflow import names

from tests.integration.test_cli_aws import one_line, run

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"


@pytest.fixture
def aws(monkeypatch):
    """moto with the deployed topics, each with an SQS queue subscribed (what its subscribers get)."""
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        from tradeflow.adapters import aws as adapter

        adapter.client.cache_clear()  # clients made inside moto, with its credentials
        sns, sqs = boto3.client("sns", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
        inboxes = {}

        def deploy(*topics: str) -> None:
            for topic in topics:
                arn = sns.create_topic(Name=topic)["TopicArn"]
                url = sqs.create_queue(QueueName=f"inbox-{topic}")["QueueUrl"]
                queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
                sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn,
                              Attributes={"RawMessageDelivery": "true"})
                inboxes[topic] = url

        def received(topic: str) -> list[str]:
            got = sqs.receive_message(QueueUrl=inboxes[topic], MaxNumberOfMessages=10).get("Messages", [])
            return [m["Body"] for m in got]

        yield deploy, received


def test_notify_test_aws_sends_one_per_deployed_channel_chat_included(aws, capsys, monkeypatch):
    """Given the deployed topics and stored Telegram and Slack credentials, notify test --aws
    publishes one email, one SMS and one chat message per stored chat channel."""
    import boto3

    deploy, received = aws
    deploy(names.TRADER_ALERTS_TOPIC, names.URGENT_TOPIC, names.CHAT_TOPIC)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0/B0/XYZ")
    for argv in (["notify", "set-chat", "telegram", "--aws", "--chat-id", "-1001234567890"],
                 ["notify", "set-chat", "slack", "--aws"]):
        code, out, err = run(capsys, *argv)
        assert code == 0 and err == "" and "stored in AWS (SSM SecureString" in out, (argv, err)

    stored = boto3.client("ssm", region_name="us-east-1").get_parameter(
        Name=names.CHAT_PARAMETERS["telegram"], WithDecryption=True)["Parameter"]
    assert stored["Type"] == "SecureString" and json.loads(stored["Value"]) == {
        "bot_token": TOKEN, "chat_id": "-1001234567890"}

    code, out, err = run(capsys, "notify", "test", "--aws")
    assert code == 0 and err == ""
    assert out.splitlines()[0] == ("published a test message in us-east-1 to: email (tradeflow-trader-alerts), "
                                   "sms (tradeflow-urgent), telegram (tradeflow-chat), slack (tradeflow-chat)")
    [email] = received(names.TRADER_ALERTS_TOPIC)
    [sms] = received(names.URGENT_TOPIC)
    assert "test message from tradeflow notify test" in email and len(sms) <= 160
    chats = [json.loads(m) for m in received(names.CHAT_TOPIC)]
    assert sorted(c["channel"] for c in chats) == ["slack", "telegram"]
    assert all(c["text"] == email for c in chats) and TOKEN not in json.dumps(chats)


def test_without_phones_or_chat_only_email_goes_and_it_says_so(aws, capsys):
    deploy, received = aws
    deploy(names.TRADER_ALERTS_TOPIC)
    code, out, err = run(capsys, "notify", "test", "--aws")
    assert code == 0 and err == "" and out.splitlines()[0].endswith("to: email (tradeflow-trader-alerts)")
    assert "no SMS" in out and len(received(names.TRADER_ALERTS_TOPIC)) == 1


def test_refusals_are_one_line(aws, capsys, monkeypatch):
    deploy, _ = aws
    code, out, err = run(capsys, "notify", "test", "--aws")  # nothing deployed
    assert code == 2 and out == "" and "could not publish to tradeflow-trader-alerts" in one_line(err)
    for argv, says in ((["notify", "set-chat", "pager", "--aws"], "one of telegram, discord, slack"),
                       (["notify", "set-chat", "slack"], "add --aws"),
                       (["notify", "set-chat", "telegram", "--aws"], "needs --chat-id")):
        code, out, err = run(capsys, *argv)
        assert code == 2 and out == "" and says in one_line(err), argv
    monkeypatch.setenv("DISCORD_WEBHOOK_URL", "https://example.com/not-discord")
    code, out, err = run(capsys, "notify", "set-chat", "discord", "--aws")
    assert code == 2 and "https://discord.com/api/webhooks/" in one_line(err) and "example.com" not in err
    for key in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(key)
    code, out, err = run(capsys, "notify", "test", "--aws")
    assert code == 2 and out == "" and "no AWS region" in one_line(err)
