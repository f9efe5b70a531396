"""The sample's data stack (notes-data.yml) and its contract with the store (app/api/notes/store.py): the
table's key, policy and lifetime, its lifecycle (retain, adopt). Goes with the sample (docs/services.md)."""
from __future__ import annotations

import re

from api.notes.store import KEY_SCHEMA, NotesSettings

from checks.plan import plan
from checks.render import PARENT, template
from local.dynamodb_table import table_definition
from tests.templates.conftest import ROOT, environment, service, stack

DATA = DATA_SOURCE = template("notes-data.yml")
PARENT_TEMPLATE = template(PARENT)
NOTES = PARENT_TEMPLATE["Resources"]["NotesService"]["Properties"]["Parameters"]
DEFAULTS = {name: field.default for name, field in NotesSettings.model_fields.items()}


def test_table_key_matches_the_store():
    definition = table_definition()
    assert {k["AttributeName"]: k["KeyType"] for k in definition["KeySchema"]} == KEY_SCHEMA
    props = DATA["Resources"]["NotesTable"]["Properties"]
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_task_role_reaches_only_the_table_with_the_calls_the_store_makes():
    (table_statement,) = DATA["Resources"]["NotesAccessPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert table_statement["Resource"]["Fn::If"][1] == {"Fn::GetAtt": ["NotesTable", "Arn"]}
    # The notes service's task role gets that policy and no other.
    assert NOTES["PolicyArns"] == {"Fn::GetAtt": ["NotesDataStack", "Outputs.AccessPolicyArn"]}
    role = service()["TaskRole"]["Properties"]
    assert role["ManagedPolicyArns"] == {"Ref": "PolicyArns"} and "Policies" not in role
    used = set(re.findall(r'_call\(\s*"(\w+)"', (ROOT / "app" / "api" / "notes" / "store.py").read_text()))
    allowed = {a.split(":")[1] for a in table_statement["Action"]}
    to_api = {"get_item": "GetItem", "put_item": "PutItem", "delete_item": "DeleteItem", "query": "Query"}
    assert {to_api[u] for u in used} == allowed


def test_note_expiry_the_table_deletes_on_is_the_attribute_the_store_writes():
    from api.notes.store import TTL_ATTRIBUTE
    props = DATA["Resources"]["NotesTable"]["Properties"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    # The lifetime is the data stack's (notes-data.yml's Bounds), handed to the service as an output.
    assert PARENT_TEMPLATE["Resources"]["NotesService"]["Properties"]["Parameters"]["EnvironmentNames"].split(",")[1] \
        == "NOTE_TTL_DAYS"
    assert {p: DATA["Mappings"]["Bounds"][p]["NoteTtlDays"] for p in ("dev", "prod")} == {"dev": "30", "prod": "30"}
    assert "note_ttl_days" in DEFAULTS and DEFAULTS["note_ttl_days"] == 0  # local runs keep notes


def test_the_table_is_retained_on_delete_but_not_after_a_failed_first_create():
    """RetainExceptOnCreate: a rolled-back first create deletes the new (empty) table rather
    than leaving one more retained table behind on each attempt
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html)."""
    table = DATA_SOURCE["Resources"]["NotesTable"]
    assert table["DeletionPolicy"] == "RetainExceptOnCreate"
    assert table["UpdateReplacePolicy"] == "Retain"
    assert table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_by_default_the_stack_creates_the_table_and_the_service_uses_it():
    data = stack("NotesDataStack")
    assert "NotesTable" in data["Resources"]
    (statement,) = data["Resources"]["NotesAccessPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Resource"] == {"Fn::GetAtt": ["NotesTable", "Arn"]}
    assert data["Outputs"]["TableName"]["Value"] == {"Ref": "NotesTable"}
    assert "NOTES_TABLE" in environment(service())  # its value: the data stack's output
    passed = PARENT_TEMPLATE["Resources"]["NotesService"]["Properties"]["Parameters"]
    assert passed["EnvironmentNames"].split(",")[0] == "NOTES_TABLE"
    assert passed["EnvironmentValues"]["Fn::Join"][1][0] == {"Fn::GetAtt": ["NotesDataStack", "Outputs.TableName"]}


def test_an_existing_table_is_adopted_instead_of_created():
    """After `make destroy` the retained table can be taken back: ExistingTableName set, the stack creates no table, and the
    policy, the task's environment and the outputs name the old one."""
    data = stack("NotesDataStack", ExistingTableName="notes-retained")
    assert not [r for r in data["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
    (statement,) = data["Resources"]["NotesAccessPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${ExistingTableName}"}
    assert data["Outputs"]["TableName"]["Value"] == "notes-retained"
    assert "NotesTable" not in str(data)
    assert "NOTES_TABLE" in environment(service(ExistingTableName="notes-retained"))


def test_the_parent_passes_existing_table_name_through():
    spec = PARENT_TEMPLATE["Parameters"]["ExistingTableName"]
    assert spec["Default"] == ""
    pattern = re.compile(spec["AllowedPattern"])
    assert pattern.fullmatch("") and pattern.fullmatch("notes-stack-NotesTable-1A2B3C4D5E6F")
    assert not pattern.fullmatch("no spaces allowed")
    passed = PARENT_TEMPLATE["Resources"]["NotesDataStack"]["Properties"]["Parameters"]
    assert passed["ExistingTableName"] == {"Ref": "ExistingTableName"}


def test_the_table_ceiling_follows_the_profile():
    """Abuse bounds are code: the sample's table ceiling (notes-data.yml), five times dev's in prod."""
    for profile, (reads, writes) in (("dev", (20, 5)), ("prod", (100, 25))):
        table = stack("NotesDataStack", Profile=profile)["Resources"]["NotesTable"]
        assert table["Properties"]["BillingMode"] == "PAY_PER_REQUEST"
        assert table["Properties"]["OnDemandThroughput"] == {"MaxReadRequestUnits": reads, "MaxWriteRequestUnits": writes}


def test_the_service_gets_the_tables_name_and_lifetime_and_the_parent_outputs_the_name():
    from checks.render import TWO_SERVICES
    notes = environment(service("NotesService", TWO_SERVICES))
    assert set(notes) >= {"NOTES_TABLE", "NOTE_TTL_DAYS"}
    assert PARENT_TEMPLATE["Outputs"]["TableName"]["Value"] == {"Fn::GetAtt": ["NotesDataStack", "Outputs.TableName"]}


def test_adopting_or_dropping_an_existing_table_says_which_data_the_app_will_use():
    adopt = plan({}, {"ExistingTableName": "notes-retained"})
    (table,) = [c for c in adopt.changes if c.resource == "NotesTable"]
    assert table.action == "remove" and "RETAINED" in table.hazard and "ExistingTableName" in table.hazard
    drop = plan({"ExistingTableName": "notes-retained"}, {})
    (table,) = [c for c in drop.changes if c.resource == "NotesTable"]
    assert table.action == "add" and "EMPTY" in table.hazard


def test_a_stack_taking_a_changed_output_through_a_join_changes_too():
    """The parent passes NOTES_TABLE as !Join [",", [!GetAtt NotesDataStack.Outputs.TableName, ...]]
    (how docs/services.md passes another stack's output): adopting a table changes that output, so the
    task definition is replaced and the service rolls, not "no change"."""
    result = plan({}, {"ExistingTableName": "my-table"})
    service = {(c.resource, c.action) for c in result.changes if c.stack == "NotesService"}
    assert ("TaskDefinition", "replace") in service and ("Service", "update") in service
