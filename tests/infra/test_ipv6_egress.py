"""IPv6-only egress, simulated: in a network namespace made here (loopback and a veth pair, no
other interface), IPv4 to the outside is blackholed (packets vanish, so a connection hangs, as
in a VPC whose only way out is an egress-only internet gateway), and a moto server answers on an
IPv6 address only. The AWS endpoints' dual-stack names resolve (the namespace's own hosts file)
to a blackholed IPv4 address *and* the server's IPv6 address, with the IPv4 one first (a unique
local IPv6 address ranks below IPv4 in RFC 6724's default order: the worst case).

What it shows: tradeflow.adapters.aws's clients (SQS, SNS, Secrets Manager), configured as the
CDK app configures the functions in the VPC (AWS_USE_DUALSTACK_ENDPOINT=true), succeed within a
few seconds; botocore's defaults on the same network do not. What only a real deploy can show:
that the dual-stack endpoints' real AAAA records, the egress-only gateway, the route tables and
the security group's IPv6 egress rule let the calls out (docs/deploy.md, "Check that it works").

Needs root and ``ip netns`` (iproute2); skipped otherwise. CI runs as root and installs iproute2.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from infra_support import ROOT

NS = f"tfv6-{os.getpid()}"
SERVER_V6 = "fd00:7f::1"          # the moto server, on the namespace's loopback
BLACKHOLE_V4 = "203.0.113.77"      # documentation range (RFC 5737), off-link: routed into the void
REGION = "us-east-1"
#: endpoint prefix -> the SDK's service id, as in AWS_ENDPOINT_URL_<ID>
SERVICES = {"sqs": "SQS", "sns": "SNS", "secretsmanager": "SECRETS_MANAGER"}
CALLS = """
import json, time
from tradeflow.adapters import aws
from pydantic import RootModel
sqs, sns, secrets = aws.client("sqs"), aws.client("sns"), aws.client("secretsmanager")  # untimed: models load
start = time.monotonic()
queue = sqs.create_queue(QueueName="probe")["QueueUrl"]
aws.send(queue, RootModel[dict]({}))
topic = sns.create_topic(Name="probe")["TopicArn"]
aws.publish(topic, "probe", "over IPv6")
arn = secrets.create_secret(Name=f"probe-{time.time_ns()}", SecretString=json.dumps({"password": "p"}))["ARN"]
assert aws.secret_json(arn) == {"password": "p"}
print(json.dumps({"seconds": time.monotonic() - start}))
"""
DEFAULTS = """
import boto3
boto3.client("sqs").list_queues()
"""


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=10)


def namespace_support() -> str | None:
    if os.geteuid() != 0:
        return "needs root to create a network namespace"
    if shutil.which("ip") is None:
        return "needs iproute2's ip command"
    try:
        subprocess.run(["ip", "netns", "list"], check=True, capture_output=True, timeout=10)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        return f"ip netns is not usable here: {exc}"
    return None


@pytest.fixture(scope="module")
def namespace():
    reason = namespace_support()
    if reason and os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the IPv6 egress test: {reason}")
    if reason:
        pytest.skip(reason)
    hosts_dir = Path("/etc/netns") / NS
    ip("netns", "add", NS)
    try:
        ip("-n", NS, "link", "set", "lo", "up")
        ip("-n", NS, "addr", "add", f"{SERVER_V6}/128", "dev", "lo", "nodad")
        # IPv4's way out: a veth whose "gateway" is a neighbour that does not exist; the peer
        # drops the frames, so a TCP SYN to any outside IPv4 address goes unanswered (a hang).
        ip("-n", NS, "link", "add", "out0", "type", "veth", "peer", "name", "out1")
        ip("-n", NS, "addr", "add", "198.18.0.2/24", "dev", "out0")
        ip("-n", NS, "link", "set", "out0", "up")
        ip("-n", NS, "link", "set", "out1", "up")
        ip("-n", NS, "neigh", "add", "198.18.0.1", "lladdr", "02:00:00:00:00:01", "dev", "out0", "nud", "permanent")
        ip("-n", NS, "route", "add", "default", "via", "198.18.0.1", "dev", "out0")
        hosts_dir.mkdir(parents=True, exist_ok=True)
        lines = ["127.0.0.1 localhost", "::1 localhost"]
        for service in SERVICES:
            lines += [f"{BLACKHOLE_V4} {service}.{REGION}.api.aws", f"{SERVER_V6} {service}.{REGION}.api.aws",
                      f"{BLACKHOLE_V4} {service}.{REGION}.amazonaws.com"]  # the IPv4-only standard names
        (hosts_dir / "hosts").write_text("\n".join(lines) + "\n")
        # a resolver that orders IPv4 first (gai.conf, RFC 6724 precedence): the worst case
        (hosts_dir / "gai.conf").write_text("precedence ::ffff:0:0/96 100\n")
        yield NS
    finally:
        subprocess.run(["ip", "netns", "del", NS], capture_output=True, timeout=10)
        shutil.rmtree(hosts_dir, ignore_errors=True)


def in_namespace(code: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", NS, sys.executable, "-c", code], env=env,
                          capture_output=True, text=True, timeout=timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def moto_server(namespace):
    """A moto server inside the namespace, listening on its IPv6 address only."""
    port = free_port()
    server = subprocess.Popen(
        ["ip", "netns", "exec", NS, sys.executable, "-m", "moto.server", "-H", SERVER_V6, "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    probe = f"import socket; socket.create_connection(({SERVER_V6!r}, {port}), timeout=1).close()"
    try:
        for _ in range(50):  # bounded: at most ~10 s for the server to listen
            if in_namespace(probe, dict(os.environ), 5).returncode == 0:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the moto server did not start listening in the namespace")
        # warm it up (moto loads each service's backend on its first request), untimed
        in_namespace(CALLS, sdk_env(port, AWS_USE_DUALSTACK_ENDPOINT="true"), timeout=30)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


def sdk_env(port: int, **extra: str) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT / "layers" / "core"),
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
           "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    # each service's dual-stack host name, on the server's port and over plain HTTP (moto)
    env |= {f"AWS_ENDPOINT_URL_{sid}": f"http://{s}.{REGION}.api.aws:{port}" for s, sid in SERVICES.items()}
    return env | extra


def test_the_clients_reach_sqs_sns_and_secrets_manager_over_ipv6_within_seconds(moto_server):
    # Given the functions' SDK setting (AWS_USE_DUALSTACK_ENDPOINT=true, set by the CDK app)
    done = in_namespace(CALLS, sdk_env(moto_server, AWS_USE_DUALSTACK_ENDPOINT="true"), timeout=30)
    # Then SQS, SNS and Secrets Manager answer, within a few seconds in all
    assert done.returncode == 0, done.stderr[-2000:]
    seconds = json.loads(done.stdout.strip().splitlines()[-1])["seconds"]
    print(f"\nthree services over IPv6 in the namespace: {seconds:.2f} s")
    assert seconds < 2  # a single IPv4 attempt would cost the 2 s connect timeout


def test_ipv4_first_costs_the_connect_timeout_on_every_new_connection(moto_server):
    # Without the dual-stack setting the same clients try the blackholed IPv4 address first and
    # wait CONNECT_TIMEOUT (2 s) per new connection before falling back to IPv6
    done = in_namespace(CALLS, sdk_env(moto_server), timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    seconds = json.loads(done.stdout.strip().splitlines()[-1])["seconds"]
    print(f"\nthe same calls trying IPv4 first: {seconds:.2f} s")
    assert seconds >= 2 * len(SERVICES) * 0.9


def test_botocores_defaults_hang_on_the_ipv4_only_endpoint(moto_server):
    # The control: a default client goes to the IPv4-only standard endpoint, and hangs (60 s
    # connect timeout, retried), so the namespace really has no IPv4 way out
    env = sdk_env(moto_server)
    env = {k: v for k, v in env.items() if not k.startswith("AWS_ENDPOINT_URL_")}
    with pytest.raises(subprocess.TimeoutExpired):
        in_namespace(DEFAULTS, env, timeout=4)


def test_the_namespace_resolves_the_dual_stack_names_ipv4_first(namespace):
    # the worst case the clients must survive: the blackholed IPv4 address comes first
    code = ("import socket; print([a[4][0] for a in socket.getaddrinfo("
            f"'sqs.{REGION}.api.aws', 443, type=socket.SOCK_STREAM)])")
    done = in_namespace(code, dict(os.environ), timeout=10)
    assert done.stdout.strip() == str([BLACKHOLE_V4, SERVER_V6])
