"""Create the notes table in a local DynamoDB stand-in exactly as the templates
define it (keys, attributes, indexes, billing mode), read with the blueprint's
template reader (blueprint/templates.py), so the local table cannot drift from
the real one. The table is found by its logical id in whichever child template
holds it (the sample's data stack), so moving it between templates needs no edit here.
"""
from __future__ import annotations

from pathlib import Path

from blueprint.templates import ROOT, load, plain

TABLE_RESOURCE = "NotesTable"
# Properties create_table takes as they are written in the template.
_COPIED = ("AttributeDefinitions", "KeySchema", "BillingMode", "GlobalSecondaryIndexes", "LocalSecondaryIndexes")


def table_template(resource: str = TABLE_RESOURCE, root: Path = ROOT) -> Path:
    """The template (a *.yml at the repository's root) whose Resources hold `resource`."""
    for path in sorted(root.glob("*.yml")):
        if resource in (load(path).get("Resources") or {}):
            return path
    raise ValueError(f"no template in {root} defines {resource}")


def has_table(resource: str = TABLE_RESOURCE, root: Path = ROOT) -> bool:
    """Whether a template defines the table (without the sample, none does: the local stack then creates none)."""
    return any(resource in (load(path).get("Resources") or {}) for path in sorted(root.glob("*.yml")))


def table_definition(template: Path | None = None, resource: str = TABLE_RESOURCE) -> dict:
    """The template's table as keyword arguments for DynamoDB's CreateTable."""
    template = template or table_template(resource)
    table = load(template)["Resources"][resource]
    if table["Type"] != "AWS::DynamoDB::Table":
        raise ValueError(f"{template}: {resource} is a {table['Type']}, not a DynamoDB table")
    props = table["Properties"]
    return {name: plain(props[name]) for name in _COPIED if name in props}


def create_table(client, name: str, template: Path | None = None) -> None:
    """Create the table (if missing) and wait until it is active."""
    existing = client.list_tables().get("TableNames", [])
    if name not in existing:
        client.create_table(TableName=name, **table_definition(template))
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
