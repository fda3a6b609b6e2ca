"""``tradeflow replay`` end to end: bad files get one clear line; a small hand-made history goes
through the local stack and its trades match outcomes worked out here from the bar fill model's
stated rules (docs/fill-models.md): a market order fills at the next bar's open; a take-profit at
the better of the open and its price when the bar touches it; a stop-loss at the worse of the
open and its price; an entry filled at the open re-checks its exits against the same bar;
commission in bps of notional, rounded to the cent."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from tradeflow.local.cli import main
from tradeflow.local.replay import ReplayFileError, load_alerts, load_bars, replay_config, run_replay

HEADER = "symbol,timestamp,open,high,low,close,volume\n"
GOOD_BAR = "ABC,2024-01-02T00:00:00Z,100,101,99,100,1000\nABC,2024-01-03T00:00:00Z,100,102,99,101,1000\n"
GOOD_ALERT = '{"time": "2024-01-03T00:00:00Z", "body": "{\\"ticker\\": \\"ABC\\", \\"action\\": \\"buy\\"}"}\n'


@pytest.mark.parametrize("bars, alerts, expected", [
    ("symbol,timestamp,open,high,low,close\n", GOOD_ALERT, "BARS.csv line 1, field volume: missing column"),
    (HEADER + GOOD_BAR + "ABC,2024-01-04,100,102,oops,101,1000\n", GOOD_ALERT, "BARS.csv line 4, field low: 'oops'"),
    (HEADER + GOOD_BAR + "ABC,yesterday,100,102,99,101,1000\n", GOOD_ALERT, "BARS.csv line 4, field timestamp"),
    (HEADER + GOOD_BAR + "ABC,2024-01-04,100,99,98,101,1000\n", GOOD_ALERT,
     "BARS.csv line 4, field high: inconsistent"),
    (HEADER + GOOD_BAR + "ABC,2024-01-03T00:00:00Z,100,102,99,101,1000\n", GOOD_ALERT,
     "BARS.csv line 4, field timestamp: ABC 2024-01-03T00:00:00+00:00 repeats line 3"),
    (HEADER + "XYZ,2024-01-02,1,1,1,1,0\n", GOOD_ALERT, "BARS.csv line 2, field symbol: XYZ has one bar"),
    (HEADER + GOOD_BAR, "{not json}\n", "ALERTS.jsonl line 1: not valid JSON"),
    (HEADER + GOOD_BAR, GOOD_ALERT + '{"body": "x"}\n', "ALERTS.jsonl line 2, field time: missing"),
    (HEADER + GOOD_BAR, '\n{"time": "2024-01-03", "body": ""}\n', "ALERTS.jsonl line 2, field body: missing or empty"),
    (HEADER + GOOD_BAR, '{"time": "soon", "body": "x"}\n', "ALERTS.jsonl line 1, field time: 'soon'"),
    (HEADER + GOOD_BAR, '{"time": "2024-01-03", "body": "x", "path": 7}\n', "ALERTS.jsonl line 1, field path"),
])
def test_a_bad_file_gets_one_line_naming_file_line_and_field(tmp_path, capsys, bars, alerts, expected):
    (tmp_path / "BARS.csv").write_text(bars)
    (tmp_path / "ALERTS.jsonl").write_text(alerts)
    code = main(["replay", "--bars", str(tmp_path / "BARS.csv"), "--alerts", str(tmp_path / "ALERTS.jsonl"),
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("tradeflow replay: ") and expected in err, err


def test_a_missing_file_and_bad_settings_are_one_line_too(tmp_path, capsys):
    assert main(["replay", "--bars", str(tmp_path / "nope.csv"), "--alerts", str(tmp_path / "a.jsonl")]) == 2
    assert "nope.csv: cannot read the bars file" in capsys.readouterr().err
    (tmp_path / "b.csv").write_text(HEADER + GOOD_BAR)
    assert main(["replay", "--bars", str(tmp_path / "b.csv"), "--alerts", str(tmp_path / "a.jsonl"),
                 "--commission-bps", "-3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "commission_bps" in err


def test_bar_close_is_the_next_open_and_the_last_bar_closes_one_median_interval_later(tmp_path):
    (tmp_path / "b.csv").write_text(HEADER + "".join(
        f"{s},2024-01-0{d}T00:00:00Z,1,1,1,1,0\n" for s, d in [("B", 2), ("A", 2), ("A", 3), ("A", 5), ("A", 6),
                                                                 ("B", 4)]))
    bars = load_bars(tmp_path / "b.csv")
    day = timedelta(days=1)
    closes = [(b.symbol, b.open_time.day, b.close_time.day) for b in bars]
    # in close-time order; A's median gap is one day, B's only gap two days
    assert closes == [("A", 2, 3), ("B", 2, 4), ("A", 3, 5), ("A", 5, 6), ("B", 4, 6), ("A", 6, 7)]
    assert bars[4].close_time - bars[4].open_time == 2 * day


def test_alerts_are_read_in_time_order_and_an_object_body_is_posted_as_json(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"time": "2024-01-03T10:00:00+01:00", "body": {"ticker": "A"}}\n'
                                      '{"time": "2024-01-03T08:00:00", "body": "x", "path": ""}\n')
    alerts = load_alerts(tmp_path / "a.jsonl")
    assert [(a.line, a.time, a.path) for a in alerts] == [
        (2, datetime(2024, 1, 3, 8, tzinfo=UTC), ""), (1, datetime(2024, 1, 3, 9, tzinfo=UTC), None)]
    assert json.loads(alerts[1].body) == {"ticker": "A"}
    with pytest.raises(ReplayFileError):
        load_alerts(tmp_path / "missing.jsonl")


# --- a small history through the whole stack -------------------------------------------------

#: (open, high, low, close) of ABC, one bar a day from 2024-01-01 (bar open time 00:00 UTC).
BARS = [
    (100, 101, 99, 100),
    (100, 102, 99, 101),   # 1: buy 10, stop-loss 97, take-profit 106 at the close
    (102, 103, 100, 102),  # 2: entry at the open, 102; neither exit touched
    (101, 107, 100, 105),  # 3: take-profit touched: fills at max(open 101, 106) = 106
    (105, 106, 104, 105),  # 4: buy 10, stop-loss 103, take-profit 110
    (102, 104, 101, 103),  # 5: entry at the open 102, below the stop: the stop fills at min(102, 103) = 102
    (103, 104, 102, 103),  # 6: buy 10, no bracket
    (104, 108, 103, 107),  # 7: entry at 104; exit alert at the close
    (107, 109, 106, 108),  # 8: exit at the open, 107
    (108, 110, 107, 109),  # 9: the last bar
]
DAY0 = datetime(2024, 1, 1, tzinfo=UTC)


def _close(i: int) -> str:
    return (DAY0 + timedelta(days=i + 1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _alert(i: int, action: str, **extra) -> dict:
    body = {"ticker": "ABC", "action": action, "quantity": "10", "price": str(BARS[i][3]), "time": _close(i), **extra}
    return {"time": _close(i), "body": json.dumps(body)}


@pytest.fixture
def history(tmp_path):
    bars = tmp_path / "BARS.csv"
    bars.write_text(HEADER + "".join(
        f"ABC,{(DAY0 + timedelta(days=i)).strftime('%Y-%m-%dT%H:%M:%SZ')},{o},{h},{low},{c},1000\n"
        for i, (o, h, low, c) in enumerate(BARS)))
    nested = {"passphrase": "{{passphrase}}", "time": _close(6), "ticker": "ABC",
              "strategy": {"order_action": "buy", "order_contracts": 10, "order_price": 103,
                           "market_position": "long"}}
    lines = [
        _alert(1, "buy", stop_loss="97", take_profit="106"),
        {**_alert(2, "buy"), "path": "replay.wrong-secret"},  # refused by the webhook: 401
        _alert(4, "buy", stop_loss="103", take_profit="110"),
        {"time": _close(6), "path": "", "body": json.dumps(nested)},  # authenticated by its passphrase
        _alert(7, "exit", sentiment="flat"),
        _alert(9, "buy") | {"time": _close(10)},  # after the last bar's close: not posted
    ]
    alerts = tmp_path / "ALERTS.jsonl"
    alerts.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return bars, alerts


def test_replay_books_the_trades_the_bar_model_states(history, database_url, tmp_path):
    bars, alerts = history
    config = replay_config("bar", Decimal(10), Decimal(10000))
    result = run_replay(bars, alerts, tmp_path / "home", config, progress=False, database_url=database_url)
    assert result.bars == len(BARS) and result.alerts_posted == 5 and result.alerts_after_last_bar == 1
    assert result.responses == {202: 4, 401: 1} and sum(result.refusals.values()) == 1
    got = [(t["side"], t["quantity"], t["entry_price"], t["exit_price"], t["exit_reason"]) for t in result.trades]
    assert got == [("long", 10, 102, 106, "take_profit"), ("long", 10, 102, 102, "stop_loss"),
                   ("long", 10, 104, 107, "exit")]
    fees = sum((Decimal(10 * p) * Decimal("0.001")).quantize(Decimal("0.01")) for p in (102, 106, 102, 102, 104, 107))
    assert result.summary["final_cash"] == Decimal(10000) + 40 + 0 + 30 - fees
    assert result.summary["final_equity"] == result.summary["final_cash"]

    out = result.to_json()
    assert set(out["trades"][0]) == {"symbol", "side", "quantity", "entry_time", "entry_price", "exit_time",
                                     "exit_price", "pnl", "fees", "exit_reason", "lots"}
    assert out["trades"][0]["lots"] == [{"quantity": "10", "entry_price": "102", "exit_price": "106", "pnl": "40"}]
    assert out["trades"][0]["pnl"] == "40" or Decimal(out["trades"][0]["pnl"]) == 40
    assert Decimal(out["final_equity"]) == result.summary["final_equity"]
    assert out["equity_curve"] and all(Decimal(p["equity"]) > 0 for p in out["equity_curve"])
    json.dumps(out)  # serialisable as it is
