"""The chat construct: the sender outside the VPC, least privilege (its three parameters, KMS
decrypt only through SSM), subscribed to the chat topic, failures to its dead-letter queue that
alarms; the notifier may publish to the topic."""

from aws_cdk.assertions import Template
from test_functions import actions_of, functions, queue_logical_id, role_statements
from tradeflow import names


def chat_sender(template: Template) -> tuple[str, dict]:
    return functions(template)[names.CHAT_SENDER_FUNCTION]


def topic_id(resources: dict) -> str:
    return next(k for k, v in resources.items() if v["Type"] == "AWS::SNS::Topic"
                and v["Properties"]["TopicName"] == names.CHAT_TOPIC)


def test_the_sender_runs_outside_the_vpc_without_the_database(template: Template) -> None:
    _, props = chat_sender(template)
    assert "VpcConfig" not in props
    env = props["Environment"]["Variables"]
    assert set(env) == {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"}
    assert props["Architectures"] == ["arm64"] and props["TracingConfig"] == {"Mode": "Active"}


def test_its_role_reads_only_the_chat_parameters(template: Template, resources: dict) -> None:
    _, props = chat_sender(template)
    role = props["Role"]["Fn::GetAtt"][0]
    statements = role_statements(resources, role)
    assert actions_of(statements) == {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments",
                                      "xray:PutTelemetryRecords", "ssm:GetParameter", "kms:Decrypt",
                                      # the on-failure destination, as CDK grants it (the dead-letter queue only)
                                      "sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
    (ssm,) = [s for s in statements if s["Action"] == "ssm:GetParameter"]
    assert {r["Fn::Join"][1][-1] for r in ssm["Resource"]} == {f":parameter{p}" for p in names.CHAT_PARAMETERS.values()}
    (kms,) = [s for s in statements if s["Action"] == "kms:Decrypt"]
    assert kms["Condition"]["StringEquals"]["kms:ViaService"]["Fn::Join"][1] == ["ssm.", {"Ref": "AWS::Region"},
                                                                                 ".amazonaws.com"]
    sends = [s for s in statements if "sqs:SendMessage" in actions_of([s])]
    assert [s["Resource"]["Fn::GetAtt"][0] for s in sends] == [
        queue_logical_id(resources, names.CHAT_DEAD_LETTER_QUEUE)]
    assert not resources[role]["Properties"].get("ManagedPolicyArns")


def test_subscribed_to_the_chat_topic_with_failures_to_its_dead_letter_queue(template: Template,
                                                                              resources: dict) -> None:
    logical_id, _ = chat_sender(template)
    [subscription] = [s["Properties"] for s in template.find_resources("AWS::SNS::Subscription").values()
                      if s["Properties"]["Protocol"] == "lambda"]
    assert subscription["TopicArn"] == {"Ref": topic_id(resources)}
    assert subscription["Endpoint"] == {"Fn::GetAtt": [logical_id, "Arn"]}
    [config] = template.find_resources("AWS::Lambda::EventInvokeConfig", {
        "Properties": {"FunctionName": {"Ref": logical_id}}}).values()
    failure = config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]
    assert failure == {"Fn::GetAtt": [queue_logical_id(resources, names.CHAT_DEAD_LETTER_QUEUE), "Arn"]}
    assert config["Properties"]["MaximumRetryAttempts"] == 2
    [alarm] = [a["Properties"] for a in template.find_resources("AWS::CloudWatch::Alarm").values()
               if a["Properties"]["AlarmName"] == "tradeflow-dlq-chat-dlq"]
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {
        "Fn::GetAtt": [queue_logical_id(resources, names.CHAT_DEAD_LETTER_QUEUE), "QueueName"]}}]


def test_the_topic_is_encrypted_and_tls_only(resources: dict) -> None:
    props = resources[topic_id(resources)]["Properties"]
    alerts = next(v["Properties"] for v in resources.values() if v["Type"] == "AWS::SNS::Topic"
                  and v["Properties"]["TopicName"] == names.TRADER_ALERTS_TOPIC)
    assert props["KmsMasterKeyId"] == alerts["KmsMasterKeyId"]  # the AWS managed aws/sns key
    assert "alias/aws/sns" in str(props["KmsMasterKeyId"])
    policies = [p["Properties"] for p in resources.values() if p["Type"] == "AWS::SNS::TopicPolicy"
                and {"Ref": topic_id(resources)} in p["Properties"]["Topics"]]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for p in policies for s in p["PolicyDocument"]["Statement"])


def test_the_notifier_sends_its_burst_timers_to_its_own_queue(template: Template, resources: dict) -> None:
    _, notifier = functions(template)["notifier"]
    assert notifier["Environment"]["Variables"]["NOTIFICATIONS_QUEUE_URL"] == {
        "Ref": queue_logical_id(resources, names.NOTIFICATIONS_QUEUE)}
