"""Render a CloudFormation template for one set of parameter values: evaluate
its Conditions, pick Fn::If branches, drop resources and outputs whose
condition is false, and put parameter values static mapping lookups and selections in place. What
remains is the template CloudFormation would act on, which checkov and
cfn-guard (that follow neither conditions nor parameters) can then judge.

Templates are read with cfn-lint's decoder; intrinsic functions other than the
condition ones are kept as they are.

Each nested stack is rendered with the values its parent passes it (parent.yml's `Parameters:` of
the nested application, evaluated for the variant): a value only a deployment knows (another stack's
output) stays a `Ref` to the child's parameter, and counts as non-empty in the child's conditions.
Besides parent.yml, the *two-service parent* is rendered too: parent.yml with a second service
whose block is generated from the first one's (two_service_parent), with the options a service's
block can turn on (exec, schedules, a fixed count, its own environment and secrets), so more than
one service, and every branch of service.yml, stays covered. Compute=Lambda is rendered for parent.yml
(built and given images) and for the *two-service Lambda parent*, whose second block takes the options a
function can (a reservation, its own environment) and none it refuses (schedules, ECS secrets).

    python -m checks.render --out build/rendered      # every variant below, and
                                                      # build/two-services/parent-two-services.yml
"""
from __future__ import annotations

import argparse
import itertools
import json
import re
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from blueprint.templates import load, plain  # noqa: F401 (checks import them from here too)

if TYPE_CHECKING:
    from checks.evaluate import Evaluator

ROOT = Path(__file__).resolve().parent.parent
PARENT = "parent.yml"


def _children() -> tuple[str, ...]:
    """The child templates the parent nests (each AWS::Serverless::Application's Location, in order):
    removing the sample's data stack (docs/services.md) needs no edit here."""
    resources = load(ROOT / PARENT)["Resources"].values()
    return tuple(dict.fromkeys(str(r["Properties"]["Location"]) for r in resources
                               if r.get("Type") == "AWS::Serverless::Application"))


CHILD_TEMPLATES = _children()
NO_VALUE = {"Ref": "AWS::NoValue"}
TWO_SERVICES = "two-services"
TWO_SERVICES_LAMBDA = "two-services-lambda"  # its variant's name too
SECOND = "SecondService"  # the generated second service's logical id


# Not checks.evaluate.Opaque: this one is text, so a rendering's conditions count it non-empty; that one leaves them undecided.
class Opaque(str):
    """A value only a deployment knows (a nested stack's output): rendered as the Ref it is, and
    non-empty for the conditions that test it."""

# Optional custom-domain settings, to exercise those conditions too.
DOMAINS = {
    "DomainName": "app.example.com",
    "CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000",
    "ApiDomainName": "api.example.com",
    "ApiCertificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000001",
}

# What the parent always wires in (the cluster stack's secret).
WIRED = {"OriginVerifySecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:origin-verify-AbCdEf",
         "OriginVerifySecretArnPattern": "arn:aws:secretsmanager:us-east-1:123456789012:secret:origin-verify-*",
         "OriginVerifySecretKey": "v1"}


def every_image() -> str:
    """An ImageUri with an image for every build context parent.yml's services (and the generated second
    service) name, as a pipeline that builds its own images passes it: then no service builds one (the
    variants without it cover the stack's own builds)."""
    from blueprint.services import image_value
    from blueprint.templates import service_resources
    contexts = [str(r["Metadata"]["Build"]["Context"]) for r in service_resources(template(PARENT)).values()]
    return image_value({c: f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/{c.replace('/', '-')}@sha256:" + "0" * 64
                        for c in dict.fromkeys([*contexts, SECOND_CONTEXT])})


