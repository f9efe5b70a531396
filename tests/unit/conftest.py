"""Unit tier: the Flask app through its test client, DynamoDB from moto in-process."""
from __future__ import annotations

import boto3
import pytest
from api import create_app
from api.config import Settings
from api.notes.store import NotesSettings
from moto import mock_aws

from local.dynamodb_table import create_table

TABLE = "notes-test"


def make_settings(**overrides) -> Settings:
    return Settings(**{"app_version": "1.2.3-test", **overrides})


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


def assert_error(response, status: int, code: str) -> dict:
    """Every error: the status, JSON, and the one shape {"error": {"code", "message"}}."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert "Traceback" not in response.get_data(as_text=True)
    return body["error"]
