"""Aurora Serverless v2 that can pause to zero, and the migrations custom resource."""

from aws_cdk.assertions import Match, Template
from tradeflow_cdk.database import IDLE_SESSION_TIMEOUT_MS


def test_aurora_serverless_v2_scales_to_zero_and_pauses(template: Template) -> None:
    template.has_resource_properties(
        "AWS::RDS::DBCluster",
        {
            "Engine": "aurora-postgresql",
            "EngineVersion": Match.string_like_regexp(r"^16\."),
            "ServerlessV2ScalingConfiguration": {"MinCapacity": 0, "MaxCapacity": 2, "SecondsUntilAutoPause": 300},
            "DeletionProtection": False,  # switched on last, once healthy (test_least_privilege.py)
            "BackupRetentionPeriod": 7,
            "EnableIAMDatabaseAuthentication": True,
        },
    )
    template.has_resource_properties("AWS::RDS::DBInstance", {"DBInstanceClass": "db.serverless"})


def test_parameters_force_tls_and_close_idle_sessions(template: Template) -> None:
    template.has_resource_properties(
        "AWS::RDS::DBClusterParameterGroup",
        {"Parameters": {"rds.force_ssl": "1", "idle_session_timeout": str(IDLE_SESSION_TIMEOUT_MS)}},
    )


def test_credentials_live_in_secrets_manager(template: Template) -> None:
    template.has_resource_properties(
        "AWS::SecretsManager::Secret",
        {"GenerateSecretString": Match.object_like({"SecretStringTemplate": '{"username":"tradeflow"}'})},
    )


def test_migrations_run_on_deploy_after_the_database_exists(template: Template, resources: dict) -> None:
    (custom_id, custom) = next(iter(template.find_resources("Custom::TradeflowMigrations").items()))
    depends = set(custom.get("DependsOn", []))
    cluster_id = next(iter(template.find_resources("AWS::RDS::DBCluster")))
    writer_id = next(iter(template.find_resources("AWS::RDS::DBInstance")))
    assert {cluster_id, writer_id} <= depends
    assert any(resources[d]["Type"] == "AWS::EC2::Route" for d in depends)  # IPv6 egress to Secrets Manager
    assert len(custom["Properties"]["Migrations"]) == 64  # sha256 of the shipped migrations


def test_migrator_uses_the_layer_inside_the_vpc(template: Template) -> None:
    (layer_id,) = template.find_resources("AWS::Lambda::LayerVersion")
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "FunctionName": "tradeflow-migrator",
            "Handler": "handler.on_event",
            "Layers": [{"Ref": layer_id}],
            "VpcConfig": Match.object_like({"Ipv6AllowedForDualStack": True}),
            "Environment": {"Variables": {"DATABASE_SECRET_ARN": Match.any_value(), "ROLE_SECRET_ARNS": Match.any_value()}},
        },
    )
