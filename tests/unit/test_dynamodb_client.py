"""The DynamoDB client's tuning (app/api/dynamodb.py), measured by `make bench`:
what it changes on the wire, and that store.py answers as before."""
from __future__ import annotations

import gc

import pytest
from api.dynamodb import new_client
from api.errors import DatastoreUnavailable
from api.store import NotesStore
from botocore.exceptions import ParamValidationError
from botocore.stub import Stubber

from .conftest import TABLE


def sent_user_agents(client) -> list[str]:
    seen = []
    client.meta.events.register("before-send", lambda request, **_: seen.append(request.headers["User-Agent"]))
    return seen


def test_the_tuned_client_sends_one_fixed_user_agent(table):
    client = new_client("us-east-1", None)
    seen = sent_user_agents(client)
    for _ in range(2):
        client.get_item(TableName=TABLE, Key={"pk": {"S": "a"}, "sk": {"S": "b"}})
    assert len(set(seen)) == 1
    agent = seen[0].decode() if isinstance(seen[0], bytes) else seen[0]
    assert agent.startswith("Boto3/") and agent.count("Botocore/") == 1
    assert " m/" not in agent  # no per-call feature metrics: that is what costs the CPU


def test_the_untuned_client_is_boto3_as_it_comes(table):
    with pytest.raises(ParamValidationError):
        new_client("us-east-1", None, tuned=False).query(TableName=TABLE, Limit="twenty")


def test_an_invalid_call_refused_by_dynamodb_is_still_a_503(table):
    """Without client-side validation DynamoDB refuses a malformed call itself (ValidationException)."""
    store = NotesStore(TABLE, "us-east-1", None, retry_after=5)
    with Stubber(store.client) as stub:
        stub.add_client_error("query", "ValidationException", http_status_code=400)
        with pytest.raises(DatastoreUnavailable):
            store.list(20, None)


@pytest.fixture
def unfreeze():
    yield
    gc.unfreeze()  # warm_up froze this test process's objects


def test_warm_up_builds_the_client_in_the_background(table, unfreeze):
    store = NotesStore(TABLE, "us-east-1", None, retry_after=5)
    assert store._client is None  # nothing at construction: gunicorn's master forks after this
    gc.unfreeze()
    store.warm_up().join(30)
    assert store._client is not None
    assert gc.get_freeze_count() > 10_000  # then the long-lived objects leave the collector's care
    client = store._client
    assert store.client is client  # the requests use the one it built


def test_loading_the_app_does_not_import_boto3():
    """The health check answers before boto3 is imported (make bench: start to first 200)."""
    import subprocess
    import sys
    from pathlib import Path
    code = "import sys; import api.wsgi; print('boto3' in sys.modules, 'botocore.client' in sys.modules)"
    app_dir = Path(__file__).resolve().parents[2] / "app"
    out = subprocess.run([sys.executable, "-c", code], cwd=app_dir, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False", "False"], out.stderr
