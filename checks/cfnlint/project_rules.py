"""cfn-lint rules for what cfn-lint, checkov and cfn-guard do not check in this project.

Loaded with `--append-rules checks/cfnlint` (see .cfnlintrc.yaml). Each rule has a good
and a bad fixture in tests/templates/fixtures/, so a rule that stops firing fails a test.
"""
from __future__ import annotations

import os

from cfnlint.decode import decode
from cfnlint.rules import CloudFormationLintRule, RuleMatch

NESTED_TYPES = ("AWS::Serverless::Application", "AWS::CloudFormation::Stack")
OPEN_CIDRS = ("0.0.0.0/0", "::/0")
LOAD_BALANCER_PORTS = (80, 443)


def _scalar_values(cfn, value):
    """Every concrete value a property can take across condition scenarios."""
    if isinstance(value, dict) and len(value) == 1 and "Fn::If" in value:
        out = []
        for branch in value["Fn::If"][1:]:
            out += _scalar_values(cfn, branch)
        return out
    return [value]


class NestedStackOutputs(CloudFormationLintRule):
    id = "E9101"
    shortdesc = "GetAtt Child.Outputs.X names an output the child template defines"
    description = (
        "cfn-lint checks the parameters passed to a nested stack (E3043) but not that "
        "!GetAtt Child.Outputs.Name refers to an output that exists in the child template."
    )
    source_url = "https://github.com/aws-cloudformation/cfn-lint/issues/1535"
    tags = ["project", "nested-stacks"]

    def match(self, cfn):
        matches = []
        try:
            raw, errors = decode(cfn.filename)
        except Exception:  # noqa: BLE001 - cfn-lint reports unreadable templates itself
            return matches
        if errors or not raw:
            return matches
        base = os.path.dirname(os.path.abspath(cfn.filename))
        children = {}
        for name, resource in raw.get("Resources", {}).items():
            if resource.get("Type") not in NESTED_TYPES:
                continue
            props = resource.get("Properties", {})
            location = props.get("Location", props.get("TemplateURL"))
            if isinstance(location, str) and "://" not in location:
                child, child_errors = decode(os.path.join(base, location))
                if child is not None and not child_errors:
                    children[name] = set(child.get("Outputs", {}))
        for path in cfn.search_deep_keys("Fn::GetAtt"):
            target = path[-1]
            if isinstance(target, str):
                target = target.split(".", 1)
            if not isinstance(target, list) or len(target) != 2 or target[0] not in children:
                continue
            attribute = target[1]
            if not isinstance(attribute, str) or not attribute.startswith("Outputs."):
                continue
            output = attribute.split(".", 1)[1]
            if output not in children[target[0]]:
                matches.append(RuleMatch(path[:-1], f"{target[0]} has no output named {output}"))
        return matches


class OpenIngress(CloudFormationLintRule):
    id = "E9102"
    shortdesc = "No ingress from the internet except the load balancer's 80/443"
    description = (
        "Security group ingress from 0.0.0.0/0 or ::/0 is allowed only on ports 80 and 443 of a "
        "security group that an Elastic Load Balancer uses."
    )
    source_url = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/security-network.html"
    tags = ["project", "security-groups"]

    def match(self, cfn):
        matches = []
        lb_groups = set()
        for resource in cfn.get_resources(["AWS::ElasticLoadBalancingV2::LoadBalancer"]).values():
            for group in resource.get("Properties", {}).get("SecurityGroups", []) or []:
                if isinstance(group, dict) and "Ref" in group:
                    lb_groups.add(group["Ref"])
        rules = []  # (path, group logical id, rule)
        for name, resource in cfn.get_resources(["AWS::EC2::SecurityGroup"]).items():
            for i, rule in enumerate(resource.get("Properties", {}).get("SecurityGroupIngress", []) or []):
                for value in _scalar_values(cfn, rule):
                    if isinstance(value, dict):
                        rules.append((["Resources", name, "Properties", "SecurityGroupIngress", i], name, value))
        for name, resource in cfn.get_resources(["AWS::EC2::SecurityGroupIngress"]).items():
            props = resource.get("Properties", {})
            group = props.get("GroupId", {})
            group = group.get("Ref") if isinstance(group, dict) else None
            rules.append((["Resources", name, "Properties"], group, props))
        for path, group, rule in rules:
            cidr = rule.get("CidrIp", rule.get("CidrIpv6"))
            if cidr not in OPEN_CIDRS:
                continue
            ports = (rule.get("FromPort"), rule.get("ToPort"))
            if group in lb_groups and ports[0] == ports[1] and ports[0] in LOAD_BALANCER_PORTS:
                continue
            matches.append(RuleMatch(path, f"Ingress from {cidr} on ports {ports[0]}-{ports[1]}: only a "
                                           "load balancer may be open to the internet, on 80 or 443"))
        return matches