def variants() -> dict[str, dict[str, str]]:
    """Every Ingress x NetworkMode x Profile (each service's image built by the stack), plus each ingress with
    custom domains, given images (no build) and the options that add resources (prod's NAT per AZ and web ACL, a budget,
    the Free plan, an adopted table on one)."""
    out = {}
    for ingress, network, profile in itertools.product(("HttpApi", "LoadBalancer"),
                                                       ("PublicSubnets", "PrivateSubnets"), ("dev", "prod")):
        out[f"{ingress}-{network}-{profile}"] = {"Ingress": ingress, "NetworkMode": network, "Profile": profile,
                                                 **WIRED}
    for ingress in ("HttpApi", "LoadBalancer"):
        out[f"{ingress}-domains-options"] = {
            "Ingress": ingress, "NetworkMode": "PrivateSubnets", "Profile": "prod",
            "ImageUri": every_image(),
            "AvailabilityZoneIds": "euw1-az1,euw1-az2", **DOMAINS, "AlertEmail": "ops@example.com",
            "CloudFrontPlan": "Free", **WIRED,
            # One variant adopts a retained table instead of creating one (while the sample is there).
            **({"ExistingTableName": "notes-retained"} if ingress == "LoadBalancer" and "ExistingTableName" in
               load(ROOT / PARENT)["Parameters"] else {}),
        }
    # Compute=Lambda (which needs Ingress=HttpApi): the stack's own builds, and given images with every option.
    out["Lambda-PublicSubnets-dev"] = {**out["HttpApi-PublicSubnets-dev"], "Compute": "Lambda"}
    out["Lambda-domains-options"] = {**out["HttpApi-domains-options"], "Compute": "Lambda"}
    return out


# What the generated second service's block sets beyond the starter's: a prefix and priority of its
# own, and every option a block can turn on, so the renderings cover those branches too. It builds app/
# (a context with a Dockerfile in every fork).
SECOND_NAME, SECOND_PREFIX, SECOND_CONTEXT = "second", "/api/second", "app"
SECOND_BLOCK = {
    "ListenerRulePriority": 100,
    "ContainerPort": 8080, "Architecture": "X86_64", "Cpu": 512, "Memory": 1024, "MinTasks": 0, "MaxTasks": 3,
    "DesiredCount": "2", "EnableExecuteCommand": "true",
    "StopSchedule": "cron(0 19 ? * MON-FRI *)", "StartSchedule": "cron(0 7 ? * MON-FRI *)",
    "ScheduleTimezone": "Europe/Berlin", "HealthCheckCommand": "CMD,/srv/healthcheck", "User": "1000:1000",
    "GracefulTimeout": 10,
    "EnvironmentNames": "A,B,C", "EnvironmentValues": "1,two,3",
    "SecretNames": "API_KEY,DB_PASSWORD",
    "SecretArns": "arn:aws:ssm:us-east-1:123456789012:parameter/second/api-key,"
                  "arn:aws:secretsmanager:us-east-1:123456789012:secret:second-db-AbCdEf",
}


# The second service's block under Compute=Lambda: what a function takes (its own size, port, architecture,
# environment and a reservation), none of what service.yml's Rules refuse there (schedules, ECS secrets).
LAMBDA_SECOND_BLOCK = {
    "ListenerRulePriority": 100,
    "ContainerPort": 8080, "Architecture": "X86_64", "Memory": 1024, "ReservedConcurrency": "5",
    "EnvironmentNames": "A,B,C", "EnvironmentValues": "1,two,3",
}


def two_service_parent(block: dict | None = None) -> dict:
    """parent.yml with a second service, added by the very generator `new-service` uses
    (blueprint/services.py's add_to_parent: the block's text, its DependsOn line, its output), with the
    options of `block` (SECOND_BLOCK by default) on."""
    from blueprint.services import add_to_parent, decode
    block = block or SECOND_BLOCK
    settings = {k: v for k, v in block.items() if k != "ListenerRulePriority"}
    text = add_to_parent((ROOT / PARENT).read_text(), SECOND_NAME, SECOND_PREFIX, SECOND_CONTEXT,
                         block["ListenerRulePriority"], settings)
    return decode(text)


def write_two_service_parent(directory: Path) -> Path:
    """The two-service parent as a file (JSON, which cfn-lint, sam validate and checkov read), its
    Locations made relative to `directory` so the project rules find the child templates."""
    import os
    parent = plain(two_service_parent())
    relative = os.path.relpath(ROOT, directory)
    for resource in parent["Resources"].values():
        location = resource.get("Properties", {}).get("Location")
        if resource.get("Type") == "AWS::Serverless::Application" and location in CHILD_TEMPLATES:
            resource["Properties"]["Location"] = f"{relative}/{location}"
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "parent-two-services.yml"
    target.write_text(json.dumps(parent, indent=1))
    return target


