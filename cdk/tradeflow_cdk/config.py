"""The deploy-time choices a trader can make: the deploy settings file, overridden by CDK context.

The file (``tradeflow.deploy.json``, written by ``tradeflow configure``; tradeflow.local.deploy_settings)
holds the trader's settings; a ``-c tradeflow:<key>=<value>`` flag overrides one and is saved into
the file, so the next deploy without flags keeps it (its email and SMS subscriptions above all).
Lists may be given as JSON lists or as comma-separated strings
(``-c tradeflow:alert_emails=a@x.com,b@y.com``). ``tradeflow:settings_file`` points elsewhere
(the tests use a temporary file).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from constructs import Node
from tradeflow.local import deploy_settings

from tradeflow_cdk import paths

#: TradingView's published webhook source addresses (TradingView support 43000529348).
TRADINGVIEW_IPS = ("52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7")

EGRESS_MODES = deploy_settings.EGRESS_MODES


def _list(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        value = value.split(",")
    return tuple(str(v).strip() for v in value if str(v).strip())


@dataclass(frozen=True)
class StackConfig:
    """What differs between one trader's deployment and another's."""

    #: Email addresses subscribed to the trader-alerts topic (fills, stops, daily summary).
    alert_emails: tuple[str, ...] = ()
    #: E.164 phone numbers subscribed (SMS) to the urgent topic, which the notifier texts through.
    sms_numbers: tuple[str, ...] = ()
    #: Email addresses subscribed to the operations topic (alarms); default: alert_emails.
    ops_emails: tuple[str, ...] = ()
    #: Webhook source-address allowlist (ALLOWED_SOURCE_IPS); empty allows any address.
    allowed_source_ips: tuple[str, ...] = TRADINGVIEW_IPS
    #: Run the stop monitor every minute around the clock (crypto) instead of NYSE hours.
    stop_monitor_24_7: bool = False
    #: Run the stop monitor and the market-data fetch in the NYSE extended session (4:00-20:00
    #: New York, pre-market and after-hours) instead of the regular one; stop_monitor_24_7 wins.
    extended_hours: bool = False
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
    #: The deploy settings file this configuration was read from (and -c flags saved to).
    settings_file: Path | None = None

    def __post_init__(self) -> None:
        if self.egress not in EGRESS_MODES:
            raise ValueError(f"tradeflow:egress must be one of {EGRESS_MODES}, got {self.egress!r}")
        if not 0 <= self.db_min_acu <= self.db_max_acu:
            raise ValueError("tradeflow:db_min_acu must be between 0 and tradeflow:db_max_acu")
        for number in self.sms_numbers:
            if not (number.startswith("+") and number[1:].isdigit()):
                raise ValueError(f"tradeflow:sms_numbers must be E.164 numbers such as +15551234567, got {number!r}")

    @classmethod
    def from_context(cls, node: Node, *, save: bool = True) -> StackConfig:
        """The configuration from the deploy settings file and CDK context: a ``tradeflow:<key>``
        context value (``-c``) wins over the file, and with ``save`` is written into the file.
        Raises ValueError naming a malformed setting."""
        file_setting = node.try_get_context("tradeflow:settings_file")
        settings_file = Path(file_setting).resolve() if file_setting else paths.ROOT / deploy_settings.FILE_NAME
        given = {
            key: node.try_get_context(f"tradeflow:{key}")
            for key in deploy_settings.SETTINGS
            if node.try_get_context(f"tradeflow:{key}") is not None
        }
        settings = deploy_settings.load(settings_file) | {k: deploy_settings.parse(k, v) for k, v in given.items()}

        def ctx(key: str) -> Any:
            return node.try_get_context(f"tradeflow:{key}")

        def setting(key: str, default: Any) -> Any:
            return settings.get(key, default)

        alert_emails = tuple(setting("alert_emails", ()))
        layer_path = ctx("layer_path")
        config = cls(
            alert_emails=alert_emails,
            sms_numbers=tuple(setting("sms_numbers", ())),
            ops_emails=tuple(setting("ops_emails", ())) or alert_emails,
            allowed_source_ips=tuple(setting("allowed_source_ips", TRADINGVIEW_IPS)),
            stop_monitor_24_7=setting("stop_monitor_24_7", False),
            extended_hours=setting("extended_hours", False),
            db_min_acu=setting("db_min_acu", 0.0),
            db_max_acu=setting("db_max_acu", 2.0),
            deletion_protection=setting("deletion_protection", True),
            egress=setting("egress", "ipv6"),
            reserved_concurrency=setting("reserved_concurrency", False),
            layer_path=Path(layer_path).resolve() if layer_path else paths.DEFAULT_LAYER_ZIP,
            migrate_nonce=str(ctx("migrate_nonce") or ""),
            account=ctx("account") or os.environ.get("CDK_DEFAULT_ACCOUNT"),
            region=ctx("region") or os.environ.get("CDK_DEFAULT_REGION"),
            availability_zones=_list(ctx("availability_zones")),
            settings_file=settings_file,
        )
        if save and given and deploy_settings.update(given, settings_file)[1]:
            print(f"tradeflow: saved {', '.join(sorted(given))} to {settings_file} (kept for the next deploy)")
        return config
