"""What the webhook keeps of an alert for the export: the raw body and path token with every
secret replaced by the replay's placeholder. No secret survives, however it is written (in the
passphrase, in another field, JSON-escaped, inside JSON text in a field, KEY=VALUE); what the
alert asks for is unchanged once a replay fills the placeholder; a body without a secret is
kept byte for byte; the largest body accepted still fits an SQS message."""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from tradeflow.domain.alerts import MAX_BODY_BYTES, normalise, read_body
from tradeflow.local.replay import PASSPHRASE_PLACEHOLDER
from tradeflow.pipeline.webhook import REPLAY_PLACEHOLDER, Request, Webhook, redact_for_replay
from tradeflow.webhook_env import WebhookEnv

NOW = datetime(2024, 3, 1, 15, 30, tzinfo=UTC)
#: SQS's largest message (256 KiB) less the largest strategy settings SSM holds (an advanced
#: parameter, 8 KiB), which the same message carries.
SQS_ROOM = 256 * 1024 - 8 * 1024

secrets_ = st.text(string.ascii_letters + string.digits + "-_", min_size=8, max_size=40)


def escaped(text: str, mask: list[bool]) -> str:
    """``text`` with the characters ``mask`` picks written as JSON \\u escapes."""
    return "".join(f"\\u{ord(c):04x}" if m else c for c, m in zip(text, mask, strict=False))


