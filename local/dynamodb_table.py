"""Create the notes table in a local DynamoDB stand-in exactly as notes-data.yml
defines it (keys, attributes, indexes, billing mode), read with cfn-lint's
CloudFormation YAML decoder, so the local table cannot drift from the real one.
"""
from __future__ import annotations

from pathlib import Path

from checks.render import load, plain

ROOT = Path(__file__).resolve().parent.parent
SERVICE_TEMPLATE = ROOT / "notes-data.yml"  # the sample's data stack
TABLE_RESOURCE = "NotesTable"
# Properties create_table takes as they are written in the template.
_COPIED = ("AttributeDefinitions", "KeySchema", "BillingMode", "GlobalSecondaryIndexes", "LocalSecondaryIndexes")


def table_definition(template: Path = SERVICE_TEMPLATE, resource: str = TABLE_RESOURCE) -> dict:
    """The template's table as keyword arguments for DynamoDB's CreateTable."""
    table = load(template)["Resources"][resource]
    if table["Type"] != "AWS::DynamoDB::Table":
        raise ValueError(f"{template}: {resource} is a {table['Type']}, not a DynamoDB table")
    props = table["Properties"]
    return {name: plain(props[name]) for name in _COPIED if name in props}


def create_table(client, name: str, template: Path = SERVICE_TEMPLATE) -> None:
    """Create the table (if missing) and wait until it is active."""
    existing = client.list_tables().get("TableNames", [])
    if name not in existing:
        client.create_table(TableName=name, **table_definition(template))
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
