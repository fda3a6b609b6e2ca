"""The tradeflow command: demo, replay, compare, the local stack and, locally or with --aws, the cockpit.

Every command that needs PostgreSQL uses ``DATABASE_URL`` if set, else the embedded server
under ``TRADEFLOW_HOME`` (default ``.tradeflow/``). Errors print one line and exit 2.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from datetime import date
from pathlib import Path

ALERT_TEMPLATE = (
    '{"ticker": "{{ticker}}", "exchange": "{{exchange}}", "action": "{{strategy.order.action}}", '
    '"sentiment": "{{strategy.market_position}}", "quantity": "{{strategy.order.contracts}}", '
    '"price": "{{close}}", "time": "{{timenow}}", "interval": "{{interval}}"}'
)


def _database_url() -> str:
    from tradeflow.local.stack import embedded_database, home

    return os.environ.get("DATABASE_URL") or embedded_database(home() / "pgdata")


def cmd_demo(args: argparse.Namespace) -> int:
    from rich.console import Console

    from tradeflow.local.demo import run_demo
    from tradeflow.local.report import print_summary, write_html
    from tradeflow.local.stack import home

    console = Console()
    symbols = [s.strip().upper() for s in args.symbols.split(",")] if args.symbols else None
    console.print("[bold]tradeflow demo[/bold]: real daily bars -> TradingView alerts -> webhook -> SQS -> "
                  "signals, risk, orders, paper fills, stops, notifications (embedded PostgreSQL + in-memory AWS)")
    result = run_demo(home(), Path(args.bars) if args.bars else None, symbols, args.start, args.end,
                      progress=not args.no_progress)
    report = write_html(result, Path(args.report))
    print_summary(result, report.resolve(), console)
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from decimal import Decimal, InvalidOperation

    from pydantic import ValidationError
    from rich.console import Console

    from tradeflow.local.replay import replay_config, run_replay
    from tradeflow.local.report import write_html
    from tradeflow.local.stack import home

    try:
        settings = json.loads(args.settings) if args.settings else {}
        config = replay_config(args.fill_model, Decimal(args.commission_bps), Decimal(args.cash), settings)
    except (json.JSONDecodeError, InvalidOperation, ValidationError, TypeError) as exc:
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()) \
            if isinstance(exc, ValidationError) else str(exc) or type(exc).__name__
        raise ValueError(f"bad strategy settings (--commission-bps, --cash or --settings): {detail}") from None
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")  # refusals are counted and summarised below
    result = run_replay(Path(args.bars), Path(args.alerts), home(), config, args.strategy,
                        progress=not args.no_progress)
    console = Console()
    s = result.summary
    console.print(f"{result.bars} bars, {result.alerts_posted} alerts posted ({result.responses.get(202, 0)} accepted"
                  + "".join(f"; {n} refused: {reason}" for reason, n in result.refusals.most_common()) + ")"
                  + (f", {result.alerts_after_last_bar} after the last bar not posted" if result.alerts_after_last_bar
                     else ""))
    console.print(f"{s['closed_trades']} closed trades; final cash {s['final_cash']:,.2f}, final equity "
                  f"{s['final_equity']:,.2f} (fees {s['fees']:,.2f})")
    if args.json:
        Path(args.json).write_text(json.dumps(result.to_json(), indent=1))
        console.print(f"trades and equity curve: {args.json}")
    if args.html:
        lead = (f"{result.bars} bars; {result.alerts_posted} alerts posted, {result.responses.get(202, 0)} accepted; "
                f"fill model {config.fill_model}, commission {config.commission_bps} bps;")
        write_html(result, Path(args.html), "tradeflow replay report", lead)
        console.print(f"HTML report: {args.html}")
    console.print(f"{result.bars_per_second:,.1f} bars per second ({result.wall_seconds:.1f} s)")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from decimal import Decimal, InvalidOperation

    from pydantic import ValidationError

    from tradeflow.local.compare import compare, default_settings, text_report, to_json, write_html
    from tradeflow.local.stack import home

    try:
        overrides = json.loads(args.settings) if args.settings else {}
        if not isinstance(overrides, dict):
            raise TypeError("--settings must be a JSON object")
        for flag, name in ((args.cash, "starting_cash"), (args.commission_bps, "commission_bps"),
                           (args.slippage_bps, "slippage_bps"), (args.fill_model, "fill_model")):
            if flag is not None:
                overrides[name] = flag if name == "fill_model" else str(Decimal(flag))
        config = default_settings(overrides)
    except (json.JSONDecodeError, InvalidOperation, ValidationError, TypeError) as exc:
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()) \
            if isinstance(exc, ValidationError) else str(exc) or type(exc).__name__
        raise ValueError(f"bad strategy settings (--cash, --commission-bps, --slippage-bps or --settings): "
                         f"{detail}") from None
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    result = compare(Path(args.tradingview_trades), Path(args.bars), home(), config, args.symbol, args.timezone,
                     progress=not args.no_progress)
    print(text_report(result, every_trade=args.all))
    if args.html:
        print(f"HTML report: {write_html(result, Path(args.html)).resolve()}")
    if args.json:
        Path(args.json).write_text(json.dumps(to_json(result), indent=2))
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from tradeflow.adapters.db import migrate

    applied = migrate(_database_url())
    print(f"applied {', '.join(applied)}" if applied else "the schema is up to date")
    return 0


def cmd_strategy(args: argparse.Namespace) -> int:
    from tradeflow.adapters import db
    from tradeflow.domain.strategy import StrategyConfig, check_strategy_id
    from tradeflow.local.stack import LocalStack

    check_strategy_id(args.name)
    if args.action == "add":
        config = StrategyConfig.model_validate_json(args.settings) if args.settings else StrategyConfig()
        secret = args.secret or secrets.token_urlsafe(24)
        if "." in secret or len(secret) < 12:
            raise ValueError("a webhook secret needs at least 12 characters and no '.'")
        if args.aws and config.fill_model == "bar":
            from tradeflow.adapters.market_data import keys

            if keys.alpaca_keys(fresh=True) is None and not keys.settings(fresh=True).tradingview:
                raise ValueError("fill_model bar needs a bar feed in AWS: store Alpaca keys with tradeflow "
                                 "market-data set-keys --aws, or list the symbols your TradingView bar alerts feed "
                                 "with tradeflow market-data settings --aws --tradingview SYMBOL,...")
        if args.aws:  # the deployed stack: SSM only; the first alert registers it in the database
            from tradeflow.adapters.parameters import put_strategy
            from tradeflow.local import remote

            remote.region()
            remote.aws_call("storing the strategy in SSM", put_strategy, args.name, secret, config.model_dump_json())
            where = "in AWS (SSM Parameter Store, your default AWS credentials and region)"
        else:
            with LocalStack() as stack:
                stack.add_strategy(args.name, config, secret)
            where = "in the local stack"
        token = f"{args.name}.{secret}"
        print(f"strategy {args.name} registered {where} (settings hash {config.config_hash()})\n")
        print(f"Webhook URL path (after your API's URL):  /webhook/{token}")
        print("TradingView alert message (Message box):")
        print(f"  {ALERT_TEMPLATE}")
        print(f"or post to /webhook and add to the message:  \"passphrase\": \"{token}\"")
        from tradeflow.domain.bar_alerts import MESSAGE_TEMPLATE, PINE_LINES

        print("\nOptional price feed between trading alerts (TradingView bar alerts; they never trade), Pine v5:")
        print("\n".join(f"  {line}" for line in PINE_LINES))
        print(f"or, from the alert dialog (\"Once Per Bar Close\"), the message:\n  {MESSAGE_TEMPLATE}")
        return 0
    if args.aws:
        from tradeflow.local import remote

        remote.request("POST", f"/strategies/{args.name}/{args.action}", {"why": args.reason or f"{args.action} from the CLI"})
        print(f"strategy {args.name} {'paused' if args.action == 'pause' else 'resumed'} in AWS")
        return 0

    from tradeflow import clock
    from tradeflow.pipeline import control

    url = _database_url()
    db.migrate(url)
    with db.connect(url) as conn:
        act = control.pause if args.action == "pause" else control.resume
        act(conn, args.name, _who(), args.reason or f"tradeflow strategy {args.action}", clock.now())
    print(f"strategy {args.name} {'paused (HALTED)' if args.action == 'pause' else 'resumed (ACTIVE)'}")
    return 0


def _who() -> str:
    return f"cli:{os.environ.get('USER', 'local')}"


def cmd_market_data(args: argparse.Namespace) -> int:
    import getpass

    from pydantic import ValidationError

    from tradeflow.adapters.market_data import keys
    from tradeflow.domain.symbols import MarketDataSettings

    if not args.aws:
        raise ValueError("prices are fetched by the deployed stack only (the local stack replays recorded bars): "
                         "add --aws")
    if args.action == "set-keys":
        key_id = args.key_id or input("Alpaca API key id: ")
        secret = os.environ.get("ALPACA_API_SECRET_KEY") or getpass.getpass("Alpaca API secret key: ")
        keys.put_alpaca_keys(key_id, secret)
        print("Alpaca keys stored in AWS (SSM SecureString); the market_data function reads them within 5 minutes")
        return 0
    try:
        current = keys.settings(fresh=True).model_dump()
        if args.json:
            current |= json.loads(args.json)
        if args.tradingview is not None:
            current["tradingview"] = [s.strip().upper() for s in args.tradingview.split(",") if s.strip()]
        if args.max_price_age is not None:
            current["max_price_age_seconds"] = args.max_price_age
        updated = MarketDataSettings.model_validate(current)
    except (json.JSONDecodeError, ValidationError) as exc:
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()) \
            if isinstance(exc, ValidationError) else str(exc)
        raise ValueError(f"bad market-data settings: {detail}") from None
    keys.put_settings(updated)
    print(f"market-data settings stored in AWS: {updated.model_dump_json()}")
    return 0


def cmd_kill_switch(args: argparse.Namespace) -> int:
    from tradeflow import clock
    from tradeflow.adapters import db
    from tradeflow.pipeline import control

    if args.flatten and args.state == "off":
        raise ValueError("--flatten goes with kill-switch on (it closes every position)")
    if args.aws:
        from tradeflow.local import remote

        body = {"on": args.state == "on", "flatten": args.flatten, "confirm": args.confirm,
                "why": args.reason or f"kill switch {args.state} from the CLI"}
        answer = remote.request("POST", "/kill-switch", body)
        print(f"kill switch {args.state} in AWS" + (f", flattening: {json.dumps(answer, default=str)}" if args.flatten
                                                      else ""))
        return 0
    url = _database_url()
    db.migrate(url)
    with db.connect(url) as conn:
        done = control.kill_switch(conn, args.state == "on", _who(), args.reason or f"tradeflow kill-switch {args.state}",
                                   clock.now(), flatten=args.flatten)
    what = "all new orders are refused (account HALTED)" if args.state == "on" else "trading resumes (account ACTIVE)"
    extra = f"; {done['cancelled_orders']} working entries cancelled" if done["cancelled_orders"] else ""
    if args.flatten:
        extra += f"; {done['flattened_positions']} positions closed at market"
        if done["unpriced"]:
            extra += f" ({', '.join(done['unpriced'])} left open: no price yet)"
    print(f"kill switch {args.state}: {what}{extra}")
    return 0


def cmd_risk(args: argparse.Namespace) -> int:
    from tradeflow import clock
    from tradeflow.adapters import db
    from tradeflow.pipeline import control

    if args.action == "reset" and not args.name:
        raise ValueError("name the breaker to reset, e.g. tradeflow risk reset daily_loss --reason '...'")
    if args.action == "reset" and not args.reason:
        raise ValueError("a reset needs --reason, e.g. --reason 'checked the fills'")
    if args.aws:
        from tradeflow.local import remote

        if args.action == "status":
            print(json.dumps(remote.request("GET", "/status")["risk"], indent=1))
            return 0
        done = remote.request("POST", "/breakers/reset", {"scope": args.strategy, "breaker": args.name,
                                                          "why": args.reason})
        print(f"{args.name} reset for {args.strategy} in AWS: {json.dumps(done, default=str)}")
        return 0
    url = _database_url()
    db.migrate(url)
    with db.connect(url) as conn:
        if args.action == "reset":
            done = control.reset_breaker(conn, args.strategy, args.name, _who(), args.reason, clock.now())
            print(f"{args.name} reset for {args.strategy}: {done['reset']} trip(s) lifted")
            return 0
        status = control.risk_status(conn, clock.now())
    a = status["account"]
    print(f"account: {a['state']}" + (f" ({a['reason']})" if a["reason"] and a["state"] != "ACTIVE" else ""))
    for strategy_id, s in status["strategies"].items():
        limit = "" if s["daily_loss_limit"] is None else f", daily loss limit {s['daily_loss_limit']:.2f}"
        print(f"{strategy_id}: {s['state']} (effective {s['effective']}), P&L today {s['pnl_today']:.2f}{limit}")
        for t in s["trips"]:
            until = f"until {t['until']:%Y-%m-%d %H:%M}Z" if t["until"] else "until reset"
            print(f"  {t['breaker']}{' ' + t['symbol'] if t['symbol'] else ''} tripped, {until}: {t['reason']}")
    return 0


def cmd_invoke(args: argparse.Namespace) -> int:
    from tradeflow.local.stack import LocalStack

    try:
        event = json.loads(Path(args.event).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read the event file {args.event}: {exc}") from None
    with LocalStack() as stack:
        response = stack.invoke(args.function, event)
        print(json.dumps(response, indent=2, default=str))
        if not args.no_drain:
            stack.drain()
            for d in stack.deliveries:
                print(f"-> {d.function}: {d.records} record(s) from {d.queue}, {d.failed} failed", file=sys.stderr)
            for note in stack.inbox():
                print(f"-> notification: {note['message']}", file=sys.stderr)
    return 0


def cmd_dlq(args: argparse.Namespace) -> int:
    """Show or replay the dead-letter queues: the local stack's (kept in TRADEFLOW_HOME between
    runs; a redrive then delivers the replayed messages at once), or with --aws the deployed
    stack's (your default AWS credentials and region; the deployed consumers pick them up)."""
    if args.aws:
        return _dlq(args.action, _aws_sqs(), "in AWS")
    from tradeflow.adapters import aws
    from tradeflow.local.stack import LocalStack

    with LocalStack() as stack:
        code = _dlq(args.action, aws.client("sqs"), "in the local stack")
        if args.action == "redrive":
            stack.drain()
            left = sum(stack.dead_letters().values())
            if left:
                print(f"{left} message(s) dead-lettered again: tradeflow dlq show")
    return code


