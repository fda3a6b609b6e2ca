"""``tradeflow compare`` on TradingView exports built here (tests/e2e/tradingview_exports.py): a
TradingView-like strategy on the bundled bars, its trades written in each List of trades layout.
Under the matching settings the comparison finds no difference; under others each difference is
explained; every layout reads to the same trades; a bad file is one line naming line and column."""

from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from tradeflow.local import cli
from tradeflow.local.compare import CompareFileError, compare, default_settings, read_chart, read_trades, text_report

from tests.e2e.tradingview_exports import LAYOUTS, bundled_bars, run_strategy, write_chart, write_trades

BARS = bundled_bars("AAPL", 0, 175)
TRADES = run_strategy(BARS)
MATCHING = {"commission_bps": "10"}  # the strategy's 0.1 % commission


def test_the_strategy_exercises_what_is_compared():
    closed = [t for t in TRADES if t.exit]
    assert len(closed) >= 6 and TRADES[-1].exit is None  # the last trade is still open
    assert {t.side for t in TRADES} == {"long", "short"}
    assert any(t.exit.signal == "Bracket" and t.exit.price != BARS[t.exit.bar].open for t in closed)
    assert any(t.exit.signal == "Scale out" for t in closed)  # two trades share one entry
    assert any(t.exit.signal in ("Long", "Short") for t in closed)  # reversals


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_every_layout_reads_to_the_same_trades(layout, tmp_path):
    listing = read_trades(write_trades(TRADES, BARS, tmp_path / "list.csv", layout))
    got = [(t.number, t.side, t.quantity, t.entry_price, t.exit_price if not t.open else None, t.open,
            t.pnl if not t.open else None) for t in listing.trades]
    want = [(t.number, t.side, t.quantity, t.entry.price, t.exit.price if t.exit else None, t.exit is None,
             t.pnl.quantize(Decimal("0.01")) if t.exit else None) for t in sorted(TRADES, key=lambda t: t.entry.bar)]
    assert sorted(got) == sorted(want)
    assert listing.layout == {"german": "translated"}.get(layout, layout)
    if layout == "late-2024":
        assert (listing.price_currency, listing.pnl_currency) == ("USDT", "USD")


def test_a_translated_export_with_semicolons_and_decimal_commas_reads_the_same(tmp_path):
    plain = write_trades(TRADES, BARS, tmp_path / "de.csv", "german")
    rows = [line.split(",") for line in plain.read_text().splitlines()]
    (tmp_path / "de-semicolon.csv").write_text("\n".join(";".join(c.replace(".", ",") if i else c for i, c in enumerate(r))
                                                        for r in rows) + "\n")
    a, b = read_trades(plain), read_trades(tmp_path / "de-semicolon.csv")
    assert [(t.number, t.entry_price, t.exit_price, t.pnl, t.open) for t in a.trades] == \
        [(t.number, t.entry_price, t.exit_price, t.pnl, t.open) for t in b.trades]
    assert any(t.open for t in b.trades) and b.price_currency == "EUR"


def test_chart_export_in_unix_seconds_or_iso_with_offset_reads_the_same_bars(tmp_path):
    unix = read_chart(write_chart(BARS, tmp_path / "a.csv"))
    iso = read_chart(write_chart(BARS, tmp_path / "b.csv", iso=True, zone=ZoneInfo("Europe/Berlin")))
    assert [(b.time, b.open, b.close) for b in unix] == [(b.time, b.open, b.close) for b in iso]
    assert len(unix) == len(BARS)  # the plots-only row into the future is skipped


def test_round_trip_has_no_difference_under_the_matching_settings(tmp_path, database_url):
    trades = write_trades(TRADES, BARS, tmp_path / "list.csv", "late-2024", zone=ZoneInfo("Europe/Berlin"))
    chart = write_chart(BARS, tmp_path / "NASDAQ_AAPL, 1D.csv")  # UNIX seconds: the zone is detected
    result = compare(trades, chart, tmp_path / "home", default_settings(MATCHING), database_url=database_url)
    assert result.symbol == "AAPL" and result.zone == "Europe/Berlin"
    assert result.zone_hits[0] == result.zone_hits[1]
    assert result.differences == 0, text_report(result)
    closed = [t for t in TRADES if t.exit]
    net = sum(t.pnl for t in closed)
    tv, tf = result.totals["net P&L"], result.totals["closed trades"]
    assert abs(tv[0] - net) < Decimal("0.01") * len(closed) and abs(tv[1] - net) < Decimal("0.01")
    assert tf == (len(closed), len(closed)) and result.totals["open trades"] == (1, 1)
    assert result.totals["win rate"][0] == result.totals["win rate"][1]


def test_differences_are_explained_trade_by_trade(tmp_path, database_url):
    trades = write_trades(TRADES, BARS, tmp_path / "list.csv", "older", dated=True)
    chart = write_chart(BARS, tmp_path / "chart.csv", iso=True)
    settings = default_settings({"slippage_bps": "20", "commission_bps": "10", "starting_cash": "9900"})
    result = compare(trades, chart, tmp_path / "home", settings, symbol="AAPL", timezone="America/New_York",
                     database_url=database_url)
    report = text_report(result)
    reasons = " ".join(w for r in result.rows for w in r["why"])
    assert result.differences >= 3 and "slippage: 20 bps" in reasons
    assert "buying power: insufficient buying power for AAPL" in reasons  # $9,900 of cash for ~$10,000 entries
    assert f"{result.differences} of {len(result.rows)} trades differ; each trade as TradingView / tradeflow:" \
        in report, report
    html = tmp_path / "r.html"
    from tradeflow.local.compare import write_html

    assert "why they differ" in write_html(result, html).read_text()


@pytest.mark.parametrize("content, where", [
    ("Trade #,Type,Signal,Date/Time,Price USD\n1,Entry Long,L,2024-03-01 09:30,10\n", "line 1, column 'Contracts'"),
    ("Trade #,Type,Signal,Date/Time,Price USD,Contracts\n1,Entry Long,L,2024-03-01 09:30,ten,5\n",
     "line 2, column 'Price USD'"),
    ("Trade #,Type,Signal,Date/Time,Price USD,Contracts\n1,Buy,L,2024-03-01 09:30,10,5\n", "line 2, column 'Type'"),
    ("Trade #,Type,Signal,Date/Time,Price USD,Contracts\n1,Entry Long,L,yesterday,10,5\n",
     "line 2, column 'Date/Time'"),
])
def test_a_bad_trade_list_is_refused_naming_the_line_and_column(content, where, tmp_path):
    path = tmp_path / "list.csv"
    path.write_text(content)
    with pytest.raises(CompareFileError, match=where):
        read_trades(path)


def test_the_cli_prints_one_line_for_a_bad_chart_export(tmp_path, capsys):
    trades = write_trades(TRADES, BARS, tmp_path / "list.csv", "older")
    chart = tmp_path / "chart.csv"
    chart.write_text("time,open,high,low,close\n1700000000,10,11,9,10\n1700086400,10,11,x,10\n")
    assert cli.main(["compare", "--tradingview-trades", str(trades), "--bars", str(chart), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "tradeflow compare: chart.csv line 3, column 'low': 'x' is not a number"