@cache
def template(name: str) -> dict:
    """A template by file name, decoded once per process (renderings only read it); TWO_SERVICES is
    parent.yml with its second-service example on, TWO_SERVICES_LAMBDA with the Lambda one."""
    if name == TWO_SERVICES_LAMBDA:
        return two_service_parent(LAMBDA_SECOND_BLOCK)
    return two_service_parent() if name == TWO_SERVICES else load(ROOT / name)


def parents() -> dict[str, dict]:
    return {PARENT: template(PARENT), TWO_SERVICES: template(TWO_SERVICES)}


class RenderError(ValueError):
    pass


class Renderer:
    def __init__(self, template: dict, values: dict[str, str], region: str | None = None, substitute: bool = False):
        """`region`, when given, resolves AWS::Region too (and so region-keyed mappings): the update
        rehearsal compares resolved values, not the text of a lookup. `substitute` also writes known
        parameter values into Fn::Sub strings: the rehearsal then sees a change made through a Sub
        (a name with the version in it), which the text of the Sub alone hides."""
        self.template = template
        self.substitute = substitute
        params = template.get("Parameters", {})
        self.values = {"AWS::Region": region} if region else {}
        for name, spec in params.items():
            value = values.get(name, spec.get("Default"))
            if spec.get("Type") == "Number" and isinstance(value, str) and value.isdigit() \
                    and not isinstance(value, Opaque):
                value = int(value)  # as a Number default would be
            if spec.get("Type") == "CommaDelimitedList" and isinstance(value, str) \
                    and not isinstance(value, Opaque):
                value = [] if value == "" else value.split(",")
            self.values[name] = value
        self.conditions: dict[str, bool] = {}

    # --- conditions ------------------------------------------------------
    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            definition = self.template.get("Conditions", {}).get(name)
            if definition is None:
                raise RenderError(f"unknown condition {name}")
            self.conditions[name] = self._truth(definition)
        return self.conditions[name]

    def _truth(self, expr) -> bool:
        (fn, args), = expr.items()
        if fn == "Condition":
            return self.condition(args)
        if fn == "Fn::Not":
            return not self._truth(args[0])
        if fn == "Fn::And":
            return all(self._truth(a) for a in args)
        if fn == "Fn::Or":
            return any(self._truth(a) for a in args)
        if fn == "Fn::Equals":
            return str(self._value(args[0])) == str(self._value(args[1]))
        raise RenderError(f"unsupported function in a condition: {fn}")

    def _value(self, expr):
        if isinstance(expr, dict):
            (fn, args), = expr.items()
            if fn == "Ref":
                if args not in self.values:
                    raise RenderError(f"a condition refers to {args}, which is not a parameter")
                return self.values[args]
            if fn == "Fn::Join":
                items = self._value(args[1])
                if isinstance(items, str):
                    return items
                return args[0].join(v if isinstance(v, str) else ",".join(map(str, v)) if isinstance(v, list)
                                    else str(v) for v in (self._value(item) for item in items))
            if fn == "Fn::Split":
                return str(self._value(args[1])).split(args[0])
            if fn == "Fn::Select":
                items = self._value(args[1])
                return items[int(self._value(args[0]))]
            raise RenderError(f"unsupported function in a condition value: {fn}")
        if isinstance(expr, list):
            return [self._value(item) for item in expr]
        return expr

    # --- the template ----------------------------------------------------
    def resolve(self, node):
        if isinstance(node, dict):
            if len(node) == 1 and "Fn::If" in node:
                name, if_true, if_false = node["Fn::If"]
                return self.resolve(if_true if self.condition(name) else if_false)
            if len(node) == 1 and "Ref" in node and self.values.get(node["Ref"]) not in (None, "") \
                    and not isinstance(self.values[node["Ref"]], Opaque):
                return self.values[node["Ref"]]
            if len(node) == 1 and "Fn::Sub" in node and self.substitute:
                return self._sub(node["Fn::Sub"])
            if len(node) == 1 and "Fn::FindInMap" in node:
                keys = [self.resolve(k) for k in node["Fn::FindInMap"]]
                if all(isinstance(k, str) for k in keys):  # a key like AWS::Region stays as it is
                    return self.template["Mappings"][keys[0]][keys[1]][keys[2]]
                return {"Fn::FindInMap": keys}
            if len(node) == 1 and "Fn::Join" in node:
                delimiter, items = node["Fn::Join"][0], self.resolve(node["Fn::Join"][1])
                if isinstance(items, list) and all(isinstance(i, (str, int)) and not isinstance(i, Opaque)
                                                   for i in items):
                    return delimiter.join(str(i) for i in items)
                return {"Fn::Join": [delimiter, items]}
            if len(node) == 1 and "Fn::Split" in node:
                delimiter, text = (self.resolve(a) for a in node["Fn::Split"])
                if isinstance(delimiter, str) and isinstance(text, str):
                    return text.split(delimiter)
                return {"Fn::Split": [delimiter, text]}
            if len(node) == 1 and "Fn::Select" in node:
                index, items = (self.resolve(a) for a in node["Fn::Select"])
                if isinstance(items, list) and str(index).isdigit():
                    return items[int(index)]
                return {"Fn::Select": [index, items]}
            out = {}
            for key, value in node.items():
                value = self.resolve(value)
                if value != NO_VALUE:
                    out[key] = value
            return out
        if isinstance(node, list):
            return [v for v in (self.resolve(v) for v in node) if v != NO_VALUE]
        return node

    def _sub(self, arg):
        text, local = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def value(match: re.Match) -> str:
            name = match.group(1)
            known = local.get(name, self.values.get(name)) if name in local or name in self.values else None
            if isinstance(known, (str, int)) and not isinstance(known, Opaque):
                return str(known)
            return match.group(0)
        text = re.sub(r"\$\{([A-Za-z0-9:]+)\}", value, text)
        if "${" not in text:
            return text
        return {"Fn::Sub": text if isinstance(arg, str) else [text, local]}

    def render(self) -> dict:
        out = {}
        for section, body in self.template.items():
            if section in ("Resources", "Outputs"):
                kept = {}
                for name, item in body.items():
                    if "Condition" in item and not self.condition(item["Condition"]):
                        continue
                    item = {k: v for k, v in item.items() if k != "Condition"}
                    kept[name] = self.resolve(item)
                out[section] = kept
            elif section in ("Conditions", "Rules", "Metadata"):  # Metadata: the console form
                continue
            else:
                out[section] = body
        text = json.dumps(plain({k: v for k, v in out.items() if k not in ("Parameters", "Mappings")}))
        # Keep only the parameters and mappings something still refers to.
        if "Parameters" in out:
            # A parameter the parent passes another stack's output keeps no Default: it never applies.
            out["Parameters"] = {name: ({k: v for k, v in spec.items() if k != "Default"}
                                        if isinstance(self.values.get(name), Opaque) else spec)
                                 for name, spec in out["Parameters"].items()
                                 if f'"Ref": "{name}"' in text or "${" + name + "}" in text}
        if "Mappings" in out:
            out["Mappings"] = {name: m for name, m in out["Mappings"].items() if f'["{name}",' in text}
        return plain({k: v for k, v in out.items() if v != {}})


