"""The deploy settings file: what the trader chose for their deployment, kept between deploys.

``tradeflow.deploy.json`` at the repository root (git-ignored: it holds email addresses and
phone numbers) maps setting names (without the ``tradeflow:`` prefix of CDK context) to
values. ``tradeflow configure key=value ...`` writes it; the CDK app reads it on every synth
and deploy, and a ``-c tradeflow:<key>=<value>`` flag overrides it *and is saved into it*, so a
later ``cdk deploy`` without flags deploys the same settings (the same subscriptions) as the last
one. Values are validated here, so a typo fails ``tradeflow configure`` with one line rather
than a deploy.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

FILE_NAME = "tradeflow.deploy.json"
EGRESS_MODES = ("ipv6", "endpoints")


def default_path() -> Path:
    """``tradeflow.deploy.json`` at the repository root."""
    return Path(__file__).resolve().parents[4] / FILE_NAME


def _list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple):
        raise ValueError(f"expected a list or comma-separated text, got {value!r}")
    return [str(v).strip() for v in value if str(v).strip()]


def _emails(value: Any) -> list[str]:
    emails = _list(value)
    for email in emails:
        if email.count("@") != 1 or "." not in email.split("@")[1]:
            raise ValueError(f"{email!r} is not an email address such as you@example.com")
    return emails


def _phones(value: Any) -> list[str]:
    numbers = _list(value)
    for number in numbers:
        if not (number.startswith("+") and number[1:].isdigit() and 8 <= len(number) <= 16):
            raise ValueError(f"{number!r} is not an E.164 phone number such as +15551234567")
    return numbers


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _acu(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a number of ACUs such as 0, 0.5 or 2, got {value!r}") from None
    if not 0 <= number <= 256:
        raise ValueError(f"ACUs go from 0 to 256, got {value!r}")
    return number


def _egress(value: Any) -> str:
    if value not in EGRESS_MODES:
        raise ValueError(f"expected one of {', '.join(EGRESS_MODES)}, got {value!r}")
    return str(value)


#: The settings a trader keeps in the file: name -> parser (raises ValueError with a reason).
SETTINGS: dict[str, Callable[[Any], Any]] = {
    "alert_emails": _emails,
    "sms_numbers": _phones,
    "ops_emails": _emails,
    "allowed_source_ips": _list,
    "stop_monitor_24_7": _bool,
    "extended_hours": _bool,
    "db_min_acu": _acu,
    "db_max_acu": _acu,
    "deletion_protection": _bool,
    "egress": _egress,
    "reserved_concurrency": _bool,
}


def parse(key: str, value: Any) -> Any:
    """``value`` for setting ``key`` in its stored form. Raises ValueError naming the key."""
    if key not in SETTINGS:
        raise ValueError(f"unknown setting {key!r}; choose from {', '.join(SETTINGS)}")
    try:
        return SETTINGS[key](value)
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None


def load(path: Path | None = None) -> dict[str, Any]:
    """The settings in ``path`` (default :func:`default_path`); {} when there is no file.
    Raises ValueError if the file is not a JSON object of known settings."""
    path = path or default_path()
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); fix it or delete it and run tradeflow configure") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object of settings")
    return {key: parse(key, value) for key, value in data.items()}


def save(settings: Mapping[str, Any], path: Path | None = None) -> Path:
    """Write ``settings`` (validated) to ``path``, keys sorted; returns the path."""
    path = path or default_path()
    checked = {key: parse(key, value) for key, value in sorted(settings.items())}
    path.write_text(json.dumps(checked, indent=2) + "\n")
    return path


def update(changes: Mapping[str, Any], path: Path | None = None) -> tuple[dict[str, Any], bool]:
    """The file's settings with ``changes`` applied, and whether that changed the file (which
    is then rewritten)."""
    current = load(path)
    merged = current | {key: parse(key, value) for key, value in changes.items()}
    if merged != current:
        save(merged, path)
    return merged, merged != current
