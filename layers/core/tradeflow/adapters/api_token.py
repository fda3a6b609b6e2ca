"""The control API's bearer token, kept as an SSM SecureString (CloudFormation cannot create
one, so ``tradeflow api-token`` writes it) and compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from tradeflow.adapters.parameters import CACHE_SECONDS, ParametersUnavailable  # noqa: F401


def new_token() -> str:
    """A fresh random token: 32 bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def put_token(parameter: str, token: str) -> None:
    """Store ``token`` as the SecureString ``parameter``, replacing any previous one."""
    from tradeflow.adapters.aws import client

    client("ssm").put_parameter(Name=parameter, Value=token, Type="SecureString", Overwrite=True,
                                Description="tradeflow control API bearer token")


def stored_token(parameter: str) -> str | None:
    """The token in SSM (cached :data:`CACHE_SECONDS` in a warm Lambda), None if none was set.
    Raises ParametersUnavailable when SSM cannot answer."""
    from tradeflow.adapters.parameters import _get

    return _get(parameter, decrypt=True)


def matches(presented: str | None, stored: str | None) -> bool:
    """True when both are set and equal, compared with :func:`hmac.compare_digest` over their
    SHA-256 digests, so neither the time taken nor the length leaks anything."""
    if not presented or not stored:
        return False
    return hmac.compare_digest(hashlib.sha256(presented.encode()).digest(), hashlib.sha256(stored.encode()).digest())
