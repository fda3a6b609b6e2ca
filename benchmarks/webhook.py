"""Webhook speed: cold import time and warm latency. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/webhook.py [--runs 7] [--alerts 10000]

(a) Import time of ``functions/webhook/handler.py`` in a fresh interpreter (wall time around
    the import, interpreter start-up excluded), median of ``--runs``, beside the import time of
    ``aws_lambda_powertools, pydantic, boto3, psycopg`` measured the same way in the same run,
    interleaved so that machine load hits both alike. Also prints whether boto3 / psycopg were
    imported by the handler (they must not be: boto3 waits for the first send, psycopg never).
    The environment is the webhook's Lambda environment (queue URLs, no tracer).
(b) Warm latency of the handler (``handler(event, context)``, API Gateway HTTP API v2 events,
    distinct alerts) over ``--alerts`` alerts: p50 and p99 in ms, median over ``--rounds``.
    SQS and SSM are moto's ``mock_aws`` in-process, with botocore's request pipeline as in
    Lambda (serialisation, signing, moto's backend instead of HTTP). A second figure uses an
    in-process fake SQS client (``--fake``) to show how much of it is ours.
    ``--profile`` prints the top of a cProfile of the warm path.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HANDLER = ROOT / "functions" / "webhook" / "handler.py"
LAMBDA_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
    "SIGNALS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/tradeflow-signals.fifo",
    "NOTIFICATIONS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/tradeflow-notifications",
    "POWERTOOLS_SERVICE_NAME": "webhook", "POWERTOOLS_METRICS_NAMESPACE": "tradeflow",
}
IMPORT_HANDLER = (
    "import importlib.util, sys, time\n"
    "t, c = time.perf_counter(), time.process_time()\n"
    f"s = importlib.util.spec_from_file_location('handler', {str(HANDLER)!r})\n"
    "m = importlib.util.module_from_spec(s); s.loader.exec_module(m)\n"
    "print((time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000,"
    " 'boto3' in sys.modules, 'psycopg' in sys.modules)\n"
)
IMPORT_BASELINE = (
    "import time\n"
    "t, c = time.perf_counter(), time.process_time()\n"
    "import aws_lambda_powertools, pydantic, boto3, psycopg\n"
    "print((time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000, True, True)\n"
)


def _fresh(code: str) -> tuple[float, float, bool, bool]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, **LAMBDA_ENV}, cwd=ROOT).stdout.split()
    return float(out[0]), float(out[1]), out[2] == "True", out[3] == "True"


def import_times(runs: int) -> None:
    handler, baseline, leaks = [], [], set()
    for _ in range(runs):
        wall, cpu, boto3, psycopg = _fresh(IMPORT_HANDLER)
        handler.append((wall, cpu))
        leaks |= {name for name, seen in (("boto3", boto3), ("psycopg", psycopg)) if seen}
        baseline.append(_fresh(IMPORT_BASELINE)[:2])
    print(f"(a) import, median of {runs} fresh processes (interleaved), wall and CPU time")
    for k, clock in ((0, "wall"), (1, "CPU ")):
        h = statistics.median(x[k] for x in handler)
        b = statistics.median(x[k] for x in baseline)
        print(f"    {clock} webhook handler {h:6.1f} ms | powertools + pydantic + boto3 + psycopg {b:6.1f} ms"
              f" | ratio {h / b:4.2f}   (runs: {_fmt([x[k] for x in handler])} | {_fmt([x[k] for x in baseline])})")
    print(f"    imported by the handler: {', '.join(sorted(leaks)) or 'neither boto3 nor psycopg'}")


def _fmt(values: list[float]) -> str:
    return " ".join(f"{v:.0f}" for v in values)


def _events(n: int, credential: str) -> list[dict]:
    sys.path.insert(0, str(ROOT))
    from datetime import UTC, datetime, timedelta

    from tradeflow.local.stack import http_api_event

    start = datetime(2024, 3, 1, 15, 30, tzinfo=UTC)
    events = []
    for i in range(n):
        at = start + timedelta(seconds=i)
        body = json.dumps({"ticker": "AAPL", "action": "buy" if i % 2 else "sell", "quantity": str(1 + i % 7),
                           "price": f"{100 + i % 50}.25", "time": at.isoformat().replace("+00:00", "Z")})
        events.append(http_api_event(body, credential, "application/json", "52.89.214.238", at))
    return events


class _FakeSqs:
    """An in-process SQS client: takes send_message and keeps nothing."""

    sent = 0

    def send_message(self, **_: object) -> dict:
        self.sent += 1
        return {"MessageId": str(self.sent)}


class _RawBody:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: object):
        yield self._body


def _answer_at_the_wire(request, **_: object):
    """botocore ``before-send`` hook: answer SendMessage as SQS would, without a network. Everything
    before it (parameter validation, JSON serialisation, SigV4 signing) and after it (parsing, the
    MD5 check of the body) is botocore's real work, as in Lambda."""
    import hashlib
    import uuid

    from botocore.awsrequest import AWSResponse

    target = request.headers.get("X-Amz-Target") or b""
    if (target.decode() if isinstance(target, bytes) else target) != "AmazonSQS.SendMessage":
        return None  # anything else goes on to moto
    sent = json.loads(request.body)
    body = json.dumps({"MessageId": str(uuid.uuid4()),
                       "MD5OfMessageBody": hashlib.md5(sent["MessageBody"].encode()).hexdigest()}).encode()
    return AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.0"}, _RawBody(body))


