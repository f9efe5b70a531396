"""What each parameter combination really deploys, and the parent's wiring."""
from __future__ import annotations

import json

import pytest

from checks.render import SECOND, TWO_SERVICES, template
from tests.templates.conftest import CHILDREN, IMAGE, ROOT, container, render, service, stack

PARENT = template("parent.yml")
REQUIRED_OUTPUTS = {"FrontendUrl", "ApiUrl", "BucketName", "DistributionId", "ClusterName",
                    "Ingress", "Profile", "NotesService"}
CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/abc"


def ingress(**values):
    return stack("IngressStack", **values)["Resources"]


def test_http_api_ingress_uses_cloud_map_srv_and_a_vpc_link():
    r = service(Ingress="HttpApi")
    assert "ListenerRule" not in r and "TargetGroup" not in r
    assert r["CloudMapService"]["Properties"]["DnsConfig"]["DnsRecords"] == [{"Type": "SRV", "TTL": 10}]
    assert r["CloudMapService"]["Properties"]["NamespaceId"] == {"Ref": "NamespaceId"}
    integration = r["HttpApiIntegration"]["Properties"]
    assert integration["IntegrationUri"] == {"Fn::GetAtt": ["CloudMapService", "Arn"]}
    assert integration["ConnectionType"] == "VPC_LINK" and integration["ConnectionId"] == {"Ref": "VpcLinkId"}
    assert r["Service"]["Properties"]["ServiceRegistries"][0]["ContainerPort"] == 8000
    assert r["Service"]["Properties"]["LoadBalancers"] == [], "[] removes a target group; NoValue keeps it"
    routes = [r[n]["Properties"]["RouteKey"] for n in ("HttpApiRoute", "HttpApiPrefixRoute")]
    assert routes == [{"Fn::Sub": "ANY ${PathPrefix}/{proxy+}"}, {"Fn::Sub": "ANY ${PathPrefix}"}]
    assert PARENT["Resources"]["NotesService"]["Properties"]["Parameters"]["PathPrefix"] == "/api"
    assert r["TaskIngressFromIngress"]["Properties"]["SourceSecurityGroupId"] == {"Ref": "IngressSecurityGroupId"}
    shared = ingress(Ingress="HttpApi")
    assert {"HttpApi", "VpcLink", "HttpApiStage"} <= set(shared) and "LoadBalancer" not in shared
    assert shared["VpcLink"]["Properties"]["SecurityGroupIds"] == [{"Ref": "IngressSecurityGroup"}]
    # Deleted before its VPC link (switching to LoadBalancer): the API takes every service's
    # integration with it, and API Gateway keeps a link an integration still uses.
    assert shared["HttpApi"]["DependsOn"] == "VpcLink"
    name = stack("ClusterStack")["Resources"]["ServiceDiscoveryNamespace"]["Properties"]["Name"]
    assert "AWS::StackId" in str(name), "the namespace is named per stack"


def test_load_balancer_ingress_uses_an_alb_and_no_api_gateway():
    r = service(Ingress="LoadBalancer")
    assert not {"HttpApiRoute", "HttpApiIntegration", "CloudMapService"} & set(r)
    assert r["Service"]["Properties"]["LoadBalancers"][0]["TargetGroupArn"] == {"Ref": "TargetGroup"}
    assert r["Service"]["Properties"]["ServiceRegistries"] == [], "[] removes the registry; NoValue keeps it"
    rule = r["ListenerRule"]["Properties"]
    assert rule["Actions"] == [{"Type": "forward", "TargetGroupArn": {"Ref": "TargetGroup"}}]
    assert rule["Conditions"][0]["PathPatternConfig"]["Values"] == ["/api", {"Fn::Sub": "${PathPrefix}/*"}]
    assert rule["Priority"] == 50000, "the sample's catch-all comes last"
    assert r["Service"]["Properties"]["HealthCheckGracePeriodSeconds"] == 30
    shared = ingress(Ingress="LoadBalancer")
    assert not {"HttpApi", "VpcLink"} & set(shared) and "HttpsListener" not in shared
    (action,) = shared["HttpListener"]["Properties"]["DefaultActions"]
    assert action["Type"] == "fixed-response" and action["FixedResponseConfig"]["ContentType"] == "application/json"
    # The namespace stays (cluster.yml: a switch back must not recreate it); nothing registers in it.
    assert stack("ClusterStack", Ingress="LoadBalancer")["Resources"]["ServiceDiscoveryNamespace"]
    assert "CloudMapService" not in r


