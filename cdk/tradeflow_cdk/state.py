"""The state bucket: one tiny S3 object that lets the stop monitor leave an idle Aurora asleep.

``state/open-positions`` (:data:`tradeflow.names.OPEN_POSITIONS_KEY`) holds the number of open
positions as decimal text. The paper executor rewrites it from the database after every fill;
the stop monitor reads it every tick, skips the database while it says 0, and rewrites it from
the database whenever it does look (a missing or unreadable object means "look"). Functions in
the VPC reach it through the S3 gateway endpoint (free, see network.py), whose policy admits
only this object.

Removal: ``RemovalPolicy.DESTROY`` without ``auto_delete_objects``, which would add a
custom-resource Lambda (and its findings) to delete one byte. ``cdk destroy`` therefore fails on
the bucket while the object exists: delete the object first (docs/deploy.md, "Remove it").
Versioning is off, so deleting the object leaves the bucket truly empty.
"""

from __future__ import annotations

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct
from tradeflow import names

from tradeflow_cdk.nag import acknowledge
from tradeflow_cdk.network import Network

#: What each function may do with the open-positions object (and nothing else in S3).
STATE_ACCESS = {
    "paper_executor": ("s3:PutObject",),
    "stop_monitor": ("s3:GetObject", "s3:PutObject"),
}


class State(Construct):
    """``bucket`` and ``open_positions_arn``, the ARN of the one object functions may touch."""

    def __init__(self, scope: Construct, id: str, *, network: Network) -> None:
        super().__init__(scope, id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            versioned=False,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.open_positions_arn = self.bucket.arn_for_objects(names.OPEN_POSITIONS_KEY)
        acknowledge(self.bucket, "AwsSolutions-S1",
            "The bucket holds a single object of a few bytes, the count of open positions, which "
            "the functions rewrite from the database; it has no data of value, access is limited "
            "to two function roles on that one key, and server access logs would cost more than "
            "the bucket.",
        )
        # The gateway endpoint is the VPC's only IPv4 way out, and the functions' security
        # group cannot name S3's prefix list at synth time (network.py): the endpoint's own
        # policy is what keeps it to this object.
        network.s3_endpoint.add_to_policy(
            iam.PolicyStatement(
                sid="OpenPositionsFlagOnly",
                principals=[iam.AnyPrincipal()],
                actions=sorted({a for actions in STATE_ACCESS.values() for a in actions}),
                resources=[self.open_positions_arn],
                conditions={"StringEquals": {"aws:PrincipalAccount": Aws.ACCOUNT_ID}},
            )
        )

    def grant(self, function_name: str, grantee: iam.IGrantable) -> None:
        """Give ``grantee`` the access :data:`STATE_ACCESS` lists for ``function_name``."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=list(STATE_ACCESS[function_name]), resources=[self.open_positions_arn])
        )
