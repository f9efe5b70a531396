"""Updating a stack deployed with the old parameters: every parameter the previous parent.yml had
(43, commit 3395073) and this one does not, its old default, and where its value lives now.

`sam deploy` sends only the parameters the template declares, so a stack deployed with
`VpcCidr=10.0.0.0/16` would silently take the code's `10.42.0.0/16` (a new VPC, everything in it
replaced). `make deploy` and `make plan STACK=` read the deployed stack's parameters first and refuse
a value that differs from its old default AND from what the code gives now, one line per key, until it
is moved into code (then the values agree and nothing is said) or acknowledged with ACCEPT=Key.

A renamed parameter (RENAMED: BudgetEmail is now AlertEmail) keeps its value instead: both commands send the
deployed stack's value under the new name, unless the new name is given, and say so in one line. A bare
`sam deploy` cannot: it drops an override the template does not declare (samcli's
deploy_context.merge_parameters), so the stack would take the new parameter's default.

REMOVED is the one table: docs/deploy.md's "what used to be a parameter" block is generated from it
(`.venv/bin/python -m scripts.upgrade` rewrites it; tests/ops/test_upgrade.py fails when it is stale).
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass

from blueprint.templates import child, nested_parameters, parent, resolve, service_resources
from scripts import generated, stack_failures
from scripts.common import ROOT, Target, not_created, stack_parameters

DOC = ROOT / "docs" / "deploy.md"
BLOCK = "removed-parameters"  # <!-- removed-parameters:start --> ... :end -->, scripts/generated.py
SERVICE = "service"  # home: the sample service's block (the old stack's one service)


@dataclass(frozen=True)
class Removed:
    old_default: str
    where: str   # a nested stack's block in parent.yml (its Parameters), SERVICE, or "notes-data.yml"
    key: str     # the key in that block (or mapping) now holding the value
    home: str    # the exact place a fork edits, as the refusal and the docs say it
    checked: bool = True  # False: set by a machine, never a user's choice (AppVersion)


def _profile(stack: str, key: str, old_default: str) -> Removed:
    return Removed(old_default, stack, key, f"parent.yml's Profile mapping ({key}, per profile)")


def _bounds(key: str, old_default: str) -> Removed:
    return Removed(old_default, "notes-data.yml", key, f"notes-data.yml's Bounds mapping ({key}, per profile)")


SERVICE_BLOCK = {"Architecture": "ARM64", "Cpu": "256", "Memory": "512", "CpuTarget": "60", "SpotWeight": "1",
                 "OnDemandWeight": "0", "DesiredCount": "", "StopSchedule": "", "StartSchedule": "",
                 "ScheduleTimezone": "UTC", "EnableExecuteCommand": "false"}

REMOVED: dict[str, Removed] = {
    **{key: Removed(default, SERVICE, key, f"parent.yml's NotesService block ({key})")
       for key, default in SERVICE_BLOCK.items()},
    "MinTasks": _profile(SERVICE, "MinTasks", "1"),
    "MaxTasks": _profile(SERVICE, "MaxTasks", "2"),
    "OnDemandBase": _profile(SERVICE, "OnDemandBase", "0"),
    "LogRetentionDays": _profile(SERVICE, "LogRetentionDays", "14"),
    "NatGateways": _profile("VpcStack", "NatGateways", "1"),
    "ContainerInsights": _profile("ClusterStack", "ContainerInsights", "disabled"),
    "ApiRateLimit": _profile("IngressStack", "ApiRateLimit", "10"),
    "ApiBurstLimit": _profile("IngressStack", "ApiBurstLimit", "20"),
    "MonthlyBudget": _profile("BudgetStack", "MonthlyBudget", ""),
    "TableMaxReadUnits": _bounds("MaxReadUnits", "20"),
    "TableMaxWriteUnits": _bounds("MaxWriteUnits", "5"),
    "NoteTtlDays": _bounds("NoteTtlDays", "30"),
    "VpcCidr": Removed("10.42.0.0/16", "VpcStack", "VpcCidr", "parent.yml's VpcStack block (VpcCidr)"),
    "OriginSecretVersion": Removed("1", "ClusterStack", "OriginSecretVersion",
                                   "parent.yml's ClusterStack block (OriginSecretVersion)"),
    "HostedZoneId": Removed("", "FrontendStack", "HostedZoneId", "parent.yml's Dns mapping (Route53, HostedZoneId)"),
    "WafRateLimit": Removed("0", "FrontendStack", "WafRateLimit",
                            "parent.yml's FrontendStack block (WafRateLimit: 1000 when CreatesWebAcl, else 0)"),
    "PriceClass": Removed("PriceClass_100", "FrontendStack", "PriceClass",
                          "frontend.yml's PriceClass default (or a PriceClass line in parent.yml's FrontendStack "
                          "block)"),
    "AppVersion": Removed("unversioned", "", "", "the image: make deploy builds it with --build-arg "
                          "APP_VERSION=<commit>", checked=False),
    # make deploy passed it (a machine's lookup, not a choice): ingress.yml's CloudFrontPrefixList resource
    # looks the same id up itself now, so a deployed stack's value is dropped, never refused.
    "CloudFrontPrefixListId": Removed("", "", "", "ingress.yml's CloudFrontPrefixList (the stack "
                                      "looks CloudFront's origin-facing prefix list up itself)", checked=False),
}


# Parameters renamed since, {old: new}: the value moves with the name (carried()).
RENAMED = {"BudgetEmail": "AlertEmail"}


def carried(deployed: dict[str, str], params: dict) -> dict[str, str]:
    """{new: value} for each renamed parameter the deployed stack set under its old name and `params` (what
    this update sends) does not give under the new one."""
    return {new: deployed[old] for old, new in RENAMED.items()
            if deployed.get(old) and new not in params and new not in deployed}


def carried_lines(values: dict[str, str]) -> list[str]:
    old = {new: name for name, new in RENAMED.items()}
    return [f"{new}={value}: carried from the deployed stack's {old[new]} ({old[new]} is now {new}; docs/deploy.md)"
            for new, value in values.items()]


UNREAD = object()  # a `stack` argument not given: read it


def deployed_stack(t: Target) -> dict | None:
    """The deployed stack's DescribeStacks entry (None: no stack), read once by a command that checks it twice."""
    return stack_failures.stack_or_none(t.client("cloudformation"), t.stack_name)


