"""Strategy secrets and settings in SSM Parameter Store (read by the webhook only).

The webhook secret is a SecureString (never in code, the database or logs); the settings are
the JSON of :class:`~tradeflow.domain.strategy.StrategyConfig`. Reads go through powertools
parameters, cached in a warm Lambda.
"""

from __future__ import annotations

from tradeflow.names import STRATEGY_SECRET_PARAMETER, STRATEGY_SETTINGS_PARAMETER

#: Seconds a looked-up secret or setting is cached in a warm Lambda.
CACHE_SECONDS = 300


class ParametersUnavailable(RuntimeError):
    """SSM could not be read (throttled, denied, down): worth retrying, unlike a missing parameter."""


def _get(name: str, decrypt: bool = False) -> str | None:
    """The parameter's value, None if it does not exist; raises :class:`ParametersUnavailable`
    for any other failure, so that an SSM outage is never mistaken for an unknown strategy."""
    from aws_lambda_powertools.utilities.parameters import get_parameter
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    try:
        return get_parameter(name, decrypt=decrypt, max_age=CACHE_SECONDS)
    except GetParameterError as exc:
        # powertools wraps the SDK error; the original is the implicit context.
        cause = exc.__cause__ or exc.__context__
        if getattr(cause, "response", {}).get("Error", {}).get("Code") == "ParameterNotFound":
            return None
        raise ParametersUnavailable(f"could not read {name.rsplit('/', 1)[-1]} from SSM: {type(cause).__name__}") from exc


def strategy_secret(strategy_id: str) -> str | None:
    """The webhook secret of ``strategy_id``, or None if the strategy is not registered.
    Raises :class:`ParametersUnavailable` when SSM cannot answer."""
    return _get(STRATEGY_SECRET_PARAMETER.format(strategy=strategy_id), decrypt=True)


def strategy_settings(strategy_id: str) -> str | None:
    """The settings JSON of ``strategy_id``, or None if none are stored."""
    return _get(STRATEGY_SETTINGS_PARAMETER.format(strategy=strategy_id))


def put_strategy(strategy_id: str, secret: str, settings_json: str) -> None:
    """Store (or replace) a strategy's webhook secret (SecureString) and settings (String)."""
    from tradeflow.adapters.aws import client

    ssm = client("ssm")
    ssm.put_parameter(Name=STRATEGY_SECRET_PARAMETER.format(strategy=strategy_id), Value=secret,
                      Type="SecureString", Overwrite=True)
    ssm.put_parameter(Name=STRATEGY_SETTINGS_PARAMETER.format(strategy=strategy_id), Value=settings_json,
                      Type="String", Overwrite=True)