def _load_handler():
    import importlib.util

    spec = importlib.util.spec_from_file_location("webhook_handler", HANDLER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _percentiles(samples_ns: list[int]) -> tuple[float, float]:
    ordered = sorted(samples_ns)
    return ordered[len(ordered) // 2] / 1e6, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1e6


def warm_latency(alerts: int, rounds: int, profile: bool) -> None:
    """Warm handler latency with SQS in-process: moto, botocore answered at the wire, a fake client."""
    os.environ.update(LAMBDA_ENV)
    os.environ["ALERT_BURST"] = "0"  # 10,000 alerts of one strategy would otherwise be 429 after 15
    from moto import mock_aws
    from tradeflow import names
    from tradeflow.adapters import aws, parameters
    from tradeflow.local.stack import LambdaContext

    # The secret and settings are read from SSM (moto) on the first call, then served from
    # powertools' cache, as in a warm Lambda; here the cache does not expire mid-run.
    parameters.CACHE_SECONDS = 24 * 3600
    module = _load_handler()
    context = LambdaContext(function_name="tradeflow-webhook")
    events = _events(alerts * rounds + 1, "bench.bench-secret-0123456789")
    batches = [events[1 + r * alerts: 1 + (r + 1) * alerts] for r in range(rounds)]
    devnull = open(os.devnull, "w")
    # Logger and Metrics write every line as in Lambda (where it goes to CloudWatch), here to /dev/null.
    module.logger.registered_handler.setStream(devnull)
    sqs = None

    def run(batch: list[dict], moto: bool = False) -> list[int]:
        samples = []
        stdout, sys.stdout = sys.stdout, devnull
        try:
            for n, event in enumerate(batch, 1):
                t = time.perf_counter_ns()
                response = module.handler(event, context)
                samples.append(time.perf_counter_ns() - t)
                if response["statusCode"] != 202:
                    raise SystemExit(f"unexpected answer {response}")
                if moto and n % 20 == 0:  # untimed: moto scans every message of the queue on each send
                    sqs.delete_queue(QueueUrl=os.environ["SIGNALS_QUEUE_URL"])
                    sqs.create_queue(QueueName=names.SIGNALS_QUEUE, Attributes={"FifoQueue": "true"})
        finally:
            sys.stdout = stdout
        return samples

    def report(label: str, figures: list[tuple[float, float]]) -> None:
        p50 = statistics.median(f[0] for f in figures)
        p99 = statistics.median(f[1] for f in figures)
        print(f"(b) warm latency, {alerts} alerts x {rounds} rounds, SQS: {label}")
        print(f"    p50 {p50:6.3f} ms   p99 {p99:6.3f} ms   (per round p50/p99: "
              + ", ".join(f"{a:.3f}/{b:.3f}" for a, b in figures) + ")")

    with mock_aws():
        sqs = aws.client("sqs")
        os.environ["SIGNALS_QUEUE_URL"] = sqs.create_queue(
            QueueName=names.SIGNALS_QUEUE, Attributes={"FifoQueue": "true"})["QueueUrl"]
        os.environ["NOTIFICATIONS_QUEUE_URL"] = sqs.create_queue(QueueName=names.NOTIFICATIONS_QUEUE)["QueueUrl"]
        parameters.put_strategy("bench", "bench-secret-0123456789", "{}")
        run(events[:1])  # the first call creates the SQS and SSM clients and reads SSM (cold path)
        report("moto mock_aws (botocore + moto's SQS backend, in-process)", [_percentiles(run(b, True)) for b in batches])
    aws.client.cache_clear()  # a real client, no moto: botocore's whole client-side work, answered at the wire
    aws.client("sqs").meta.events.register_first("before-send", _answer_at_the_wire)
    report("real botocore client answered at the wire (no moto, no network)", [_percentiles(run(b)) for b in batches])
    aws.client.cache_clear()
    original = aws.client
    aws.client = lambda service: _FakeSqs() if service == "sqs" else original(service)
    report("fake in-process SQS client (the webhook's own cost)", [_percentiles(run(b)) for b in batches])
    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        run(batches[0][:2000])
        profiler.disable()
        print("    cProfile of 2,000 warm calls (fake SQS), by own time:")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--skip-import", action="store_true")
    parser.add_argument("--skip-warm", action="store_true")
    args = parser.parse_args()
    if not args.skip_import:
        import_times(args.runs)
    if not args.skip_warm:
        warm_latency(args.alerts, args.rounds, args.profile)


if __name__ == "__main__":
    main()
