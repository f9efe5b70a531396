"""All-branches evaluation, a deep check a fork can drop (docs/checks.md): every intrinsic
function a template holds must resolve, in every region where Fargate runs, whichever way its
conditions fall.

CloudFormation resolves `Fn::FindInMap`, `Fn::Select` and friends in *both* sides of
an `Fn::If`, and in resources whose `Condition` is false: a map lookup for a region
the mapping lacks fails the deployment even in the branch a condition does not take
("Fn::FindInMap will always raise an error if it can't find the mapping",
https://github.com/aws-cloudformation/aws-cloudformation-templates/issues/271,
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-findinmap.html).
cfn-lint checks the regions it is configured for (here us-east-1) and cannot know which
branch a parameter value takes, so it does not see these; this module walks every resource and
output with checks/evaluate.py's Evaluator (which evaluates both sides of every `Fn::If`), per
region (pseudo parameters set for that region and partition) and parameter set. A parameter set
the parent's Rules refuse is reported as refused, not evaluated further.
"""
from __future__ import annotations

from dataclasses import dataclass

from checks.evaluate import Evaluator
from checks.render import nested_parameters


def every_intrinsic(evaluator: Evaluator) -> list[str]:
    """Evaluate every resource (whatever its Condition) and every output; the problems found."""
    for section in ("Resources", "Outputs"):
        for name, item in evaluator.template.get(section, {}).items():
            for key, value in item.items():
                if key not in ("Type", "Condition", "DependsOn", "DeletionPolicy", "UpdateReplacePolicy"):
                    evaluator.ev(value, f"{section}/{name}/{key}")
    return evaluator.problems


@dataclass
class Deployment:
    region: str
    refused: list[str]       # the parent's Rules refuse these values (a clear error before anything changes)
    problems: list[str]      # intrinsics that cannot resolve: the deployment would fail


def check_deployment(load, parent_file: str, values: dict, region: str) -> Deployment:
    """Evaluate the parent for `values` in `region`; unless its Rules refuse them, every nested stack too.
    `load(file)` returns a parsed template."""
    parent = Evaluator(load(parent_file), values, region, parent_file)
    refused = parent.rule_failures()
    problems = list(every_intrinsic(parent))
    if refused:
        return Deployment(region, refused, problems)
    for _, location, given in nested_parameters(parent, absent_too=True):
        problems += every_intrinsic(Evaluator(load(location), given, region, location))
    return Deployment(region, refused, list(dict.fromkeys(problems)))
