"""The bare boto3 baseline for the notes endpoints in `make bench`: the same DynamoDB
calls as the service (app/api/store.py), under the same gunicorn config, as a bare
WSGI function: no Flask, no pydantic, no request ids or access log. The service's
notes verdicts are judged against it.

    POST /api/notes            PutItem (condition: a new id)       201
    GET  /api/notes/<id>       GetItem (consistent)                200 / 404
    GET  /api/notes?limit=N    Query, newest first, N items        200
    GET  /api/health-check                                          200

Its client is boto3 as it comes (BASELINE_CLIENT unset), built here by stock_client() as
anyone would write it. BASELINE_CLIENT=tuned gives it the service's own client
(api.dynamodb.new_client): the ceiling for this work on this stack,
which `make bench` reports beside the verdict as "ceiling". The calls themselves
(create, read, page) are shared with bench/minimal_flask_app.py.
"""
from __future__ import annotations

import base64
import json
import os
import secrets
import threading
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs

from api.dynamodb import new_client

STARTED = time.monotonic()
TABLE = os.environ.get("NOTES_TABLE", "notes")
REGION = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
ENDPOINT = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL")
_client, _lock = None, threading.Lock()


def stock_client(region: str, endpoint_url: str | None):
    """boto3 as it comes, with timeouts and retries like the service's (they change no CPU per call)."""
    import boto3
    from botocore.config import Config
    config = Config(connect_timeout=1, read_timeout=3, retries={"mode": "standard", "max_attempts": 3})
    return boto3.session.Session().client("dynamodb", region_name=region, endpoint_url=endpoint_url, config=config)


def client():
    global _client
    if _client is None:
        with _lock:  # in the worker, after the fork, as the service does
            if _client is None:
                tuned = os.environ.get("BASELINE_CLIENT") == "tuned"
                _client = (new_client if tuned else stock_client)(REGION, ENDPOINT)
    return _client


def _note(item: dict) -> dict:
    return {"id": item["sk"]["S"], "text": item["text"]["S"], "createdAt": item["createdAt"]["S"]}


def create(text: str) -> dict:
    note_id = f"{int(time.time() * 1000):012x}{secrets.token_hex(8)}"
    created = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    item = {"pk": {"S": "NOTE"}, "sk": {"S": note_id}, "text": {"S": text}, "createdAt": {"S": created}}
    client().put_item(TableName=TABLE, Item=item, ConditionExpression="attribute_not_exists(sk)")
    return _note(item)


def read(note_id: str) -> dict | None:
    item = client().get_item(TableName=TABLE, Key={"pk": {"S": "NOTE"}, "sk": {"S": note_id}},
                             ConsistentRead=True).get("Item")
    return _note(item) if item else None


def page(limit: int) -> dict:
    result = client().query(TableName=TABLE, KeyConditionExpression="pk = :pk",
                            ExpressionAttributeValues={":pk": {"S": "NOTE"}}, ScanIndexForward=False, Limit=limit)
    last = result.get("LastEvaluatedKey")
    cursor = base64.urlsafe_b64encode(json.dumps({"sk": last["sk"]["S"]}, separators=(",", ":")).encode()
                                      ).decode().rstrip("=") if last else None
    return {"items": [_note(i) for i in result.get("Items", [])], "nextCursor": cursor}


def health() -> dict:
    return {"status": "ok", "version": "baseline", "uptimeSeconds": round(time.monotonic() - STARTED, 3)}


def _json(start_response, status: str, data, extra=()):
    body = json.dumps(data, separators=(",", ":")).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *extra])
    return [body]


def app(environ, start_response):
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
    if path == "/api/health-check":
        return _json(start_response, "200 OK", health())
    if path == "/api/notes" and method == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        note = create(json.loads(environ["wsgi.input"].read(length))["text"])
        return _json(start_response, "201 Created", note, [("Location", f"/api/notes/{note['id']}")])
    if path == "/api/notes" and method == "GET":
        limit = int(parse_qs(environ.get("QUERY_STRING", "")).get("limit", ["20"])[0])
        return _json(start_response, "200 OK", page(limit))
    if path.startswith("/api/notes/") and method == "GET":
        note = read(path[len("/api/notes/"):])
        if note:
            return _json(start_response, "200 OK", note)
        return _json(start_response, "404 Not Found", {"error": {"code": "note_not_found"}})
    return _json(start_response, "404 Not Found", {"error": {"code": "not_found"}})
