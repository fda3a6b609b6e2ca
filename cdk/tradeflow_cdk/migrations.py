"""Schema migrations on deploy: a custom resource whose handler calls ``tradeflow.adapters.db.migrate``.

The migrator (cdk/migrator/handler.py) runs in the VPC with the shared layer, so it applies
exactly the migrations shipped with the code being deployed, then the database roles' grants
and passwords (tradeflow.adapters.roles). It alone reads the master secret. The resource's properties hold
a fingerprint of the migrations and of the handler: any deploy that changes either runs it
(``migrate`` is idempotent and takes an advisory lock, so a re-run is harmless);
``-c tradeflow:migrate_nonce=<anything new>`` forces a run.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from aws_cdk import CustomResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct, IConstruct
from tradeflow import names

from tradeflow_cdk import paths
from tradeflow_cdk.database import Database
from tradeflow_cdk.functions import (
    ARCHITECTURE,
    RUNTIME,
    acknowledge_eni,
    acknowledge_runtime,
    lambda_role,
    vpc_sdk_environment,
)
from tradeflow_cdk.nag import acknowledge
from tradeflow_cdk.network import Network

MIGRATIONS_DIR = paths.CORE / "tradeflow" / "adapters" / "migrations"


def fingerprint(*roots: Path) -> str:
    """SHA-256 over the relative paths and contents of every file under ``roots``."""
    digest = hashlib.sha256()
    for root in roots:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" in path.parts:
                continue
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


class Migrations(Construct):
    """The migrator function and the custom resource that invokes it on deploy."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        layer: lambda_.ILayerVersion,
        network: Network,
        database: Database,
        nonce: str = "",
        dualstack: bool = True,
    ) -> None:
        super().__init__(scope, id)
        log_group = logs.LogGroup(
            self, "Logs", log_group_name=f"/aws/lambda/{names.APP}-migrator",
            retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY,
        )
        role = lambda_role(self, "Role", log_group=log_group, in_vpc=True, description="tradeflow migrator")
        self.function = lambda_.Function(
            self,
            "Migrator",
            function_name=f"{names.APP}-migrator",
            description="tradeflow: apply schema migrations on deploy",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler="handler.on_event",
            code=lambda_.Code.from_asset(str(paths.MIGRATOR), exclude=["__pycache__", "*.pyc"]),
            layers=[layer],
            # Long enough for an Aurora resume from a long pause, then the migrations.
            timeout=Duration.minutes(5),
            memory_size=256,
            environment={
                "DATABASE_SECRET_ARN": database.secret.secret_arn,
                "ROLE_SECRET_ARNS": Stack.of(self).to_json_string(
                    {f: secret.secret_arn for f, secret in database.role_secrets.items()}
                ),
                **vpc_sdk_environment(dualstack),
            },
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            role=role,
            vpc=network.vpc,
            vpc_subnets=network.subnets,
            security_groups=[network.functions],
            allow_public_subnet=False,
            ipv6_allowed_for_dual_stack=True,
        )
        database.secret.grant_read(self.function)
        for secret in database.role_secrets.values():
            secret.grant_read(self.function)
        acknowledge_eni(role)
        acknowledge_runtime(self.function)

        provider_logs = logs.LogGroup(
            self, "ProviderLogs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
        )
        provider = cr.Provider(self, "Provider", on_event_handler=self.function, log_group=provider_logs)
        self._acknowledge_provider(provider, self.function)

        self.resource = CustomResource(
            self,
            "Schema",
            service_token=provider.service_token,
            resource_type="Custom::TradeflowMigrations",
            properties={
                "Migrations": fingerprint(MIGRATIONS_DIR) if MIGRATIONS_DIR.exists() else "none",
                "Migrator": fingerprint(paths.MIGRATOR / "handler.py", paths.CORE / "tradeflow" / "adapters" / "roles.py"),
                "Nonce": nonce,
            },
        )
        # The database, its security group rules and the IPv6 route must exist first.
        self.resource.node.add_dependency(database.cluster)
        self.resource.node.add_dependency(network)

    @staticmethod
    def _acknowledge_provider(provider: IConstruct, migrator: lambda_.Function) -> None:
        """Findings on the CDK Provider framework's own function (not configurable from here)."""
        framework = provider.node.find_child("framework-onEvent")
        acknowledge(
            framework.role if hasattr(framework, "role") else framework,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "CDK's custom resource Provider framework function (runs only on deploy) uses the AWS "
            "managed basic execution role for its logs.",
        )
        logical_id = Stack.of(migrator).get_logical_id(migrator.node.default_child)
        acknowledge(
            framework,
            f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>:*]",
            "The Provider framework may invoke the migrator and its versions (ARN:*), nothing else.",
        )
