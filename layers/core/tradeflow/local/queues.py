"""SQS in memory, on the replay clock, spoken at botocore's wire (:class:`Wire`) by the local stacks.

moto answers each SQS call in about 7 ms, which dominates a run of a few alerts; this model
answers in microseconds and keeps the semantics the pipeline relies on (Amazon SQS Developer
Guide: "FIFO queue delivery logic", "Visibility timeout", "Using dead-letter queues"):

- a FIFO queue returns a group's messages in the order sent, and none of a group while one of
  it is in flight; a message is dropped when its deduplication id was sent in the last 5
  minutes; a standard queue returns in any order;
- a received message is invisible for the queue's visibility timeout (or what
  ChangeMessageVisibility set), then visible again with its receive count kept;
- a message received more than ``max_receive_count`` times moves to the dead-letter queue at
  that receive, as SQS's redrive policy does;
- a message sent with a delay (its own ``DelaySeconds``, else the queue's) is invisible until
  the delay has passed ("Amazon SQS delay queues", "Amazon SQS message timers"); a FIFO queue
  takes only the queue's delay, and a group's later messages wait behind its delayed one.

Times are the tradeflow clock's, so a visibility timeout of 5 minutes costs no wall time in a
replay. ``order`` decides which of the visible groups a receive takes first (``random.Random``
for reordering across groups; in sequence by default).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tradeflow import clock

#: SQS FIFO's deduplication interval.
DEDUPE_SECONDS = 300
#: The longest delay SQS takes (DelaySeconds, seconds).
MAX_DELAY_SECONDS = 900


class _Refused(Exception):
    """A request SQS answers with a client error (``code``: its query-protocol code)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class Message:
    """One message: its id, body, FIFO group and deduplication id, receive count, the time
    it becomes visible, and its current receipt handle (None while visible)."""

    message_id: str
    body: str
    group: str | None
    dedupe_id: str | None
    sent_at: datetime
    seq: int
    receives: int = 0
    visible_at: datetime | None = None
    receipt: str | None = None
    source: str | None = None  # the queue it was dead-lettered from

    def as_sqs(self) -> dict:
        """The message as boto3's ``receive_message`` returns it (attributes included)."""
        attributes = {"ApproximateReceiveCount": str(self.receives),
                      "SentTimestamp": str(int(self.sent_at.timestamp() * 1000)),
                      "ApproximateFirstReceiveTimestamp": str(int(self.sent_at.timestamp() * 1000))}
        if self.group is not None:
            attributes |= {"MessageGroupId": self.group, "MessageDeduplicationId": self.dedupe_id or "",
                           "SequenceNumber": str(self.seq)}
        return {"MessageId": self.message_id, "ReceiptHandle": self.receipt, "Body": self.body,
                "MD5OfBody": hashlib.md5(self.body.encode()).hexdigest(), "Attributes": attributes}


@dataclass
class Queue:
    """One queue; ``dead_letter`` is its dead-letter queue's name (None for a DLQ)."""

    name: str
    visibility_seconds: int
    dead_letter: str | None = None
    max_receive_count: int = 5
    messages: list[Message] = field(default_factory=list)
    sent_ids: dict[str, datetime] = field(default_factory=dict)
    delay_seconds: int = 0  # the queue's DelaySeconds: every message's delay unless it sets its own

    @property
    def fifo(self) -> bool:
        return self.name.endswith(".fifo")


