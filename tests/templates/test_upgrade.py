"""The update of a stack deployed from the one-service layout (tests/templates/fixtures/upgrade/, the
templates before the split) to today's, rehearsed with checks/plan.py: what docs/services.md's
"Upgrading a stack deployed before the split" says, checked.

The old ServiceStack is deleted as a whole; its table has DeletionPolicy RetainExceptOnCreate, so the
delete leaves it in the account (retained: the stack that created it is not rolling back its create,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html)."""
from __future__ import annotations

import pytest

from checks.plan import describe, plan

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
