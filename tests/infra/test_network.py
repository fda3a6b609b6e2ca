"""Network and database exposure: nothing inbound from the internet, no NAT, IPv6 egress only;
IPv4 leaves the VPC only through the S3 gateway endpoint, which admits only the open-positions
object."""

from aws_cdk.assertions import Match, Template
from tradeflow import names

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
    # and the only VPC endpoint is the (free) S3 gateway: no interface endpoints
    (endpoint,) = template.find_resources("AWS::EC2::VPCEndpoint").values()
    assert endpoint["Properties"]["VpcEndpointType"] == "Gateway"


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


def _function_subnets(template: Template) -> set[str]:
    return {
        subnet["Ref"]
        for function in template.find_resources("AWS::Lambda::Function").values()
        for subnet in function["Properties"].get("VpcConfig", {}).get("SubnetIds", [])
    }


def test_s3_gateway_endpoint_serves_the_functions_subnets(template: Template) -> None:
    # Given the S3 gateway endpoint and the subnets the VPC functions run in
    (endpoint,) = template.find_resources("AWS::EC2::VPCEndpoint").values()
    props = endpoint["Properties"]
    assert props["VpcEndpointType"] == "Gateway"
    assert props["ServiceName"] == {"Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, ".s3"]]}
    subnets = _function_subnets(template)
    assert len(subnets) == 2
    # Then the route table of every one of those subnets routes S3 through the endpoint
    associations = template.find_resources("AWS::EC2::SubnetRouteTableAssociation").values()
    tables = {a["Properties"]["RouteTableId"]["Ref"] for a in associations if a["Properties"]["SubnetId"]["Ref"] in subnets}
    assert len(tables) == 2
    assert {t["Ref"] for t in props["RouteTableIds"]} == tables


def test_s3_gateway_endpoint_admits_only_the_open_positions_object(template: Template) -> None:
    (endpoint,) = template.find_resources("AWS::EC2::VPCEndpoint").values()
    statements = {s["Sid"]: s for s in endpoint["Properties"]["PolicyDocument"]["Statement"]}
    assert set(statements) == {"OpenPositionsFlagOnly", "WatchlistOnly"}  # the watchlist: test_market_data.py
    statement = statements["OpenPositionsFlagOnly"]
    assert statement["Effect"] == "Allow"
    assert sorted(statement["Action"]) == ["s3:GetObject", "s3:PutObject"]
    resource = statement["Resource"]["Fn::Join"][1]
    assert resource[0]["Fn::GetAtt"][1] == "Arn" and resource[1] == f"/{names.OPEN_POSITIONS_KEY}"
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalAccount": {"Ref": "AWS::AccountId"}}}


def test_functions_ipv4_egress_is_https_only_and_has_no_way_out_but_s3(template: Template) -> None:
    # Given the functions' IPv4 egress rule (the S3 prefix-list id is not known at synth)
    sg = next(g for g in template.find_resources("AWS::EC2::SecurityGroup").values()
              if g["Properties"]["GroupDescription"] == "tradeflow functions that use the database")
    ipv4 = [r for r in sg["Properties"]["SecurityGroupEgress"] if "CidrIp" in r]
    assert [(r["CidrIp"], r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in ipv4] == [("0.0.0.0/0", "tcp", 443, 443)]
    # Then IPv4 has no route out of the VPC except the S3 gateway endpoint
    template.resource_count_is("AWS::EC2::InternetGateway", 0)
    template.resource_count_is("AWS::EC2::NatGateway", 0)
    for route in template.find_resources("AWS::EC2::Route").values():
        assert "DestinationCidrBlock" not in route["Properties"], route
