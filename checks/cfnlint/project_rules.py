"""cfn-lint rules for what cfn-lint, checkov and cfn-guard do not check in this project.

Loaded with `--append-rules checks/cfnlint` (see .cfnlintrc.yaml). Each rule has a good
and a bad fixture in tests/templates/fixtures/, so a rule that stops firing fails a test.
"""
from __future__ import annotations

import os
import re

from cfnlint.decode import decode
from cfnlint.rules import CloudFormationLintRule, RuleMatch

NESTED_TYPES = ("AWS::Serverless::Application", "AWS::CloudFormation::Stack")
LISTENER_TYPES = ("AWS::ElasticLoadBalancingV2::Listener", "AWS::ElasticLoadBalancingV2::ListenerRule")
SUB_NAME = re.compile(r"\$\{([A-Za-z0-9]+)[.}]")
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


def references(node) -> set[str]:
    """Logical ids a template node refers to (Ref, GetAtt, Sub), in every Fn::If branch and in
    Metadata too: CloudFormation creates what these name before the node's resource."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt" and isinstance(value, (str, list)) and value:
                found.add(value.split(".")[0] if isinstance(value, str) else str(value[0]))
            elif key == "Fn::Sub" and isinstance(value, (str, list)) and value:
                text = value if isinstance(value, str) else value[0]
                found |= set(SUB_NAME.findall(str(text)))
                if isinstance(value, list):
                    found |= references(value[1:])
            else:
                found |= references(value)
    elif isinstance(node, list):
        for item in node:
            found |= references(item)
    return found


def dependencies(resources: dict, name: str) -> set[str]:
    """Every resource CloudFormation finishes before it starts `name` (DependsOn and references)."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        resource = resources.get(todo.pop())
        if not isinstance(resource, dict):
            continue
        depends = resource.get("DependsOn", [])
        depends = [depends] if isinstance(depends, str) else list(depends or [])
        for other in depends + sorted(references({k: v for k, v in resource.items() if k != "DependsOn"})):
            if other in resources and other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


