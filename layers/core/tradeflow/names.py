"""Names of every AWS resource that tradeflow creates, shared by the CDK app and the local stack.

The local stack creates queues and topics with exactly these names in memory, so what runs on a
laptop addresses the same resources as what runs in Lambda.
"""

from __future__ import annotations

import re

APP = "tradeflow"

#: Lambda functions, in pipeline order. Each is ``functions/<name>/handler.py``.
FUNCTIONS = (
    "webhook",
    "signal_processor",
    "order_creator",
    "paper_executor",
    "stop_monitor",
    "notifier",
)

#: The cockpit's API function (functions/control/handler.py), built by its own construct.
CONTROL_FUNCTION = "control"
#: The functions that use the database; each logs in as its own role, granted only what its
#: step needs (tradeflow.adapters.roles). The migrator alone uses the master user.
DATABASE_FUNCTIONS = ("signal_processor", "order_creator", "paper_executor", "stop_monitor", "notifier", "control")
DATABASE_ROLE = "tradeflow_{function}"

#: SQS queues: name -> consumer function. FIFO queues keep an entry and its exit in order.
SIGNALS_QUEUE = "tradeflow-signals.fifo"
ORDERS_QUEUE = "tradeflow-orders.fifo"
EXECUTIONS_QUEUE = "tradeflow-executions.fifo"
NOTIFICATIONS_QUEUE = "tradeflow-notifications"

QUEUE_CONSUMERS = {
    SIGNALS_QUEUE: "signal_processor",
    ORDERS_QUEUE: "order_creator",
    EXECUTIONS_QUEUE: "paper_executor",
    NOTIFICATIONS_QUEUE: "notifier",
}

#: Environment variable through which each function learns a queue's URL.
QUEUE_URL_ENV = {
    SIGNALS_QUEUE: "SIGNALS_QUEUE_URL",
    ORDERS_QUEUE: "ORDERS_QUEUE_URL",
    EXECUTIONS_QUEUE: "EXECUTIONS_QUEUE_URL",
    NOTIFICATIONS_QUEUE: "NOTIFICATIONS_QUEUE_URL",
}


def dead_letter_queue(queue: str) -> str:
    """Name of the dead-letter queue of ``queue`` (FIFO queues need a FIFO DLQ)."""
    if queue.endswith(".fifo"):
        return queue.removesuffix(".fifo") + "-dlq.fifo"
    return queue + "-dlq"


#: Receives before a message moves to its dead-letter queue. With the retry delays the
#: consumers set (30 s doubling to 15 min, tradeflow.pipeline.consumer) ten receives span
#: over an hour, so a database paused or failing for minutes dead-letters nothing.
MAX_RECEIVE_COUNT = 10

#: SNS topics.
TRADER_ALERTS_TOPIC = "tradeflow-trader-alerts"
OPERATIONS_TOPIC = "tradeflow-operations"
#: The trader's phones are SMS subscriptions of this topic: the notifier publishes each text
#: here, so its sns:Publish names a topic instead of any phone number (or any topic).
URGENT_TOPIC = "tradeflow-urgent"

#: Chat channels: the notifier publishes one message per chat channel to this topic, and the
#: chat sender (``functions/chat_sender``, outside the VPC, its own construct
#: cdk/tradeflow_cdk/chat.py, so kept out of FUNCTIONS) posts it to Telegram, Discord or Slack.
CHAT_TOPIC = "tradeflow-chat"
CHAT_SENDER_FUNCTION = "chat_sender"
CHAT_SENDER_FUNCTION_NAME = f"{APP}-{CHAT_SENDER_FUNCTION}"
#: Where a chat message goes after the chat sender's last asynchronous retry (it alarms).
CHAT_DEAD_LETTER_QUEUE = f"{APP}-chat-dlq"
#: SSM SecureString parameters holding each chat channel's token or webhook URL (JSON), set by
#: ``tradeflow notify set-chat CHANNEL --aws``.
CHAT_PARAMETERS = {
    "telegram": "/tradeflow/chat/telegram",
    "discord": "/tradeflow/chat/discord",
    "slack": "/tradeflow/chat/slack",
}

