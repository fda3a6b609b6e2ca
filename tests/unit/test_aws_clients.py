"""The AWS clients' configuration: bounded connects and retries, dual-stack endpoints and IPv6
only when the SDK's dual-stack setting is on (the CDK app sets it in the VPC with IPv6 egress)."""

import socket

import pytest
import urllib3.util.connection
from tradeflow.adapters import aws


@pytest.fixture
def fresh_clients(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setattr(urllib3.util.connection, "allowed_gai_family", urllib3.util.connection.allowed_gai_family)
    aws.client.cache_clear()
    yield
    aws.client.cache_clear()


def test_every_client_gives_up_connecting_after_two_seconds_and_retries_at_most_three_times(fresh_clients):
    config = aws.client("sqs").meta.config
    assert (config.connect_timeout, config.read_timeout) == (2, 10)
    assert (config.retries["mode"], config.retries["total_max_attempts"]) == ("standard", 3)


def test_dual_stack_setting_gives_ipv6_endpoints_reached_over_ipv6_only(fresh_clients, monkeypatch):
    monkeypatch.setenv("AWS_USE_DUALSTACK_ENDPOINT", "true")
    urls = {s: aws.client(s).meta.endpoint_url for s in ("sqs", "sns", "secretsmanager", "s3")}
    assert urls == {"sqs": "https://sqs.us-east-1.api.aws", "sns": "https://sns.us-east-1.api.aws",
                    "secretsmanager": "https://secretsmanager.us-east-1.api.aws",
                    "s3": "https://s3.dualstack.us-east-1.amazonaws.com"}
    assert urllib3.util.connection.allowed_gai_family() == socket.AF_INET6


def test_without_it_the_standard_endpoints_and_any_address_family(fresh_clients, monkeypatch):
    monkeypatch.delenv("AWS_USE_DUALSTACK_ENDPOINT", raising=False)
    assert aws.client("sqs").meta.endpoint_url == "https://sqs.us-east-1.amazonaws.com"
    assert urllib3.util.connection.allowed_gai_family() != socket.AF_INET6 or not urllib3.util.connection.HAS_IPV6