def test_load_balancer_with_a_certificate_redirects_http_to_https():
    r = ingress(Ingress="LoadBalancer", ApiDomainName="api.example.com", ApiCertificateArn=CERT)
    assert r["HttpListener"]["Properties"]["DefaultActions"][0]["RedirectConfig"]["Protocol"] == "HTTPS"
    assert r["HttpsListener"]["Properties"]["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    ports = {rule["FromPort"] for rule in r["LoadBalancerSecurityGroup"]["Properties"]["SecurityGroupIngress"]}
    assert ports == {443}, "CloudFront reaches an ALB with a certificate over HTTPS only"
    outputs = stack("IngressStack", Ingress="LoadBalancer", ApiDomainName="api.example.com",
                    ApiCertificateArn=CERT)["Outputs"]
    assert outputs["ListenerArn"]["Value"] == {"Ref": "HttpsListener"}, "services attach to the forwarding one"


@pytest.mark.parametrize("ingress_name", ["HttpApi", "LoadBalancer"])
def test_both_ingresses_give_the_same_outputs(ingress_name):
    outputs = stack("IngressStack", Ingress=ingress_name)["Outputs"]
    assert {"ApiUrl", "ApiOriginDomain", "ApiOriginProtocol", "IngressSecurityGroupId", "ApiId", "VpcLinkId",
            "ListenerArn", "LoadBalancerFullName"} == set(outputs)


def test_origin_protocol_is_https_except_an_alb_without_certificate():
    def protocol(**values):
        return stack("IngressStack", **values)["Outputs"]["ApiOriginProtocol"]["Value"]
    assert protocol(Ingress="HttpApi") == "https-only"
    assert protocol(Ingress="LoadBalancer") == "http-only"
    assert protocol(Ingress="LoadBalancer", ApiDomainName="api.example.com", ApiCertificateArn=CERT) == "https-only"


def test_network_mode_public_ip_and_nat():
    public = service(NetworkMode="PublicSubnets")["Service"]["Properties"]["NetworkConfiguration"]
    private = service(NetworkMode="PrivateSubnets")["Service"]["Properties"]["NetworkConfiguration"]
    assert public["AwsvpcConfiguration"]["AssignPublicIp"] == "ENABLED"
    assert private["AwsvpcConfiguration"]["AssignPublicIp"] == "DISABLED"
    vpc_public = render("vpc.yml", NetworkMode="PublicSubnets")["Resources"]
    vpc_one = render("vpc.yml", NetworkMode="PrivateSubnets")["Resources"]
    vpc_two = render("vpc.yml", NetworkMode="PrivateSubnets", NatGateways="2")["Resources"]
    nats = [sum(1 for r in v.values() if r["Type"] == "AWS::EC2::NatGateway") for v in (vpc_public, vpc_one, vpc_two)]
    assert nats == [0, 1, 2]
    for vpc in (vpc_public, vpc_one):
        assert {"S3Endpoint", "DynamoDbEndpoint"} <= set(vpc)


def test_availability_zones_default_to_vpc_link_capable_ids_or_the_pinned_ones():
    lookup = {"Fn::FindInMap": ["VpcLinkAzIds", {"Ref": "AWS::Region"}, "Ids"]}
    default = render("vpc.yml")["Resources"]["PublicSubnetOne"]["Properties"]
    assert default["AvailabilityZoneId"] == {"Fn::Select": [0, {"Fn::Split": [",", lookup]}]}
    pinned = render("vpc.yml", AvailabilityZoneIds="use1-az4,use1-az6")["Resources"]
    assert pinned["PublicSubnetTwo"]["Properties"]["AvailabilityZoneId"] == "use1-az6"
    azs = template("vpc.yml")["Mappings"]["VpcLinkAzIds"]
    assert "use1-az3" not in azs["us-east-1"]["Ids"], "use1-az3 has no VPC link support"


@pytest.mark.parametrize("name,arch", [("NotesService", "ARM64"), (SECOND, "X86_64")])
def test_each_blocks_architecture_reaches_its_task_definition(name, arch):
    platform = service(name, TWO_SERVICES)["TaskDefinition"]["Properties"]["RuntimePlatform"]
    assert platform == {"CpuArchitecture": arch, "OperatingSystemFamily": "LINUX"}


@pytest.mark.parametrize("image", ["", IMAGE], ids=["built", "given"])
def test_a_service_always_runs_its_image_and_autoscaling_owns_the_count(image):
    """No zero-task mode: with ImageUri empty the stack builds the image (Custom::ImageBuild, by digest), with
    a pair the service runs that; either way DesiredCount is left out (a deploy never resets what autoscaling
    chose) unless the block sets it."""
    resources = service(ImageUri=image)
    assert "DesiredCount" not in resources["Service"]["Properties"]
    assert resources["ScalableTarget"]["Properties"]["MinCapacity"] == 1
    assert resources["ScalableTarget"]["Properties"]["MaxCapacity"] == 2
    assert service(ImageUri=image, Profile="prod")["ScalableTarget"]["Properties"]["MinCapacity"] == 2
    forced = service(SECOND, TWO_SERVICES, ImageUri=image)  # its block sets DesiredCount: "2"
    assert forced["Service"]["Properties"]["DesiredCount"] == "2"
    shown = container(resources)["Image"]
    if image:
        assert shown == "x@sha256:" + "0" * 64 and "Image" not in resources and "Repository" not in resources
    else:
        assert shown == {"Fn::GetAtt": ["Image", "ImageUri"]}
        assert resources["Image"]["Type"] == "Custom::ImageBuild"
        assert resources["Image"]["Properties"]["RepositoryUri"] == {"Fn::GetAtt": ["Repository", "RepositoryUri"]}
        assert resources["Image"]["Properties"]["Architecture"] == "ARM64"
    assert "busybox" not in json.dumps(resources)


def test_a_schedule_pins_the_service_to_zero_outside_working_hours():
    assert "ScheduledActions" not in service()["ScalableTarget"]["Properties"]
    actions = service(SECOND, TWO_SERVICES, ImageUri=IMAGE)["ScalableTarget"]["Properties"]["ScheduledActions"]
    assert [a["ScalableTargetAction"] for a in actions] == [{"MinCapacity": 0, "MaxCapacity": 0},
                                                            {"MinCapacity": 0, "MaxCapacity": 3}]
    assert actions[0]["Timezone"] == "Europe/Berlin"


def test_spot_by_default_and_an_on_demand_base_in_prod():
    strategy = service()["Service"]["Properties"]["CapacityProviderStrategy"]
    assert strategy == [{"CapacityProvider": "FARGATE", "Base": 0, "Weight": 0},
                        {"CapacityProvider": "FARGATE_SPOT", "Weight": 1}]
    prod = service(Profile="prod")["Service"]["Properties"]["CapacityProviderStrategy"]
    assert prod[0]["Base"] == 1


def test_parent_passes_everything_through_and_exports_nothing():
    # Nested stacks, and the sources `sam deploy` packages for them (layers of a local folder, such as the site).
    resources = PARENT["Resources"]
    # Nested stacks, and the source layers `sam deploy` packages (build contexts: test_services.py).
    assert {r["Type"] for r in resources.values()} == {"AWS::Serverless::Application", "AWS::Serverless::LayerVersion"}
    stacks = [r for r in resources.values() if r["Type"] == "AWS::Serverless::Application"]
    assert sorted({r["Properties"]["Location"] for r in stacks}) == sorted(CHILDREN)
    assert REQUIRED_OUTPUTS <= set(PARENT["Outputs"])
    for name in ["parent.yml", *CHILDREN]:
        text = (ROOT / name).read_text()
        assert "Export:" not in text and "ImportValue" not in text, name
    assert PARENT["Transform"] == "AWS::Serverless-2016-10-31"
    for child in CHILDREN:
        assert "Transform" not in template(child)


def test_every_parameter_has_a_description_and_a_group():
    for source in ["parent.yml", *CHILDREN]:
        data = template(source)
        grouped = {p for g in data["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
                   for p in g["Parameters"]}
        for name, spec in data.get("Parameters", {}).items():
            assert spec.get("Description"), f"{source}: {name} has no description"
            assert name in grouped, f"{source}: {name} is in no parameter group"


NAME_PROPERTIES = {
    "AWS::S3::Bucket": "BucketName", "AWS::IAM::Role": "RoleName", "AWS::ECS::Service": "ServiceName",
    "AWS::ECS::Cluster": "ClusterName", "AWS::DynamoDB::Table": "TableName", "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::ECS::TaskDefinition": "Family", "AWS::EC2::SecurityGroup": "GroupName",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "Name", "AWS::ElasticLoadBalancingV2::TargetGroup": "Name",
    "AWS::ECR::Repository": "RepositoryName", "AWS::Lambda::Function": "FunctionName", "AWS::Events::Rule": "Name",
    "AWS::CodeBuild::Project": "Name",
}
# The resources named after their stack (unique per stack all the same), each for a reason only a name gives.
STACK_NAMED = {
    ("build.yml", "Project"): "CI's roles scope CodeBuild by the stack's name, which a generated name lacks",
    ("build.yml", "RequestsTable"): "its own resource policy names its ARN: !GetAtt on itself would be a cycle",
}


def test_no_fixed_resource_names():
    """Two copies of the stack (dev and prod) can live in one account: no resource names itself, but the few
    named after their stack for a reason (STACK_NAMED)."""
    for source in CHILDREN:
        for name, resource in template(source)["Resources"].items():
            given = resource.get("Properties", {}).get(NAME_PROPERTIES.get(resource["Type"]))
            if given is None:
                continue
            assert (source, name) in STACK_NAMED, f"{source}: {name} sets {NAME_PROPERTIES[resource['Type']]}"
            assert str(given.get("Fn::Sub", "")).startswith("${AWS::StackName}-"), \
                f"{source}: {name} names itself other than after its stack"


def test_the_cloudfront_certificate_must_come_from_us_east_1():
    import re
    spec = PARENT["Parameters"]["CertificateArn"]
    pattern = re.compile(spec["AllowedPattern"])
    assert pattern.fullmatch("arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-0000-0000-0000-000000000000")
    assert pattern.fullmatch("")
    assert not pattern.fullmatch("arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-0000-0000-0000-000000000000")
    assert "us-east-1" in spec["ConstraintDescription"]


def test_nested_parameters_walks_the_parents_stacks_in_order_with_what_each_is_passed():
    """The one loop over the parent's nested stacks (checks/render.py, checks/plan.py and the all-branches check)."""
    from checks.evaluate import Evaluator, Opaque, nested_stacks
    from checks.render import nested_parameters
    parent = Evaluator(PARENT, {"Ingress": "LoadBalancer"}, "us-east-1", "parent.yml")
    walked = list(nested_parameters(parent))
    assert [(stack, location) for stack, location, _ in walked] == list(nested_stacks(PARENT).items())
    given = {stack: values for stack, _, values in walked}
    assert given["BudgetStack"] is None, "no MonthlyBudget: the parent does not create it"
    assert given["NotesService"]["PathPrefix"] == "/api"
    assert given["NotesService"]["ClusterName"] == Opaque("GetAtt ClusterStack.Outputs.ClusterName")
    every = {stack: values for stack, _, values in nested_parameters(parent, absent_too=True)}
    assert every["BudgetStack"] is not None and every["NotesService"] == given["NotesService"]


def test_render_nested_types_known_values_and_puts_each_stand_in_as_it_is():
    from checks.evaluate import Opaque
    from checks.render import render_nested
    given = {"PolicyArns": Opaque("GetAtt NotesDataStack.Outputs.AccessPolicyArn"), "Cpu": "1024"}
    seen = []
    rendered = render_nested("service.yml", given, lambda value: seen.append(value) or "<token>")
    assert seen == [given["PolicyArns"]]
    resources = rendered["Resources"]
    assert resources["TaskRole"]["Properties"]["ManagedPolicyArns"] == "<token>", "a stand-in is not split as a list"
    assert resources["TaskDefinition"]["Properties"]["Cpu"] == 1024, "a known Number is read as one"