def _dlq(action: str, sqs, where: str) -> int:
    from tradeflow.adapters import dlq

    try:
        if action == "show":
            letters = dlq.show(sqs)
            for d in letters:
                print(f"{d.source}  {d.message_id}  group={d.group or '-'}  receives={d.receives}  {d.body[:200]}")
            print(f"{len(letters)} dead-lettered message(s) {where}")
            return 0
        moved = dlq.redrive(sqs)
    except Exception as exc:  # botocore's errors; botocore is not imported here
        raise RuntimeError(f"the queues could not be read {where}: {type(exc).__name__}: {exc}") from None
    total = sum(moved.values())
    print(f"replayed {total} message(s) {where}" + "".join(f"; {n} to {q}" for q, n in moved.items() if n)
          if total else f"nothing to replay {where}")
    return 0


#: Example facts of each notification kind, for ``tradeflow notify preview``.
PREVIEW_FACTS: dict[str, dict] = {
    "fill": {"purpose": "stop_loss", "side": "sell", "quantity": "361", "symbol": "MSFT", "price": "26.67",
             "realised_pnl": "-373.79"},
    "signal_refused": {"action": "buy", "symbol": "AAPL", "reason": "max open positions (5) reached"},
    "alert_refused": {"status": 422, "field": "action", "reason": "unfilled placeholder {{strategy.order.action}}",
                      "excerpt": '{"ticker": "AAPL", "action": "{{strategy.order.action}}"}'},
    "order_rejected": {"client_order_id": "tf-1f2e3d-entry", "symbol": "ZZZ", "reason": "no price for ZZZ"},
    "message_rejected": {"queue": "tradeflow-orders.fifo", "reason": "no signal 61f50022", "symbol": "AAPL"},
    "daily_summary": {"date": "2024-03-01", "fills": 3, "realised_pnl": "118.20", "unrealised_pnl": "-40.10",
                      "total_realised_pnl": "5708.91", "equity": "205705.06", "trades": 1, "wins": 1,
                      "open_positions": 1, "refusals": {"signal_refused": 1},
                      "held": ["[ma-cross] buy AAPL refused: max open positions"],
                      "strategies": [
                          {"strategy": "ma-cross", "fills": 2, "realised_pnl": "118.20", "unrealised_pnl": "-40.10",
                           "total_realised_pnl": "5708.91", "equity": "105705.06", "trades": 1, "wins": 1,
                           "open_positions": 1, "positions": ["MSFT long 361 from 27.65, stop 26.27"]},
                          {"strategy": "breakout", "fills": 1, "realised_pnl": "0.00", "unrealised_pnl": "0.00",
                           "total_realised_pnl": "0.00", "equity": "100000.00", "trades": 0, "wins": 0,
                           "open_positions": 0, "positions": []}]},
    "weekly_digest": {"week": "2024-02-26", "fills": 4, "trades": 2, "wins": 1, "realised_pnl": "744.15",
                      "best": "GOOG 1117.94", "worst": "MSFT -373.79", "equity": "105705.06",
                      "sparkline": "▁▂▄▃█", "refusals": {}, "held": []},
    "notify_test": {"sent_at": "2024-03-01T21:30:00+00:00"},
    "stale_price": {"symbol": "AAPL", "side": "long", "quantity": "40", "price": "179.98", "source": "alpaca",
                    "age_seconds": 1260, "max_age_seconds": 900, "closing": False},
    "breaker_tripped": {"breaker": "daily loss limit", "symbol": None, "state": "REDUCING",
                        "until": "2024-03-02T14:30:00+00:00", "reason": "lost 1.2 % of the start-of-day equity (limit 1 %)"},
    "breaker_reset": {"breaker": "daily loss limit", "who": "cockpit", "why": "checked the fills"},
    "trading_state": {"scope": "ma-cross", "previous": "ACTIVE", "state": "HALTED", "who": "kill switch",
                      "why": "manual halt"},
}


