"""What CloudFormation computes from one template for one parameter set in one region: parameter
values (their AllowedValues, patterns and bounds), pseudo parameters, Conditions, the parent's `Rules`
(a change set refused by a Rule never reaches the nested stacks) and the intrinsic functions `Ref`,
`Fn::FindInMap` (with `DefaultValue`), `Fn::Select`, `Fn::Split`, `Fn::Join`, `Fn::Sub`, `Fn::Cidr`,
`Fn::GetAZs`, `Fn::If`.

The engine under checks/render.py (what a parent passes each nested stack) and checks/plan.py
(`make plan`). The all-branches deep check (docs/checks.md) runs it over every branch and every Fargate region.

The rule for values it cannot know: `Fn::GetAtt`, a `Ref` to a resource, a nested
stack's outputs, `Fn::ImportValue`, `Fn::GetAZs` and anything built from them are
*opaque but well-formed*: a string of any content, or a list of unknown length. Only
what is provably wrong is recorded as a problem (a missing map key, an index past the end of a list
whose length is known, a Split of a list, a Cidr that does not fit its block), never
"might be wrong". The one opaque list whose length is known is `Fn::Cidr`'s (exactly
`count` blocks).
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from checks.render import Renderer, RenderError

# Regions where Amazon ECS runs Linux containers on Fargate, from
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/AWS_Fargate-Regions.html
# (China: the same page; GovCloud: https://docs.aws.amazon.com/govcloud-us/latest/UserGuide/govcloud-ecs.html).
FARGATE_REGIONS = {
    "aws": ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "ca-west-1", "mx-central-1",
            "af-south-1", "ap-east-1", "ap-south-1", "ap-south-2", "ap-northeast-1", "ap-northeast-2",
            "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
            "ap-southeast-5", "ap-southeast-7", "eu-central-1", "eu-central-2", "eu-west-1", "eu-west-2",
            "eu-west-3", "eu-south-1", "eu-south-2", "eu-north-1", "il-central-1", "me-south-1", "me-central-1",
            "sa-east-1"],
    "aws-cn": ["cn-north-1", "cn-northwest-1"],
    "aws-us-gov": ["us-gov-east-1", "us-gov-west-1"],
}
# AWS::URLSuffix per partition (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/pseudo-parameter-reference.html).
URL_SUFFIX = {"aws": "amazonaws.com", "aws-cn": "amazonaws.com.cn", "aws-us-gov": "amazonaws.com"}
ACCOUNT = "123456789012"
STACK = "blueprint"


def fargate_regions() -> list[str]:
    return [r for regions in FARGATE_REGIONS.values() for r in regions]


def partition(region: str) -> str:
    return next(p for p, regions in FARGATE_REGIONS.items() if region in regions)


def pseudo_parameters(region: str) -> dict:
    part = partition(region)
    return {"AWS::Region": region, "AWS::Partition": part, "AWS::URLSuffix": URL_SUFFIX[part],
            "AWS::AccountId": ACCOUNT, "AWS::StackName": STACK,
            "AWS::StackId": f"arn:{part}:cloudformation:{region}:{ACCOUNT}:stack/{STACK}/"
                            "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"}


# Not checks.render.Opaque (text kept as a Ref): no string operation may take this for text; it keeps its origin and a Cidr's length.
@dataclass(frozen=True)
class Opaque:
    """A value only a deployment knows (see the module's rule). `length` is set only
    where it is known exactly (Fn::Cidr)."""
    origin: str
    length: int | None = None
    inputs: tuple[str, ...] = ()  # what a value made of unknown ones (Join, Sub, Select...) is made of: their origins


def inputs_of(values) -> tuple[str, ...]:
    """The origins of the unknown values among `values` (theirs, for one made of others), so an intrinsic over
    them still says what it depends on: a plan marks it changed when one of them changes (checks/plan.py)."""
    out: list[str] = []
    for value in values:
        if isinstance(value, Opaque):
            out += [origin for origin in value.inputs or (value.origin,) if origin not in out]
    return tuple(out)


NO_VALUE = object()


def shown(value) -> str:
    """A value inside an unknown one's origin: an unknown as its own origin, a known one as written. An
    intrinsic that mixes unknown and known values keeps the known parts in its origin, so the text a plan
    compares changes when they do (a parameter beside another stack's output in a Join or Sub)."""
    if isinstance(value, Opaque):
        return value.origin
    if isinstance(value, list):
        return "[" + ", ".join(shown(v) for v in value) + "]"
    return repr(value)


class Evaluator:
    """Evaluate the intrinsics of one template for one region and one set of parameter values; what cannot
    resolve is recorded in `problems`."""

    def __init__(self, template: dict, values: dict, region: str, name: str = "template"):
        self.template, self.region, self.name = template, region, name
        self.pseudo = pseudo_parameters(region)
        self.mappings = template.get("Mappings", {})
        self.resources = set(template.get("Resources", {}))
        self.params: dict = {}
        known = {}
        for pname, spec in template.get("Parameters", {}).items():
            value = values.get(pname, spec.get("Default"))
            if isinstance(value, Opaque) or value is None:
                self.params[pname] = value if value is not None else Opaque(f"parameter {pname} (no value)")
                continue
            value = str(value)
            known[pname] = value
            kind = spec.get("Type", "String")
            # A CommaDelimitedList "" is one empty item, as str.split gives.
            self.params[pname] = value.split(",") if kind == "CommaDelimitedList" or kind.startswith("List<") \
                else value
        self.renderer = Renderer(template, known, region)  # region: conditions may test AWS::Region
        for pname, value in self.params.items():  # unknown values must not decide a condition
            if isinstance(value, Opaque):
                self.renderer.values[pname] = value
        self.problems: list[str] = []

    # --- reporting -------------------------------------------------------
    def fail(self, path: str, message: str) -> Opaque:
        self.problems.append(f"{self.name} {self.region}: {path}: {message}")
        return Opaque(f"error at {path}")

    def condition(self, name: str) -> bool | None:
        try:
            return self.renderer.condition(name)
        except (RenderError, TypeError):
            return None

    # --- evaluation ------------------------------------------------------
    def ev(self, node, path: str):
        if isinstance(node, list):
            return [v for v in (self.ev(item, f"{path}/{i}") for i, item in enumerate(node)) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (fn, args), = node.items()
            handler = INTRINSICS.get(fn)
            if handler:
                return handler(self, args, f"{path}/{fn}")
        out = {}
        for key, value in node.items():
            value = self.ev(value, f"{path}/{key}")
            if value is not NO_VALUE:
                out[key] = value
        return out

    def _ref(self, name, path):
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params:
            return self.params[name]
        if name in self.resources or name.startswith("AWS::"):
            return Opaque(f"Ref {name}")
        return self.fail(path, f"Ref to {name}, which is neither a parameter nor a resource")

    def _if(self, args, path):
        name, if_true, if_false = args
        taken = self.condition(name)
        true_value = self.ev(if_true, f"{path}/1")  # both sides, as CloudFormation does
        false_value = self.ev(if_false, f"{path}/2")
        if taken is None:
            return Opaque(f"Fn::If {name}")
        return true_value if taken else false_value

    def _find_in_map(self, args, path):
        default = NO_VALUE
        if len(args) == 4 and isinstance(args[3], dict) and "DefaultValue" in args[3]:
            default = self.ev(args[3]["DefaultValue"], f"{path}/3")  # AWS::LanguageExtensions
        keys = [self.ev(k, f"{path}/{i}") for i, k in enumerate(args[:3])]
        if any(isinstance(k, Opaque) for k in keys):
            return Opaque(f"Fn::FindInMap {keys}")
        if not all(isinstance(k, str | int) for k in keys):
            return self.fail(path, f"Fn::FindInMap keys must be strings, got {keys}")
        name, top, second = (str(k) for k in keys)
        level = self.mappings.get(name)
        missing = None
        if level is None:
            missing = f"no mapping {name}"
        elif top not in level:
            missing = f"mapping {name} has no key {top}"
        elif second not in level[top]:
            missing = f"mapping {name} has no key {second} under {top}"
        if missing:
            if default is not NO_VALUE:
                return default
            return self.fail(path, f"Fn::FindInMap [{name}, {top}, {second}] cannot resolve: {missing}")
        return level[top][second]

    def _select(self, args, path):
        index = self.ev(args[0], f"{path}/0")
        items = self.ev(args[1], f"{path}/1")
        if isinstance(index, Opaque):
            return Opaque("Fn::Select of an unknown index")
        if not str(index).isdigit():
            return self.fail(path, f"Fn::Select index {index!r} is not a non-negative integer")
        index = int(index)
        if isinstance(items, Opaque):
            if items.length is not None and index >= items.length:
                return self.fail(path, f"Fn::Select index {index} is out of range for {items.origin} "
                                       f"({items.length} items)")
            return Opaque(f"item {index} of {items.origin}", inputs=inputs_of([items]))
        if not isinstance(items, list):
            return self.fail(path, f"Fn::Select needs a list, got {items!r}")
        if index >= len(items):
            return self.fail(path, f"Fn::Select index {index} is out of range for {items!r}")
        return items[index]

    def _operand(self, args, path, fn, kind):
        """Fn::Split's and Fn::Join's second argument, or (None, the result when it is unknown or wrong)."""
        value = self.ev(args[1], f"{path}/1")
        if isinstance(value, Opaque):
            return None, Opaque(f"{fn} of {value.origin}", inputs=inputs_of([value]))
        if not isinstance(value, kind):
            return None, self.fail(path, f"{fn} needs a {kind.__name__}, got {value!r}")
        return value, None

    def _split(self, args, path):
        source, result = self._operand(args, path, "Fn::Split", str)
        return result if source is None else source.split(args[0])

    def _join(self, args, path):
        items, result = self._operand(args, path, "Fn::Join", list)
        if items is None:
            return result
        delimiter = args[0]
        if any(isinstance(i, Opaque) for i in items):
            return Opaque(f"Fn::Join({delimiter!r}, {shown(items)})", inputs=inputs_of(items))
        if any(isinstance(i, dict | list) for i in items):
            return self.fail(path, f"Fn::Join items must be strings, got {items!r}")
        return delimiter.join(str(i) for i in items)

    def _sub(self, args, path):
        text, variables = (args, {}) if isinstance(args, str) else (args[0], args[1] if len(args) > 1 else {})
        local = {k: self.ev(v, f"{path}/1/{k}") for k, v in variables.items()}
        unknown = False
        opaque: list = []  # the unknown values it is made of

        def substitute(match):
            nonlocal unknown
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in local:
                value = local[name]
            elif "." in name and name.split(".", 1)[0] in self.resources:
                value = Opaque(f"GetAtt {name}")  # as Fn::GetAtt names it, so a plan can tell it changed
            else:
                value = self._ref(name, f"{path}/${{{name}}}")
            if isinstance(value, Opaque) or value is NO_VALUE or not isinstance(value, str | int):
                unknown = True
                opaque.append(value)
                return "${" + (value.origin if isinstance(value, Opaque) else "?") + "}"
            return str(value)

        result = re.sub(r"\$\{([^}]+)\}", substitute, text)
        return Opaque(f"Fn::Sub({result!r})", inputs=inputs_of(opaque)) if unknown else result

    def _cidr(self, args, path):
        block, count, bits = (self.ev(a, f"{path}/{i}") for i, a in enumerate(args))
        if isinstance(count, Opaque) or isinstance(bits, Opaque):
            return Opaque("Fn::Cidr of unknown size")
        count, bits = int(count), int(bits)
        if not 1 <= count <= 256:
            return self.fail(path, f"Fn::Cidr count {count} is not between 1 and 256")
        if isinstance(block, Opaque):
            return Opaque(f"Fn::Cidr of {block.origin}", length=count, inputs=inputs_of([block]))
        try:
            network = ipaddress.ip_network(block, strict=False)
        except ValueError:
            return self.fail(path, f"Fn::Cidr block {block!r} is not a CIDR block")
        prefix = network.max_prefixlen - bits
        if prefix < network.prefixlen or 2 ** (prefix - network.prefixlen) < count:
            return self.fail(path, f"Fn::Cidr cannot cut {count} /{prefix} blocks from {block}")
        return [str(n) for _, n in zip(range(count), network.subnets(new_prefix=prefix), strict=False)]

    def _get_azs(self, args, path):
        region = self.ev(args, f"{path}")
        if region not in ("", self.region) and not isinstance(region, Opaque):
            return self.fail(path, f"Fn::GetAZs of another region ({region})")
        return Opaque("Fn::GetAZs")

    def _opaque(self, args, path):
        self.ev(args, path)  # what is inside must still resolve
        return Opaque(path.rsplit("/", 1)[-1])

    # --- a whole template ------------------------------------------------
    def rule_failures(self) -> list[str]:
        """Why CloudFormation would refuse this parameter set before changing anything: a value
        outside its AllowedValues/AllowedPattern, or a Rule's assertion (its AssertDescription)."""
        failed = []
        for name, spec in self.template.get("Parameters", {}).items():
            value = self.params.get(name)
            if isinstance(value, Opaque):
                continue
            text = ",".join(value) if isinstance(value, list) else str(value)
            if "AllowedValues" in spec and text not in [str(v) for v in spec["AllowedValues"]]:
                failed.append(f"{name}: {text!r} is not one of {spec['AllowedValues']}")
            if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], text):
                failed.append(f"{name}: {text!r} is not allowed: "  # CloudFormation says the ConstraintDescription
                              f"{spec.get('ConstraintDescription') or 'it does not match ' + spec['AllowedPattern']}")
            for bound, outside in (("MinValue", lambda v, b: v < b), ("MaxValue", lambda v, b: v > b)):
                if bound in spec and re.fullmatch(r"-?\d+(\.\d+)?", text) and outside(float(text), float(spec[bound])):
                    failed.append(f"{name}: {text} is outside {bound} {spec[bound]}")
        for name, rule in self.template.get("Rules", {}).items():
            if "RuleCondition" in rule and self.truth(rule["RuleCondition"], f"Rules/{name}") is False:
                continue
            for i, assertion in enumerate(rule.get("Assertions", [])):
                if self.truth(assertion["Assert"], f"Rules/{name}/{i}") is False:
                    failed.append(f"{name}: {assertion.get('AssertDescription', '')}".strip())
        return failed

    def truth(self, expr, path) -> bool | None:
        (fn, args), = expr.items()
        if fn == "Fn::Not":
            inner = self.truth(args[0], path)
            return None if inner is None else not inner
        if fn in ("Fn::And", "Fn::Or"):
            parts = [self.truth(a, path) for a in args]
            if None in parts:
                return None
            return all(parts) if fn == "Fn::And" else any(parts)
        values = [self.ev(a, f"{path}/{fn}") for a in args] if isinstance(args, list) else []
        if any(isinstance(v, Opaque) for v in values):
            return None
        if fn == "Fn::Equals":
            return str(values[0]) == str(values[1])
        if fn == "Fn::Contains":
            return str(values[1]) in [str(v) for v in values[0]]
        if fn == "Fn::EachMemberEquals":
            return all(str(v) == str(values[1]) for v in values[0])
        if fn == "Fn::EachMemberIn":
            return all(str(v) in [str(x) for x in values[1]] for v in values[0])
        if fn == "Condition":
            return self.condition(args)
        return None


INTRINSICS = {
    "Ref": lambda e, a, p: e._ref(a, p),
    "Fn::If": Evaluator._if,
    "Fn::FindInMap": Evaluator._find_in_map,
    "Fn::Select": Evaluator._select,
    "Fn::Split": Evaluator._split,
    "Fn::Join": Evaluator._join,
    "Fn::Sub": Evaluator._sub,
    "Fn::Cidr": Evaluator._cidr,
    "Fn::GetAZs": Evaluator._get_azs,
    "Fn::GetAtt": lambda e, a, p: Opaque(f"GetAtt {a if isinstance(a, str) else '.'.join(map(str, a))}"),
    "Fn::ImportValue": Evaluator._opaque,
    "Fn::Base64": Evaluator._opaque,
    "Fn::ToJsonString": Evaluator._opaque,
    "Fn::Length": Evaluator._opaque,
}


# --- a whole deployment: the parent, then each nested stack with what the parent passes it ----
NESTED = ("AWS::Serverless::Application", "AWS::CloudFormation::Stack")


def nested_stacks(parent: dict) -> dict[str, str]:
    """Logical id -> template file of each nested stack the parent declares."""
    out = {}
    for name, resource in parent.get("Resources", {}).items():
        if resource.get("Type") in NESTED:
            props = resource.get("Properties", {})
            location = props.get("Location", props.get("TemplateURL"))
            if isinstance(location, str):
                out[name] = location
    return out


def child_values(parent: Evaluator, stack: str) -> dict:
    """The parameter values the parent passes one nested stack (Opaque where only a deployment knows)."""
    given = parent.template["Resources"][stack].get("Properties", {}).get("Parameters", {})
    values = {}
    for name, expr in given.items():
        value = parent.ev(expr, f"Resources/{stack}/Properties/Parameters/{name}")
        values[name] = value if isinstance(value, Opaque) else (",".join(map(str, value)) if isinstance(
            value, list) else str(value))
    return values


def broken_rules(template: dict, values: dict, region: str = "us-east-1") -> list[str]:
    """The names of the template's Rules that refuse `values` in `region`, in template order."""
    failures = Evaluator(template, values, region, "parent.yml").rule_failures()
    names = {failure.split(":", 1)[0] for failure in failures}
    return [name for name in template.get("Rules", {}) if name in names]
