"""Update-path rehearsal over every switch, a deep check a fork can drop with this file
(docs/checks.md): every switchable parameter, switched on and off from the defaults and from every
rendered variant (checks/render.py), with checks/plan.py (the engine behind `make plan`), never
replaces or silently deletes data, never leaves a list property out where only [] clears it
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecs-service.html),
never takes from a policy a resource it replaces (a rollback's tasks would lose access:
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html), and fails no
update but moving the subnets to other AZs."""
from __future__ import annotations

import pytest

from checks.plan import DATA_BEARING, PARENT, ROLLBACK_ACCESS, children, plan, template
from checks.render import DOMAINS, TWO_SERVICES, variants


def switches() -> dict[str, dict[str, str]]:
    """Every switchable parameter of the parent and each of its other values: AllowedValues, the
    bound of a numeric range, and the optional settings checks/render.py's variants use (domains,
    budget, image, pinned AZs), grouped where the parent's Rules need them together. A service's
    size, scaling and schedules are code in its block, not parameters: no switch here changes them."""
    out = {}
    for name, spec in template(PARENT).get("Parameters", {}).items():
        default = str(spec.get("Default", ""))
        others = [str(v) for v in spec.get("AllowedValues", []) if str(v) != default]
        others += [str(spec[k]) for k in ("MinValue", "MaxValue") if k in spec and str(spec[k]) != default]
        for value in others:
            out[f"{name}={value}"] = {name: value}
    options = variants()["HttpApi-domains-options"]
    groups = {"domains": list(DOMAINS), "budget": ["AlertEmail"], "image": ["ImageUri"],
              "pinned AZs": ["AvailabilityZoneIds"]}
    for group, names in groups.items():
        out[group] = {n: options[n] for n in names}
    out["pinned AZs"] = {"AvailabilityZoneIds": "use1-az4,use1-az6"}
    return out


BASES = {"defaults": {}, **variants()}
SWITCHES = switches()


def rehearsals():
    for base_name, base in BASES.items():
        for name, switch in SWITCHES.items():
            if all(base.get(k) == v for k, v in switch.items()):
                continue
            yield f"{base_name}: {name} on", base, {**base, **switch}
            yield f"{base_name}: {name} off", {**base, **switch}, base


@pytest.mark.parametrize("base_name", sorted(BASES))
def test_no_switch_replaces_or_silently_deletes_data_or_leaves_a_list_behind(base_name):
    checked = 0
    for label, before, after in rehearsals():
        if label.split(": ")[0] != base_name:
            continue
        result = plan(before, after)
        if result.refused:  # e.g. a domain without its certificate: the parent's Rules stop it first
            continue
        checked += 1
        for change in result.changes:
            source = template(dict(_locations())[change.stack])["Resources"].get(change.resource, {})
            if change.type in DATA_BEARING:
                assert change.action != "replace", (label, change)
                assert change.action != "remove" or "Condition" in source, (label, change)
            assert "left out" not in change.hazard, (label, change)
            assert ROLLBACK_ACCESS not in change.hazard, (label, change)
            # Only moving the subnets to other AZs cannot be done in place (README, Regions and AZs).
            assert "would FAIL" not in change.hazard or "pinned AZs" in label, (label, change)
    applicable = [n for n, switch in SWITCHES.items()
                  if not all(BASES[base_name].get(k) == v for k, v in switch.items())]
    assert checked >= len(applicable)  # each switch the base does not already have, at least one way


def _locations(parent=PARENT):
    return {"parent": parent, **children(parent)}.items()


def test_the_two_service_parent_survives_every_switch_from_the_defaults():
    """The same rehearsal on parent.yml with its second-service example switched on: a second
    service.yml under the same ingress changes nothing about what a switch may do to data."""
    checked = 0
    for name, switch in SWITCHES.items():
        for before, after in (({}, switch), (switch, {})):
            result = plan(before, after, parent=TWO_SERVICES)
            if result.refused:
                continue
            checked += 1
            for change in result.changes:
                source = template(dict(_locations(TWO_SERVICES))[change.stack])["Resources"].get(change.resource, {})
                if change.type in DATA_BEARING:
                    assert change.action != "replace", (name, change)
                    assert change.action != "remove" or "Condition" in source, (name, change)
                assert "left out" not in change.hazard, (name, change)
                assert ROLLBACK_ACCESS not in change.hazard, (name, change)
                assert "would FAIL" not in change.hazard or name == "pinned AZs", (name, change)
            if {"Ingress"} <= set(switch):
                assert {c.stack for c in result.changes if c.resource == "ListenerRule"} == {
                    s for s, loc in children(TWO_SERVICES).items() if loc == "service.yml"}
    assert checked >= len(SWITCHES)  # each switch at least one way