def cmd_notify(args: argparse.Namespace) -> int:
    """``preview KIND``: each kind as it would be sent, per channel of its default route;
    ``test``: one test message per channel (email, SMS) through the local stack's topics, or
    with --aws through the deployed topics, chat channels included (one per channel whose
    credentials are stored; your default AWS credentials and region); ``set-chat CHANNEL
    --aws``: store a chat channel's token or webhook URL (SSM SecureString)."""
    from tradeflow.domain import alerting
    from tradeflow.domain.messages import NotificationEvent
    from tradeflow.domain.notifications import render

    if args.action == "preview":
        if args.kind not in PREVIEW_FACTS:
            raise ValueError(f"notify preview needs a KIND, one of {', '.join(PREVIEW_FACTS)} (got {args.kind!r})")
        owner = "account" if args.kind == "daily_summary" else "ma-cross"
        event = NotificationEvent(key="preview", kind=args.kind, strategy_id=owner, facts=PREVIEW_FACTS[args.kind])
        subject, message = render(event)
        level = alerting.urgency(event.kind, event.facts)
        print(f"{args.kind}: {level}")
        for channel in alerting.NotificationSettings().channels(level):
            if channel == "email":
                print(f"--- email\nSubject: {subject}\n{message}")
            elif channel == "sms":
                sms = alerting.to_sms(message)
                print(f"--- sms ({alerting.gsm7_length(sms)}/160 GSM-7 characters)\n{sms}")
            else:
                print(f"--- digest (listed under \"held back\")\n  {message}")
        return 0
    if args.action == "set-chat":
        return _set_chat(args)
    if args.kind:
        raise ValueError("notify test takes no KIND")
    from tradeflow import clock

    event = NotificationEvent(key="test", kind="notify_test", strategy_id="tradeflow",
                              facts={"sent_at": clock.now().isoformat(timespec="seconds")})
    subject, message = render(event)
    sms = alerting.to_sms(message)
    if args.aws:
        return _notify_test_aws(subject, message, sms)
    from tradeflow.adapters import aws
    from tradeflow.local.stack import LocalStack

    with LocalStack() as stack:
        aws.publish(stack.topic_arn, subject, message)
        aws.send_sms(os.environ["URGENT_TOPIC_ARN"], sms)
        received = stack.inbox()
    print(f"email (local trader-alerts topic): {received[0]['message'] if received else 'not received'}")
    print(f"sms (local urgent topic): {sms}")
    print(f"chat ({', '.join(alerting.CHAT_CHANNELS)}): sent by the deployed stack only (tradeflow notify test --aws)")
    return 0


