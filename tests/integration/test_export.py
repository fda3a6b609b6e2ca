"""tradeflow export: the alerts a strategy received (raw bodies, secrets replaced) and the bars
recorded, written as the files tradeflow replay reads. A run through the local stack exported
and replayed over the same chart bars gives the same trades, and the exported bars are the
given ones that the feed recorded, those of every fill included; through a deployed API (moto's CloudFormation and SSM, the
local control server) the files hold exactly what was posted, page after page; bad input is one
line and exit 2; no secret reaches a file."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from tradeflow.local import export, remote
from tradeflow.local.replay import PASSPHRASE_PLACEHOLDER, replay_config, run_replay

from tests.conftest import SECRET, START, migrated_copy, repo
from tests.integration import test_cli_aws
from tests.integration.test_cli_aws import one_line
from tests.integration.test_cli_aws import run as run_cli

EXAMPLE = repo() / "examples" / "replay"
CUTOFF = "2010-01-26"
LIVE_SECRET = "the-live-run-secret-0123456789abcdef"
#: The local control server published as the stack's ControlApiUrl (moto's CloudFormation).
deployed = test_cli_aws.deployed


@pytest.fixture
def another_database(pg_server_url, template_db):
    """A second fresh, migrated database for the replay of the export."""
    with migrated_copy(pg_server_url, template_db, "tf_export") as url:
        yield url


def live_files(tmp_path: Path) -> tuple[Path, Path]:
    """The first three weeks of the example replay, its alerts authenticated three ways: by the
    path credential, by the body's passphrase posted to /webhook, and with the credential also
    quoted in a comment."""
    bars, alerts = tmp_path / "live-bars.csv", tmp_path / "live-alerts.jsonl"
    lines = (EXAMPLE / "BARS.csv").read_text().splitlines()
    bars.write_text("\n".join([lines[0], *(x for x in lines[1:] if x.split(",")[1] < CUTOFF)]) + "\n")
    out = []
    for n, line in enumerate((EXAMPLE / "ALERTS.jsonl").read_text().splitlines()):
        record = json.loads(line)
        if record["time"] >= CUTOFF:
            continue
        body = json.loads(record["body"])
        if n % 3 == 1:
            body["passphrase"] = PASSPHRASE_PLACEHOLDER
            record["path"] = ""
        elif n % 3 == 2:
            body["comment"] = f"sent with {PASSPHRASE_PLACEHOLDER}"
        record["body"] = json.dumps(body)
        out.append(json.dumps(record))
    alerts.write_text("\n".join(out) + "\n")
    return bars, alerts


def test_a_run_exported_and_replayed_gives_the_same_trades(tmp_path, database_url, another_database, monkeypatch,
                                                           capsys):
    from tradeflow.local import replay

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TRADEFLOW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "ERROR")
    monkeypatch.setattr(replay.secrets, "token_urlsafe", lambda n: LIVE_SECRET)
    bars, alerts = live_files(tmp_path)
    config = replay_config("bar", Decimal(1))
    live = run_replay(bars, alerts, tmp_path / "home", config, "live", progress=False, database_url=database_url)
    assert live.responses == {202: live.alerts_posted} and len(live.trades) >= 2

    code, out, err = run_cli(capsys, "export", "--strategy", "live", "--from", "2010-01-01", "--to", CUTOFF,
                             "--out", str(tmp_path / "week"))
    assert code == 0 and err == "" and f"{live.alerts_posted} alert(s) of live" in out
    exported_alerts, exported_bars = tmp_path / "week" / "alerts.jsonl", tmp_path / "week" / "bars.csv"
    for path in (exported_alerts, exported_bars):
        assert LIVE_SECRET not in path.read_text()
    records = [json.loads(x) for x in exported_alerts.read_text().splitlines()]
    assert {r.get("path") for r in records} == {PASSPHRASE_PLACEHOLDER, ""}
    assert sum(PASSPHRASE_PLACEHOLDER in r["body"] for r in records) == sum(
        PASSPHRASE_PLACEHOLDER in json.loads(x)["body"] for x in alerts.read_text().splitlines())
    def key(r):
        return r["symbol"], r["timestamp"], *(Decimal(r[c]) for c in ("open", "high", "low", "close"))

    with bars.open() as a, exported_bars.open() as b:
        given, kept = set(map(key, csv.DictReader(a))), list(map(key, csv.DictReader(b)))
    # The feed records a symbol's bars while it is held or has a working order, as in AWS, so the
    # export holds those bars exactly as given (the feed keeps no volume), never one made up...
    assert kept and len(kept) == len(set(kept)) and set(kept) <= given
    # ...and every bar that priced a live fill (the bar model stamps a fill with its bar's open time).
    when = {(k[0], k[1]) for k in kept}
    for trade in live.to_json()["trades"]:
        assert {(trade["symbol"], trade["entry_time"]), (trade["symbol"], trade["exit_time"])} <= when, trade

    # The exported alerts, replayed over the chart's bars, are the live week again.
    again = run_replay(bars, exported_alerts, tmp_path / "home", config, "again", progress=False,
                       database_url=another_database)
    assert again.responses == live.responses
    assert again.to_json()["trades"] == live.to_json()["trades"]
    assert again.summary["final_equity"] == live.summary["final_equity"]


def posted(stack, strategy, replay_clock):
    """Alerts posted to the local stack three ways (the secret in the path, in the body's
    passphrase, in a comment too) and bars recorded; returns (expected alert records, bars)."""
    from tests.integration.test_pipeline import alert

    expected, bars = [], []
    for n, (ticker, action) in enumerate([("AAPL", "buy"), ("MSFT", "buy"), ("AAPL", "sell"), ("MSFT", "sell")]):
        at = START + timedelta(minutes=5 * n + 1)
        replay_clock.set(at)
        for symbol in ("AAPL", "MSFT"):
            price = Decimal(100 + n)
            stack.record_bar(symbol, at, price, price + 1, price - 1, price, at - timedelta(minutes=5))
            bars.append((symbol, (at - timedelta(minutes=5)).isoformat().replace("+00:00", "Z"), str(price),
                         str(price + 1), str(price - 1), str(price), ""))
        extra = {"passphrase": strategy} if n % 2 else {"comment": f"by {strategy} ({SECRET})"}
        body = alert(action, ticker, str(100 + n), quantity="5", time=at.isoformat(), **extra)
        answer = stack.post_webhook(body, token=None if n % 2 else strategy)
        assert answer["statusCode"] == 202, answer
        stack.drain()
        expected.append({"time": at.isoformat().replace("+00:00", "Z"),
                         "body": body.replace(strategy, PASSPHRASE_PLACEHOLDER).replace(SECRET, PASSPHRASE_PLACEHOLDER),
                         "path": "" if n % 2 else PASSPHRASE_PLACEHOLDER})
    return expected, sorted(bars)


def test_the_aws_export_pages_through_the_api_and_writes_what_was_posted(deployed, stack, strategy, replay_clock,
                                                                         tmp_path, capsys, monkeypatch):
    expected, bars = posted(stack, strategy, replay_clock)
    monkeypatch.setattr(export, "PAGE_SIZE", 3)  # several pages of each
    pages = []
    real = remote.request
    monkeypatch.setattr(remote, "request", lambda method, path, body=None: pages.append(path) or real(method, path))
    code, out, err = run_cli(capsys, "export", "--aws", "--strategy", "test", "--from", "2024-03-01", "--to",
                             "2024-03-01", "--out", str(tmp_path / "out"))
    assert code == 0 and err == "" and "exported from AWS: 5 alert(s)" in out
    alerts_text = (tmp_path / "out" / "alerts.jsonl").read_text()
    bars_text = (tmp_path / "out" / "bars.csv").read_text()
    assert SECRET not in alerts_text + bars_text and strategy not in alerts_text
    records = [json.loads(x) for x in alerts_text.splitlines()]
    assert records[1:] == expected  # the first is the fixture's own entry, posted with the path credential
    assert records[0]["path"] == PASSPHRASE_PLACEHOLDER
    rows = list(csv.reader(bars_text.splitlines()))
    assert rows[0] == list(export.BAR_COLUMNS) and sorted(map(tuple, rows[1:])) == bars
    assert sum("/export/alerts" in p for p in pages) == 2 and sum("/export/bars" in p for p in pages) == 3
    assert not list((tmp_path / "out").glob("*.partial"))
    # the audit trail of an alert shows the body it came as
    [signal] = remote.request("GET", "/signals?symbol=MSFT&limit=1")["signals"]
    assert remote.request("GET", f"/signals/{signal['signal_id']}/audit")["signal"]["raw_body"] == expected[3]["body"]


def test_bad_dates_strategy_or_a_failed_page_are_one_line_exit_2_and_no_file(deployed, tmp_path, capsys,
                                                                             monkeypatch):
    out_dir = str(tmp_path / "out")
    for argv, says in ((["--from", "yesterday", "--to", "2024-03-01"], "--from 'yesterday' is neither a date"),
                       (["--from", "2024-03-02", "--to", "2024-03-01"], "--to (2024-03-01) must be after --from"),
                       (["--from", "2024-03-01", "--to", "2024-13-01"], "--to '2024-13-01' is neither")):
        code, out, err = run_cli(capsys, "export", "--aws", "--strategy", "test", *argv, "--out", out_dir)
        assert code == 2 and out == "" and says in one_line(err), argv
    code, out, err = run_cli(capsys, "export", "--aws", "--strategy", "nope", "--from", "2024-03-01", "--to",
                             "2024-03-01", "--out", out_dir)
    assert code == 2 and out == "" and "answered 404: no strategy 'nope'" in one_line(err)
    # a failure on any page leaves no file
    real = remote.request

    def bars_down(method, path, body=None):
        if path.startswith("/export/bars"):
            raise RuntimeError("the control API answered 503: waking the database, retry in 15 s")
        return real(method, path)

    monkeypatch.setattr(remote, "request", bars_down)
    code, out, err = run_cli(capsys, "export", "--aws", "--strategy", "test", "--from", "2024-03-01", "--to",
                             "2024-03-01", "--out", str(tmp_path / "out"))
    assert code == 2 and out == "" and "answered 503" in one_line(err)
    assert list((tmp_path / "out").iterdir()) == []


def test_an_unreachable_local_database_is_one_line(tmp_path, capsys, monkeypatch):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("TRADEFLOW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DATABASE_URL", f"postgresql://u@127.0.0.1:{port}/x")
    code, out, err = run_cli(capsys, "export", "--strategy", "test", "--from", "2024-03-01", "--to", "2024-03-01",
                             "--out", str(tmp_path / "out"))
    assert code == 2 and out == "" and "could not reach the local database" in one_line(err)
