"""Deletion protection switched on only once the stack is healthy.

With ``DeletionProtection: true`` on the cluster from the start, a first deploy that fails after
the database exists (a migration, a function, a quota) cannot roll the cluster back: the stack
ends in ROLLBACK_FAILED and needs manual clean-up. So the cluster is created unprotected, and
this construct, which depends on every other construct of the stack and is therefore the last
resource CloudFormation creates, sets the cluster's protection with ``rds:ModifyDBCluster``
(``tradeflow:deletion_protection``, default true). Until it has run, a failed deploy rolls back
cleanly (leaving the cluster's final snapshot, see docs/deploy.md); once it has, the database is
protected. Setting ``deletion_protection`` false and deploying switches it off before
``cdk destroy``. Deleting this resource leaves the cluster as it is.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import custom_resources as cr
from constructs import Construct, IConstruct

from tradeflow_cdk.nag import acknowledge

#: AwsCustomResource's shared function (one per stack), named by CDK.
PROVIDER_ID = "AWS679f53fac002430cb0da5b7982bd2287"


class DeletionProtection(Construct):
    """``resource``: the custom resource that sets ``cluster``'s deletion protection to ``enabled``."""

    def __init__(self, scope: Construct, id: str, *, cluster: rds.DatabaseCluster, enabled: bool) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        cluster_arn = f"arn:{stack.partition}:rds:{stack.region}:{stack.account}:cluster:{cluster.cluster_identifier}"
        call = cr.AwsSdkCall(
            service="RDS",
            action="modifyDBCluster",
            parameters={"DBClusterIdentifier": cluster.cluster_identifier, "DeletionProtection": enabled,
                        "ApplyImmediately": True},
            physical_resource_id=cr.PhysicalResourceId.of(f"{cluster.cluster_identifier}-deletion-protection"),
        )
        self.resource = cr.AwsCustomResource(
            self,
            "Set",
            on_create=call,
            on_update=call,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["rds:ModifyDBCluster"], resources=[cluster_arn])]
            ),
            install_latest_aws_sdk=False,
            log_group=logs.LogGroup(self, "Logs", retention=logs.RetentionDays.ONE_MONTH),
        )

    def after(self, stack: Stack) -> None:
        """Make this the last resource: depend on every other construct of ``stack``."""
        for child in stack.node.children:
            if child is self or child.node.id == PROVIDER_ID or isinstance(child, CfnOutput):
                continue
            if _has_resources(child):
                self.node.add_dependency(child)
        provider = stack.node.try_find_child(PROVIDER_ID)
        if provider is not None:
            acknowledge(provider, "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                "CDK's AwsCustomResource function (runs only on deploy, to switch deletion protection) uses the "
                "AWS managed basic execution role for its logs.",
            )
            acknowledge(provider, "AwsSolutions-L1",
                "CDK's AwsCustomResource function: its Node.js runtime is chosen by aws-cdk-lib, not here; it "
                "runs only on deploy.",
            )


def _has_resources(construct: IConstruct) -> bool:
    from aws_cdk import CfnResource

    return any(isinstance(c, CfnResource) for c in construct.node.find_all())
