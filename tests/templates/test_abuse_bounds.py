"""What bounds a stranger's use of the deployment, as each parameter combination renders it:
only CloudFront reaches the API (origin header + the ALB's prefix list), per-client rate limit
(WAF), and the bill ceiling (stage throttle, table ceiling, note expiry).

AWS behaviours these rely on (only a deploy proves them) are cited beside the resources."""
from __future__ import annotations

import pytest

from blueprint.templates import service_resources
from checks.evaluate import broken_rules
from checks.render import TWO_SERVICES, template
from tests.templates.conftest import CHILDREN, all_renderings, container, environment, render, service, stack

PARENT = template("parent.yml")
SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:origin-verify-AbCdEf"
CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/abc"
ACL = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/shared/0000"


def resources(name: str, **values) -> dict:
    """A source template's resources, rendered on its own."""
    return render(name, **values)["Resources"]


def distribution(**values) -> dict:
    return resources("frontend.yml", **values)["Distribution"]["Properties"]["DistributionConfig"]


# ------------------------------------------------------------ only CloudFront reaches the API
def test_cloudfront_sends_the_secret_header_resolved_from_secrets_manager():
    (_, api) = distribution(OriginVerifySecretArn=SECRET, OriginVerifySecretKey="v3")["Origins"]
    (header,) = api["OriginCustomHeaders"]
    assert header["HeaderName"] == "X-Origin-Verify"
    # The key (the version) is in the reference's text: a new version is a new text, which is
    # what makes CloudFormation resolve it again on an update.
    assert header["HeaderValue"] == {
        "Fn::Sub": "{{resolve:secretsmanager:${OriginVerifySecretArn}:SecretString:${OriginVerifySecretKey}}}"}
    site, _ = distribution(OriginVerifySecretArn=SECRET)["Origins"]
    assert "OriginCustomHeaders" not in site, "S3 needs no header"


def test_the_task_gets_the_same_value_as_a_secret_not_an_environment_value():
    assert container(service())["Secrets"] == [{
        "Name": "ORIGIN_VERIFY_SECRET", "ValueFrom": {"Fn::Sub": "${OriginVerifySecretArn}:${OriginVerifySecretKey}::"}}]
    assert "ORIGIN_VERIFY_SECRET" not in environment(service())


def test_the_parent_wires_one_secret_and_one_key_to_every_service_and_cloudfront():
    cluster_outputs = template("cluster.yml")["Outputs"]
    assert {"OriginVerifySecretArn", "OriginVerifySecretKey"} <= set(cluster_outputs)
    two = template(TWO_SERVICES)
    services = list(service_resources(two))
    assert services[0] == "NotesService" and services[-1] == "SecondService"
    for child in (*services, "FrontendStack"):
        params = two["Resources"][child]["Properties"]["Parameters"]
        assert params["OriginVerifySecretArn"] == {"Fn::GetAtt": ["ClusterStack", "Outputs.OriginVerifySecretArn"]}
        assert params["OriginVerifySecretKey"] == {"Fn::GetAtt": ["ClusterStack", "Outputs.OriginVerifySecretKey"]}


def test_the_secret_is_generated_per_stack_and_its_key_follows_the_version():
    r = resources("cluster.yml", OriginSecretVersion="7")
    generate = r["OriginVerifySecret"]["Properties"]["GenerateSecretString"]
    assert generate["GenerateStringKey"] == {"Fn::Sub": "v${OriginSecretVersion}"}
    assert generate["PasswordLength"] >= 32 and generate["ExcludePunctuation"] is True
    assert "SecretString" not in r["OriginVerifySecret"]["Properties"], "the value never sits in a template"
    # The version is in the name, so a rotation replaces the secret (tests/templates/test_plan.py), named
    # per stack (a nested stack's generated name) and under the STACK-* the CloudFormation role may manage.
    assert r["OriginVerifySecret"]["Properties"]["Name"] == {
        "Fn::Sub": "${AWS::StackName}-origin-verify-${OriginSecretVersion}"}
    outputs = render("cluster.yml", OriginSecretVersion="7")["Outputs"]
    assert outputs["OriginVerifySecretKey"]["Value"] == {"Fn::Sub": "v${OriginSecretVersion}"}