class AllProtocols(CloudFormationLintRule):
    id = "E9103"
    shortdesc = "No security group rule for all protocols"
    description = "IpProtocol -1 (all protocols and ports) hides what a rule really allows."
    source_url = "https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html"
    tags = ["project", "security-groups"]

    def match(self, cfn):
        matches = []
        for path in cfn.search_deep_keys("IpProtocol"):
            if str(path[-1]) in ("-1", "all"):
                matches.append(RuleMatch(path[:-1], "IpProtocol -1 opens every protocol and port; name them"))
        return matches


class LogRetention(CloudFormationLintRule):
    id = "E9104"
    shortdesc = "Every log group has a retention"
    description = "A log group without RetentionInDays keeps (and bills) its logs forever."
    source_url = "https://aws.amazon.com/cloudwatch/pricing/"
    tags = ["project", "logs", "cost"]

    def match(self, cfn):
        return [
            RuleMatch(["Resources", name, "Properties"], f"{name} has no RetentionInDays")
            for name, resource in cfn.get_resources(["AWS::Logs::LogGroup"]).items()
            if "RetentionInDays" not in (resource.get("Properties") or {})
        ]


class AutoscalingSafeDesiredCount(CloudFormationLintRule):
    id = "E9105"
    shortdesc = "An autoscaled ECS service's DesiredCount can be left out"
    description = (
        "When Application Auto Scaling manages an ECS service, a fixed DesiredCount resets the "
        "service to that count on every stack update. Leave it out, or make it an Fn::If that can "
        "be AWS::NoValue."
    )
    source_url = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ecs-service.html"
    tags = ["project", "ecs", "autoscaling"]

    def match(self, cfn):
        if not cfn.get_resources(["AWS::ApplicationAutoScaling::ScalableTarget"]):
            return []
        matches = []
        for name, resource in cfn.get_resources(["AWS::ECS::Service"]).items():
            props = resource.get("Properties") or {}
            if "DesiredCount" not in props:
                continue
            values = _scalar_values(cfn, props["DesiredCount"])
            if not any(v == {"Ref": "AWS::NoValue"} for v in values):
                matches.append(RuleMatch(["Resources", name, "Properties", "DesiredCount"],
                                         f"{name}: a fixed DesiredCount undoes autoscaling on every update"))
        return matches


class SpaFallbackScoped(CloudFormationLintRule):
    id = "E9106"
    shortdesc = "The single-page-app fallback is not distribution-wide"
    description = (
        "CustomErrorResponses that answer 403/404 with /index.html apply to every behaviour, "
        "turning API errors under /api/* into HTML 200s. Rewrite in a viewer-request function on "
        "the static behaviour instead, and attach no such function to /api/*."
    )
    source_url = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/GeneratingCustomErrorResponses.html"
    tags = ["project", "cloudfront"]

    def match(self, cfn):
        matches = []
        for name, resource in cfn.get_resources(["AWS::CloudFront::Distribution"]).items():
            config = (resource.get("Properties") or {}).get("DistributionConfig", {})
            for i, error in enumerate(config.get("CustomErrorResponses", []) or []):
                if isinstance(error, dict) and str(error.get("ErrorCode")) in ("403", "404") \
                        and error.get("ResponsePagePath"):
                    matches.append(RuleMatch(
                        ["Resources", name, "Properties", "DistributionConfig", "CustomErrorResponses", i],
                        f"{name}: a {error.get('ErrorCode')} error page applies to /api/* too; "
                        "use a viewer-request function on the static behaviour"))
            for i, behaviour in enumerate(config.get("CacheBehaviors", []) or []):
                if isinstance(behaviour, dict) and str(behaviour.get("PathPattern", "")).startswith("/api") \
                        and behaviour.get("FunctionAssociations"):
                    matches.append(RuleMatch(
                        ["Resources", name, "Properties", "DistributionConfig", "CacheBehaviors", i],
                        f"{name}: a function on {behaviour['PathPattern']} could rewrite API paths"))
        return matches
