"""Synthesise the tradeflow stack once per session, offline, with cdk-nag's checks.

The layer asset is a tiny stand-in directory (the real layer build has its own test in
test_layer_build.py); the stack is pinned to the documentation account 123456789012 in
us-east-1, whose availability zones cdk.json carries, so no lookup and no credentials are
needed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from aws_cdk.assertions import Template  # noqa: E402
from infra_support import Synth, synthesise  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: builds the real Lambda layer with pip (about 15-60 s)")


@pytest.fixture(scope="session")
def stub_layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    layer = tmp_path_factory.mktemp("layer")
    (layer / "python").mkdir()
    (layer / "python" / "placeholder.py").write_text("# stands in for the tradeflow layer in infra tests\n")
    return layer


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory, stub_layer: Path) -> Synth:
    """The default profile, as cdk.json configures it, plus an email and a phone number."""
    return synthesise(
        tmp_path_factory.mktemp("cdk.out"),
        stub_layer,
        alert_emails=["trader@example.com"],
        sms_numbers=["+15555550100"],
    )


@pytest.fixture(scope="session")
def template(synth: Synth) -> Template:
    return synth.template


@pytest.fixture(scope="session")
def resources(synth: Synth) -> dict:
    return synth.resources


@pytest.fixture(scope="session")
def alternative(tmp_path_factory: pytest.TempPathFactory, stub_layer: Path) -> Synth:
    """The other profile a trader may choose: interface endpoints instead of IPv6 egress,
    reserved concurrency, the stop monitor around the clock, no SMS."""
    return synthesise(
        tmp_path_factory.mktemp("cdk.out-alt"),
        stub_layer,
        egress="endpoints",
        reserved_concurrency=True,
        stop_monitor_24_7=True,
        sms_numbers=[],
    )
