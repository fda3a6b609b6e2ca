"""Which notifications reach the trader, where and when: urgency per kind, routing per channel,
rate limits, quiet hours, and the digest that carries everything not sent at once.

Pure rules (no I/O); the notifier applies them. The words themselves are in ``notifications``.

- Urgency (:data:`URGENCY`): ``urgent`` (a stop-loss exit, a message set aside in a dead-letter
  path, the guardian's trips and trading-state changes), ``routine`` (entries, take-profits,
  other exits), ``info`` (refusals, rejections); summaries and digests are ``digest``.
- Routing (:class:`NotificationSettings.routes`): urgency -> channels; defaults urgent -> SMS and
  email, routine -> email, info -> the digest only.
- Rate limits per channel, messages per rolling hour (defaults 10 SMS, 20 emails): a message that
  does not fit is ``rate_limited`` and folded into the next digest, never dropped.
- Quiet hours per channel, in the trader's time zone: a message inside them is ``suppressed``
  and folded into the next digest, unless it is urgent and ``urgent_overrides`` is on.
- Rate limits count the messages of the whole account (every strategy) on a channel; a merged
  burst counts once, at the time it goes out.
- Bursts merge (:func:`hold_until`, :func:`merge`): a routine or info message on a direct channel
  waits ``burst_hold_seconds`` (default 60); everything for the same channel within that window
  goes out as one message listing the events. Urgent messages are never held: a stop-loss goes
  out on its own, at once.
- Channels: ``sms`` and ``email`` (SNS topics), ``telegram``, ``discord`` and ``slack`` (posted
  by the chat sender outside the VPC), ``digest`` (the next summary).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tradeflow.domain.messages import NotificationKind

Urgency = Literal["urgent", "routine", "info", "digest"]
#: Channels a message can be sent on directly; ``digest`` is the next summary.
Channel = Literal["sms", "email", "telegram", "discord", "slack", "digest"]
DirectChannel = Literal["sms", "email", "telegram", "discord", "slack"]
#: Chat channels: a Telegram bot, a Discord webhook, a Slack incoming webhook.
CHAT_CHANNELS: tuple[str, ...] = ("telegram", "discord", "slack")
DIRECT_CHANNELS: tuple[str, ...] = ("sms", "email", *CHAT_CHANNELS)
#: Messages per rolling hour when the settings name no limit for a channel.
DEFAULT_LIMITS: dict[str, int] = {"sms": 10, "email": 20, "telegram": 30, "discord": 30, "slack": 30}
#: Status of one notification on one channel (the ``notification_deliveries`` table).
DeliveryStatus = Literal["pending", "delivered", "failed", "rate_limited", "suppressed"]
#: The rolling window the rate limits count in (seconds).
RATE_WINDOW = timedelta(hours=1)

#: Urgency of every kind; a kind without one fails tests/unit/test_alerting.py.
URGENCY: dict[str, Urgency] = {
    "message_rejected": "urgent",
    # the guardian's breaker trips and resets, the kill switch and trading-state changes
    "breaker_tripped": "urgent",
    "breaker_reset": "urgent",
    "trading_state": "urgent",
    # an open position left without a fresh price: its stops cannot fire
    "stale_price": "urgent",
    "fill": "routine",  # a stop-loss fill is urgent: see urgency()
    "signal_refused": "info",
    "alert_refused": "info",
    "order_rejected": "info",
    "daily_summary": "digest",
    "weekly_digest": "digest",
    "notify_test": "urgent",
}


def urgency(kind: str, facts: dict) -> Urgency:
    """The urgency of a notification of ``kind`` with ``facts``: a fill whose ``purpose`` is
    ``stop_loss`` is urgent, every other fill routine. Raises KeyError for an unknown kind."""
    if kind == "fill" and facts.get("purpose") == "stop_loss":
        return "urgent"
    return URGENCY[kind]


def kinds() -> tuple[str, ...]:
    """Every NotificationKind (the Literal's values)."""
    return get_args(NotificationKind)


class QuietHours(BaseModel):
    """A daily window (``start`` to ``end``, local wall-clock times in the settings' time zone;
    may wrap midnight, e.g. 22:00-07:00) in which a channel stays silent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: time
    end: time

    def contains(self, local: time) -> bool:
        """Whether the wall-clock time ``local`` lies in [start, end)."""
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


class NotificationSettings(BaseModel):
    """A strategy's notification settings (``StrategyConfig.notifications``). Example::

        {"routes": {"urgent": ["sms", "email"], "routine": ["digest"], "info": ["digest"]},
         "rate_limits": {"sms": 10, "email": 20},
         "quiet_hours": {"sms": {"start": "22:00", "end": "07:00"}},
         "time_zone": "Europe/London", "urgent_overrides": true,
         "daily_summary": "skip_quiet_days", "weekly_digest": "skip_quiet_weeks"}

    ``rate_limits``: messages per channel per rolling hour. ``daily_summary``: ``always``,
    ``skip_quiet_days`` (no fills, nothing folded, nothing refused: no summary) or ``off``
    (what it would carry waits for the weekly digest). ``weekly_digest`` (Fridays after the
    close): ``skip_quiet_weeks`` (none for a week with no fill and nothing held back),
    ``when_held_back`` (only when something waits for it), ``always`` or ``off``.
    ``burst_hold_seconds``: how long a routine or info message waits for others on its channel
    so that a burst goes out as one message (0: each at once; at most 900, SQS's longest delay
    the notifier uses). Chat channels (``telegram``, ``discord``, ``slack``) are used when a
    route names them and their token or webhook URL is stored (``tradeflow notify set-chat``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    routes: dict[Literal["urgent", "routine", "info"], tuple[Channel, ...]] = Field(
        default_factory=lambda: {"urgent": ("sms", "email"), "routine": ("email",), "info": ("digest",)})
    rate_limits: dict[DirectChannel, int] = Field(
        default_factory=lambda: {"sms": 10, "email": 20})
    quiet_hours: dict[DirectChannel, QuietHours] = Field(default_factory=dict)
    time_zone: str = "America/New_York"
    urgent_overrides: bool = True
    daily_summary: Literal["always", "skip_quiet_days", "off"] = "always"
    weekly_digest: Literal["skip_quiet_weeks", "when_held_back", "always", "off"] = "skip_quiet_weeks"
    burst_hold_seconds: int = Field(default=60, ge=0, le=900)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}: use an IANA name such as America/New_York") from exc
        return value

    @field_validator("rate_limits")
    @classmethod
    def _limits(cls, value: dict) -> dict:
        bad = {c: n for c, n in value.items() if n < 1}
        if bad:
            raise ValueError(f"rate limits must be at least 1 message an hour, got {bad}")
        return value

    @model_validator(mode="after")
    def _every_urgency_routed(self) -> NotificationSettings:
        missing = {"urgent", "routine", "info"} - set(self.routes)
        if missing:
            raise ValueError(f"routes needs a list of channels for {sorted(missing)} "
                             "(e.g. \"info\": [\"digest\"])")
        return self

    def channels(self, level: Urgency) -> tuple[str, ...]:
        """Channels for ``level``; summaries and digests go by email."""
        return ("email",) if level == "digest" else tuple(dict.fromkeys(self.routes[level]))

    def limit(self, channel: str) -> int:
        """Messages an hour on ``channel`` (:data:`DEFAULT_LIMITS` when the settings name none)."""
        return self.rate_limits.get(channel, DEFAULT_LIMITS[channel])


def admit(channel: str, level: Urgency, at: datetime, sent_in_window: Sequence[datetime],
          settings: NotificationSettings) -> DeliveryStatus:
    """Whether a message of urgency ``level`` goes out on ``channel`` (``sms`` or ``email``) at
    ``at`` (aware): ``pending`` (send it now), ``suppressed`` (quiet hours on that channel, and
    not an urgent message allowed through) or ``rate_limited`` (``sent_in_window``, the times the
    account's messages on the channel go out, already holds the channel's limit after
    ``at - 1 hour``). A time after ``at`` (a burst still waiting to go out) counts too: with
    every message counted at its send time, no rolling hour ever holds more than the limit, even
    when a merged burst leaves after a message admitted later. Digests are never held back."""
    if level == "digest":
        return "pending"
    quiet = settings.quiet_hours.get(channel)
    if quiet and quiet.contains(at.astimezone(ZoneInfo(settings.time_zone)).time().replace(tzinfo=None)):
        if not (level == "urgent" and settings.urgent_overrides):
            return "suppressed"
    recent = sum(1 for t in sent_in_window if at - RATE_WINDOW < t)
    if recent >= settings.limit(channel):
        return "rate_limited"
    return "pending"


# --- bursts: one message for what arrives within the hold window ------------------------------

def hold_until(level: Urgency, channel: str, at: datetime, open_burst: datetime | None,
               settings: NotificationSettings) -> datetime | None:
    """When a message of urgency ``level`` admitted on ``channel`` at ``at`` goes out: None for
    at once (urgent, a summary, the digest channel, or a hold of 0 s), else the end of the
    channel's open burst (``open_burst``, the time the messages already waiting on the channel go
    out) when there is one still to come, else ``at`` + ``burst_hold_seconds``. So a burst is
    never held longer than the hold window after its first message."""
    if level in ("urgent", "digest") or channel not in DIRECT_CHANNELS or settings.burst_hold_seconds == 0:
        return None
    if open_burst is not None and open_burst > at:
        return open_burst
    return at + timedelta(seconds=settings.burst_hold_seconds)


def merge(messages: Sequence[tuple[str, str]]) -> tuple[str, str]:
    """One (subject, message) for a burst of (subject, message) pairs in the order they came:
    a single one unchanged, several as ``"N notifications:"`` and one line each (each message's
    first line). Raises ValueError for an empty burst."""
    if not messages:
        raise ValueError("a burst needs at least one message")
    if len(messages) == 1:
        return messages[0]
    lines = [m.splitlines()[0] if m else s for s, m in messages]
    return f"tradeflow: {len(messages)} notifications", f"{len(messages)} notifications:\n" + "\n".join(lines)


# --- SMS: one GSM-7 segment ------------------------------------------------------------------

#: GSM 03.38 basic character set (one septet each) and its extension table (two septets each).
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")
SMS_SEPTETS = 160


def gsm7_length(text: str) -> int | None:
    """Septets ``text`` takes in GSM-7 (3GPP TS 23.038), or None if a character is outside it."""
    n = 0
    for ch in text:
        if ch in GSM7_BASIC:
            n += 1
        elif ch in GSM7_EXTENDED:
            n += 2
        else:
            return None
    return n


def to_sms(text: str) -> str:
    """``text`` made to fit one 160-septet GSM-7 segment: characters outside GSM-7 become ``?``
    (one outside character would make the whole text UCS-2, 70 characters a segment), and a
    text that is too long is cut and ends with ``...``."""
    clean = "".join(ch if ch in GSM7_BASIC or ch in GSM7_EXTENDED else "?" for ch in text)
    if gsm7_length(clean) <= SMS_SEPTETS:
        return clean
    out, used = [], 0
    for ch in clean:
        cost = 2 if ch in GSM7_EXTENDED else 1
        if used + cost > SMS_SEPTETS - 3:
            break
        out.append(ch)
        used += cost
    return "".join(out) + "..."


# --- digests ---------------------------------------------------------------------------------

SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence) -> str:
    """One block character per value, scaled between the smallest and largest (``▁`` .. ``█``);
    empty for no values, all ``▄`` when they are all equal."""
    if not values:
        return ""
    low, high = min(values), max(values)
    if high == low:
        return SPARK[3] * len(values)
    return "".join(SPARK[int((v - low) / (high - low) * (len(SPARK) - 1))] for v in values)