class MemoryQueues:
    """The queues by name; queue URLs end in the queue's name, as SQS's do."""

    def __init__(self, order: random.Random | None = None) -> None:
        self.queues: dict[str, Queue] = {}
        self.order = order
        self._seq = itertools.count(1)

    def create(self, name: str, visibility_seconds: int = 30, dead_letter: str | None = None,
               max_receive_count: int = 5, delay_seconds: int = 0) -> str:
        """Create a queue (idempotent); returns its URL. ``delay_seconds``: the queue's delay
        (0-900 s, SQS ``DelaySeconds``)."""
        self.queues.setdefault(name, Queue(name, visibility_seconds, dead_letter, max_receive_count,
                                           delay_seconds=delay_seconds))
        return self.url(name)

    @staticmethod
    def url(name: str) -> str:
        return f"memory://sqs/{name}"

    def _queue(self, url: str) -> Queue:
        return self.queues[url.rsplit("/", 1)[-1]]

    def send(self, url: str, body: str, group: str | None = None, dedupe_id: str | None = None,
             delay_seconds: int | None = None) -> str | None:
        """Send a message, invisible for ``delay_seconds`` (None: the queue's delay); returns its
        id, or None when a FIFO queue dropped it as a duplicate. Raises ValueError for a FIFO
        message without a group or deduplication id, or with a delay of its own (SQS: "you
        can't set DelaySeconds per message" on a FIFO queue, only the queue's)."""
        queue, now = self._queue(url), clock.now()
        if queue.fifo:
            if group is None or not dedupe_id:
                raise ValueError(f"{queue.name} is FIFO: a message needs a group and a deduplication id")
            if delay_seconds:
                raise ValueError(f"{queue.name} is FIFO: a message cannot have its own DelaySeconds, only the queue")
            seen = queue.sent_ids.get(dedupe_id)
            if seen is not None and (now - seen).total_seconds() < DEDUPE_SECONDS:
                return None
            queue.sent_ids[dedupe_id] = now
        delay = queue.delay_seconds if delay_seconds is None else delay_seconds
        message = Message(str(uuid.uuid4()), body, group, dedupe_id, now, next(self._seq),
                          visible_at=now + timedelta(seconds=delay) if delay else None)
        queue.messages.append(message)
        return message.message_id

    def _visible(self, message: Message, now: datetime) -> bool:
        return message.visible_at is None or message.visible_at <= now

    def _receivable_groups(self, queue: Queue, now: datetime) -> dict[str | None, list[Message]]:
        """A FIFO queue's receivable messages by group, in order: none of a group with a
        message in flight, and none from a group's first still-delayed message on."""
        busy = {m.group for m in queue.messages if m.receipt is not None and not self._visible(m, now)}
        groups: dict[str | None, list[Message]] = {}
        stopped: set[str | None] = set()
        for message in queue.messages:
            if message.group in busy or message.group in stopped:
                continue
            if message.receipt is None and not self._visible(message, now):
                stopped.add(message.group)  # delayed: it and what follows it in the group wait
                continue
            groups.setdefault(message.group, []).append(message)
        return groups

    def receive(self, url: str, max_messages: int = 10, visibility_seconds: int | None = None) -> list[dict]:
        """Receive up to ``max_messages``, moving those past their receive limit to the DLQ;
        ``visibility_seconds`` overrides the queue's visibility timeout for this receive."""
        queue, now = self._queue(url), clock.now()
        hidden = queue.visibility_seconds if visibility_seconds is None else visibility_seconds
        for message in queue.messages:
            if message.receipt is not None and self._visible(message, now):
                message.receipt = None  # its visibility timeout ran out
        if queue.fifo:
            groups = self._receivable_groups(queue, now)
            names = list(groups)
            if self.order is not None:
                self.order.shuffle(names)
            candidates = [m for name in names for m in groups[name]]
        else:
            candidates = [m for m in queue.messages if m.receipt is None and self._visible(m, now)]
            if self.order is not None:
                self.order.shuffle(candidates)
        taken: list[Message] = []
        for message in candidates:
            if len(taken) == max_messages:
                break
            if message.receives >= queue.max_receive_count and queue.dead_letter:
                queue.messages.remove(message)
                message.source, message.visible_at = queue.name, None
                self.queues[queue.dead_letter].messages.append(message)
                continue
            message.receives += 1
            message.receipt = uuid.uuid4().hex
            message.visible_at = now + timedelta(seconds=hidden)
            taken.append(message)
        return [m.as_sqs() for m in taken]

    def _by_receipt(self, url: str, receipt: str) -> Message | None:
        return next((m for m in self._queue(url).messages if m.receipt == receipt), None)

    def delete(self, url: str, receipt: str) -> None:
        """Delete a received message (a stale receipt handle deletes nothing)."""
        message = self._by_receipt(url, receipt)
        if message is not None:
            self._queue(url).messages.remove(message)

    def change_visibility(self, url: str, receipt: str, seconds: int) -> None:
        """Make a received message visible ``seconds`` from now."""
        message = self._by_receipt(url, receipt)
        if message is not None:
            message.visible_at = clock.now() + timedelta(seconds=seconds)
            if seconds == 0:
                message.receipt = None

    def depth(self, name: str) -> int:
        """Messages in the queue, visible or in flight."""
        return len(self.queues[name].messages)

    def next_visible_at(self, name: str) -> datetime | None:
        """When a receive of ``name`` can next return something, if only in-flight or delayed
        messages hold it back: the earliest visibility timeout or end of a delay, or on a FIFO
        queue the earliest time a group has no message in flight any more (the last of its
        visibility timeouts) and its first waiting message's delay is over."""
        now = clock.now()
        queue = self.queues[name]
        waiting = [m for m in queue.messages if not self._visible(m, now)]
        if not waiting:
            return None
        if not queue.fifo:
            return min(m.visible_at for m in waiting)
        free: dict[str | None, datetime] = {}
        for m in queue.messages:  # in order: the first message of a group not in flight decides
            if m.receipt is not None and not self._visible(m, now):
                free[m.group] = max(free.get(m.group, m.visible_at), m.visible_at)
        first_waiting: dict[str | None, datetime] = {}
        for m in queue.messages:
            if m.receipt is None or self._visible(m, now):
                first_waiting.setdefault(m.group, m.visible_at or now)
        times = [max(free.get(g, now), t) for g, t in first_waiting.items()]
        times += [t for g, t in free.items() if g not in first_waiting]
        return min(times)

    def has_visible(self, name: str) -> bool:
        """Whether a receive of ``name`` now would return something (before any fault hook)."""
        now = clock.now()
        queue = self.queues[name]
        if not queue.fifo:
            return any(self._visible(m, now) for m in queue.messages)
        return bool(self._receivable_groups(queue, now))


