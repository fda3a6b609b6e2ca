"""The VPC: private dual-stack subnets for the database and the functions that use it, no NAT.

Functions in the VPC still call SQS, SNS and Secrets Manager. Rather than a NAT gateway
(~$33/month) or interface endpoints (~$7.30/month each per AZ), the default gives the
subnets an IPv6 range and an egress-only internet gateway (free): outbound IPv6 only,
nothing from the internet can open a connection inward, and those services answer on IPv6
at their dual-stack endpoints (``*.api.aws``; the functions get ``AWS_USE_DUALSTACK_ENDPOINT``
and connect over IPv6 only, tradeflow.adapters.aws), S3 included. ``egress="endpoints"`` swaps
that for interface endpoints. See docs/cost.md.

With ``egress="endpoints"`` S3 (the state bucket's open-positions object, state.py) is reached
through an S3 *gateway* endpoint, which is free: a route in each private subnet's route table
to S3's prefix list (it exists in both modes; with IPv6 egress the functions use S3's dual-stack
endpoint instead). The functions' security group must allow that IPv4 traffic, but CloudFormation cannot
give S3's prefix-list id at synth time without a lookup or a custom resource (the stack
synthesises offline, without credentials), so it allows HTTPS to any IPv4 address. That
reaches no further than the route tables do: the subnets are isolated (no internet gateway, no
NAT), so IPv4 leaves the VPC only through the gateway endpoint, and the endpoint's policy
admits only the open-positions object. Anything new that must reach S3 from the VPC has to be
added to that policy (state.py).
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

#: Interface endpoints used when egress == "endpoints" (one per service, in each subnet's AZ).
ENDPOINT_SERVICES = {
    "Sqs": ec2.InterfaceVpcEndpointAwsService.SQS,
    "Sns": ec2.InterfaceVpcEndpointAwsService.SNS,
    "SecretsManager": ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
}


class Network(Construct):
    """``vpc``, the private ``subnets``, the ``s3_endpoint`` (gateway) and two security groups:
    ``functions`` (the Lambdas that reach the database) and ``database`` (ingress only from
    ``functions``)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        egress: str = "ipv6",
        availability_zones: tuple[str, ...] = (),
    ) -> None:
        super().__init__(scope, id)
        placement = {"availability_zones": list(availability_zones)} if availability_zones else {"max_azs": 2}
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_protocol=ec2.IpProtocol.DUAL_STACK,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24)
            ],
            restrict_default_security_group=False,
            flow_logs={
                "all": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(
                        logs.LogGroup(
                            self,
                            "FlowLogs",
                            retention=logs.RetentionDays.ONE_MONTH,
                            removal_policy=RemovalPolicy.DESTROY,
                        )
                    ),
                    traffic_type=ec2.FlowLogTrafficType.ALL,
                )
            },
            **placement,
        )
        self.subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)

        self.functions = ec2.SecurityGroup(
            self, "FunctionsSg", vpc=self.vpc, allow_all_outbound=False,
            description="tradeflow functions that use the database",
        )
        self.database = ec2.SecurityGroup(
            self, "DatabaseSg", vpc=self.vpc, allow_all_outbound=False,
            description="tradeflow Aurora PostgreSQL: ingress only from the functions security group",
        )
        self.database.add_ingress_rule(self.functions, ec2.Port.tcp(5432), "PostgreSQL from tradeflow functions")
        self.functions.add_egress_rule(self.database, ec2.Port.tcp(5432), "PostgreSQL")

        self.s3_endpoint = self.vpc.add_gateway_endpoint(
            "S3", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[self.subnets]
        )
        self.functions.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443),
            "S3 through the gateway endpoint (isolated subnets: IPv4 has no other way out)",
        )

        if egress == "ipv6":
            self._egress_only_ipv6()
            self.functions.add_egress_rule(ec2.Peer.any_ipv6(), ec2.Port.tcp(443), "AWS APIs over IPv6 (egress-only)")
        else:
            self._interface_endpoints()

    def _egress_only_ipv6(self) -> None:
        # A dual-stack Vpc creates an egress-only internet gateway (child "EIGW6") but routes
        # to it only from PRIVATE_WITH_EGRESS subnets, which would also demand NAT for IPv4.
        gateway = self.vpc.node.try_find_child("EIGW6") or ec2.CfnEgressOnlyInternetGateway(
            self, "EgressOnlyIgw", vpc_id=self.vpc.vpc_id
        )
        for subnet in self.vpc.isolated_subnets:
            ec2.CfnRoute(
                subnet,
                "Ipv6Egress",
                route_table_id=subnet.route_table.route_table_id,
                destination_ipv6_cidr_block="::/0",
                egress_only_internet_gateway_id=gateway.ref,
            )

    def _interface_endpoints(self) -> None:
        endpoints = ec2.SecurityGroup(
            self, "EndpointsSg", vpc=self.vpc, allow_all_outbound=False,
            description="tradeflow interface endpoints: HTTPS from the functions",
        )
        endpoints.add_ingress_rule(self.functions, ec2.Port.tcp(443), "HTTPS from tradeflow functions")
        self.functions.add_egress_rule(endpoints, ec2.Port.tcp(443), "AWS APIs through interface endpoints")
        for name, service in ENDPOINT_SERVICES.items():
            self.vpc.add_interface_endpoint(
                name, service=service, subnets=self.subnets, security_groups=[endpoints],
                private_dns_enabled=True, open=False,
            )
