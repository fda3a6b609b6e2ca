"""docs/settings.md, generated from the settings model: every field of
:class:`tradeflow.domain.strategy.StrategyConfig` with its type, default and bounds (from the
pydantic model), its description (the ``#:`` comment above the field), its unit and an example.
``tradeflow settings-reference`` writes it; a test checks that the committed file is current and
that every field has a unit and an example here.
"""

from __future__ import annotations

import ast
import inspect
import json

from tradeflow.domain import strategy
from tradeflow.domain.strategy import StrategyConfig

#: field -> (unit, example value as JSON). A field added to StrategyConfig without an entry
#: here fails the settings-reference test.
UNITS: dict[str, tuple[str, object]] = {
    "starting_cash": ("currency", "25000"),
    "use_alert_quantity": ("true/false", False),
    "position_sizing": ("fixed_notional or percent_of_equity", "percent_of_equity"),
    "fixed_notional": ("currency per entry", "5000"),
    "percent_of_equity": ("percent of equity per entry", "20"),
    "fractional": ("true/false", True),
    "stop_loss_pct": ("percent from the entry's price", "2"),
    "take_profit_pct": ("percent from the entry's price", "4"),
    "slippage_bps": ("basis points of the price (1 bp = 0.01 %)", "2"),
    "commission_bps": ("basis points of notional", "0.5"),
    "commission_per_share": ("currency per share", "0.005"),
    "commission_per_order": ("currency per fill", "1"),
    "commission_minimum": ("currency per fill", "1"),
    "commission_to_cent": ("true/false", False),
    "fill_model": ("quote or bar", "bar"),
    "same_bar_exit": ("stop_loss or take_profit", "take_profit"),
    "tick_size": ("currency per share", "0.0001"),
    "lot_size": ("shares", "100"),
    "instruments": ("symbol -> {tick_size, lot_size, fractional}", {"BTCUSD": {"tick_size": "0.01", "fractional": True}}),
    "max_open_positions": ("positions", 10),
    "allow_add": ("true/false", True),
    "allow_short": ("true/false/null", True),
    "buying_power_multiplier": ("times equity", "2"),
    "dedupe_window_seconds": ("seconds", 60),
    "max_alert_age_seconds": ("seconds (0 = no limit)", 120),
    "order_deadline_seconds": ("seconds", 600),
    "max_price_age_seconds": ("seconds", 600),
    "close_on_stale_price": ("true/false", True),
    "notifications": ("urgency routing, rate limits, quiet hours, digests (docs/notifications.md)",
                      {"routes": {"urgent": ["sms"], "routine": ["digest"], "info": ["digest"]}, "rate_limits": {"sms": 5}}),
    "fixed_quantity": ("shares per entry", "10"),
    "alert_quantity_multiplier": ("times the alert's quantity", "2"),
    "risk_pct": ("percent of equity risked to the stop", "1"),
    "risk_amount": ("currency risked to the stop", "500"),
    "confidence_tiers": ("list of tiers (see the model)", []),
    "daily_loss_limit_pct": ("percent of the day's starting equity", "3"),
    "daily_loss_limit": ("currency", "2000"),
    "max_drawdown_pct": ("percent from the equity peak", "10"),
    "max_position_loss": ("currency per position", "1000"),
    "max_position_notional": ("currency per position", "20000"),
    "max_gross_exposure_pct": ("percent of equity", "150"),
    "max_heat_pct": ("percent of equity at risk to the stops", "6"),
    "exposure_action": ("refuse or shrink", "shrink"),
    "max_orders_per_minute": ("orders per minute", 10),
    "max_entries_per_session": ("entries per session", 5),
    "cooldown_after_loss_minutes": ("minutes", 30),
    "cooldown_after_exit_minutes": ("minutes", 5),
    "stop_loss_guard": ("object (see the model) or null", None),
    "market_hours": ("allow, refuse or hold", "refuse"),
    "trading_windows": ("symbol -> [HH:MM-HH:MM, ...] (see the model) or null", None),
    "windows_apply_to_exits": ("true/false", True),
    "flatten_at": ("HH:MM, the exchange's time", "15:55"),
}


#: What a field without a ``#:`` comment of its own does (the model groups some under one).
MORE = {
    "starting_cash": "The paper account's cash when the strategy is registered.",
    "position_sizing": "How an entry without an alert quantity is sized.",
    "fixed_notional": "The entry's value under fixed_notional sizing.",
    "percent_of_equity": "The entry's share of equity under percent_of_equity sizing.",
    "fractional": "Whether quantities below one share trade (crypto, some brokers).",
    "take_profit_pct": "Default take-profit distance (see stop_loss_pct).",
    "slippage_bps": "Price moved against the trader on market and stop fills.",
    "commission_per_share": "Part of each fill's commission (see commission_bps).",
    "commission_per_order": "Part of each fill's commission (see commission_bps).",
    "commission_minimum": "The least a fill's commission can be (see commission_bps).",
    "lot_size": "Default quantity increment (see tick_size).",
    "max_open_positions": "Entries beyond this many open positions are refused.",
    "allow_add": "Whether an entry may add to an open position in the same direction.",
}


def field_comments() -> dict[str, str]:
    """The ``#:`` comment lines just above each field of StrategyConfig, joined."""
    source = inspect.getsource(strategy)
    lines = source.splitlines()
    tree = ast.parse(source)
    [cls] = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "StrategyConfig"]
    out = {}
    for node in cls.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            comment, n = [], node.lineno - 2
            while n >= 0 and lines[n].strip().startswith("#:"):
                comment.insert(0, lines[n].strip()[2:].strip())
                n -= 1
            out[node.target.id] = " ".join(comment)
    return out


def _bounds(info) -> str:
    found = []
    for item in info.metadata:
        for name, sign in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):
            value = getattr(item, name, None)
            if value is not None:
                found.append(f"{sign} {value}")
    return ", ".join(found)


def render() -> str:
    """The Markdown of docs/settings.md."""
    comments = field_comments()
    defaults = StrategyConfig().model_dump(mode="json")
    rows = []
    for name, info in StrategyConfig.model_fields.items():
        unit, example = UNITS[name]
        rows.append(f"| `{name}` | {unit} | `{json.dumps(defaults[name])}` | {_bounds(info)} | "
                    f"`{json.dumps({name: example})}` | {(comments.get(name) or MORE.get(name, '')).replace('|', '/')} |")
    return "\n".join([
        "# Strategy settings",
        "",
        "Generated from the settings model (`tradeflow settings-reference` writes this file; a test checks it",
        "is current). Give settings as JSON: `tradeflow strategy add NAME --settings '{...}'` (add `--aws` for",
        "the deployed stack), `tradeflow replay --settings`, `tradeflow compare --settings`. Money is in the",
        "account currency; amounts are JSON strings so they stay exact decimals.",
        "",
        "| setting | unit | default | bounds | example | what it does |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        "`tradeflow settings NAME [--aws]` shows a strategy's current settings and every earlier version",
        "(a change is recorded, not overwritten).",
        "",
    ])