class _Raw(io.BytesIO):
    """The raw body of an :class:`~botocore.awsrequest.AWSResponse`: read whole (``stream``) or
    as a streaming body (``read``), as urllib3's response is."""

    def stream(self, **_: object):
        yield self.getvalue()


def _read_body(request: Any) -> bytes:
    """The bytes of a prepared botocore request, an ``aws-chunked`` upload decoded."""
    body = request.body
    if hasattr(body, "read"):
        body = body.read()
        if hasattr(request.body, "seek"):
            request.body.seek(0)
    body = (body or b"") if isinstance(body, bytes | bytearray) else (body or "").encode()
    if "aws-chunked" not in str(request.headers.get("Content-Encoding", "")):
        return bytes(body)
    out, rest = bytearray(), bytes(body)
    while rest:
        size_line, rest = rest.split(b"\r\n", 1)
        size = int(size_line.split(b";", 1)[0], 16)
        if size == 0:
            break
        out += rest[:size]
        rest = rest[size + 2:]
    return bytes(out)


class WireHooks:
    """What :class:`Wire` asks before it answers, so that a test can inject faults where SQS
    and SNS would fail (the defaults change nothing):

    - ``on_send(queue, body)``: how many copies of a message to enqueue (0 drops it, 2 or more
      are duplicates with their own deduplication ids); an exception raised here is raised to
      the sender by its boto3 client, as a failed request would be;
    - ``on_receive(queue)``: False makes a receive come back empty (as a short poll can);
    - ``on_delete(queue)``: False makes a delete of one message not happen while SQS still
      answers success (as for an expired receipt handle): the message comes back after its
      visibility timeout;
    - ``on_publish(subject, message)``: called after a publish was accepted; an exception
      raised here reaches the publisher.
    """

    def on_send(self, queue: str, body: str) -> int:
        return 1

    def on_receive(self, queue: str) -> bool:
        return True

    def on_delete(self, queue: str) -> bool:
        return True

    def on_publish(self, subject: str, message: str) -> None:
        return None


class NotAnsweredLocally(RuntimeError):
    """An AWS request the local stack does not answer (it never goes to the network)."""


