"""Bars handed to the stop monitor: an asynchronous Lambda invoke with ``{"bars": [...]}``.

Asynchronous (``InvocationType=Event``): Lambda queues the event durably and retries it, the
caller does not wait for the stop monitor's tick, and nothing in the VPC is woken unless
there are bars for a watched symbol.
"""

from __future__ import annotations

import json

from tradeflow.adapters import aws
from tradeflow.domain.ports import Bar


def invoke_stop_monitor(function_name: str, bars: list[Bar]) -> None:
    """Hand ``bars`` to the stop monitor ``function_name``. Raises DeliveryError when Lambda
    refuses (throttled, denied, payload too large), so the caller can try again."""
    payload = json.dumps({"bars": [bar.to_json() for bar in bars]}).encode()
    try:
        aws.client("lambda").invoke(FunctionName=function_name, InvocationType="Event", Payload=payload)
    except Exception as exc:  # botocore.exceptions.* — botocore is not imported here on purpose
        raise aws.DeliveryError(f"could not hand {len(bars)} bar(s) to {function_name}: {exc}") from exc
