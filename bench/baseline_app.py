"""The ceiling for the notes endpoints in `make bench`: the same DynamoDB calls as
the service (app/api/store.py), with the same boto3 client (api.dynamodb), under
the same gunicorn config, as a bare WSGI function: no Flask, no pydantic, no
request ids or access log. What the service reaches against this is what Flask
and our own code cost on real work.

    POST /api/notes            PutItem (condition: a new id)       201
    GET  /api/notes/<id>       GetItem (consistent)                200 / 404
    GET  /api/notes?limit=N    Query, newest first, N items        200
    GET  /api/health-check                                          200
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


def client():
    global _client
    if _client is None:
        with _lock:  # in the worker, after the fork, as the service does
            if _client is None:
                # The service's own client (api.dynamodb: fixed User-Agent, no client-side validation),
                # so the ceiling is this work on this stack, not a slower reference. BASELINE_CLIENT=stock
                # runs boto3 as it comes, to show what the tuning buys.
                _client = new_client(REGION, ENDPOINT, tuned=os.environ.get("BASELINE_CLIENT") != "stock")
    return _client


def _note(item: dict) -> dict:
    return {"id": item["sk"]["S"], "text": item["text"]["S"], "createdAt": item["createdAt"]["S"]}


def _json(start_response, status: str, data, extra=()):
    body = json.dumps(data, separators=(",", ":")).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *extra])
    return [body]


def app(environ, start_response):
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
    if path == "/api/health-check":
        return _json(start_response, "200 OK", {"status": "ok", "version": "baseline",
                                                "uptimeSeconds": round(time.monotonic() - STARTED, 3)})
    if path == "/api/notes" and method == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        text = json.loads(environ["wsgi.input"].read(length))["text"]
        note_id = f"{int(time.time() * 1000):012x}{secrets.token_hex(8)}"
        created = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        item = {"pk": {"S": "NOTE"}, "sk": {"S": note_id}, "text": {"S": text}, "createdAt": {"S": created}}
        client().put_item(TableName=TABLE, Item=item, ConditionExpression="attribute_not_exists(sk)")
        return _json(start_response, "201 Created", _note(item), [("Location", f"/api/notes/{note_id}")])
    if path == "/api/notes" and method == "GET":
        limit = int(parse_qs(environ.get("QUERY_STRING", "")).get("limit", ["20"])[0])
        result = client().query(TableName=TABLE, KeyConditionExpression="pk = :pk",
                                ExpressionAttributeValues={":pk": {"S": "NOTE"}}, ScanIndexForward=False, Limit=limit)
        last = result.get("LastEvaluatedKey")
        cursor = base64.urlsafe_b64encode(json.dumps({"sk": last["sk"]["S"]}, separators=(",", ":")).encode()
                                          ).decode().rstrip("=") if last else None
        return _json(start_response, "200 OK", {"items": [_note(i) for i in result.get("Items", [])],
                                                "nextCursor": cursor})
    if path.startswith("/api/notes/") and method == "GET":
        item = client().get_item(TableName=TABLE, Key={"pk": {"S": "NOTE"}, "sk": {"S": path[len("/api/notes/"):]}},
                                 ConsistentRead=True).get("Item")
        if item:
            return _json(start_response, "200 OK", _note(item))
        return _json(start_response, "404 Not Found", {"error": {"code": "note_not_found"}})
    return _json(start_response, "404 Not Found", {"error": {"code": "not_found"}})
