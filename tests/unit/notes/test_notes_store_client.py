"""The sample's store on app/api/dynamodb.py's client: it answers as before."""
from __future__ import annotations

import pytest
from api.errors import DatastoreUnavailable
from api.notes.store import NotesStore
from botocore.stub import Stubber

from tests.unit.notes.conftest import TABLE


def test_an_invalid_call_refused_by_dynamodb_is_still_a_503(table):
    """Without client-side validation DynamoDB refuses a malformed call itself (ValidationException)."""
    store = NotesStore(TABLE, "us-east-1", None, retry_after=5)
    with Stubber(store.client) as stub:
        stub.add_client_error("query", "ValidationException", http_status_code=400)
        with pytest.raises(DatastoreUnavailable):
            store.list(20, None)


def test_the_client_is_built_once_on_first_use(table):
    store = NotesStore(TABLE, "us-east-1", None, retry_after=5)
    assert store.list(20, None) == ([], None)
    assert store.client is store.client
