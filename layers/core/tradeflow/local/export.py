"""``tradeflow export``: the alerts a strategy received and the bars recorded, as replay files.

Writes ``alerts.jsonl`` and ``bars.csv`` in exactly the formats ``tradeflow replay --alerts``
and ``--bars`` read (docs/replay.md): each alert's receive time, its raw webhook body and the
URL path token it was posted to, with every secret replaced by ``{{passphrase}}`` (which the
replay fills with its own credential); the bars of the symbols alerted, by their open time.
Through the deployed control API (``--aws``, page by page: ``GET /api/export/alerts`` and
``/api/export/bars``) or through the same handler over the local database.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from urllib.parse import urlencode

from tradeflow.local import remote

ALERTS_FILE, BARS_FILE = "alerts.jsonl", "bars.csv"
BAR_COLUMNS = ("symbol", "timestamp", "open", "high", "low", "close", "volume")
#: Rows asked for per page (None: each route's own maximum).
PAGE_SIZE: int | None = None


def window(start: str, end: str) -> tuple[datetime, datetime]:
    """[since, until) UTC from ``--from`` and ``--to``: a date (YYYY-MM-DD) is a whole UTC day,
    so ``--to`` includes its day; an ISO-8601 time is exact (UTC without an offset), ``--to``
    exclusive. Raises ValueError saying which flag was wrong and how to write it."""
    since, until = _moment(start, "--from", False), _moment(end, "--to", True)
    if since >= until:
        raise ValueError(f"--to ({end}) must be after --from ({start})")
    return since, until


def _moment(text: str, flag: str, end_of_day: bool) -> datetime:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        day = None
    if day is not None:
        return datetime.combine(day + timedelta(days=1 if end_of_day else 0), time(), UTC)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{flag} {text!r} is neither a date such as 2026-11-23 nor an ISO-8601 time such as "
                         "2026-11-23T14:30:00Z") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


@dataclass(frozen=True)
class Exported:
    """What an export wrote: counts, the symbols of the bars, and the alerts left out because
    no body was kept for them."""

    alerts: int
    bars: int
    symbols: list[str]
    without_body: int
    alerts_file: Path
    bars_file: Path


@contextmanager
def _api(aws: bool) -> Iterator[Callable[[str], dict]]:
    if aws:
        yield lambda path: remote.request("GET", path)
    else:
        with remote.local_api() as answer:
            yield lambda path: answer("GET", path)


def _pages(get: Callable[[str], dict], route: str, query: dict[str, str]) -> Iterator[dict]:
    after = None
    while True:
        page = get(f"{route}?{urlencode(query | ({'after': after} if after else {}))}")
        yield page
        after = page.get("next")
        if not after:
            return


def export(aws: bool, strategy: str, since: datetime, until: datetime, out: Path) -> Exported:
    """Write ``out``/alerts.jsonl and ``out``/bars.csv for ``strategy``'s [since, until).
    Both are written beside themselves and renamed into place once every page of both has
    arrived, so a failure (RuntimeError, one line) leaves no file under either name."""
    out.mkdir(parents=True, exist_ok=True)
    query = {"strategy": strategy, "since": since.isoformat(), "until": until.isoformat()} | (
        {"limit": str(PAGE_SIZE)} if PAGE_SIZE else {})
    alerts_file, bars_file = out / ALERTS_FILE, out / BARS_FILE
    partial = {path: path.with_name(path.name + ".partial") for path in (alerts_file, bars_file)}
    alerts = bars = without_body = 0
    symbols: list[str] = []
    try:
        with _api(aws) as get:
            with partial[alerts_file].open("w", encoding="utf-8", newline="") as f:
                for page in _pages(get, "/export/alerts", query):
                    without_body = page["without_body"]
                    for a in page["alerts"]:
                        record = {"time": a["time"], "body": a["body"]} | (
                            {"path": a["path"]} if a["path"] is not None else {})
                        f.write(json.dumps(record, ensure_ascii=False) + "\n")
                        alerts += 1
            with partial[bars_file].open("w", encoding="utf-8", newline="") as f:
                writer = csv.writer(f, lineterminator="\n")
                writer.writerow(BAR_COLUMNS)
                for page in _pages(get, "/export/bars", query):
                    symbols = page["symbols"]
                    for b in page["bars"]:
                        writer.writerow([b[c] if b[c] is not None else "" for c in BAR_COLUMNS])
                        bars += 1
        for path, written in partial.items():
            os.replace(written, path)
    finally:
        for written in partial.values():
            written.unlink(missing_ok=True)
    return Exported(alerts, bars, symbols, without_body, alerts_file, bars_file)
