"""The migrator's handler: migrations, then every role's grants and its password from its own secret."""

import importlib.util
import json

import pytest
from moto import mock_aws
from tradeflow import names
from tradeflow.adapters import aws

from tests.conftest import repo


@pytest.fixture
def migrator(monkeypatch, database_url):
    spec = importlib.util.spec_from_file_location("tradeflow_migrator", repo() / "cdk" / "migrator" / "handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # the embedded server listens on a Unix socket (no TLS): hand the handler its URL instead
    monkeypatch.setattr(module, "conninfo_from_secret", lambda secret: database_url)
    return module


def test_create_applies_grants_and_sets_each_roles_password(migrator, conn, monkeypatch):
    from tradeflow.local.stack import LambdaContext as Context
    from tradeflow.settings import env

    with mock_aws():
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        aws.client.cache_clear()
        sm = aws.client("secretsmanager")
        master = sm.create_secret(Name="master", SecretString=json.dumps({"username": "tradeflow", "password": "m"}))
        arns = {f: sm.create_secret(Name=f, SecretString=json.dumps({"username": f"tradeflow_{f}", "password": f"pw-{f}"}))["ARN"]
                for f in names.DATABASE_FUNCTIONS}
        monkeypatch.setenv("DATABASE_SECRET_ARN", master["ARN"])
        monkeypatch.setenv("ROLE_SECRET_ARNS", json.dumps(arns))
        env.cache_clear()
        try:
            result = migrator.on_event({"RequestType": "Create"}, Context(function_name="tradeflow-migrator"))
        finally:
            env.cache_clear()
            aws.client.cache_clear()
    assert result["PhysicalResourceId"] == migrator.PHYSICAL_ID
    rows = conn.execute("SELECT rolname, rolcanlogin, rolpassword IS NOT NULL AS has_password FROM pg_authid "
                        "WHERE rolname LIKE 'tradeflow\\_%'").fetchall()
    assert {r["rolname"] for r in rows if r["rolcanlogin"] and r["has_password"]} == {
        names.DATABASE_ROLE.format(function=f) for f in names.DATABASE_FUNCTIONS}
    granted = conn.execute("SELECT has_table_privilege('tradeflow_paper_executor', 'fills', 'INSERT') AS pe, "
                           "has_table_privilege('tradeflow_signal_processor', 'fills', 'INSERT') AS sp").fetchone()
    assert (granted["pe"], granted["sp"]) == (True, False)
