"""The in-memory SQS (:class:`tradeflow.local.queues.Wire`) through a real boto3 client:
DelaySeconds as SQS's delay queues and message timers define it, unsigned requests."""

from __future__ import annotations

import functools
import itertools
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st
from tradeflow import clock
from tradeflow.clock import ReplayClock
from tradeflow.local.queues import NotAnsweredLocally, Wire

START = datetime(2024, 3, 1, 15, 30, tzinfo=UTC)


class _Local:
    """A boto3 SQS client answered by a fresh wire, on a replay clock."""

    def __init__(self) -> None:
        self.clock = ReplayClock(START)
        self.session = boto3.session.Session(aws_access_key_id="local", aws_secret_access_key="local",
                                             region_name="us-east-1")
        self.wire = Wire("us-east-1", "123456789012")
        self.wire.install(self.session.events)
        self.sqs = self.session.client("sqs")
        self.signatures: list[str | None] = []
        self.sqs.meta.events.register("before-send.sqs", self._note_signature)

    def _note_signature(self, request, **_):
        self.signatures.append(request.headers.get("Authorization"))

    def receive_all(self, url: str) -> list[str]:
        """Bodies of every message a receive returns now (received and deleted, 10 at a time)."""
        bodies = []
        while messages := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            bodies += [m["Body"] for m in messages]
            self.sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)])
        return bodies


_names = itertools.count()


@functools.cache
def _shared() -> _Local:
    """One client for every example of a property (a boto3 session costs about 0.1 s)."""
    return _Local()


@pytest.fixture
def local():
    made = _Local()
    with clock.use_clock(made.clock):
        yield made


def test_a_delayed_message_is_invisible_until_its_delay_has_passed(local):
    url = local.sqs.create_queue(QueueName="timers")["QueueUrl"]
    local.sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=61)
    local.sqs.send_message(QueueUrl=url, MessageBody="now")
    assert local.receive_all(url) == ["now"]
    attributes = local.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (attributes["ApproximateNumberOfMessagesDelayed"], attributes["ApproximateNumberOfMessages"]) == ("1", "0")
    assert local.wire.queues.next_visible_at("timers") == START + timedelta(seconds=61)
    local.clock.set(START + timedelta(seconds=60))
    assert local.receive_all(url) == []
    local.clock.set(START + timedelta(seconds=61))
    assert local.receive_all(url) == ["later"]
    assert set(local.signatures) == {None}  # nothing on the wire checks a signature: none is computed


@settings(max_examples=40, deadline=None)
@given(delays=st.lists(st.one_of(st.none(), st.integers(0, 900)), min_size=1, max_size=12),
       queue_delay=st.integers(0, 900), wait=st.integers(0, 1000))
def test_what_a_receive_returns_is_what_was_sent_at_least_its_delay_ago(delays, queue_delay, wait):
    """Property: after ``wait`` seconds, a receive returns exactly the messages whose delay (their
    own, else the queue's) is at most ``wait``; the rest come when the clock reaches the earliest."""
    local = _shared()
    local.clock.set(START)
    name = f"delays-{next(_names)}"
    with clock.use_clock(local.clock):
        url = local.sqs.create_queue(QueueName=name, Attributes={"DelaySeconds": str(queue_delay)})["QueueUrl"]
        local.sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(n), "MessageBody": str(n), **({} if d is None else {"DelaySeconds": d})}
            for n, d in enumerate(delays[:10])])
        for n, d in enumerate(delays[10:], start=10):
            local.sqs.send_message(QueueUrl=url, MessageBody=str(n), **({} if d is None else {"DelaySeconds": d}))
        effective = {str(n): queue_delay if d is None else d for n, d in enumerate(delays)}
        local.clock.set(START + timedelta(seconds=wait))
        assert sorted(local.receive_all(url)) == sorted(b for b, d in effective.items() if d <= wait)
        later = [d for d in effective.values() if d > wait]
        assert local.wire.queues.next_visible_at(name) == (START + timedelta(seconds=min(later)) if later else None)


def test_a_fifo_queue_refuses_a_delay_per_message_and_delays_by_its_own(local):
    url = local.sqs.create_queue(QueueName="steps.fifo", Attributes={"FifoQueue": "true",
                                                                     "DelaySeconds": "30"})["QueueUrl"]
    fifo = {"MessageGroupId": "g", "MessageDeduplicationId": "a"}
    with pytest.raises(ClientError) as refused:
        local.sqs.send_message(QueueUrl=url, MessageBody="a", DelaySeconds=5, **fifo)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "DelaySeconds" in refused.value.response["Error"]["Message"]
    answer = local.sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "late", "MessageBody": "late", "DelaySeconds": 5, **fifo},
        {"Id": "first", "MessageBody": "first", "MessageGroupId": "g", "MessageDeduplicationId": "b"},
        {"Id": "second", "MessageBody": "second", "MessageGroupId": "g", "MessageDeduplicationId": "c"}])
    assert [(f["Id"], f["Code"], f["SenderFault"]) for f in answer["Failed"]] == [("late", "InvalidParameterValue", True)]
    assert [s["Id"] for s in answer["Successful"]] == ["first", "second"]
    assert local.receive_all(url) == []  # the queue's 30 s delay
    local.clock.set(START + timedelta(seconds=30))
    assert local.receive_all(url) == ["first", "second"]  # in the group's order, the refused one never sent


def test_a_delay_outside_0_to_900_seconds_is_refused(local):
    url = local.sqs.create_queue(QueueName="timers")["QueueUrl"]
    with pytest.raises(ClientError) as refused:
        local.sqs.send_message(QueueUrl=url, MessageBody="x", DelaySeconds=901)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert local.wire.queues.depth("timers") == 0


def test_parameters_topics_and_buckets_are_answered_and_anything_else_is_refused_not_sent(local):
    ssm = local.session.client("ssm")
    with pytest.raises(ClientError) as missing:
        ssm.get_parameter(Name="/tradeflow/x", WithDecryption=True)
    assert missing.value.response["Error"]["Code"] == "ParameterNotFound"
    assert ssm.put_parameter(Name="/tradeflow/x", Value="s3cret", Type="SecureString")["Version"] == 1
    with pytest.raises(ClientError) as exists:
        ssm.put_parameter(Name="/tradeflow/x", Value="other", Type="SecureString")
    assert exists.value.response["Error"]["Code"] == "ParameterAlreadyExists"
    assert ssm.put_parameter(Name="/tradeflow/x", Value="new", Type="SecureString", Overwrite=True)["Version"] == 2
    got = ssm.get_parameter(Name="/tradeflow/x", WithDecryption=True)["Parameter"]
    assert (got["Value"], got["Type"], got["Version"]) == ("new", "SecureString", 2)
    assert ssm.get_parameter(Name="/tradeflow/x")["Parameter"]["Value"] != "new"  # not decrypted
    arn = local.session.client("sns").create_topic(Name="alerts")["TopicArn"]
    assert arn == "arn:aws:sns:us-east-1:123456789012:alerts" and arn in local.wire.topics
    s3 = local.session.client("s3")
    s3.create_bucket(Bucket="state")
    s3.put_object(Bucket="state", Key="flag", Body=b"1")
    assert s3.get_object(Bucket="state", Key="flag")["Body"].read() == b"1"
    with pytest.raises(NotAnsweredLocally, match="sts"):
        local.session.client("sts").get_caller_identity()