def test_only_the_execution_roles_read_the_secret_and_every_version_of_it():
    """A rotation replaces the secret (its Name holds the version) and updates the roles before the services;
    in a rollback the services start tasks of their previous task definition, which name the OLD secret, so
    every execution role must still grant it. Granted by its exact ARN (!Ref), those tasks could not start,
    the circuit breaker reverted and the stack ended UPDATE_ROLLBACK_FAILED
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html). So they
    grant the name prefix: Secrets Manager appends -XXXXXX to a name in the ARN, and an identity policy may
    name secrets by a wildcard
    (https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_examples.html). Only a
    deploy proves IAM matches it; this pins the pattern against the ARNs of both versions."""
    import re
    from fnmatch import fnmatchcase

    from checks.render import SECOND

    def arn(sub: dict, stack_name: str, version: str = "") -> str:  # as CloudFormation resolves the Sub
        known = {"AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012",
                 "AWS::StackName": stack_name, "OriginSecretVersion": version}
        return re.sub(r"\$\{([A-Za-z:]+)\}", lambda m: known[m.group(1)], sub["Fn::Sub"])
    r = resources("cluster.yml", OriginSecretVersion="2")
    (policy,) = r["TaskExecutionRole"]["Properties"]["Policies"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow" and statement["Action"] == "secretsmanager:GetSecretValue"
    pattern = arn(statement["Resource"], "app-ClusterStack-1A2B")
    name = r["OriginVerifySecret"]["Properties"]["Name"]

    def secret(stack_name: str, version: str) -> str:
        return f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:{arn(name, stack_name, version)}-AbCdEf"
    assert fnmatchcase(secret("app-ClusterStack-1A2B", "1"), pattern), "the previous version, for a rollback"
    assert fnmatchcase(secret("app-ClusterStack-1A2B", "2"), pattern), "the current one"
    assert not fnmatchcase(secret("other-ClusterStack-9Z8Y", "2"), pattern), "never another stack's"
    # A service with secrets of its own gets the same pattern from the cluster stack, through the parent.
    assert render("cluster.yml")["Outputs"]["OriginVerifySecretArnPattern"]["Value"] == statement["Resource"]
    second = service(SECOND, TWO_SERVICES)
    origin = second["ExecutionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][-1]
    assert origin == {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                      "Resource": {"Ref": "OriginVerifySecretArnPattern"}}
    for block in service_resources(template(TWO_SERVICES)).values():
        assert block["Properties"]["Parameters"]["OriginVerifySecretArnPattern"] == {
            "Fn::GetAtt": ["ClusterStack", "Outputs.OriginVerifySecretArnPattern"]}
    task_role = str(service()["TaskRole"]) + "".join(  # and the policies data stacks give a service
        str(template(name)) for name in CHILDREN if name not in ("cluster.yml", "service.yml", "frontend.yml"))
    assert "secretsmanager" not in task_role, "the app's own role never needs it"


@pytest.mark.parametrize("certificate,port", [("", 80), (CERT, 443)])
def test_the_load_balancer_admits_only_cloudfront_on_one_port(certificate, port):
    values = {"Ingress": "LoadBalancer", "ApiCertificateArn": certificate,
              **({"ApiDomainName": "api.example.com"} if certificate else {})}
    r = stack("IngressStack", **values)["Resources"]
    (rule,) = r["LoadBalancerSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert "SecurityGroupIngress" not in r["IngressSecurityGroup"]["Properties"], "the shared group admits nothing"
    # the stack's own lookup of com.amazonaws.global.cloudfront.origin-facing (functions/prefix_list.py)
    assert rule["SourcePrefixListId"] == {"Fn::GetAtt": ["CloudFrontPrefixList", "PrefixListId"]}
    assert r["CloudFrontPrefixList"]["Type"] == "Custom::CloudFrontPrefixList"
    assert "CidrIp" not in rule and "CidrIpv6" not in rule
    assert rule["FromPort"] == rule["ToPort"] == port
    # The port CloudFront uses is the one open: https-only with a certificate, else http-only.
    protocol = stack("IngressStack", **values)["Outputs"]["ApiOriginProtocol"]["Value"]
    assert protocol == ("https-only" if port == 443 else "http-only")
    origin = stack("FrontendStack", **values)["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
    assert origin["Origins"][1]["CustomOriginConfig"]["OriginProtocolPolicy"] == protocol, "CloudFront uses that port"


def test_no_security_group_in_any_template_is_open_to_the_internet():
    for variant, stacks in all_renderings().items():
        for logical_id, (_, rendered) in stacks.items():
            for name, resource in rendered["Resources"].items():
                for rule in resource.get("Properties", {}).get("SecurityGroupIngress", []):
                    assert rule.get("CidrIp") != "0.0.0.0/0" and rule.get("CidrIpv6") != "::/0", \
                        (variant, logical_id, name)


# ------------------------------------------------------------ per-client rate limit
def test_no_web_acl_by_default():
    r = resources("frontend.yml")
    assert "WebAcl" not in r and "PricingPlan" not in r
    assert "WebACLId" not in r["Distribution"]["Properties"]["DistributionConfig"]


def test_a_rate_limit_creates_a_web_acl_limiting_each_ip_on_the_api_only():
    r = resources("frontend.yml", WafRateLimit="500")
    acl = r["WebAcl"]["Properties"]
    assert acl["Scope"] == "CLOUDFRONT" and acl["DefaultAction"] == {"Allow": {}}
    (rule,) = acl["Rules"]
    rate = rule["Statement"]["RateBasedStatement"]
    assert (rate["Limit"], rate["AggregateKeyType"], rate["EvaluationWindowSec"]) == (500, "IP", 300)
    match = rate["ScopeDownStatement"]["ByteMatchStatement"]
    assert (match["SearchString"], match["PositionalConstraint"], match["FieldToMatch"]) == (
        "/api/", "STARTS_WITH", {"UriPath": {}})
    # CloudFront decodes and normalizes the path before it matches /api/*; WAF sees it raw unless told.
    assert [t["Type"] for t in sorted(match["TextTransformations"], key=lambda t: t["Priority"])] == [
        "URL_DECODE", "NORMALIZE_PATH"]
    response = rule["Action"]["Block"]["CustomResponse"]
    assert response["ResponseCode"] == 429
    body = acl["CustomResponseBodies"][response["CustomResponseBodyKey"]]
    import json
    assert body["ContentType"] == "APPLICATION_JSON"
    assert json.loads(body["Content"])["error"]["code"] == "rate_limited", "the API's one error shape"
    assert r["Distribution"]["Properties"]["DistributionConfig"]["WebACLId"] == {"Fn::GetAtt": ["WebAcl", "Arn"]}


def test_an_existing_web_acl_is_attached_instead_of_creating_one():
    r = resources("frontend.yml", WafRateLimit="500", WebAclArn=ACL)
    assert "WebAcl" not in r
    assert r["Distribution"]["Properties"]["DistributionConfig"]["WebACLId"] == ACL


def test_the_free_flat_rate_plan_covers_the_distribution_and_its_web_acl():
    assert "PricingPlan" not in resources("frontend.yml", CloudFrontPlan="Free"), "no plan without a web ACL"
    plan = resources("frontend.yml", CloudFrontPlan="Free", WafRateLimit="500")["PricingPlan"]["Properties"]
    assert (plan["PlanFamily"], plan["PlanTier"]) == ("CloudFront", "FREE")
    assert plan["ResourceArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Distribution}"},
        {"Fn::GetAtt": ["WebAcl", "Arn"]}]
    shared = resources("frontend.yml", CloudFrontPlan="Free", WebAclArn=ACL)["PricingPlan"]["Properties"]
    assert shared["ResourceArns"][1] == ACL


# ------------------------------------------------------------ the bill ceiling
def test_the_stage_throttle_follows_the_profile():
    """Abuse bounds are code: the profile's stage throttle (parent.yml), five times dev's in prod (the sample's
    table ceiling: tests/templates/notes/)."""
    for profile, (rate, burst) in (("dev", (10, 20)), ("prod", (50, 100))):
        stage = stack("IngressStack", Profile=profile)["Resources"]["HttpApiStage"]
        assert stage["Properties"]["DefaultRouteSettings"] == {"ThrottlingBurstLimit": burst, "ThrottlingRateLimit": rate}


def test_prod_in_us_east_1_gets_the_waf_rate_rule_and_dev_none():
    def limit(region, **values):
        from blueprint.templates import nested_parameters
        return nested_parameters(PARENT, "FrontendStack", {**values, "AWS::Region": region})["WafRateLimit"]
    assert limit("us-east-1") == "0" and limit("us-east-1", Profile="prod") == "1000"
    assert limit("us-east-1", CloudFrontPlan="Free") == "1000", "the Free plan includes its web ACL"
    assert limit("eu-west-1", Profile="prod") == "0", "web ACLs for CloudFront exist only in us-east-1"
    assert limit("us-east-1", Profile="prod", WebAclArn=ACL) == "0", "an existing one instead"


# What stays a parameter among the bounds: a choice that differs between deployments.
ABUSE_PARAMETERS = {"WebAclArn": "FrontendStack",
                    "CloudFrontPlan": "FrontendStack"}


@pytest.mark.parametrize("name,stack", sorted(ABUSE_PARAMETERS.items()))
def test_the_parent_declares_and_passes_each_bound(name, stack):
    """Declared once, in the parent (test_parameters.py: the child accepts every value it allows)."""
    assert name in PARENT["Parameters"]
    assert {"Ref": name} in PARENT["Resources"][stack]["Properties"]["Parameters"].values()


# ------------------------------------------------------------ parent Rules, evaluated
def failing_rules(region="us-east-1", **overrides) -> list[str]:
    return broken_rules(PARENT, overrides, region)


@pytest.mark.parametrize("region,overrides,failed", [
    ("eu-west-1", {}, []),                                            # the defaults deploy anywhere
    ("eu-west-1", {"Profile": "prod"}, []),                           # prod too (its web ACL only in us-east-1)
    ("us-east-1", {"CloudFrontPlan": "Free"}, []),                    # the stack creates the plan's web ACL
    ("eu-west-1", {"CloudFrontPlan": "Free"}, ["FreePlanNeedsWebAcl"]),
    ("eu-west-1", {"CloudFrontPlan": "Free", "WebAclArn": ACL}, []),
    ("eu-west-1", {"Ingress": "LoadBalancer"}, []),                   # the stack looks CloudFront's prefix list up
])
def test_parent_rules_refuse_the_combinations_that_cannot_deploy(region, overrides, failed):
    assert failing_rules(region, **overrides) == failed