def carry_renamed(t: Target, params: dict, stack: dict | None = UNREAD) -> dict[str, str]:
    """carried() for the deployed stack `t` (none yet: nothing to carry); `stack`: deployed_stack(t), if read."""
    stack = deployed_stack(t) if stack is UNREAD else stack
    return {} if not_created(stack) else carried(stack_parameters(stack), params)


def _service_stack(template: dict) -> str | None:
    """The block the old parameters sized: NotesService, or the first service if a fork renamed it."""
    services = list(service_resources(template))
    return "NotesService" if "NotesService" in services else (services[0] if services else None)


def code_value(key: str, values: dict, template: dict | None = None) -> str | None:
    """What the code gives `key` now, for these parameter values (and AWS::Region); None if unknown."""
    template = template or parent()
    entry = REMOVED[key]
    if entry.where == "notes-data.yml":
        data = child("notes-data.yml")
        profile = values.get("Profile", template["Parameters"]["Profile"].get("Default"))
        return resolve(data["Mappings"]["Bounds"].get(profile, {}).get(entry.key), values, data)
    stack = _service_stack(template) if entry.where == SERVICE else entry.where
    if not stack or stack not in template.get("Resources", {}):
        return None
    return nested_parameters(template, stack, values).get(entry.key)


def dropped(deployed: dict[str, str], values: dict, accept: set[str] = frozenset(),
            template: dict | None = None) -> list[str]:
    """One line per deployed parameter this template no longer declares whose value the update would lose:
    it differs from the old default and from what the code gives now, and ACCEPT does not name it."""
    template = template or parent()
    declared = set(template["Parameters"])
    lines = []
    for key in sorted(set(deployed) - declared - set(accept) - set(RENAMED)):  # a renamed one's value is carried
        value = deployed[key]
        entry = REMOVED.get(key)
        if entry is None:  # a parameter of the fork's own that its parent.yml dropped
            lines.append(f"the deployed stack has {key}={value}; parent.yml no longer declares {key}: set it in "
                         f"code, then run again with ACCEPT={key}")
            continue
        if not entry.checked or value == entry.old_default or value == code_value(key, values, template):
            continue
        lines.append(f"the deployed stack has {key}={value}; {key} is now code: set it in {entry.home}, then run "
                     f"again with ACCEPT={key}")
    return lines


def check_deployed(t: Target, params: dict, accept: set[str] = frozenset(), stack: dict | None = UNREAD) -> list[str]:
    """dropped() for the deployed stack `t` (none yet: nothing to lose) with the parameters being sent;
    `stack`: deployed_stack(t), if read."""
    stack = deployed_stack(t) if stack is UNREAD else stack
    if not_created(stack):  # a change set never run or a failed first create holds nothing
        return []
    deployed = stack_parameters(stack)
    declared = set(parent()["Parameters"])
    values = {**{k: v for k, v in deployed.items() if k in declared}, **params, "AWS::Region": t.region}
    return dropped(deployed, values, accept)


def parse_accept(text: str) -> set[str]:
    """ACCEPT="VpcCidr,Cpu" (commas or spaces)."""
    return {k for k in text.replace(",", " ").split() if k}


def where_now(keys, parameters: dict | None = None) -> str:
    """'MinTasks: parent.yml's Profile mapping (...); Foo: ...' for a refusal naming old keys; with the
    template's `parameters`, a key that is no old one names the parameter it looks like (a misspelling)."""
    def home(key: str) -> str:
        if key in REMOVED:
            return REMOVED[key].home
        if key in RENAMED:
            return f"now {RENAMED[key]}: set {RENAMED[key]} instead"
        close = difflib.get_close_matches(key, list(parameters or {}), n=1, cutoff=0.75)
        return f"did you mean {close[0]}?" if close else "not a parameter of this blueprint"
    return "; ".join(f"{k}: {home(k)}" for k in keys)


def doc_table() -> str:
    rows = ["| was a parameter | old default | now |", "|---|---|---|"]
    for key, entry in REMOVED.items():
        rows.append(f"| `{key}` | {f'`{entry.old_default}`' if entry.old_default else 'empty'} | {entry.home} |")
    return "\n".join(rows)


def write_doc(path=DOC) -> bool:
    return generated.replace_block(path, BLOCK, doc_table())


if __name__ == "__main__":
    print("docs/deploy.md updated" if write_doc() else "docs/deploy.md already current")