def _notify_test_aws(subject: str, message: str, sms: str) -> int:
    """One test message per deployed channel: the trader-alerts topic (email), the urgent topic
    (SMS; absent without phone numbers) and, per chat channel with stored credentials, the chat
    topic. Prints what was published; a refusal is one line."""
    from tradeflow import names
    from tradeflow.adapters.chat import ChatMessage

    sns, account, region = _aws_session_client("sns")
    ssm, _, _ = _aws_session_client("ssm")

    def arn(topic: str) -> str:
        return f"arn:aws:sns:{region}:{account}:{topic}"

    def publish(topic: str, **send) -> bool:
        try:
            sns.publish(TopicArn=arn(topic), **send)
        except Exception as exc:  # botocore's errors; botocore is not imported here
            if "NotFound" in type(exc).__name__ and topic != names.TRADER_ALERTS_TOPIC:
                return False
            raise RuntimeError(f"could not publish to {topic}: {type(exc).__name__}: {exc}") from None
        return True

    def stored(channel: str) -> bool:
        try:
            ssm.get_parameter(Name=names.CHAT_PARAMETERS[channel])
        except Exception as exc:  # botocore's errors
            if "ParameterNotFound" in type(exc).__name__:
                return False
            raise RuntimeError(f"could not read {names.CHAT_PARAMETERS[channel]}: {type(exc).__name__}") from None
        return True

    publish(names.TRADER_ALERTS_TOPIC, Subject=subject, Message=message)
    sent = [f"email ({names.TRADER_ALERTS_TOPIC})"]
    if publish(names.URGENT_TOPIC, Message=sms):
        sent.append(f"sms ({names.URGENT_TOPIC})")
    chats = [c for c in names.CHAT_PARAMETERS if stored(c)]
    for channel in chats:
        body = ChatMessage(key=f"test:{channel}", channel=channel, text=message).model_dump_json()
        if not publish(names.CHAT_TOPIC, Message=body):
            raise RuntimeError(f"no {names.CHAT_TOPIC} topic in {region}: deploy the stack (cdk deploy) first")
        sent.append(f"{channel} ({names.CHAT_TOPIC})")
    print(f"published a test message in {region} to: {', '.join(sent)}")
    if len(sent) == 1:
        print("no SMS (the stack has no phone numbers) and no chat channel (tradeflow notify set-chat CHANNEL --aws)")
    print("email subscribers receive it once confirmed, phones outside the SMS sandbox or once verified, "
          "chat channels within seconds (a failure alarms on the operations topic)")
    return 0