def render_file(path: Path, values: dict[str, str]) -> dict:
    return Renderer(load(path), values).render()


def nested_parameters(parent: Evaluator, absent_too: bool = False) -> Iterator[tuple[str, str, dict | None]]:
    """(logical id, template file as the parent names it, the values the parent passes it) of each nested
    stack `parent` (the parent's Evaluator for one parameter set) declares, in template order, so what a
    stack's outputs make known can reach the stacks after it. A value only a deployment knows is a
    checks.evaluate.Opaque. The values are None for a stack whose Condition is false (the parent does
    not create it), unless `absent_too`: the all-branches check evaluates every stack."""
    from checks.evaluate import child_values, nested_stacks
    for stack, location in nested_stacks(parent.template).items():
        condition = parent.template["Resources"][stack].get("Condition")
        if not absent_too and condition and parent.condition(condition) is False:
            yield stack, location, None
        else:
            yield stack, location, child_values(parent, stack)


def render_nested(location: str, given: dict, stand_in: Callable, region: str | None = None,
                  substitute: bool = False) -> dict:
    """The nested stack `location` rendered with `given` (from nested_parameters): a known value is read as
    the child's parameter type reads it; a value only a deployment knows is replaced by `stand_in(value)`,
    as it is."""
    from checks.evaluate import Opaque as Unknown
    renderer = Renderer(template(location), {n: v for n, v in given.items() if not isinstance(v, Unknown)}, region,
                        substitute)
    for name, value in given.items():
        if isinstance(value, Unknown):
            renderer.values[name] = stand_in(value)
    return renderer.render()