#: A strategy id, as it appears in the parameter names below: 1-63 lower-case letters, digits or dashes.
STRATEGY_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
#: SSM parameter holding a strategy's webhook secret (SecureString).
STRATEGY_SECRET_PARAMETER = "/tradeflow/strategies/{strategy}/webhook-secret"
#: SSM parameter holding a strategy's settings (String, the JSON of StrategyConfig). Only the
#: webhook (outside the VPC) reads SSM; the settings travel on with each signal.
STRATEGY_SETTINGS_PARAMETER = "/tradeflow/strategies/{strategy}/settings"

#: SSM parameter holding the control API's bearer token (SecureString), written by
#: ``tradeflow api-token``; the control function compares a request's token with it.
CONTROL_API_TOKEN_PARAMETER = "/tradeflow/control/api-token"

#: The state bucket's object holding how many positions are open (decimal text), and the
#: environment variable naming the bucket. The stop monitor leaves the database alone (so
#: Aurora can pause) while it says 0.
STATE_BUCKET_ENV = "STATE_BUCKET"
OPEN_POSITIONS_KEY = "state/open-positions"

#: Powertools namespace and service names.
METRICS_NAMESPACE = "tradeflow"

#: Schedules (EventBridge Scheduler expressions and their time zone).
MARKET_TIME_ZONE = "America/New_York"
STOP_MONITOR_SCHEDULE = "cron(* 9-16 ? * MON-FRI *)"
STOP_MONITOR_SCHEDULE_24_7 = "rate(1 minute)"
#: Every minute of the NYSE extended session, 4:00 to 20:00 New York time on weekdays (the
#: calendar's ``session(day, extended=True)``, its close included as the regular schedule's
#: 16:00; the minutes after it, holidays and half days' evenings are idle by MARKET_CALENDAR).
STOP_MONITOR_SCHEDULE_EXTENDED = "cron(* 4-20 ? * MON-FRI *)"
DAILY_SUMMARY_SCHEDULE = "cron(30 16 ? * MON-FRI *)"
#: The weekly digest: Fridays at 16:45 New York time, after the 16:00 close and the daily summary.
WEEKLY_DIGEST_SCHEDULE = "cron(45 16 ? * FRI *)"

#: The market_data function (``functions/market_data/handler.py``): outside the VPC, it fetches
#: the watchlist's latest bars and hands them to the stop monitor by an asynchronous invoke of
#: :data:`STOP_MONITOR_FUNCTION_NAME` with ``{"bars": [...]}``. Kept out of FUNCTIONS: its
#: construct is cdk/tradeflow_cdk/market_data.py.
MARKET_DATA_FUNCTION = "market_data"
STOP_MONITOR_FUNCTION_NAME = f"{APP}-stop_monitor"
MARKET_DATA_FUNCTION_NAME = f"{APP}-{MARKET_DATA_FUNCTION}"
#: The state bucket's object listing the symbols to fetch (JSON {"symbols": [...]}).
WATCHLIST_KEY = "state/watchlist"
#: SSM: the Alpaca keys (SecureString JSON {"key_id", "secret_key"}) and the market-data
#: settings (String, the JSON of tradeflow.domain.symbols.MarketDataSettings).
MARKET_DATA_KEYS_PARAMETER = "/tradeflow/market-data/alpaca-keys"
MARKET_DATA_SETTINGS_PARAMETER = "/tradeflow/market-data/settings"
#: The fetcher's schedules: every minute of the NYSE session (America/New_York), or around the clock.
MARKET_DATA_SCHEDULE = STOP_MONITOR_SCHEDULE
MARKET_DATA_SCHEDULE_24_7 = STOP_MONITOR_SCHEDULE_24_7
MARKET_DATA_SCHEDULE_EXTENDED = STOP_MONITOR_SCHEDULE_EXTENDED