def _set_chat(args: argparse.Namespace) -> int:
    """Store a chat channel's credentials in SSM: telegram (the bot token from TELEGRAM_BOT_TOKEN
    or asked for, the chat id from --chat-id), discord or slack (the webhook URL from
    DISCORD_WEBHOOK_URL / SLACK_WEBHOOK_URL or asked for). Secrets are never arguments."""
    import getpass

    from tradeflow.adapters import chat
    from tradeflow.domain import alerting
    from tradeflow.local import remote

    if args.kind not in alerting.CHAT_CHANNELS:
        raise ValueError(f"notify set-chat needs a CHANNEL, one of {', '.join(alerting.CHAT_CHANNELS)} "
                         f"(got {args.kind!r})")
    if not args.aws:
        raise ValueError("chat channels are sent by the deployed stack only: add --aws")
    channel = args.kind
    if channel == "telegram":
        if not args.chat_id:
            raise ValueError("telegram needs --chat-id (message your bot, then read the chat id from "
                             "https://api.telegram.org/bot<token>/getUpdates)")
        token = os.environ.get("TELEGRAM_BOT_TOKEN") or getpass.getpass("Telegram bot token (BotFather): ")
        value = {"bot_token": token, "chat_id": args.chat_id}
    else:
        variable = f"{channel.upper()}_WEBHOOK_URL"
        value = {"webhook_url": os.environ.get(variable) or getpass.getpass(f"{channel} webhook URL: ")}
    chat.check_credentials(channel, value)  # a malformed value is refused before any AWS call
    remote.region()
    remote.aws_call(f"storing the {channel} credentials in SSM", chat.put_credentials, channel, value)
    print(f"{channel} credentials stored in AWS (SSM SecureString {chat.PARAMETERS[channel]}); route messages to "
          f"\"{channel}\" in a strategy's notifications settings, then check with tradeflow notify test --aws")
    return 0


def _aws_session_client(service: str):
    """(client, account id, region) for the deployed stack; a one-line refusal without a region
    or credentials."""
    import boto3

    session = boto3.Session()
    if not session.region_name:
        raise RuntimeError("no AWS region: set AWS_REGION or AWS_DEFAULT_REGION (or a profile with a region)")
    if session.get_credentials() is None:
        raise RuntimeError("no AWS credentials: configure them (aws configure, AWS_PROFILE or environment)")
    try:
        account = session.client("sts").get_caller_identity()["Account"]
    except Exception as exc:  # botocore's errors
        raise RuntimeError(f"the AWS credentials were refused: {type(exc).__name__}") from None
    return session.client(service), account, session.region_name


def _aws_sqs():
    """An SQS client for the deployed stack; a one-line refusal without a region or credentials."""
    import boto3

    session = boto3.Session()
    if not session.region_name:
        raise RuntimeError("no AWS region: set AWS_REGION or AWS_DEFAULT_REGION (or a profile with a region)")
    if session.get_credentials() is None:
        raise RuntimeError("no AWS credentials: configure them (aws configure, AWS_PROFILE or environment)")
    return session.client("sqs")