def nested_renderings(parent: dict, values: dict[str, str], region: str = "us-east-1") -> dict[str, tuple[str, dict]]:
    """{logical id: (template file, rendering)} of each nested stack `parent` creates for `values`."""
    from checks.evaluate import Evaluator
    from checks.evaluate import Opaque as Unknown
    out = {}
    known = {}  # "GetAtt Stack.Outputs.X" -> the value, where a rendered output is a constant
    for stack, location, given in nested_parameters(Evaluator(parent, values, region, PARENT)):
        if given is None:
            continue
        given = {name: known.get(value.origin, value) if isinstance(value, Unknown) else value
                 for name, value in given.items()}
        rendered = render_nested(location, given, lambda value: Opaque(f"<{value.origin}>"))
        out[stack] = (location, rendered)
        for name, output in rendered.get("Outputs", {}).items():
            if isinstance(output.get("Value"), (str, int)):
                known[f"GetAtt {stack}.Outputs.{name}"] = str(output["Value"])
    return out


def render_stack(stack: str, values: dict[str, str] | None = None, parent: dict | None = None) -> dict:
    """One nested stack of parent.yml (or `parent`), as the parent's `values` render it."""
    return nested_renderings(parent or template(PARENT), values or {})[stack][1]


def renderings() -> dict[str, tuple[dict, dict[str, str]]]:
    """{variant: (parent template, values)}: parent.yml for every variant, the two-service
    parent once per ingress (with the options on), and the two-service Lambda parent once (Compute=Lambda,
    images built): variants more, not a matrix."""
    out = {name: (template(PARENT), values) for name, values in variants().items()}
    two = template(TWO_SERVICES)
    for ingress in ("HttpApi", "LoadBalancer"):
        out[f"{TWO_SERVICES}-{ingress}"] = (two, variants()[f"{ingress}-domains-options"])
    out[TWO_SERVICES_LAMBDA] = (template(TWO_SERVICES_LAMBDA), {**variants()["Lambda-PublicSubnets-dev"],
                                                                "Profile": "prod"})
    return out


def parent_name(variant: str) -> str:
    """The template name (for template()) of the parent a renderings() variant renders."""
    if variant == TWO_SERVICES_LAMBDA:
        return TWO_SERVICES_LAMBDA
    return TWO_SERVICES if variant.startswith(TWO_SERVICES) else PARENT


def render_all(out_dir: Path) -> list[Path]:
    """Write each nested stack of every variant as JSON (<variant>/<logical id>.json); returns the
    files. A rendering identical to one already written for the same template is skipped: the
    linters would judge the same document twice (most stacks do not change with Architecture)."""
    files, seen = [], set()
    for variant, (parent, values) in renderings().items():
        for stack, (location, rendered) in nested_renderings(parent, values).items():
            text = json.dumps(rendered, indent=1)
            if (location, text) in seen:
                continue
            seen.add((location, text))
            target = out_dir / variant / f"{stack}.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            files.append(target)
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "rendered")
    args = parser.parse_args()
    for path in render_all(args.out):
        print(path)
    print(write_two_service_parent(args.out.parent / "two-services"))


if __name__ == "__main__":
    main()
