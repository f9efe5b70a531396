"""The sample's unit tests: the app with its notes blueprint, DynamoDB from moto in-process, the table
created as notes-data.yml defines it. Goes with app/api/notes/ (docs/services.md, "Remove the sample")."""
from __future__ import annotations

import boto3
import pytest
from api import create_app
from api.notes.store import NotesSettings
from moto import mock_aws

from local.dynamodb_table import create_table
from tests.unit.conftest import make_settings

TABLE = "notes-test"


def make_app(**overrides):
    """The app with the platform's settings and the sample's (NotesSettings' fields), each overridable."""
    notes = {"notes_table": TABLE, "aws_region": "us-east-1", "dynamodb_endpoint_url": None}
    notes.update({key: overrides.pop(key) for key in list(overrides) if key in NotesSettings.model_fields})
    return create_app(make_settings(**overrides), {"NOTES_SETTINGS": NotesSettings(**notes)})


@pytest.fixture
def aws():
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


@pytest.fixture
def table(aws):
    create_table(aws, TABLE)
    return aws


@pytest.fixture
def app(table):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()
