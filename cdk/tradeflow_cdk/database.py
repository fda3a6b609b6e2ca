"""Aurora PostgreSQL Serverless v2: encrypted, private, credentials in Secrets Manager.

With a minimum of 0 ACUs the writer pauses after five minutes without connections and
resumes on the next connection (about 15 s, longer after a day or more paused), so the
database costs only storage while the market is closed. Two server settings make the pause
actually happen with Lambda: ``idle_session_timeout`` closes the connection a frozen warm
Lambda keeps open (an open connection, even idle, prevents the pause), and TLS is forced.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_rds as rds
from constructs import Construct

from tradeflow_cdk.nag import acknowledge
from tradeflow_cdk.network import Network

ENGINE_VERSION = rds.AuroraPostgresEngineVersion.VER_16_9
DATABASE_NAME = "tradeflow"
USERNAME = "tradeflow"
#: Close sessions idle this long (ms) so that warm Lambdas do not keep the database awake.
IDLE_SESSION_TIMEOUT_MS = 120_000
AUTO_PAUSE_AFTER = Duration.minutes(5)


class Database(Construct):
    """``cluster`` and its ``secret`` (host, port, username, password, dbname as JSON)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        network: Network,
        min_acu: float = 0,
        max_acu: float = 2,
        deletion_protection: bool = True,
    ) -> None:
        super().__init__(scope, id)
        engine = rds.DatabaseClusterEngine.aurora_postgres(version=ENGINE_VERSION)
        parameters = rds.ParameterGroup(
            self,
            "Parameters",
            engine=engine,
            description="tradeflow: TLS only; idle sessions closed so the cluster can auto-pause",
            parameters={"rds.force_ssl": "1", "idle_session_timeout": str(IDLE_SESSION_TIMEOUT_MS)},
        )
        self.cluster = rds.DatabaseCluster(
            self,
            "Cluster",
            engine=engine,
            parameter_group=parameters,
            writer=rds.ClusterInstance.serverless_v2("Writer", publicly_accessible=False, auto_minor_version_upgrade=True),
            serverless_v2_min_capacity=min_acu,
            serverless_v2_max_capacity=max_acu,
            serverless_v2_auto_pause_duration=AUTO_PAUSE_AFTER if min_acu == 0 else None,
            # No fixed secret name: a deleted secret's name stays reserved for 7-30 days, which
            # would block deploying again after `cdk destroy`.
            credentials=rds.Credentials.from_generated_secret(USERNAME),
            default_database_name=DATABASE_NAME,
            vpc=network.vpc,
            vpc_subnets=network.subnets,
            security_groups=[network.database],
            storage_encrypted=True,
            iam_authentication=True,
            backup=rds.BackupProps(retention=Duration.days(7)),
            deletion_protection=deletion_protection,
            removal_policy=RemovalPolicy.SNAPSHOT,
            copy_tags_to_snapshot=True,
            network_type=rds.NetworkType.IPV4,
        )
        self.secret = self.cluster.secret
        acknowledge(self.cluster, "AwsSolutions-RDS11",
            "The cluster is reachable only from the functions' security group inside private "
            "subnets; a non-default port would add no protection and break tools expecting 5432.",
        )
        acknowledge(self.cluster.node.find_child("Secret"), "AwsSolutions-SMG4",
            "Rotation needs a rotation Lambda in the VPC and wakes the paused database every "
            "rotation; the secret is readable only by the five database functions and the migrator, "
            "and the database accepts connections only from their security group.",
        )
