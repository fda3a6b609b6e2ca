"""The tradeflow stack: it only assembles the constructs, one per capability."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import App, CfnOutput, Environment, Stack
from constructs import Construct
from tradeflow import names

from tradeflow_cdk import nag, paths
from tradeflow_cdk.api import WebhookApi
from tradeflow_cdk.chat import Chat
from tradeflow_cdk.config import StackConfig
from tradeflow_cdk.control_api import ControlApi
from tradeflow_cdk.database import Database
from tradeflow_cdk.functions import TIMEOUTS, Functions, Layer
from tradeflow_cdk.market_data import MarketData
from tradeflow_cdk.migrations import Migrations
from tradeflow_cdk.monitoring import Monitoring
from tradeflow_cdk.network import Network
from tradeflow_cdk.notifications import Notifications
from tradeflow_cdk.protection import DeletionProtection
from tradeflow_cdk.queues import Queues
from tradeflow_cdk.schedules import Schedules
from tradeflow_cdk.state import State

STACK_NAME = names.APP


class TradeflowStack(Stack):
    def __init__(self, scope: Construct, id: str, *, config: StackConfig, **kwargs: Any) -> None:
        super().__init__(scope, id, description="tradeflow: TradingView alerts -> paper trades", **kwargs)
        self.config = config
        self.network = Network(
            self, "Network", egress=config.egress, availability_zones=config.availability_zones
        )
        self.queues = Queues(self, "Queues", consumer_timeouts=TIMEOUTS)
        self.notifications = Notifications(
            self,
            "Notifications",
            alert_emails=config.alert_emails,
            ops_emails=config.ops_emails,
            sms_numbers=config.sms_numbers,
        )
        self.database = Database(
            self,
            "Database",
            network=self.network,
            min_acu=config.db_min_acu,
            max_acu=config.db_max_acu,
        )
        self.state = State(self, "State", network=self.network)
        self.layer = Layer(self, "Layer", code_path=str(config.layer_path)).layer
        self.functions = Functions(
            self,
            "Functions",
            layer=self.layer,
            network=self.network,
            queues=self.queues,
            database_secrets=self.database.role_secrets,
            state=self.state,
            trader_alerts=self.notifications.trader_alerts,
            urgent=self.notifications.urgent,
            allowed_source_ips=config.allowed_source_ips,
            reserved_concurrency=config.reserved_concurrency,
            around_the_clock=config.stop_monitor_24_7,
            extended_hours=config.extended_hours,
            dualstack=config.egress == "ipv6",
        )
        self.migrations = Migrations(
            self,
            "Migrations",
            layer=self.layer,
            network=self.network,
            database=self.database,
            nonce=config.migrate_nonce,
            dualstack=config.egress == "ipv6",
        )
        self.api = WebhookApi(self, "Api", webhook=self.functions.by_name["webhook"])
        self.control_api = ControlApi(self, "ControlApi", layer=self.layer, network=self.network,
                                      database=self.database, api=self.api.api,
                                      notifications=self.queues.notifications, dualstack=config.egress == "ipv6")
        self.schedules = Schedules(
            self,
            "Schedules",
            stop_monitor=self.functions.by_name["stop_monitor"],
            notifier=self.functions.by_name["notifier"],
            around_the_clock=config.stop_monitor_24_7,
            extended_hours=config.extended_hours,
        )
        self.market_data = MarketData(self, "MarketData", layer=self.layer, state=self.state, network=self.network,
                                      functions=self.functions.by_name, around_the_clock=config.stop_monitor_24_7,
                                      extended_hours=config.extended_hours)
        self.chat = Chat(self, "Chat", layer=self.layer, notifier=self.functions.by_name["notifier"],
                         operations=self.notifications.operations)
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            functions=self.functions.by_name,
            queues=self.queues,
            api=self.api.api,
            cluster=self.database.cluster,
            operations=self.notifications.operations,
        )

        # Last: protect the database once everything else exists (protection.py).
        self.protection = DeletionProtection(
            self, "DeletionProtection", cluster=self.database.cluster, enabled=config.deletion_protection
        )
        self.protection.after(self)

        CfnOutput(self, "WebhookUrl", value=f"{self.api.url}webhook",
                  description="TradingView webhook URL: append /<strategy>.<secret> (printed by tradeflow strategy add)")
        CfnOutput(self, "ControlApiUrl", value=f"{self.api.url}api",
                  description="The cockpit: the dashboard at this URL, the API under it (tradeflow ... --aws)")
        CfnOutput(self, "TraderAlertsTopicArn", value=self.notifications.trader_alerts.topic_arn)
        CfnOutput(self, "OperationsTopicArn", value=self.notifications.operations.topic_arn)
        CfnOutput(self, "DashboardUrl", value=self.monitoring.dashboard_url)
        CfnOutput(self, "DatabaseSecretArn", value=self.database.secret.secret_arn)
        CfnOutput(self, "StateBucketName", value=self.state.bucket.bucket_name,
                  description=f"holds {names.OPEN_POSITIONS_KEY}; delete that object before cdk destroy")


def ensure_layer(path: Path) -> Path:
    """The layer asset at ``path``; the default zip is built (pip, no Docker) when missing."""
    if path.exists():
        return path
    if path != paths.DEFAULT_LAYER_ZIP:
        raise FileNotFoundError(f"tradeflow:layer_path {path} does not exist")
    print(f"building the layer into {path.parent} (once; `tradeflow build-layer` rebuilds it)")
    return paths.layer_builder().build_layer(path.parent)


def build_app(
    context: dict[str, Any] | None = None, *, checks: bool = True, outdir: str | None = None
) -> tuple[App, TradeflowStack]:
    """The CDK app with the tradeflow stack and, unless ``checks`` is false, cdk-nag's
    AwsSolutions pack. ``context`` adds to what the CLI passes (cdk.json and ``-c``)."""
    app = App(context=context or None, outdir=outdir)
    config = StackConfig.from_context(app.node)
    ensure_layer(config.layer_path)
    env = None
    if config.account or config.region:
        env = Environment(account=config.account, region=config.region)
    stack = TradeflowStack(app, "Tradeflow", stack_name=STACK_NAME, config=config, env=env)
    if checks:
        nag.add_checks(app)
    return app, stack
