"""`make bench`'s DynamoDB stand-in and boto3 baseline answer the app's real calls.

The stand-in (bench/dynamodb.py) is checked with the app's own NotesStore, the
same scenario run against moto (the project's DynamoDB reference here) giving
the same answers; the baseline app (bench/baseline_app.py) with the requests
`make bench` sends, answered as the service answers them."""
from __future__ import annotations

import importlib
import threading

import boto3
import pytest
from api import create_app
from api.config import Settings
from api.notes.store import NotesStore
from botocore.exceptions import ClientError, ParamValidationError
from moto import mock_aws
from werkzeug.test import Client

from bench import dynamodb
from local.dynamodb_table import create_table
from local.stack import FAKE_CREDENTIALS

REGION = "us-east-1"


@pytest.fixture(scope="module")
def standin():
    """The stand-in on a free port, served by a thread of this process."""
    with dynamodb.Server(("127.0.0.1", 0), ["notes"]) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.server_address[1]}"
        server.shutdown()
        thread.join(5)


@pytest.fixture(autouse=True)
def credentials(monkeypatch):
    for key, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(key, value)


def scenario(store: NotesStore) -> list:
    """Every call the app makes, with what a client can see of the answers (ids normalised)."""
    out = []
    store.ping()  # readiness: a GetItem of a key that never exists
    # Sorted by id: ids made in the same millisecond differ by their random part, not by order.
    created = sorted((store.create(f"note {i}") for i in range(25)), key=lambda n: n["id"])
    ids = {n["id"]: f"id{i}" for i, n in enumerate(created)}
    out.append(store.get(created[3]["id"]) == created[3])
    out.append(store.get("0" * 28))
    pages, cursor = [], None
    while True:
        items, cursor = store.list(10, cursor)
        pages.append([ids[n["id"]] for n in items])
        if not cursor:
            break
    out.append(pages)
    out.append(store.delete(created[0]["id"]))
    out.append(store.delete(created[0]["id"]))
    out.append(store.get(created[0]["id"]))
    out.append([ids[n["id"]] for n in store.list(3, None)[0]])
    # The id-collision guard: PutItem's condition refuses an existing key.
    item = {"pk": {"S": "NOTE"}, "sk": {"S": created[1]["id"]}, "text": {"S": "x"}, "createdAt": {"S": "x"}}
    with pytest.raises(ClientError) as failed:
        store.client.put_item(TableName=store.table, Item=item, ConditionExpression="attribute_not_exists(sk)")
    out.append(failed.value.response["Error"]["Code"])
    return out


def test_notes_store_gets_the_same_answers_from_the_stand_in_as_from_moto(standin):
    from_standin = scenario(NotesStore("notes", REGION, standin, 5))
    with mock_aws():
        create_table(boto3.client("dynamodb", region_name=REGION), "notes")
        from_moto = scenario(NotesStore("notes", REGION, None, 5))
    assert from_standin == from_moto
    assert from_standin[2] == [[f"id{i}" for i in range(24, 14, -1)], [f"id{i}" for i in range(14, 4, -1)],
                               ["id4", "id3", "id2", "id1", "id0"]]


def test_the_stand_in_refuses_calls_it_does_not_implement(standin):
    client = NotesStore("notes", REGION, standin, 5).client
    with pytest.raises(ClientError, match="UnknownOperation"):
        client.scan(TableName="notes")
    with pytest.raises(ClientError, match="ResourceNotFound"):
        client.get_item(TableName="other", Key={"pk": {"S": "a"}, "sk": {"S": "b"}})
    with pytest.raises(ClientError, match="ValidationException"):
        client.query(TableName="notes", KeyConditionExpression="pk = :pk AND begins_with(sk, :s)",
                     ExpressionAttributeValues={":pk": {"S": "NOTE"}, ":s": {"S": "0"}})
    with pytest.raises(ClientError, match="ValidationException"):  # no client-side validation: the stand-in's
        client.query(TableName="notes", KeyConditionExpression="pk = :pk", Limit="twenty",
                     ExpressionAttributeValues={":pk": {"S": "NOTE"}})


@pytest.fixture
def baseline(standin, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", standin)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("NOTES_TABLE", "notes")
    from bench import baseline_app
    return importlib.reload(baseline_app)


def test_the_baseline_answers_make_bench_s_requests_as_the_service_does(baseline, standin, monkeypatch):
    """The bare baseline, the minimal Flask app and the service answer the same requests alike."""
    monkeypatch.setenv("BASELINE_CLIENT", "tuned")  # as make bench runs the minimal Flask app
    from bench import minimal_flask_app
    bare, flask = Client(baseline.app), importlib.reload(minimal_flask_app).app.test_client()
    service = create_app(Settings(notes_table="notes", aws_region=REGION, dynamodb_endpoint_url=standin)).test_client()
    for client in (bare, flask, service):
        created = client.post("/api/notes", json={"text": "from make bench"})
        assert created.status_code == 201 and created.headers["Location"].endswith(created.json["id"])
        assert set(created.json) == {"id", "text", "createdAt"} and created.json["text"] == "from make bench"
        read = client.get(f"/api/notes/{created.json['id']}")
        assert read.status_code == 200 and read.json == created.json
        listed = client.get("/api/notes?limit=20")
        assert listed.status_code == 200 and listed.json["items"][0] == created.json
        assert len(listed.json["items"]) <= 20 and set(listed.json) == {"items", "nextCursor"}
        assert client.get("/api/notes/" + "0" * 28).status_code == 404
        assert client.get("/api/health-check").status_code == 200


def test_the_baseline_uses_boto3_as_it_comes(baseline, monkeypatch):
    """The verdicts' baseline is boto3 as it comes (client-side validation on), built in bench/ itself;
    BASELINE_CLIENT=tuned (the ceiling, the minimal Flask app) is the service's own api.dynamodb.new_client."""
    baseline._client = None
    monkeypatch.delenv("BASELINE_CLIENT", raising=False)
    with pytest.raises(ParamValidationError):
        baseline.client().query(TableName="notes", Limit="twenty")
    baseline._client = None


def test_make_bench_runs_the_ceiling_and_the_flask_floor_with_the_services_client():
    from bench import run
    assert run.SERVERS["baseline"] == ("bench.baseline_app:app", {})
    assert run.SERVERS["ceiling"] == ("bench.baseline_app:app", {"BASELINE_CLIENT": "tuned"})
    assert run.SERVERS["flask"][1] == {"BASELINE_CLIENT": "tuned"}
    assert set(run.SERVERS) == {name for _, names in run.ENDPOINTS.values() for name in names}
