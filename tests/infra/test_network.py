"""Network and database exposure: nothing inbound from the internet, no NAT, IPv6 egress only."""

from aws_cdk.assertions import Match, Template

OPEN = {"0.0.0.0/0", "::/0"}


def test_no_security_group_allows_inbound_from_the_internet(template: Template) -> None:
    # Given every security group and standalone ingress rule in the stack
    inline = [
        rule
        for sg in template.find_resources("AWS::EC2::SecurityGroup").values()
        for rule in sg["Properties"].get("SecurityGroupIngress", [])
    ]
    standalone = [r["Properties"] for r in template.find_resources("AWS::EC2::SecurityGroupIngress").values()]
    # Then none of them opens a port to any address
    for rule in inline + standalone:
        assert rule.get("CidrIp") not in OPEN and rule.get("CidrIpv6") not in OPEN, rule


def test_database_accepts_postgres_only_from_the_functions_security_group(template: Template) -> None:
    ingress = template.find_resources("AWS::EC2::SecurityGroupIngress")
    assert len(ingress) == 1
    (rule,) = (r["Properties"] for r in ingress.values())
    assert rule["FromPort"] == rule["ToPort"] == 5432
    assert rule["SourceSecurityGroupId"]["Fn::GetAtt"][0].startswith("NetworkFunctionsSg")
    assert rule["GroupId"]["Fn::GetAtt"][0].startswith("NetworkDatabaseSg")


def test_database_is_private_and_encrypted(template: Template) -> None:
    template.has_resource_properties("AWS::RDS::DBInstance", {"PubliclyAccessible": False})
    template.has_resource_properties("AWS::RDS::DBCluster", {"StorageEncrypted": True})
    template.resource_count_is("AWS::EC2::InternetGateway", 0)


def test_no_nat_gateway_and_ipv6_egress_only(template: Template) -> None:
    # Given the default egress profile
    template.resource_count_is("AWS::EC2::NatGateway", 0)
    template.resource_count_is("AWS::EC2::EgressOnlyInternetGateway", 1)
    # Then each private subnet routes IPv6 (and only IPv6) out through the egress-only gateway
    routes = template.find_resources("AWS::EC2::Route")
    assert len(routes) == 2
    for route in routes.values():
        assert route["Properties"]["DestinationIpv6CidrBlock"] == "::/0"
        assert "EgressOnlyInternetGatewayId" in route["Properties"]
    template.resource_count_is("AWS::EC2::VPCEndpoint", 0)


def test_functions_security_group_egress_is_postgres_and_https_over_ipv6(template: Template) -> None:
    template.has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {
            "GroupDescription": "tradeflow functions that use the database",
            "SecurityGroupEgress": Match.array_with(
                [Match.object_like({"CidrIpv6": "::/0", "FromPort": 443, "ToPort": 443, "IpProtocol": "tcp"})]
            ),
        },
    )


def test_vpc_has_flow_logs(template: Template) -> None:
    template.has_resource_properties("AWS::EC2::FlowLog", {"TrafficType": "ALL"})
