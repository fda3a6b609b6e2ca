"""Every queue: a dead-letter queue with max receives, SQS-managed encryption, TLS only."""

from aws_cdk.assertions import Template
from tradeflow import names


def _queues(template: Template) -> dict[str, dict]:
    return {q["Properties"]["QueueName"]: q for q in template.find_resources("AWS::SQS::Queue").values()}


def test_the_queues_are_the_ones_named_in_tradeflow_names(template: Template) -> None:
    expected = set(names.QUEUE_CONSUMERS) | {names.dead_letter_queue(q) for q in names.QUEUE_CONSUMERS}
    assert set(_queues(template)) == expected | {names.CHAT_DEAD_LETTER_QUEUE}  # the chat sender's (test_chat.py)


def test_every_queue_has_a_dead_letter_queue_with_max_receives(template: Template, resources: dict) -> None:
    queues = _queues(template)
    for name in names.QUEUE_CONSUMERS:
        redrive = queues[name]["Properties"]["RedrivePolicy"]
        assert redrive["maxReceiveCount"] == names.MAX_RECEIVE_COUNT
        dlq_logical_id = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
        assert resources[dlq_logical_id]["Properties"]["QueueName"] == names.dead_letter_queue(name)


def test_fifo_queues_and_their_dead_letter_queues_are_fifo(template: Template) -> None:
    for name, queue in _queues(template).items():
        assert bool(queue["Properties"].get("FifoQueue")) == name.endswith(".fifo"), name
        if name.endswith(".fifo") and "dlq" not in name:
            assert queue["Properties"]["ContentBasedDeduplication"] is False


def test_every_queue_is_encrypted(template: Template) -> None:
    for name, queue in _queues(template).items():
        assert queue["Properties"].get("SqsManagedSseEnabled") is True, name


def test_every_queue_refuses_plain_http(template: Template) -> None:
    policies = template.find_resources("AWS::SQS::QueuePolicy")
    assert len(policies) == len(_queues(template))
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
        )


def test_visibility_timeout_covers_six_consumer_timeouts(template: Template, resources: dict) -> None:
    functions = {f["Properties"]["FunctionName"]: f["Properties"] for f in template.find_resources("AWS::Lambda::Function").values()
                 if "FunctionName" in f["Properties"]}
    queues = _queues(template)
    for queue_name, consumer in names.QUEUE_CONSUMERS.items():
        timeout = functions[f"{names.APP}-{consumer}"]["Timeout"]
        assert queues[queue_name]["Properties"]["VisibilityTimeout"] >= 6 * timeout
