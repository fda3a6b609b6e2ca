"""Urgency, routing, rate limits, quiet hours and the one-segment SMS (domain/alerting.py)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from tradeflow.domain import alerting
from tradeflow.domain.alerting import NotificationSettings, QuietHours
from tradeflow.domain.messages import NotificationEvent
from tradeflow.domain.notifications import render
from tradeflow.domain.strategy import StrategyConfig

# --- urgency -------------------------------------------------------------------------------

def test_every_notification_kind_has_an_urgency():
    missing = [k for k in alerting.kinds() if k not in alerting.URGENCY]
    assert not missing, f"give these kinds an urgency in domain/alerting.py URGENCY: {missing}"
    assert set(alerting.URGENCY) <= set(alerting.kinds()), "URGENCY names a kind that does not exist"


@pytest.mark.parametrize(("kind", "facts", "level"), [
    ("fill", {"purpose": "stop_loss"}, "urgent"),
    ("fill", {"purpose": "entry"}, "routine"),
    ("fill", {"purpose": "take_profit"}, "routine"),
    ("fill", {"purpose": "exit"}, "routine"),
    ("message_rejected", {}, "urgent"),
    ("signal_refused", {}, "info"),
    ("alert_refused", {}, "info"),
    ("order_rejected", {}, "info"),
])
def test_urgency_of_the_kinds_the_issue_names(kind, facts, level):
    assert alerting.urgency(kind, facts) == level


def test_default_routes():
    s = NotificationSettings()
    assert s.channels("urgent") == ("sms", "email")
    assert s.channels("routine") == ("email",)
    assert s.channels("info") == ("digest",)
    assert s.limit("sms") == 10 and s.limit("email") == 20


@pytest.mark.parametrize(("raw", "says"), [
    ({"time_zone": "Mars/Olympus"}, "unknown time zone"),
    ({"rate_limits": {"sms": 0}}, "at least 1"),
    ({"routes": {"urgent": ["sms"]}}, "routes needs"),
    ({"routes": {"urgent": ["pager"], "routine": [], "info": []}}, "pager"),
])
def test_bad_settings_say_what_is_wrong(raw, says):
    with pytest.raises(ValidationError, match=says):
        StrategyConfig.model_validate({"notifications": raw})


# --- quiet hours and rate limits (the pure rule) --------------------------------------------

def test_quiet_hours_wrap_midnight():
    q = QuietHours(start=time(22), end=time(7))
    assert q.contains(time(23, 30)) and q.contains(time(3)) and not q.contains(time(7)) and not q.contains(time(12))


levels = st.sampled_from(["urgent", "routine", "info"])
stream = st.lists(st.tuples(st.integers(0, 1800), levels), min_size=1, max_size=60)
quiet = st.one_of(st.none(), st.tuples(st.integers(0, 23), st.integers(0, 23)).filter(lambda t: t[0] != t[1]))


@settings(max_examples=150, deadline=None)
@given(stream, st.integers(1, 5), st.integers(1, 5), quiet, st.booleans(),
       st.sampled_from(["America/New_York", "Europe/London", "Asia/Tokyo"]))
def test_admit_over_random_streams(events, sms_limit, email_limit, quiet_sms, overrides, zone):
    """Given events at random gaps, when each is admitted on the channels of its urgency,
    then no channel has more than its limit in any hour, nothing non-urgent passes quiet
    hours, urgent passes them when allowed, and every event that was not admitted is held
    (rate_limited or suppressed) for the digest: nothing vanishes."""
    s = NotificationSettings(
        rate_limits={"sms": sms_limit, "email": email_limit}, time_zone=zone, urgent_overrides=overrides,
        quiet_hours={"sms": QuietHours(start=time(quiet_sms[0]), end=time(quiet_sms[1]))} if quiet_sms else {})
    at = datetime(2024, 3, 1, 12, tzinfo=UTC)
    admitted: dict[str, list[datetime]] = {"sms": [], "email": []}
    outcome = []
    for gap, level in events:
        at += timedelta(seconds=gap)
        for channel in s.channels(level):
            if channel == "digest":
                outcome.append((at, level, channel, "digest"))
                continue
            status = alerting.admit(channel, level, at, admitted[channel], s)
            if status == "pending":
                admitted[channel].append(at)
            outcome.append((at, level, channel, status))
    for channel, times in admitted.items():
        for t in times:  # recomputed: sends in the hour ending at each send
            assert sum(1 for u in times if t - timedelta(hours=1) < u <= t) <= s.limit(channel)
    for at, level, channel, status in outcome:
        assert status in ("pending", "rate_limited", "suppressed", "digest")
        if channel == "sms" and quiet_sms:
            hour = at.astimezone(ZoneInfo(zone)).hour
            start, end = quiet_sms
            inside = start <= hour < end if start < end else hour >= start or hour < end
            if inside and not (level == "urgent" and overrides):
                assert status == "suppressed"
            if status == "suppressed":
                assert inside
        if status == "rate_limited":
            t = at
            assert sum(1 for u in admitted[channel] if t - timedelta(hours=1) < u <= t) >= s.limit(channel)
    # every urgent event went out on a channel or is held for the digest
    assert all(status for _, level, _, status in outcome if level == "urgent")


# --- one SMS segment -----------------------------------------------------------------------

def _fact_text():
    return st.text(min_size=0, max_size=200)


@st.composite
def events(draw):
    kind = draw(st.sampled_from([k for k in alerting.kinds() if k not in ("daily_summary", "weekly_digest")]))
    t = _fact_text()
    number = st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=2, allow_nan=False)
    facts = {
        "purpose": draw(st.sampled_from(["entry", "exit", "reduce", "stop_loss", "take_profit"])),
        "side": draw(st.sampled_from(["buy", "sell"])), "quantity": draw(number), "symbol": draw(t),
        "price": draw(number), "realised_pnl": draw(st.one_of(st.none(), number)), "action": draw(t),
        "reason": draw(t), "status": 400, "field": draw(st.one_of(st.none(), t)), "excerpt": draw(t),
        "client_order_id": draw(t), "queue": "tradeflow-" + draw(t) + ".fifo", "sent_at": draw(t),
        "breaker": draw(t), "state": draw(t), "until": draw(st.one_of(st.none(), t)), "who": draw(t),
        "why": draw(t), "scope": draw(t), "previous": draw(t),
        "source": draw(t), "age_seconds": draw(st.integers(0, 10**9)), "max_age_seconds": draw(st.integers(1, 10**6)),
        "closing": draw(st.booleans()),
    }
    strategy_id = draw(st.from_regex(r"[a-z0-9-]{1,63}", fullmatch=True))
    return NotificationEvent(key="k", kind=kind, strategy_id=strategy_id, facts=facts)


@settings(max_examples=300, deadline=None)
@given(events())
def test_every_sms_fits_one_gsm7_segment(event):
    _, message = render(event)
    sms = alerting.to_sms(message)
    length = alerting.gsm7_length(sms)
    assert length is not None and length <= 160
    if alerting.gsm7_length(message) is not None and alerting.gsm7_length(message) <= 160:
        assert sms == message  # a text that fits is sent as it is


def test_a_typical_fill_sms_is_not_cut():
    event = NotificationEvent(key="k", kind="fill", strategy_id="ma-cross", facts={
        "purpose": "stop_loss", "side": "sell", "quantity": "361", "symbol": "MSFT", "price": "26.67",
        "realised_pnl": "-373.79"})
    assert alerting.to_sms(render(event)[1]) == "[ma-cross] Stop-loss SELL 361 MSFT @ 26.67, P&L -373.79"


def test_extended_characters_count_twice():
    assert alerting.gsm7_length("{}") == 4 and alerting.gsm7_length("é") == 1 and alerting.gsm7_length("✓") is None
    cut = alerting.to_sms("€" * 100)
    assert cut.endswith("...") and alerting.gsm7_length(cut) <= 160


def test_sparkline_scales_between_low_and_high():
    assert alerting.sparkline([1, 2, 3]) == "▁▄█"
    assert alerting.sparkline([5, 5]) == "▄▄" and alerting.sparkline([]) == ""


# --- tradeflow notify ----------------------------------------------------------------------

@pytest.mark.parametrize("kind", alerting.kinds())
def test_notify_preview_renders_every_kind_per_channel(kind, capsys):
    from tradeflow.local.cli import main

    assert main(["notify", "preview", kind]) == 0
    out = capsys.readouterr().out
    level = alerting.urgency(kind, {"purpose": "stop_loss"} if kind == "fill" else {})
    assert out.startswith(f"{kind}: {level}")
    for channel in NotificationSettings().channels(level):
        assert f"--- {channel}" in out


@pytest.mark.parametrize(("argv", "says"), [
    (["notify", "preview", "bogus"], "needs a KIND"),
    (["notify", "test", "--aws"], "no AWS region"),
])
def test_notify_errors_are_one_line(argv, says, capsys, monkeypatch):
    from tradeflow.local.cli import main

    for key in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1


# --- bursts (the pure rules) ------------------------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 400), levels), min_size=1, max_size=60), st.integers(1, 4),
       st.integers(0, 900))
def test_bursts_keep_the_limit_by_send_time_and_never_hold_urgent(events, limit, hold):
    """Given events at random gaps on one channel with a burst window, when each is admitted
    as the notifier does (joining the open burst, or opening one, or alone when urgent), then:
    no rolling hour of send times holds more than the limit, an urgent message is never held, a
    burst leaves at most ``hold`` seconds after its first message, and every message is sent,
    in a burst, or held for the digest."""
    s = NotificationSettings(rate_limits={"email": limit}, burst_hold_seconds=hold)
    at = datetime(2024, 3, 1, 12, tzinfo=UTC)
    sends: list[datetime] = []  # one per message that goes out (a burst once)
    first_of: dict[datetime, datetime] = {}
    open_burst = None
    for gap, level in events:
        at += timedelta(seconds=gap)
        due = alerting.hold_until(level, "email", at, open_burst, s)
        if level == "urgent" or hold == 0:
            assert due is None
        if due is not None and due == open_burst:
            status = alerting.admit("email", level, due, [], s)
            assert status == "pending"  # no quiet hours here: a burst always takes what joins it
            continue
        status = alerting.admit("email", level, due or at, sends, s)
        assert status in ("pending", "rate_limited")
        if status == "pending":
            sends.append(due or at)
            if due is not None:
                open_burst, first_of[due] = due, at
    for u in sends:
        assert sum(1 for v in sends if u - timedelta(hours=1) < v <= u) <= limit
    for due, first in first_of.items():
        assert timedelta(0) < due - first <= timedelta(seconds=hold)


def test_merge_lists_each_event_once_in_order():
    burst = [(f"s{n}", f"[ma] Entry BUY 10 S{n} @ 1\nsecond line") for n in range(20)]
    subject, message = alerting.merge(burst)
    assert subject == "tradeflow: 20 notifications"
    assert message.splitlines() == ["20 notifications:"] + [f"[ma] Entry BUY 10 S{n} @ 1" for n in range(20)]
    assert alerting.merge(burst[:1]) == burst[0]
    with pytest.raises(ValueError, match="at least one"):
        alerting.merge([])


@pytest.mark.parametrize(("raw", "says"), [
    ({"burst_hold_seconds": 901}, "less than or equal to 900"),
    ({"routes": {"urgent": ["whatsapp"], "routine": [], "info": []}}, "whatsapp"),
    ({"rate_limits": {"telegram": 0}}, "at least 1"),
])
def test_bad_burst_and_chat_settings_say_what_is_wrong(raw, says):
    with pytest.raises(ValidationError, match=says):
        StrategyConfig.model_validate({"notifications": raw})


def test_chat_channels_have_default_limits():
    s = NotificationSettings(routes={"urgent": ["telegram"], "routine": ["discord"], "info": ["slack"]})
    assert s.channels("routine") == ("discord",) and s.limit("telegram") == 30
