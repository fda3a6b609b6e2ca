"""The cockpit's CLI verbs: locally on the local database, or with ``--aws`` through the
deployed control API.

``--aws`` finds the API itself: the region from ``AWS_REGION`` or ``AWS_DEFAULT_REGION``, the
URL from the CloudFormation stack ``tradeflow``'s output ``ControlApiUrl``, the bearer token
from SSM (written by ``tradeflow api-token --aws``). Every failure is one line (RuntimeError),
and nothing is reported done without a 2xx answer from the API.
"""

from __future__ import annotations

import getpass
import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import lru_cache
from typing import Any

from tradeflow.names import APP, CONTROL_API_TOKEN_PARAMETER

#: Seconds to wait for the API (API Gateway answers within 30).
TIMEOUT = 35
OUTPUT = "ControlApiUrl"


def region() -> str:
    """AWS_REGION or AWS_DEFAULT_REGION; also exported as AWS_DEFAULT_REGION for boto3."""
    found = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not found:
        raise RuntimeError("no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION), e.g. export AWS_REGION=us-east-1")
    os.environ["AWS_DEFAULT_REGION"] = found
    return found


def aws_call(what: str, call, *args: Any, **kwargs: Any) -> Any:
    """Run a boto3 call; missing credentials, a missing region or an AWS refusal become one line."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        return call(*args, **kwargs)
    except NoCredentialsError:
        raise RuntimeError(f"{what}: no AWS credentials (configure them with aws configure or AWS_PROFILE)") from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise RuntimeError(f"{what}: {error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")) from None
    except BotoCoreError as exc:
        raise RuntimeError(f"{what}: {exc}") from None


def client(service: str):
    import boto3

    return boto3.client(service, region_name=region())


@lru_cache(maxsize=1)
def api_url() -> str:
    """The control API's base URL from the stack's outputs (ends with /api)."""
    stacks = aws_call(f"reading the CloudFormation stack {APP!r}", client("cloudformation").describe_stacks,
                      StackName=APP)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    if OUTPUT not in outputs:
        raise RuntimeError(f"the stack {APP!r} has no {OUTPUT} output: deploy this version (cdk deploy) first")
    return outputs[OUTPUT].rstrip("/")


def aws_token() -> str:
    ssm = client("ssm")
    try:
        return aws_call("reading the API token", ssm.get_parameter, Name=CONTROL_API_TOKEN_PARAMETER,
                        WithDecryption=True)["Parameter"]["Value"]
    except RuntimeError as exc:
        if "ParameterNotFound" in str(exc):
            raise RuntimeError("no API token in AWS yet: create one with tradeflow api-token --aws") from None
        raise


def request(method: str, path: str, body: dict | None = None) -> dict:
    """Call the deployed control API; the parsed JSON of a 2xx answer. Raises RuntimeError with
    the API's own message for anything else (401, 4xx, a 503 while the database wakes)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(api_url() + path, data=data, method=method, headers={
        "Authorization": f"Bearer {aws_token()}", "Content-Type": "application/json",
        "X-Tradeflow-User": getpass.getuser()})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as response:  # noqa: S310 (an https URL from the stack)
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error") or exc.reason
        except ValueError:
            message = exc.reason
        retry = exc.headers.get("Retry-After")
        raise RuntimeError(f"the control API answered {exc.code}: {message}"
                           + (f" (retry after {retry} s)" if retry and exc.code == 503 else "")) from None
    except (urllib.error.URLError, TimeoutError) as exc:
        raise RuntimeError(f"could not reach the control API at {api_url()}: {getattr(exc, 'reason', exc)}") from None


# --- the same answers from the local database --------------------------------------------------

@contextmanager
def local_api(database_url: str | None = None) -> Iterator[Callable[..., dict]]:
    """A caller ``(method, path, body=None) -> dict`` of the control handler on the local
    database (``database_url``, else DATABASE_URL or the embedded one), token and all, so local
    and AWS print the same thing; several calls share one local stack. A non-2xx answer raises
    RuntimeError with the API's message."""
    import psycopg

    from tradeflow.local.serve import ControlServer
    from tradeflow.local.stack import LocalStack, home

    with ExitStack() as scope:
        try:
            stack = scope.enter_context(LocalStack(home(), database_url))
        except psycopg.OperationalError as exc:
            raise RuntimeError(f"could not reach the local database: {str(exc).splitlines()[0]}") from None
        server = ControlServer(stack, port=0)
        headers = {"Authorization": f"Bearer {server.token}", "Content-Type": "application/json",
                   "X-Tradeflow-User": getpass.getuser()}

        def answer(method: str, path: str, body: dict | None = None) -> dict:
            data = json.dumps(body).encode() if body is not None else b""
            response = server.answer(method, "/api" + path, headers, data, "127.0.0.1")
            found = json.loads(response.get("body") or "{}")
            if not 200 <= response["statusCode"] < 300:
                raise RuntimeError(f"{response['statusCode']}: {found.get('error') or found.get('message')}")
            return found

        try:
            yield answer
        finally:
            server.httpd.server_close()


def local(path: str, method: str = "GET", body: dict | None = None, database_url: str | None = None) -> dict:
    """What the control API would answer for ``method path`` on the local database (:func:`local_api`)."""
    with local_api(database_url) as answer:
        return answer(method, path, body)


def call(aws: bool, method: str, path: str, body: dict | None = None) -> dict:
    """Through the deployed API (``aws``) or the local handler."""
    return request(method, path, body) if aws else local(path, method, body)


def table(rows: list[dict], columns: list[str]) -> str:
    """Rows as aligned text columns (an empty list says so)."""
    if not rows:
        return "(none)"
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)
