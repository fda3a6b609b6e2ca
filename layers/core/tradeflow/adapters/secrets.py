"""Strategy webhook secrets, kept as SSM SecureString parameters (never in code or logs)."""

from __future__ import annotations

from tradeflow.names import STRATEGY_SECRET_PARAMETER

#: Seconds a looked-up secret is cached in a warm Lambda.
SECRET_CACHE_SECONDS = 300


def strategy_secret(strategy_id: str) -> str | None:
    """The webhook secret of ``strategy_id``, or None if the strategy is not registered."""
    from aws_lambda_powertools.utilities.parameters import get_parameter
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    try:
        return get_parameter(
            STRATEGY_SECRET_PARAMETER.format(strategy=strategy_id), decrypt=True, max_age=SECRET_CACHE_SECONDS
        )
    except GetParameterError:
        return None


def put_strategy_secret(strategy_id: str, secret: str) -> None:
    """Store (or replace) a strategy's webhook secret as a SecureString."""
    from tradeflow.adapters.aws import client

    client("ssm").put_parameter(
        Name=STRATEGY_SECRET_PARAMETER.format(strategy=strategy_id), Value=secret, Type="SecureString", Overwrite=True
    )
