"""The tradeflow CDK app: one stack (:class:`TradeflowStack`) assembled from one construct per
capability — network, queues, notifications, database, state, functions, migrations, API,
schedules and monitoring — with every AWS name taken from :mod:`tradeflow.names`."""

from tradeflow_cdk.config import StackConfig
from tradeflow_cdk.stack import TradeflowStack, build_app

__all__ = ["StackConfig", "TradeflowStack", "build_app"]
