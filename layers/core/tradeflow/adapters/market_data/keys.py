"""Market-data keys and settings in SSM Parameter Store, read through powertools parameters.

* ``/tradeflow/market-data/alpaca-keys`` (SecureString): ``{"key_id": ..., "secret_key": ...}``,
  set by ``tradeflow market-data set-keys --aws``; never in code, the database or logs.
* ``/tradeflow/market-data/settings`` (String): the JSON of
  :class:`~tradeflow.domain.symbols.MarketDataSettings`; absent = the defaults.
"""

from __future__ import annotations

import json

from tradeflow.adapters.parameters import CACHE_SECONDS, ParametersUnavailable
from tradeflow.domain.symbols import MarketDataSettings
from tradeflow.names import MARKET_DATA_KEYS_PARAMETER, MARKET_DATA_SETTINGS_PARAMETER


def _get(name: str, decrypt: bool, fresh: bool = False) -> str | None:
    """The parameter's value (``fresh``: not from the warm cache), None if it does not exist;
    ParametersUnavailable otherwise."""
    from aws_lambda_powertools.utilities.parameters import get_parameter
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    try:
        return get_parameter(name, decrypt=decrypt, max_age=CACHE_SECONDS, force_fetch=fresh)
    except GetParameterError as exc:
        cause = exc.__cause__ or exc.__context__
        if getattr(cause, "response", {}).get("Error", {}).get("Code") == "ParameterNotFound":
            return None
        raise ParametersUnavailable(f"could not read {name.rsplit('/', 1)[-1]} from SSM: "
                                    f"{type(cause).__name__}") from exc


def alpaca_keys(fresh: bool = False) -> tuple[str, str] | None:
    """(key id, secret key) of the trader's Alpaca account, or None when not set (``fresh``:
    bypass the warm cache of :data:`CACHE_SECONDS`)."""
    raw = _get(MARKET_DATA_KEYS_PARAMETER, decrypt=True, fresh=fresh)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        return str(data["key_id"]), str(data["secret_key"])
    except (ValueError, KeyError, TypeError):
        raise ParametersUnavailable("the Alpaca keys parameter is not {\"key_id\", \"secret_key\"}: set it again with "
                                    "tradeflow market-data set-keys --aws") from None


def settings(fresh: bool = False) -> MarketDataSettings:
    """The market-data settings (defaults when the parameter is absent; ``fresh``: bypass the
    warm cache)."""
    raw = _get(MARKET_DATA_SETTINGS_PARAMETER, decrypt=False, fresh=fresh)
    return MarketDataSettings() if raw is None else MarketDataSettings.model_validate_json(raw)


def put_alpaca_keys(key_id: str, secret_key: str) -> None:
    """Store (or replace) the Alpaca keys as a SecureString. Raises ValueError for an empty key."""
    if not key_id.strip() or not secret_key.strip():
        raise ValueError("both the Alpaca key id and secret key are needed (Alpaca dashboard, API keys)")
    from tradeflow.adapters.aws import client

    client("ssm").put_parameter(Name=MARKET_DATA_KEYS_PARAMETER, Type="SecureString", Overwrite=True,
                                Value=json.dumps({"key_id": key_id.strip(), "secret_key": secret_key.strip()}))


def put_settings(value: MarketDataSettings) -> None:
    """Store (or replace) the market-data settings."""
    from tradeflow.adapters.aws import client

    client("ssm").put_parameter(Name=MARKET_DATA_SETTINGS_PARAMETER, Type="String", Overwrite=True,
                                Value=value.model_dump_json())