def forwards_to(resource: dict) -> set[str]:
    """Target groups (logical ids) a listener or listener rule can forward to, in any branch."""
    props = resource.get("Properties") or {}
    groups: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            if node.get("Type") == "forward":
                groups.update(references({k: v for k, v in node.items() if k in ("TargetGroupArn", "ForwardConfig")}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk([props.get("DefaultActions"), props.get("Actions")])
    return groups


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


class ServiceWaitsForListeners(CloudFormationLintRule):
    id = "E9107"
    shortdesc = "An ECS service waits for every listener that forwards to its target groups"
    description = (
        "ECS refuses a service whose target group no listener forwards to yet (\"The target group ... "
        "does not have an associated load balancer\"). The service must depend, directly or through "
        "other resources, on each listener or listener rule that forwards to its target groups; a "
        "listener that only redirects does not count."
    )
    source_url = "https://github.com/aws/aws-cdk/issues/1160"
    tags = ["project", "ecs", "elb"]

    def match(self, cfn):
        matches = []
        resources = cfn.template.get("Resources", {}) or {}
        listeners = {name: forwards_to(r) for name, r in resources.items()
                     if isinstance(r, dict) and r.get("Type") in LISTENER_TYPES}
        for name, service in cfn.get_resources(["AWS::ECS::Service"]).items():
            groups = references((service.get("Properties") or {}).get("LoadBalancers", [])) & set(resources)
            before = dependencies(resources, name)
            for group in sorted(groups):
                for listener in sorted(n for n, targets in listeners.items() if group in targets):
                    if listener not in before:
                        matches.append(RuleMatch(["Resources", name], (
                            f"{name} can be created before {listener}, which forwards to {group}: "
                            "make the service depend on it")))
        return matches


CUSTOM_TYPES = ("AWS::CloudFormation::CustomResource",)
MAX_SERVICE_TIMEOUT = 3600  # CloudFormation's maximum (and its default)


class CustomResourceTimeout(CloudFormationLintRule):
    id = "E9108"
    shortdesc = "Every custom resource states a ServiceTimeout"
    description = (
        "CloudFormation waits up to an hour for a custom resource's answer unless ServiceTimeout says how long: "
        "a provider that never answers (a crash, a missing permission) holds the deploy and its rollback. "
        "Each custom resource states it, at most 3600 seconds."
    )
    source_url = "https://github.com/aws-cloudformation/cfn-lint/issues/3834"
    tags = ["project", "custom-resources"]

    def match(self, cfn):
        matches = []
        for name, resource in cfn.template.get("Resources", {}).items():
            kind = str(resource.get("Type", "")) if isinstance(resource, dict) else ""
            if not (kind.startswith("Custom::") or kind in CUSTOM_TYPES):
                continue
            timeout = (resource.get("Properties") or {}).get("ServiceTimeout")
            if timeout is None:
                matches.append(RuleMatch(["Resources", name, "Properties"], f"{name} has no ServiceTimeout"))
            elif isinstance(timeout, (int, str)) and str(timeout).isdigit() \
                    and not 1 <= int(timeout) <= MAX_SERVICE_TIMEOUT:
                matches.append(RuleMatch(["Resources", name, "Properties", "ServiceTimeout"],
                                         f"{name}: ServiceTimeout {timeout} is not between 1 and {MAX_SERVICE_TIMEOUT}"))
        return matches


class RepositoryHygiene(CloudFormationLintRule):
    id = "E9109"
    shortdesc = "Every ECR repository is immutable, scanned, bounded and emptied with its stack"
    description = (
        "A stack's image repository: immutable tags (a tag names one image for good), scan on push, a lifecycle "
        "policy (storage does not grow forever) and EmptyOnDelete (deleting the stack, or rolling back its "
        "first deploy, does not fail on a repository that holds images and leave it behind)."
    )
    source_url = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecr-repository.html"
    tags = ["project", "ecr", "cost"]

    def match(self, cfn):
        matches = []
        for name, resource in cfn.get_resources(["AWS::ECR::Repository"]).items():
            props = resource.get("Properties") or {}
            lacks = []
            if props.get("ImageTagMutability") != "IMMUTABLE":
                lacks.append("ImageTagMutability IMMUTABLE")
            if (props.get("ImageScanningConfiguration") or {}).get("ScanOnPush") not in (True, "true"):
                lacks.append("ImageScanningConfiguration ScanOnPush true")
            if not (props.get("LifecyclePolicy") or {}).get("LifecyclePolicyText"):
                lacks.append("a LifecyclePolicy")
            if props.get("EmptyOnDelete") not in (True, "true"):
                lacks.append("EmptyOnDelete true")
            if lacks:
                matches.append(RuleMatch(["Resources", name, "Properties"], f"{name} lacks {', '.join(lacks)}"))
        return matches


FUNCTION_TYPES = ("AWS::Lambda::Function", "AWS::Serverless::Function")


class FunctionLogGroup(CloudFormationLintRule):
    id = "E9110"
    shortdesc = "Every Lambda function logs to a log group of its own stack"
    description = (
        "Without LoggingConfig.LogGroup a function writes to /aws/lambda/<name>, which Lambda creates on first "
        "use with no retention and which outlives the stack. Name a log group of the same template in "
        "LoggingConfig (!Ref); E9104 holds that group to a retention."
    )
    source_url = "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-loggroups.html"
    tags = ["project", "lambda", "logs", "cost"]

    def match(self, cfn):
        matches = []
        groups = cfn.get_resources(["AWS::Logs::LogGroup"])
        for name, resource in cfn.get_resources(list(FUNCTION_TYPES)).items():
            target = ((resource.get("Properties") or {}).get("LoggingConfig") or {}).get("LogGroup")
            group = target.get("Ref") if isinstance(target, dict) else None
            if group not in groups:
                matches.append(RuleMatch(["Resources", name, "Properties"],
                                         f"{name}: LoggingConfig.LogGroup names no log group of this template"))
        return matches
