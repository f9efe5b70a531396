"""The update of a stack deployed from the one-service layout (tests/templates/fixtures/upgrade/, the
templates before the split) to today's, rehearsed with checks/plan.py: what docs/services.md's
"Upgrading a stack deployed before the split" says, checked.

The old ServiceStack is deleted as a whole; its table has DeletionPolicy RetainExceptOnCreate, so the
delete leaves it in the account (retained: the stack that created it is not rolling back its create,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html)."""
from __future__ import annotations

import pytest

from checks.plan import Change, describe, name_clashes, plan
from checks.render import DOMAINS

BEFORE = "tests/templates/fixtures/upgrade/parent.yml"
OLD_TABLE = "blueprint-ServiceStack-1ABC-NotesTable-2DEF"


def changes(result, stack=None, action=None):
    return {c.resource for c in result.changes if (stack is None or c.stack == stack)
            and (action is None or c.action == action)}


@pytest.mark.parametrize("ingress", ["HttpApi", "LoadBalancer"])
def test_the_old_service_stack_goes_and_its_table_is_retained_and_flagged(ingress):
    values = {"Ingress": ingress}
    result = plan(values, values, before_parent=BEFORE)
    assert result.refused == []
    removed = changes(result, "ServiceStack")
    assert {"NotesTable", "Service", "TaskDefinition"} <= removed
    assert changes(result, "ServiceStack", "remove") == removed, "the whole stack is deleted"
    (table,) = [c for c in result.changes if c.stack == "ServiceStack" and c.resource == "NotesTable"]
    assert "RETAINED" in table.hazard and "ExistingTableName" in table.hazard
    # A new, empty table is created in the data stack unless the old one is named.
    assert "NotesTable" in changes(result, "NotesDataStack", "add")
    # The ingress and the namespace are recreated in their new stacks (downtime, docs/services.md).
    assert {"IngressSecurityGroup"} <= changes(result, "IngressStack", "add")
    assert {"Service", "TaskDefinition"} <= changes(result, "NotesService", "add")
    assert not [c for c in result.changes if c.action == "replace" and c.type == "AWS::DynamoDB::Table"]


def test_passing_the_old_table_name_creates_no_new_table():
    values = {"ExistingTableName": OLD_TABLE}
    result = plan({}, values, before_parent=BEFORE)
    assert not [c for c in result.changes if c.type == "AWS::DynamoDB::Table" and c.action == "add"]
    assert "NotesAccessPolicy" in changes(result, "NotesDataStack", "add")


def test_the_vpc_stays_and_the_namespace_gets_a_new_name():
    """The network is not touched; the new namespace is created before the old one is deleted, so
    their names must differ (a private DNS namespace name is unique per VPC... and per stack id here)."""
    result = plan({}, {}, before_parent=BEFORE)
    assert changes(result, "VpcStack") == set()
    from checks.plan import render_stacks
    _, old = render_stacks({}, "us-east-1", parent_file=BEFORE)
    _, new = render_stacks({}, "us-east-1")
    old_name = old["ServiceStack"]["Resources"]["ServiceDiscoveryNamespace"]["Properties"]["Name"]
    new_name = new["ClusterStack"]["Resources"]["ServiceDiscoveryNamespace"]["Properties"]["Name"]
    assert old_name["Fn::Sub"][0] != new_name["Fn::Sub"][0]


def test_the_upgrade_plan_names_the_deleted_stack_and_warns_about_the_table():
    lines = []
    describe(plan({}, {}, before_parent=BEFORE), out=lines.append)
    assert any(line.startswith("ServiceStack (deleted with all it holds)") for line in lines)
    assert any(line.startswith("WARNING: ServiceStack/NotesTable") and "ExistingTableName" in line for line in lines)


CLASH = "would FAIL: created before the old one is deleted"


# HostedZoneId is code now (parent.yml's Dns mapping, empty): the new parent makes no Route 53 record,
# so only the API Gateway domain name can clash.
@pytest.mark.parametrize(("ingress", "clashing"), [
    ("HttpApi", {("IngressStack", "HttpApiDomain")}),
    ("LoadBalancer", set()),  # an ALB has no API Gateway domain
])
def test_with_api_domain_name_the_upgrade_would_fail_on_the_names_service_stack_still_holds(ingress, clashing):
    """IngressStack creates the API's custom domain (and its Route 53 record) while ServiceStack, deleted
    only in the update's cleanup, still holds the name: API Gateway and Route 53 refuse the duplicate
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacks.html#stack-resource-update-cleanup).
    scripts/preflight.py's check_layout_upgrade refuses this update; docs/services.md gives the two steps."""
    values = {"Ingress": ingress, **DOMAINS, "HostedZoneId": "Z0123456789ABCDEFGHIJ"}  # the old parent's
    result = plan(values, values, before_parent=BEFORE)
    failing = {(c.stack, c.resource) for c in result.hazards() if c.hazard.startswith(CLASH)}
    assert failing == clashing
    lines = []
    describe(result, out=lines.append)
    assert all(any(line.startswith(f"WARNING: {stack}/{resource}") and CLASH in line for line in lines)
               for stack, resource in clashing)


def test_upgrading_without_the_domain_first_clashes_on_nothing():
    """The first of docs/services.md's two steps: the new templates with ApiDomainName cleared."""
    deployed = {"Ingress": "HttpApi", **DOMAINS, "HostedZoneId": "Z0123456789ABCDEFGHIJ"}
    result = plan(deployed, {**deployed, "ApiDomainName": "", "ApiCertificateArn": ""}, before_parent=BEFORE)
    assert result.refused == []
    assert not [c for c in result.hazards() if "would FAIL" in c.hazard]
    assert {"HttpApiDomain", "ApiDnsRecord"} <= changes(result, "ServiceStack", "remove")


def test_a_unique_name_moving_between_any_two_places_is_flagged_and_an_unresolved_one_is_not():
    """The check is by type and name, not by these stacks: a namespace with the same literal Name and Vpc
    added in one stack and removed from another clashes; a name built from ${AWS::StackId} differs per
    stack, so it is not compared."""
    def namespace(name):
        return {"Type": "AWS::ServiceDiscovery::PrivateDnsNamespace", "Properties": {"Name": name, "Vpc": "<vpc>"}}
    per_stack = {"Fn::Sub": "svc-${AWS::StackId}.internal"}
    old = {"A": {"Resources": {"Ns": namespace("svc.internal"), "Other": namespace(per_stack)}}, "B": {"Resources": {}}}
    new = {"A": {"Resources": {}}, "B": {"Resources": {"Ns2": namespace("svc.internal"), "Other": namespace(per_stack)}}}
    found = [Change("A", "Ns", namespace("")["Type"], "remove"), Change("A", "Other", namespace("")["Type"], "remove"),
             Change("B", "Ns2", namespace("")["Type"], "add"), Change("B", "Other", namespace("")["Type"], "add")]
    name_clashes(found, old, new)
    assert found[2].hazard.startswith(CLASH) and "A/Ns holds the same Name+Vpc" in found[2].hazard
    assert found[3].hazard == ""
