"""The state bucket holding the open-positions flag: private, encrypted, TLS only, no extras."""

from aws_cdk.assertions import Template


def _bucket(template: Template) -> tuple[str, dict]:
    ((logical_id, bucket),) = template.find_resources("AWS::S3::Bucket").items()
    return logical_id, bucket


def test_one_bucket_blocking_all_public_access(template: Template) -> None:
    _, bucket = _bucket(template)
    assert bucket["Properties"]["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }
    assert bucket["Properties"]["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_bucket_is_encrypted_with_s3_managed_keys(template: Template) -> None:
    _, bucket = _bucket(template)
    (rule,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}


def test_bucket_refuses_plain_http(template: Template) -> None:
    logical_id, _ = _bucket(template)
    (policy,) = template.find_resources("AWS::S3::BucketPolicy").values()
    assert policy["Properties"]["Bucket"] == {"Ref": logical_id}
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    )


def test_no_versioning_no_lifecycle_and_no_auto_delete_lambda(template: Template) -> None:
    # Versioning off: deleting the one object empties the bucket, so `cdk destroy` can remove it
    # (docs/deploy.md); no auto-delete custom resource and its Lambda.
    _, bucket = _bucket(template)
    assert "VersioningConfiguration" not in bucket["Properties"]
    assert "LifecycleConfiguration" not in bucket["Properties"]
    assert bucket["DeletionPolicy"] == "Delete"
    assert not template.find_resources("Custom::S3AutoDeleteObjects")


def test_stack_outputs_the_bucket_name(template: Template) -> None:
    logical_id, _ = _bucket(template)
    assert template.find_outputs("StateBucketName")["StateBucketName"]["Value"] == {"Ref": logical_id}
