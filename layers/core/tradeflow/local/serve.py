"""``tradeflow serve``: the control API and its dashboard on localhost, over the local stack.

One code path with AWS: each HTTP request becomes an API Gateway HTTP API (payload 2.0) event
and goes to the same ``functions/control/handler.py`` the Lambda runs, with the same bearer
token check (the token lives in the local stack's SSM, as in AWS). After an action, the local
stack drains its queues, so a flatten's exits are filled before the page refreshes.
Requests are served one at a time (the handler keeps one database connection, as in Lambda).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tradeflow.adapters import api_token
from tradeflow.local.stack import LambdaContext, LocalStack, embedded_database
from tradeflow.names import CONTROL_API_TOKEN_PARAMETER, CONTROL_FUNCTION

#: The databases of the local commands, on the embedded server: what ``--results`` picks.
RESULTS = {"demo": "tradeflow_demo", "replay": "tradeflow_replay", "compare": "tradeflow_compare",
           "local": "tradeflow"}


def request_event(method: str, target: str, headers: dict[str, str], body: bytes, source_ip: str) -> dict[str, Any]:
    """An HTTP API payload 2.0 event for one request (as API Gateway builds it for a
    ``$default``-stage route, per AWS's "Working with AWS Lambda proxy integrations for HTTP APIs")."""
    url = urlsplit(target)
    now = datetime.now(UTC)
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": url.path, "rawQueryString": url.query,
        "headers": {k.lower(): v for k, v in headers.items()},
        "queryStringParameters": _query(url.query),
        "requestContext": {
            "accountId": "000000000000", "apiId": "local", "domainName": headers.get("Host", "localhost"),
            "http": {"method": method, "path": url.path, "protocol": "HTTP/1.1", "sourceIp": source_ip,
                     "userAgent": headers.get("User-Agent", "")},
            "requestId": uuid.uuid4().hex, "routeKey": "$default", "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"), "timeEpoch": int(now.timestamp() * 1000)},
        "body": body.decode("utf-8", "replace") if body else None, "isBase64Encoded": False,
    }


def _query(query: str) -> dict[str, str] | None:
    from urllib.parse import parse_qsl

    pairs = parse_qsl(query, keep_blank_values=True)
    return {k: v for k, v in pairs} or None


class ControlServer:
    """The control handler behind a ThreadingHTTPServer on ``host:port`` (port 0 picks one).
    Use as a context manager; :attr:`url` is the dashboard's address, :attr:`token` the
    bearer token it was started with (fresh each time)."""

    def __init__(self, stack: LocalStack, port: int = 8765, host: str = "127.0.0.1") -> None:
        self.stack = stack
        self.token = api_token.new_token()
        api_token.put_token(CONTROL_API_TOKEN_PARAMETER, self.token)
        self.module = _load_handler()
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer((host, port), self._request_class())
        self.url = f"http://{host}:{self.httpd.server_address[1]}/api/"
        self._thread: threading.Thread | None = None

    def answer(self, method: str, target: str, headers: dict[str, str], body: bytes, source_ip: str) -> dict:
        """Run the handler on one request; after a successful POST, drain the local queues and
        run one stop-monitor tick, as the deployed schedule would within the minute."""
        with self._lock:
            response = self.module.handler(request_event(method, target, headers, body, source_ip),
                                           LambdaContext(function_name="tradeflow-control"))
            if method == "POST" and 200 <= response.get("statusCode", 500) < 300:
                self.stack.drain()  # e.g. a flatten's market exits: the stop monitor sends them to be filled
                self.stack.run_schedule("stop_monitor")
                self.stack.drain()
        return response

    def _request_class(self):
        server = self

        class Request(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                response = server.answer(self.command, self.path, dict(self.headers), body, self.client_address[0])
                payload = response.get("body") or ""
                data = payload.encode() if isinstance(payload, str) else payload
                self.send_response(response.get("statusCode", 500))
                for key, value in (response.get("headers") or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's name)
                pass

        return Request

    def __enter__(self) -> ControlServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _load_handler():
    """functions/control/handler.py, loaded as the local stack loads the other handlers."""
    import importlib.util

    from tradeflow.local.stack import repo_root

    path = repo_root() / "functions" / CONTROL_FUNCTION / "handler.py"
    spec = importlib.util.spec_from_file_location(f"tradeflow_functions_{CONTROL_FUNCTION}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def results_database(state_dir: Path, results: str) -> str:
    """The URL of the local database ``results`` (demo, replay, compare or local) holds, kept as
    it is (the demo and replay recreate theirs on each run). Raises ValueError for an unknown name."""
    if results not in RESULTS:
        raise ValueError(f"--results is one of {', '.join(RESULTS)}, got {results!r}")
    return embedded_database(state_dir / "pgdata", RESULTS[results])


@contextmanager
def serving(state_dir: Path, database_url: str, port: int, host: str = "127.0.0.1") -> Iterator[ControlServer]:
    """The local stack on ``database_url`` and the control server over it."""
    with LocalStack(state_dir, database_url) as stack, ControlServer(stack, port, host) as server:
        yield server