def cmd_build_layer(args: argparse.Namespace) -> int:
    import importlib.util

    from tradeflow.local.stack import repo_root

    spec = importlib.util.spec_from_file_location("tradeflow_layer_build", repo_root() / "layers" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.build_layer(Path(args.out))
    return 0


# --- the cockpit: read and steer, locally or (--aws) through the deployed control API --------

def cmd_status(args: argparse.Namespace) -> int:
    from tradeflow.local import remote

    s = remote.call(args.aws, "GET", "/status")
    if args.json:
        print(json.dumps(s, indent=1))
        return 0
    print(f"kill switch {'ON' if s['kill_switch'] else 'off'}; equity {s['equity']}, cash {s['cash']}, "
          f"{s['open_positions']} open position(s); last alert "
          + (f"{s['last_alert_symbol']} at {s['last_alert_at']}" if s["last_alert_at"] else "none"))
    print(remote.table(s["strategies"], ["strategy_id", "paused", "equity", "cash", "realised_pnl", "open_positions"]))
    if s.get("risk"):
        print("trading states and breakers: " + json.dumps(s["risk"], default=str))
    print("last prices: " + (", ".join(f"{p['symbol']} {p['price']} ({p['age_seconds'] / 60:.0f} min old)"
                                       for p in s["prices"]) or "none"))
    return 0


def _query(args: argparse.Namespace, *names: str) -> str:
    from urllib.parse import urlencode

    pairs = {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
    return f"?{urlencode(pairs)}" if pairs else ""


def _listing(args: argparse.Namespace, path: str, key: str, columns: list[str], *filters: str) -> int:
    from tradeflow.local import remote

    answer = remote.call(args.aws, "GET", path + _query(args, *filters))
    print(json.dumps(answer[key], indent=1) if args.json else remote.table(answer[key], columns))
    return 0


def cmd_positions(args: argparse.Namespace) -> int:
    return _listing(args, "/positions", "positions", ["strategy_id", "symbol", "side", "quantity", "avg_entry_price",
                    "last_price", "unrealised_pnl", "stop_loss", "take_profit"], "strategy", "symbol")


def cmd_orders(args: argparse.Namespace) -> int:
    return _listing(args, "/orders", "orders", ["client_order_id", "strategy_id", "symbol", "side", "purpose",
                    "order_type", "quantity", "stop_price", "limit_price", "status"],
                    "strategy", "symbol", "limit", "offset")


def cmd_trades(args: argparse.Namespace) -> int:
    return _listing(args, "/trades", "trades", ["strategy_id", "symbol", "side", "quantity", "entry_time",
                    "entry_price", "exit_time", "exit_price", "pnl", "fees", "exit_reason"],
                    "strategy", "symbol", "since", "until", "limit", "offset")


def cmd_flatten(args: argparse.Namespace) -> int:
    from tradeflow.local import remote

    path = f"/strategies/{args.strategy}/flatten" if args.strategy else "/flatten"
    answer = remote.call(args.aws, "POST", path, {"confirm": args.confirm, "why": args.reason})
    print(f"flatten {'of ' + args.strategy if args.strategy else 'of every strategy'} sent"
          f"{' in AWS' if args.aws else ''}: {json.dumps(answer, default=str)}")
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    from tradeflow.local import remote

    answer = remote.call(args.aws, "GET", f"/strategies/{args.name}/settings")
    print(json.dumps(answer, indent=1))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from tradeflow.local.export import export, window

    since, until = window(args.start, args.end)
    done = export(args.aws, args.strategy, since, until, Path(args.out))
    where = "from AWS" if args.aws else "from the local database"
    print(f"exported {where}: {done.alerts} alert(s) of {args.strategy} received in [{since.isoformat()}, "
          f"{until.isoformat()}) to {done.alerts_file}, {done.bars} bar(s) of {', '.join(done.symbols) or 'no symbol'} "
          f"to {done.bars_file}")
    if done.without_body:
        print(f"{done.without_body} alert(s) of the window have no kept body (received before tradeflow kept them, "
              "or nested too deeply to check for secrets): not exported")
    if not done.bars:
        print("no bars were recorded for these symbols then: tradeflow replay needs a bars file with at least two "
              "bars per symbol (export a wider window, or bring your own BARS.csv)")
    print(f"replay them with other settings: tradeflow replay --bars {done.bars_file} --alerts {done.alerts_file} "
          "--settings '{...}'")
    return 0


def cmd_api_token(args: argparse.Namespace) -> int:
    from tradeflow.adapters.api_token import new_token
    from tradeflow.names import CONTROL_API_TOKEN_PARAMETER

    token = new_token()
    if not args.aws:
        print("the local API gets a fresh token each time: run tradeflow serve (it prints the URL with it)")
        return 0
    from tradeflow.local import remote

    ssm = remote.client("ssm")
    remote.aws_call("storing the API token", ssm.put_parameter, Name=CONTROL_API_TOKEN_PARAMETER, Value=token,
                    Type="SecureString", Overwrite=True, Description="tradeflow control API bearer token")
    print(f"API token stored in SSM {CONTROL_API_TOKEN_PARAMETER} (SecureString, region {remote.region()}); "
          f"paste it into the dashboard once:\n{token}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import time

    from tradeflow.local.serve import results_database, serving
    from tradeflow.local.stack import home

    url = os.environ.get("DATABASE_URL") or results_database(home(), args.results)
    with serving(home(), url, args.port) as server:
        print(f"tradeflow control API and dashboard ({args.results} results) on {server.url}")
        print(f"open: {server.url}#token={server.token}")
        print("Ctrl-C stops it.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


def cmd_settings_reference(args: argparse.Namespace) -> int:
    from tradeflow.local.settings_reference import render

    Path(args.out).write_text(render())
    print(f"wrote {args.out}")
    return 0


#: Verbs that act on the local stack only, and why they cannot take --aws.
LOCAL_ONLY = {
    "demo": "replays bundled bars through the local stack only",
    "replay": "runs on the local stack only; fetch the live alerts and bars first with tradeflow export --aws",
    "compare": "runs on the local stack only",
    "migrate": "applies to the local database; the deployed stack migrates itself on deploy",
    "invoke": "runs a handler locally; in AWS use aws lambda invoke",
    "build-layer": "builds a file here; cdk deploy uploads it",
    "serve": "serves the local results; the deployed dashboard is at the stack's ControlApiUrl",
    "settings-reference": "writes a file here from the settings model",
}


def cmd_configure(args: argparse.Namespace) -> int:
    from tradeflow.local import deploy_settings

    path = Path(args.file) if args.file else deploy_settings.default_path()
    changes = {}
    for pair in args.settings:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"expected key=value, got {pair!r} (e.g. alert_emails=you@example.com)")
        changes[key.strip()] = value.strip()
    settings = deploy_settings.load(path)
    for key in args.unset:
        if key not in deploy_settings.SETTINGS:
            raise ValueError(f"unknown setting {key!r}; choose from {', '.join(deploy_settings.SETTINGS)}")
        settings.pop(key, None)
    settings |= {key: deploy_settings.parse(key, value) for key, value in changes.items()}
    if changes or args.unset:
        deploy_settings.save(settings, path)
        print(f"saved {path} (the next cdk deploy uses it)")
    print(json.dumps(settings, indent=2) if settings else f"no settings in {path}: cdk deploy uses the defaults")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tradeflow", description=__doc__.splitlines()[0],
                                formatter_class=lambda prog: argparse.HelpFormatter(prog, max_help_position=18,
                                                                                    width=130))
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="replay real daily bars through the whole local stack")
    demo.add_argument("--bars", help="CSV symbol,date,open,high,low,close,volume (default: the bundled data)")
    demo.add_argument("--symbols", help="comma-separated, e.g. AAPL,MSFT (default: all in the file)")
    demo.add_argument("--start", type=date.fromisoformat, help="first day, YYYY-MM-DD")
    demo.add_argument("--end", type=date.fromisoformat, help="last day, YYYY-MM-DD")
    demo.add_argument("--report", default="tradeflow-demo.html", help="where to write the HTML report")
    demo.add_argument("--no-progress", action="store_true", help="no progress bar")
    demo.set_defaults(run=cmd_demo)

    replay = sub.add_parser("replay", help="replay a bar history and recorded alerts through the local stack")
    replay.add_argument("--bars", required=True, help="CSV symbol,timestamp,open,high,low,close,volume "
                                                      "(timestamp = bar open time, ISO-8601 UTC)")
    replay.add_argument("--alerts", required=True,
                        help='JSON Lines, one {"time": ISO-8601, "body": "<raw webhook body>"[, "path": token]}')
    replay.add_argument("--fill-model", choices=["bar", "quote"], default="bar",
                        help="bar: next bar's open, stops/limits on high/low (default); quote: latest close")
    replay.add_argument("--commission-bps", default="0", help="commission in bps of notional (default 0)")
    replay.add_argument("--cash", default="100000", help="starting cash (default 100000)")
    replay.add_argument("--strategy", default="replay", help="strategy name the alerts are booked to")
    replay.add_argument("--settings", help="JSON of further strategy settings, e.g. '{\"allow_short\": true}'")
    replay.add_argument("--json", help="write trades, final cash and equity and the equity curve here")
    replay.add_argument("--html", help="write the HTML report here")
    replay.add_argument("--no-progress", action="store_true", help="no progress bar")
    replay.set_defaults(run=cmd_replay)

    comp = sub.add_parser("compare", help="compare TradingView's Strategy Tester trades with tradeflow's, trade by trade")
    comp.add_argument("--tradingview-trades", required=True, metavar="LIST.csv",
                      help="the Strategy Tester's List of trades, exported as CSV")
    comp.add_argument("--bars", required=True, metavar="CHART.csv",
                      help="the same chart's Export chart data... CSV (time, open, high, low, close, plots)")
    comp.add_argument("--symbol", help="the symbol (default: from the chart file's name, e.g. NASDAQ_AAPL, 1D.csv)")
    comp.add_argument("--timezone", help="the chart's time zone, e.g. Europe/Berlin (default: detected from the bars)")
    comp.add_argument("--fill-model", choices=["bar", "quote"], help="default bar (TradingView's broker emulator)")
    comp.add_argument("--cash", help="the strategy's initial capital (default 1000000, TradingView's default)")
    comp.add_argument("--commission-bps", help="commission in bps of notional (default 0)")
    comp.add_argument("--slippage-bps", help="slippage in bps on market and stop fills (default 0)")
    comp.add_argument("--settings", help="JSON of further strategy settings, e.g. '{\"commission_per_order\": \"1\"}'")
    comp.add_argument("--all", action="store_true", help="list every trade, not only those that differ")
    comp.add_argument("--html", help="write the HTML report here")
    comp.add_argument("--json", help="write the comparison as JSON here")
    comp.add_argument("--no-progress", action="store_true", help="no progress bar")
    comp.set_defaults(run=cmd_compare)

    sub.add_parser("migrate", help="apply the database migrations").set_defaults(run=cmd_migrate)

    strategy = sub.add_parser("strategy", help="register, pause or resume a strategy")
    strategy.add_argument("action", choices=["add", "pause", "resume"])
    strategy.add_argument("name", help="1-63 lower-case letters, digits or dashes")
    strategy.add_argument("--secret", help="webhook secret (default: a random one)")
    strategy.add_argument("--settings", help="JSON of strategy settings, e.g. '{\"stop_loss_pct\": \"2\"}'")
    strategy.add_argument("--aws", action="store_true",
                          help="in the deployed stack: add registers in SSM, pause and resume go through the API")
    strategy.add_argument("--reason", help="why (recorded with a pause or resume)")
    strategy.set_defaults(run=cmd_strategy)

    market = sub.add_parser("market-data", help="configure the deployed stack's price sources (docs/market-data.md)")
    market.add_argument("action", choices=["set-keys", "settings"])
    market.add_argument("--aws", action="store_true", help="the deployed stack (SSM); required")
    market.add_argument("--key-id", help="set-keys: the Alpaca API key id (the secret is read from "
                                         "ALPACA_API_SECRET_KEY or asked for, never an argument)")
    market.add_argument("--tradingview", help="settings: symbols fed by TradingView bar alerts, e.g. NQ1!,BTCUSDT.P")
    market.add_argument("--max-price-age", type=int, help="settings: seconds after which a price is stale")
    market.add_argument("--json", help="settings: JSON merged into the settings, e.g. "
                                       "'{\"symbols\": {\"BTCUSDT.P\": {\"coinbase\": \"BTC-USDT\"}}}'")
    market.set_defaults(run=cmd_market_data)

    kill = sub.add_parser("kill-switch", help="halt (on) or resume (off) all trading")
    kill.add_argument("state", choices=["on", "off"])
    kill.add_argument("--reason", help="why, kept in the trading-state log")
    kill.add_argument("--flatten", action="store_true",
                      help="also close every position at market and cancel every working entry")
    kill.add_argument("--confirm", help="with --aws --flatten: type FLATTEN")
    kill.add_argument("--aws", action="store_true", help="in the deployed stack, through the control API")
    kill.set_defaults(run=cmd_kill_switch)

    aws_help = "in the deployed stack, through the control API (region from AWS_REGION)"
    for name, run, text in (("status", cmd_status, "trading states, kill switch, equity, cash, last alert, prices"),
                            ("positions", cmd_positions, "open positions with unrealised P&L, stop and take-profit"),
                            ("orders", cmd_orders, "working orders"),
                            ("trades", cmd_trades, "closed trades")):
        verb = sub.add_parser(name, help=text)
        verb.add_argument("--aws", action="store_true", help=aws_help)
        verb.add_argument("--json", action="store_true", help="print the API's JSON")
        verb.add_argument("--strategy")
        verb.add_argument("--symbol")
        if name in ("orders", "trades"):
            verb.add_argument("--limit", type=int)
            verb.add_argument("--offset", type=int)
        if name == "trades":
            verb.add_argument("--since", help="closed at or after, ISO-8601 UTC")
            verb.add_argument("--until", help="closed before, ISO-8601 UTC")
        verb.set_defaults(run=run)

    flat = sub.add_parser("flatten", help="close every position of a strategy (or all), with --confirm FLATTEN")
    flat.add_argument("strategy", nargs="?", help="the strategy (default: every strategy, kill switch on)")
    flat.add_argument("--confirm", help="type FLATTEN")
    flat.add_argument("--reason", required=True, help="why (recorded with the action)")
    flat.add_argument("--aws", action="store_true", help=aws_help)
    flat.set_defaults(run=cmd_flatten)

    risk = sub.add_parser("risk", help="trading states and breakers: status, or reset a tripped breaker")
    risk.add_argument("action", choices=["status", "reset"])
    risk.add_argument("name", nargs="?", help="the breaker to reset: daily_loss, max_drawdown, stop_loss_guard "
                                              "or position_loss")
    risk.add_argument("--strategy", default="account", help="the strategy whose breaker to reset")
    risk.add_argument("--reason", help="why (required for reset), kept in the reset log")
    risk.add_argument("--aws", action="store_true", help=aws_help)
    risk.set_defaults(run=cmd_risk)

    sett = sub.add_parser("settings", help="a strategy's current settings and their history")
    sett.add_argument("name")
    sett.add_argument("--aws", action="store_true", help=aws_help)
    sett.set_defaults(run=cmd_settings)

    exp = sub.add_parser("export", help="write a strategy's received alerts and the recorded bars as replay files")
    exp.add_argument("--strategy", required=True, help="the strategy whose alerts to export")
    exp.add_argument("--from", dest="start", required=True, metavar="DATE",
                     help="first day (YYYY-MM-DD, UTC) or an ISO-8601 time")
    exp.add_argument("--to", dest="end", required=True, metavar="DATE",
                     help="last day, included (YYYY-MM-DD, UTC), or an ISO-8601 time, excluded")
    exp.add_argument("--out", required=True, metavar="DIR", help="writes DIR/alerts.jsonl and DIR/bars.csv")
    exp.add_argument("--aws", action="store_true", help=aws_help)
    exp.set_defaults(run=cmd_export)

    token = sub.add_parser("api-token", help="create the control API's bearer token (--aws: store it in SSM)")
    token.add_argument("--aws", action="store_true", help="store it as an SSM SecureString in the deployed account")
    token.set_defaults(run=cmd_api_token)

    ref = sub.add_parser("settings-reference", help="write docs/settings.md from the settings model")
    ref.add_argument("--out", default="docs/settings.md")
    ref.set_defaults(run=cmd_settings_reference)

    serve = sub.add_parser("serve", help="the control API and dashboard on localhost over the local results")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--results", default="demo", help="demo (default), replay, compare or local")
    serve.set_defaults(run=cmd_serve)

    invoke = sub.add_parser("invoke", help="run one handler on a saved event, as sam local invoke would")
    invoke.add_argument("function")
    invoke.add_argument("event", help="path of the event JSON")
    invoke.add_argument("--no-drain", action="store_true", help="do not run the downstream queues afterwards")
    invoke.set_defaults(run=cmd_invoke)

    configure = sub.add_parser("configure", help="set the deploy settings (emails, phones, ...) that cdk deploy reads",
                               description="Write tradeflow.deploy.json, read by every cdk deploy. Settings: "
                               "alert_emails, sms_numbers, ops_emails, allowed_source_ips, stop_monitor_24_7, extended_hours, "
                               "db_min_acu, db_max_acu, deletion_protection, egress, reserved_concurrency.")
    configure.add_argument("settings", nargs="*", metavar="key=value",
                           help="e.g. alert_emails=you@example.com sms_numbers=+15551234567 (lists comma-separated)")
    configure.add_argument("--unset", action="append", default=[], metavar="KEY", help="remove a setting (default again)")
    configure.add_argument("--file", help="the settings file (default: tradeflow.deploy.json at the repository root)")
    configure.set_defaults(run=cmd_configure)
    dead = sub.add_parser("dlq", help="show or replay dead-lettered messages (local, or --aws)")
    dead.add_argument("action", choices=["show", "redrive"])
    dead.add_argument("--aws", action="store_true", help="the deployed stack's queues instead of the local stack's")
    dead.set_defaults(run=cmd_dlq)

    notify = sub.add_parser("notify", help="preview each notification kind, send a test message per channel, "
                                           "or store a chat channel's credentials")
    notify.add_argument("action", choices=["preview", "test", "set-chat"])
    notify.add_argument("kind", nargs="?", help="for preview: " + ", ".join(PREVIEW_FACTS)
                        + "; for set-chat: telegram, discord or slack")
    notify.add_argument("--aws", action="store_true", help="test: through the deployed topics; set-chat: required")
    notify.add_argument("--chat-id", help="set-chat telegram: the chat's id (the bot token is read from "
                                          "TELEGRAM_BOT_TOKEN or asked for, never an argument)")
    notify.set_defaults(run=cmd_notify)

    layer = sub.add_parser("build-layer", help="build the Lambda layer zip for arm64, without Docker")
    layer.add_argument("--out", default="build/layer")
    layer.set_defaults(run=cmd_build_layer)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    if command in LOCAL_ONLY and "--aws" in argv:
        print(f"tradeflow {command}: --aws refused: {command} {LOCAL_ONLY[command]}", file=sys.stderr)
        return 2
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, LookupError, RuntimeError, OSError) as exc:
        print(f"tradeflow {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