def decoded_strings(value) -> list[str]:
    """Every key and string of a JSON value, and of JSON text inside its strings."""
    if isinstance(value, str):
        try:
            inner = json.loads(value)
        except ValueError:
            return [value]
        return [value, *decoded_strings(inner)] if isinstance(inner, dict | list) else [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [*decoded_strings(k), *decoded_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in decoded_strings(v)]
    return []


@st.composite
def bodies(draw):
    """(body, secret, credential): the credential in the passphrase field or a KEY=VALUE line,
    and the secret maybe again in a comment, written plainly or JSON-escaped, or inside an
    embedded alert message."""
    secret = draw(secrets_)
    credential = f"strat.{secret}"
    style = draw(st.sampled_from(["json", "escaped", "embedded", "lines"]))
    quantity = draw(st.sampled_from(['"10"', "10", "2.5", '"0.5"']))
    if style == "lines":
        return f"SYMBOL=AAPL\nSIGNAL=BUY\nPASSPHRASE={credential}\nQUANTITY=3\nCOMMENT=by {secret}", secret, credential
    mask = draw(st.lists(st.booleans(), min_size=len(secret), max_size=len(secret)))
    shown = escaped(secret, mask) if style == "escaped" else secret
    separator = draw(st.sampled_from([", ", ","]))
    members = ['"ticker": "AAPL"', '"action": "buy"', f'"quantity": {quantity}', f'"note": "see {shown}"']
    if style == "embedded":
        inner = json.dumps({"passphrase": credential, "stop_loss": "95"})
        members.append(f'"alert_message": {json.dumps(inner)}')
    else:
        members.append(f'"passphrase": "strat.{shown}"')
    order = draw(st.permutations(members))
    return "{" + separator.join(order) + "}", secret, credential


def alert_of(body: str):
    return normalise(read_body(body)).model_dump(exclude={"comment"})


@given(bodies())
@settings(max_examples=300, deadline=None)
def test_no_secret_survives_and_the_alert_is_unchanged_once_replayed(case):
    body, secret, credential = case
    kept = redact_for_replay(body, (credential, secret))
    assert secret not in kept
    if kept.lstrip().startswith("{"):
        assert not [s for s in decoded_strings(json.loads(kept)) if secret in s]
    replayed = kept.replace(REPLAY_PLACEHOLDER, "replay.another-credential")
    assert alert_of(replayed) == alert_of(body)


def test_the_placeholder_is_the_one_the_replay_fills():
    assert REPLAY_PLACEHOLDER == PASSPHRASE_PLACEHOLDER


def test_a_body_without_a_secret_is_kept_byte_for_byte_and_a_passphrase_only_loses_its_value():
    kept_as_is = [
        '{"ticker":"SPY","action":"sell","sentiment":"flat","quantity":"50","price":"660",'
        '"time":"2025-09-09T14:07:08Z","interval":"5"}',
        '{"exchange":"binance","strategy":"MyStrategy","market":"BTCUSDT","size":0.01,"order":"buy",'
        '"price":64250.5,"position":"long","reverse":false}',
        "EXCHANGE=NASDAQ\nSYMBOL=AAPL\nSIGNAL=BUY\nSTOP_PRICE=175\nTAKE_PROFIT_PRICE=190\n",
        '{"key": "mysecretkey" "msg": Long #AAPL at 179.98"}',
    ]
    for body in kept_as_is:
        assert redact_for_replay(body, ("strat.abcdefgh", "abcdefgh")) == body
    nested = ('{"passphrase":"strat.abcdefgh","time":"2024-03-01T15:30:02Z","ticker":"AAPL",'
              '"bar":{"close":179.98,"volume":150177},"strategy":{"order_action":"sell","order_contracts":10}}')
    assert redact_for_replay(nested, ("strat.abcdefgh", "abcdefgh")) == nested.replace(
        "strat.abcdefgh", REPLAY_PLACEHOLDER)
    # another service's token is a secret too; a number in its place stays valid JSON
    assert json.loads(redact_for_replay('{"ticker": "AAPL", "action": "buy", "token": 12345}', ())) == {
        "ticker": "AAPL", "action": "buy", "token": REPLAY_PLACEHOLDER}
    assert redact_for_replay("strat.abcdefgh", ("strat.abcdefgh", "abcdefgh")) == REPLAY_PLACEHOLDER


def webhook_with(sent: list, secret: str = "a-secret-of-24-characters") -> Webhook:
    env = WebhookEnv(signals_queue_url="fake://signals.fifo", notifications_queue_url="fake://n", alert_burst=0)
    return Webhook(env, lambda s: secret if s == "strat" else None, lambda s: None,
                   lambda url, message, group, dedupe: sent.append(message))


def test_the_path_token_is_kept_redacted_and_a_signed_alert_keeps_no_path():
    import hashlib
    import hmac

    sent: list = []
    webhook = webhook_with(sent)
    body = '{"ticker": "AAPL", "action": "buy", "comment": "a-secret-of-24-characters"}'
    by_path = webhook.accept(Request(body=body, source_ip="52.89.214.238",
                                     path_token="strat.a-secret-of-24-characters"), NOW)
    assert (by_path.raw_path, by_path.raw_body) == (REPLAY_PLACEHOLDER, body.replace(
        "a-secret-of-24-characters", REPLAY_PLACEHOLDER))
    signed_body = '{"ticker": "MSFT", "action": "buy"}'
    signature = hmac.new(b"a-secret-of-24-characters", signed_body.encode(), hashlib.sha256).hexdigest()
    signed = webhook.accept(Request(body=signed_body, source_ip="52.89.214.238", path_token="strat",
                                    signature=f"sha256={signature}"), NOW)
    assert (signed.raw_path, signed.raw_body) == (None, signed_body)
    assert not [m for m in sent if "a-secret-of-24-characters" in f"{m.raw_body} {m.raw_path}"]


def test_a_body_nested_too_deeply_to_check_is_not_kept():
    deep = '{"ticker": "AAPL", "action": "buy", "x": ' + "[" * 600 + "]" * 600 + "}"
    assert redact_for_replay(deep, ("strat.abcdefgh", "abcdefgh")) is None


def test_the_largest_body_accepted_fits_an_sqs_message_with_its_raw_body():
    sent: list = []
    webhook = webhook_with(sent)
    head = '{"ticker": "AAPL", "action": "buy", "passphrase": "strat.a-secret-of-24-characters", "notes": "'
    filler = '\\"' * ((MAX_BODY_BYTES - len(head) - 2) // 2)  # each escapes again in the message: twice the bytes
    body = head + filler + '"}'
    assert MAX_BODY_BYTES - 1 <= len(body.encode()) <= MAX_BODY_BYTES
    signal = webhook.accept(Request(body=body, source_ip="52.89.214.238"), NOW)
    [message] = sent
    assert message.raw_body == body.replace("strat.a-secret-of-24-characters", REPLAY_PLACEHOLDER)
    assert signal.raw_path == ""
    assert len(message.model_dump_json().encode()) < SQS_ROOM
