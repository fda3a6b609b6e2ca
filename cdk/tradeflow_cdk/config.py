"""The deploy-time choices a trader can make, read from CDK context (``cdk.json`` or ``-c``).

Every key is prefixed ``tradeflow:``; lists may be given as JSON lists (cdk.json) or as
comma-separated strings (``-c tradeflow:alert_emails=a@x.com,b@y.com``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from constructs import Node

from tradeflow_cdk import paths

#: TradingView's published webhook source addresses (TradingView support 43000529348).
TRADINGVIEW_IPS = ("52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7")

EGRESS_MODES = ("ipv6", "endpoints")


def _list(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        value = value.split(",")
    return tuple(str(v).strip() for v in value if str(v).strip())


def _bool(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class StackConfig:
    """What differs between one trader's deployment and another's."""

    #: Email addresses subscribed to the trader-alerts topic (fills, stops, daily summary).
    alert_emails: tuple[str, ...] = ()
    #: E.164 phone numbers the notifier texts directly (SMS_PHONE_NUMBERS).
    sms_numbers: tuple[str, ...] = ()
    #: Email addresses subscribed to the operations topic (alarms); default: alert_emails.
    ops_emails: tuple[str, ...] = ()
    #: Webhook source-address allowlist (ALLOWED_SOURCE_IPS); empty allows any address.
    allowed_source_ips: tuple[str, ...] = TRADINGVIEW_IPS
    #: Run the stop monitor every minute around the clock (crypto) instead of NYSE hours.
    stop_monitor_24_7: bool = False
    #: Aurora Serverless v2 capacity range, in ACUs; 0 lets the database pause when idle.
    db_min_acu: float = 0
    db_max_acu: float = 2
    #: Refuse to delete the database (set false for a throwaway deployment).
    deletion_protection: bool = True
    #: How functions in the VPC reach SQS, SNS and Secrets Manager: "ipv6" (egress-only
    #: internet gateway, free) or "endpoints" (interface VPC endpoints, ~$7.30/month each per AZ).
    egress: str = "ipv6"
    #: Reserve concurrency for the functions where a runaway would hurt. Off by default:
    #: new accounts often have a concurrency quota of 10, which leaves nothing to reserve.
    reserved_concurrency: bool = False
    #: The layer asset: a .zip built by layers/build.py, or a directory holding python/.
    layer_path: Path = paths.DEFAULT_LAYER_ZIP
    #: Bump to force the migration custom resource to run on the next deploy.
    migrate_nonce: str = ""
    #: Where to deploy; unset means the CLI's account/region (CDK_DEFAULT_*).
    account: str | None = None
    region: str | None = None
    #: Availability zones for the VPC; empty means the first two of the region.
    availability_zones: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.egress not in EGRESS_MODES:
            raise ValueError(f"tradeflow:egress must be one of {EGRESS_MODES}, got {self.egress!r}")
        if not 0 <= self.db_min_acu <= self.db_max_acu:
            raise ValueError("tradeflow:db_min_acu must be between 0 and tradeflow:db_max_acu")
        for number in self.sms_numbers:
            if not (number.startswith("+") and number[1:].isdigit()):
                raise ValueError(f"tradeflow:sms_numbers must be E.164 numbers such as +15551234567, got {number!r}")

    @classmethod
    def from_context(cls, node: Node) -> StackConfig:
        def ctx(key: str) -> Any:
            return node.try_get_context(f"tradeflow:{key}")

        alert_emails = _list(ctx("alert_emails"))
        layer_path = ctx("layer_path")
        ips = ctx("allowed_source_ips")
        return cls(
            alert_emails=alert_emails,
            sms_numbers=_list(ctx("sms_numbers")),
            ops_emails=_list(ctx("ops_emails")) or alert_emails,
            allowed_source_ips=TRADINGVIEW_IPS if ips is None else _list(ips),
            stop_monitor_24_7=_bool(ctx("stop_monitor_24_7"), False),
            db_min_acu=float(ctx("db_min_acu") if ctx("db_min_acu") is not None else 0),
            db_max_acu=float(ctx("db_max_acu") or 2),
            deletion_protection=_bool(ctx("deletion_protection"), True),
            egress=str(ctx("egress") or "ipv6"),
            reserved_concurrency=_bool(ctx("reserved_concurrency"), False),
            layer_path=Path(layer_path).resolve() if layer_path else paths.DEFAULT_LAYER_ZIP,
            migrate_nonce=str(ctx("migrate_nonce") or ""),
            account=ctx("account") or os.environ.get("CDK_DEFAULT_ACCOUNT"),
            region=ctx("region") or os.environ.get("CDK_DEFAULT_REGION"),
            availability_zones=_list(ctx("availability_zones")),
        )