class Wire:
    """SQS, SNS, SSM parameters, chosen S3 buckets and asynchronous Lambda invokes answered in
    memory at botocore's wire: a ``before-send`` event handler returns the HTTP response the
    service would, so that the callers' boto3 clients still validate, serialise each request
    and parse each response (botocore "Event reference": ``before-send``), with no network and
    no moto behind them; requests go unsigned (nothing here checks a signature). SQS is
    :class:`MemoryQueues` (FIFO groups, deduplication, delays, visibility timeouts, receive
    counts, redrive), spoken in the AWS JSON 1.0 protocol botocore uses for SQS; SNS
    ``CreateTopic`` makes a topic, and a publish to a topic with SQS subscribers is delivered to
    them as SNS's JSON envelope (Type, MessageId, TopicArn, Subject, Message, Timestamp); SSM
    ``PutParameter``, ``GetParameter`` and ``DeleteParameter`` keep parameters in
    :attr:`parameters` (AWS JSON 1.1); S3 ``CreateBucket`` makes a bucket and GetObject,
    PutObject and DeleteObject keep bytes per (bucket, key); a Lambda ``Invoke`` with
    ``InvocationType=Event`` is accepted (202, as Lambda queues it) and kept in
    :attr:`invocations` for the caller to run. Any other request raises
    :class:`NotAnsweredLocally` to its caller, unless moto is mocking AWS (then moto answers).

    ``install(events)`` registers on a botocore event emitter, e.g. the boto3 default
    session's, so every client created afterwards is answered; ``uninstall(events)`` undoes it.

    :attr:`hooks` (a :class:`WireHooks`) is asked at every send, receive, delete and publish;
    :attr:`published` keeps every accepted publish (topic, subject, message), SMS included.
    """

    def __init__(self, region: str, account_id: str, queues: MemoryQueues | None = None) -> None:
        self.region, self.account_id = region, account_id
        self.queues = queues or MemoryQueues()
        self.subscriptions: dict[str, list[str]] = {}
        self.buckets: set[str] = set()
        self.objects: dict[tuple[str, str], bytes] = {}
        self.topics: set[str] = set()
        #: SSM parameters by name: {"Type", "Value", "Version"}.
        self.parameters: dict[str, dict[str, Any]] = {}
        self.calls: dict[str, int] = {}
        self.hooks: Any = WireHooks()
        self.published: list[dict[str, str]] = []
        #: Asynchronous Lambda invocations accepted and not yet run: (function name, payload).
        self.invocations: list[tuple[str, bytes]] = []
        self._answered: Any = None

    def answered(self, request: Any) -> bool:
        """Whether this wire answered ``request`` (the one being sent now)."""
        return request is self._answered

    # --- registration ---------------------------------------------------------------------

    def _handlers(self) -> list[tuple[str, Any, str]]:
        """(event, handler, where) of every handler this wire registers; ``where`` is
        botocore's ``REGISTER_FIRST`` or ``REGISTER_LAST``."""
        from botocore.handlers import REGISTER_FIRST, REGISTER_LAST, disable_signing

        # Nothing here checks a signature: requests go unsigned (botocore's own handler for
        # ``signature_version=UNSIGNED``), saving SigV4's hashing on every call.
        return [("choose-signer", disable_signing, REGISTER_FIRST),
                *((f"before-send.{service}", getattr(self, f"_{service}"), REGISTER_FIRST)
                  for service in ("sqs", "sns", "s3", "lambda", "ssm")),
                ("before-send", self._refuse, REGISTER_LAST)]

    def install(self, events: Any, new_sessions: bool = False) -> None:
        """Answer the clients made from now on with the emitter ``events``; ``new_sessions``:
        also those of every botocore session created from now on (as powertools' parameter
        providers make their own), through botocore's ``BUILTIN_HANDLERS``, as moto does."""
        from botocore import handlers
        from botocore.handlers import REGISTER_FIRST

        for event, handler, where in self._handlers():
            register = events.register_first if where is REGISTER_FIRST else events.register_last
            register(event, handler, unique_id=f"tradeflow-wire-{event}")
        if new_sessions:
            handlers.BUILTIN_HANDLERS.extend(self._handlers())

    def uninstall(self, events: Any) -> None:
        """Undo :meth:`install` (sessions created meanwhile keep their handlers: drop their clients)."""
        from botocore import handlers

        for event, _, _ in self._handlers():
            events.unregister(event, unique_id=f"tradeflow-wire-{event}")
        mine = self._handlers()
        handlers.BUILTIN_HANDLERS[:] = [spec for spec in handlers.BUILTIN_HANDLERS if spec not in mine]

    def _reply(self, answer: Any, request: Any) -> Any:
        """``answer(request)``: the response of one service's ``before-send`` handler (None:
        not answered here, botocore goes on), remembered for :meth:`answered`."""
        self._answered = None
        response = answer(request)
        if response is not None:
            self._answered = request
        return response

    def _refuse(self, request: Any, event_name: str = "", **_: Any) -> None:
        """The last ``before-send`` handler: a request no handler of this wire answered is
        refused here rather than sent to AWS, unless moto is mocking AWS in this process."""
        import sys

        if self.answered(request):
            return None
        moto = sys.modules.get("moto.core.models")
        if moto is not None and getattr(moto.botocore_stubber, "enabled", False):
            return None
        operation = event_name.removeprefix("before-send.").replace(".", " ") or f"{request.method} {request.url}"
        raise NotAnsweredLocally(f"the local stack does not answer {operation}: it answers SQS, SNS topics and "
                                 "publishes, SSM parameters, its S3 buckets and asynchronous Lambda invokes")

    def queue_url(self, name: str) -> str:
        return f"https://sqs.{self.region}.amazonaws.com/{self.account_id}/{name}"

    def queue_arn(self, name: str) -> str:
        return f"arn:aws:sqs:{self.region}:{self.account_id}:{name}"

    def subscribe(self, topic_arn: str, queue_name: str) -> None:
        """Deliver what is published to ``topic_arn`` to the queue ``queue_name`` (raw delivery off)."""
        self.subscriptions.setdefault(topic_arn, []).append(queue_name)

    # --- SQS --------------------------------------------------------------------------------

    @staticmethod
    def _json(request: Any, status: int, payload: dict, headers: dict | None = None) -> Any:
        from botocore.awsrequest import AWSResponse

        return AWSResponse(request.url, status, {"Content-Type": "application/x-amz-json-1.0", **(headers or {})},
                           _Raw(json.dumps(payload).encode()))

    def _sqs_error(self, request: Any, code: str, query_code: str, message: str) -> Any:
        return self._json(request, 400, {"__type": f"com.amazonaws.sqs#{code}", "message": message},
                          {"x-amzn-query-error": f"{query_code};Sender"})

    def _sqs(self, request: Any, **_: Any) -> Any:
        return self._reply(self._answer_sqs, request)

    def _answer_sqs(self, request: Any) -> Any:
        target = request.headers.get("X-Amz-Target") or b""
        operation = (target.decode() if isinstance(target, bytes) else target).rpartition(".")[2]
        params = json.loads(_read_body(request) or b"{}")
        handler = getattr(self, f"_sqs_{operation}", None)
        if handler is None:
            return None
        self.calls[f"sqs.{operation}"] = self.calls.get(f"sqs.{operation}", 0) + 1
        name = (params.get("QueueUrl") or "").rsplit("/", 1)[-1] or params.get("QueueName", "")
        if operation not in ("CreateQueue", "ListQueues") and name not in self.queues.queues:
            return self._sqs_error(request, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue",
                                   "The specified queue does not exist.")
        try:
            return self._json(request, 200, handler(name, params))
        except _Refused as refused:
            return self._sqs_error(request, refused.code, refused.code, refused.message)

    def _sqs_CreateQueue(self, name: str, params: dict) -> dict:
        attributes = params.get("Attributes", {})
        dead_letter, max_receives = None, 5
        if "RedrivePolicy" in attributes:
            policy = json.loads(attributes["RedrivePolicy"])
            dead_letter = policy["deadLetterTargetArn"].rsplit(":", 1)[-1]
            max_receives = int(policy["maxReceiveCount"])
            self.queues.create(dead_letter)
        self.queues.create(name, int(attributes.get("VisibilityTimeout", 30)), dead_letter, max_receives,
                           int(attributes.get("DelaySeconds", 0)))
        return {"QueueUrl": self.queue_url(name)}

    def _sqs_GetQueueUrl(self, name: str, params: dict) -> dict:
        return {"QueueUrl": self.queue_url(name)}

    def _sqs_ListQueues(self, name: str, params: dict) -> dict:
        prefix = params.get("QueueNamePrefix", "")
        return {"QueueUrls": [self.queue_url(q) for q in self.queues.queues if q.startswith(prefix)]}

    def _sqs_DeleteQueue(self, name: str, params: dict) -> dict:
        del self.queues.queues[name]
        return {}

    def _sqs_PurgeQueue(self, name: str, params: dict) -> dict:
        self.queues.queues[name].messages.clear()
        return {}

    def _sqs_GetQueueAttributes(self, name: str, params: dict) -> dict:
        queue, now = self.queues.queues[name], clock.now()
        flying = sum(1 for m in queue.messages if m.receipt is not None and not self.queues._visible(m, now))
        delayed = sum(1 for m in queue.messages if m.receipt is None and not self.queues._visible(m, now))
        attributes = {"QueueArn": self.queue_arn(name), "VisibilityTimeout": str(queue.visibility_seconds),
                      "DelaySeconds": str(queue.delay_seconds),
                      "ApproximateNumberOfMessages": str(len(queue.messages) - flying - delayed),
                      "ApproximateNumberOfMessagesNotVisible": str(flying),
                      "ApproximateNumberOfMessagesDelayed": str(delayed)}
        if queue.fifo:
            attributes["FifoQueue"] = "true"
        if queue.dead_letter:
            attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": self.queue_arn(queue.dead_letter),
                                                      "maxReceiveCount": queue.max_receive_count})
        wanted = params.get("AttributeNames") or ["All"]
        return {"Attributes": attributes if "All" in wanted else {k: v for k, v in attributes.items() if k in wanted}}

    def _delay_refused(self, name: str, entry: dict) -> str | None:
        """Why SQS would refuse ``entry``'s DelaySeconds on queue ``name`` (None: it would not).
        SQS API reference, SendMessage: 0 to 900 seconds, and "When you set FifoQueue, you
        can't set DelaySeconds per message. You can set this parameter only on a queue level"."""
        delay = entry.get("DelaySeconds")
        if delay is None:
            return None
        if not 0 <= int(delay) <= MAX_DELAY_SECONDS:
            return f"Value {delay} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900."
        if int(delay) > 0 and self.queues.queues[name].fifo:
            return (f"Value {delay} for parameter DelaySeconds is invalid. Reason: The request include parameter "
                    "that is not valid for this queue type.")
        return None

    def _send_one(self, name: str, entry: dict) -> dict:
        body, dedupe_id = entry["MessageBody"], entry.get("MessageDeduplicationId")
        delay = entry.get("DelaySeconds")
        ids = [self.queues.send(name, body, entry.get("MessageGroupId"),
                                dedupe_id if n == 0 or dedupe_id is None else f"{dedupe_id}:copy{n}"[-128:],
                                None if delay is None else int(delay))
               for n in range(self.hooks.on_send(name, body))]
        message_id = ids[0] if ids else None
        # A duplicate within the deduplication interval is accepted and not delivered, as SQS does.
        return {"MessageId": message_id or str(uuid.uuid4()), "MD5OfMessageBody": hashlib.md5(body.encode()).hexdigest()}

    def _sqs_SendMessage(self, name: str, params: dict) -> Any:
        refused = self._delay_refused(name, params)
        if refused:
            raise _Refused("InvalidParameterValue", refused)
        return self._send_one(name, params)

    def _sqs_SendMessageBatch(self, name: str, params: dict) -> dict:
        refused = {e["Id"]: why for e in params["Entries"] if (why := self._delay_refused(name, e))}
        return {"Successful": [{"Id": e["Id"], **self._send_one(name, e)} for e in params["Entries"]
                               if e["Id"] not in refused],
                "Failed": [{"Id": i, "SenderFault": True, "Code": "InvalidParameterValue", "Message": why}
                           for i, why in refused.items()]}

    def _sqs_ReceiveMessage(self, name: str, params: dict) -> dict:
        messages = self.receive(name, int(params.get("MaxNumberOfMessages", 1)), params.get("VisibilityTimeout"))
        return {"Messages": messages} if messages else {}

    def _sqs_DeleteMessage(self, name: str, params: dict) -> dict:
        self.delete(name, [params["ReceiptHandle"]])
        return {}

    def _sqs_DeleteMessageBatch(self, name: str, params: dict) -> dict:
        self.delete(name, [e["ReceiptHandle"] for e in params["Entries"]])
        return {"Successful": [{"Id": e["Id"]} for e in params["Entries"]], "Failed": []}

    def _sqs_ChangeMessageVisibility(self, name: str, params: dict) -> dict:
        self.queues.change_visibility(name, params["ReceiptHandle"], int(params["VisibilityTimeout"]))
        return {}

    def _sqs_ChangeMessageVisibilityBatch(self, name: str, params: dict) -> dict:
        for entry in params["Entries"]:
            self.queues.change_visibility(name, entry["ReceiptHandle"], int(entry["VisibilityTimeout"]))
        return {"Successful": [{"Id": e["Id"]} for e in params["Entries"]], "Failed": []}

    # --- the event source mapping's side: what Lambda's poller does, without a client -------

    def receive(self, queue: str, max_messages: int = 10, visibility_seconds: int | None = None) -> list[dict]:
        """Receive up to ``max_messages`` of ``queue`` (a name) as ``ReceiveMessage`` would
        return them (``Messages``; empty when :attr:`hooks` makes the receive come back empty).
        Lambda's event source mapping polls SQS with its own client, not the function's: the
        local stack calls this directly instead of through botocore."""
        if not self.hooks.on_receive(queue):
            return []
        return self.queues.receive(queue, max_messages, visibility_seconds)

    def delete(self, queue: str, receipts: list[str]) -> None:
        """Delete received messages of ``queue`` by receipt handle, as ``DeleteMessageBatch``
        does (:attr:`hooks` may make one not happen)."""
        for receipt in receipts:
            if self.hooks.on_delete(queue):
                self.queues.delete(queue, receipt)

    # --- SNS (Publish only) -------------------------------------------------------------------

    def _sns(self, request: Any, **_: Any) -> Any:
        return self._reply(self._answer_sns, request)

    def _answer_sns(self, request: Any) -> Any:
        from urllib.parse import parse_qs

        from botocore.awsrequest import AWSResponse

        form = {k: v[0] for k, v in parse_qs(_read_body(request).decode(), keep_blank_values=True).items()}
        if form.get("Action") == "CreateTopic" and form.get("Name"):
            self.calls["sns.CreateTopic"] = self.calls.get("sns.CreateTopic", 0) + 1
            arn = f"arn:aws:sns:{self.region}:{self.account_id}:{form['Name']}"
            self.topics.add(arn)
            body = (f'<CreateTopicResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><CreateTopicResult>'
                    f"<TopicArn>{arn}</TopicArn></CreateTopicResult><ResponseMetadata>"
                    f"<RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></CreateTopicResponse>").encode()
            return AWSResponse(request.url, 200, {"Content-Type": "text/xml"}, _Raw(body))
        if form.get("Action") != "Publish" or not form.get("TopicArn"):
            return None
        self.calls["sns.Publish"] = self.calls.get("sns.Publish", 0) + 1
        message_id = str(uuid.uuid4())
        envelope = {"Type": "Notification", "MessageId": message_id, "TopicArn": form["TopicArn"],
                    "Message": form.get("Message", ""),
                    "Timestamp": clock.now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"}
        if "Subject" in form:
            envelope["Subject"] = form["Subject"]
        for queue in self.subscriptions.get(form["TopicArn"], []):
            self.queues.send(queue, json.dumps(envelope), None, None)
        self.published.append({"topic": form["TopicArn"], "subject": form.get("Subject", ""),
                               "message": form.get("Message", "")})
        self.hooks.on_publish(form.get("Subject", ""), form.get("Message", ""))
        body = (f'<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult>'
                f"<MessageId>{message_id}</MessageId></PublishResult><ResponseMetadata>"
                f"<RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></PublishResponse>").encode()
        return AWSResponse(request.url, 200, {"Content-Type": "text/xml"}, _Raw(body))

    # --- S3 objects ---------------------------------------------------------------------------

    def _s3(self, request: Any, **_: Any) -> Any:
        return self._reply(self._answer_s3, request)

    def _answer_s3(self, request: Any) -> Any:
        from email.utils import formatdate
        from urllib.parse import unquote, urlsplit

        from botocore.awsrequest import AWSResponse

        url = urlsplit(request.url)
        bucket = next((b for b in self.buckets if url.netloc.startswith(f"{b}.")), None)
        path = unquote(url.path)
        if request.method == "PUT" and bucket is None and path in ("", "/") and ".s3." in url.netloc \
                and not url.query:  # CreateBucket, virtual-hosted style
            bucket = url.netloc.split(".s3.", 1)[0]
        if bucket is None:
            bucket, _, path = path.lstrip("/").partition("/")
            path = "/" + path
        key = path[1:]
        if request.method == "PUT" and bucket and not key and not url.query:
            self.calls["s3.CreateBucket"] = self.calls.get("s3.CreateBucket", 0) + 1
            self.buckets.add(bucket)
            return AWSResponse(request.url, 200, {"Location": f"/{bucket}"}, _Raw(b""))
        if bucket not in self.buckets or not key or url.query:
            return None
        self.calls[f"s3.{request.method}"] = self.calls.get(f"s3.{request.method}", 0) + 1
        if request.method == "PUT":
            body = _read_body(request)
            self.objects[(bucket, key)] = body
            return AWSResponse(request.url, 200, {"ETag": f'"{hashlib.md5(body).hexdigest()}"'}, _Raw(b""))
        if request.method == "DELETE":
            self.objects.pop((bucket, key), None)
            return AWSResponse(request.url, 204, {}, _Raw(b""))
        if request.method in ("GET", "HEAD"):
            body = self.objects.get((bucket, key))
            if body is None:
                error = (f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>NoSuchKey</Code><Message>The "
                         f"specified key does not exist.</Message><Key>{key}</Key></Error>").encode()
                return AWSResponse(request.url, 404, {"Content-Type": "application/xml"},
                                   _Raw(b"" if request.method == "HEAD" else error))
            headers = {"ETag": f'"{hashlib.md5(body).hexdigest()}"', "Content-Length": str(len(body)),
                       "Content-Type": "binary/octet-stream", "Last-Modified": formatdate(usegmt=True)}
            return AWSResponse(request.url, 200, headers, _Raw(b"" if request.method == "HEAD" else body))
        return None

    # --- SSM parameters ----------------------------------------------------------------------

    def _ssm(self, request: Any, **_: Any) -> Any:
        return self._reply(self._answer_ssm, request)

    def _answer_ssm(self, request: Any) -> Any:
        """``PutParameter``, ``GetParameter`` and ``DeleteParameter`` in AWS JSON 1.1 (AWS
        Systems Manager API reference). A SecureString is kept as given (nothing is encrypted
        locally) and returned only with ``WithDecryption``; without it, as an opaque value."""
        from botocore.awsrequest import AWSResponse

        target = request.headers.get("X-Amz-Target") or b""
        operation = (target.decode() if isinstance(target, bytes) else target).rpartition(".")[2]
        if operation not in ("PutParameter", "GetParameter", "DeleteParameter"):
            return None
        self.calls[f"ssm.{operation}"] = self.calls.get(f"ssm.{operation}", 0) + 1
        params = json.loads(_read_body(request) or b"{}")
        name = params["Name"]
        stored = self.parameters.get(name)

        def answer(status: int, payload: dict) -> Any:
            return AWSResponse(request.url, status, {"Content-Type": "application/x-amz-json-1.1"},
                               _Raw(json.dumps(payload).encode()))

        if operation == "PutParameter":
            if stored is not None and not params.get("Overwrite"):
                return answer(400, {"__type": "ParameterAlreadyExists",
                                    "message": "The parameter already exists. To overwrite this value, set the "
                                               "overwrite option in the request to true."})
            version = (stored["Version"] if stored else 0) + 1
            kind = params.get("Type") or (stored["Type"] if stored else "String")
            self.parameters[name] = {"Type": kind, "Value": params["Value"], "Version": version}
            return answer(200, {"Version": version, "Tier": "Standard"})
        if stored is None:
            return answer(400, {"__type": "ParameterNotFound", "message": ""})
        if operation == "DeleteParameter":
            del self.parameters[name]
            return answer(200, {})
        value = stored["Value"]
        if stored["Type"] == "SecureString" and not params.get("WithDecryption"):
            value = f"kms:alias/aws/ssm:{value}"
        return answer(200, {"Parameter": {
            "Name": name, "Type": stored["Type"], "Value": value, "Version": stored["Version"],
            "ARN": f"arn:aws:ssm:{self.region}:{self.account_id}:parameter/{name.lstrip('/')}",
            "DataType": "text"}})

    # --- Lambda (asynchronous Invoke only) ----------------------------------------------------

    def _lambda(self, request: Any, **_: Any) -> Any:
        return self._reply(self._answer_lambda, request)

    def _answer_lambda(self, request: Any) -> Any:
        """``POST /2015-03-31/functions/{FunctionName}/invocations`` with the header
        ``X-Amz-Invocation-Type: Event`` (AWS Lambda API reference, "Invoke"): queued, 202 and
        an empty payload. A synchronous invoke is not answered here."""
        from urllib.parse import unquote, urlsplit

        from botocore.awsrequest import AWSResponse

        path = unquote(urlsplit(request.url).path)
        kind = request.headers.get("X-Amz-Invocation-Type") or b""
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if request.method != "POST" or "/functions/" not in path or not path.endswith("/invocations") \
                or kind != "Event":
            return None
        function = path.split("/functions/", 1)[1].rsplit("/invocations", 1)[0]
        function = function.split(":function:", 1)[-1].split(":", 1)[0]  # a name, or an ARN with a qualifier
        self.calls["lambda.Invoke"] = self.calls.get("lambda.Invoke", 0) + 1
        self.invocations.append((function, _read_body(request)))
        return AWSResponse(request.url, 202, {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4())},
                           _Raw(b""))
