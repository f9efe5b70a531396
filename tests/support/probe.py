"""`probe`: a tiny blueprint of the tests' own, for the platform's tests of the unit and real-server tiers.

The platform (errors, body bounds, logs, the origin check, health, OpenAPI, the server and its drain) is
tested through it, never through the sample's endpoints: the sample can be removed (docs/services.md,
"Remove the sample") and those tests still have something to call. It has a body to validate, a 404 of its
own, a 204, a 500, a 503, a count of the bodies its views accepted (so a test can see that a refused request
reached no view), and one real DynamoDB call made with the platform's client (api/dynamodb.py), so the
server tier can hold requests in flight on the datastore (tests/support/slow_proxy.py) as a service's would.
"""
from __future__ import annotations

import os
import threading

from api.apidoc import UNAVAILABLE, documented
from api.config import API_PREFIX
from api.dynamodb import new_client
from api.errors import ApiError, DatastoreUnavailable
from flask import Blueprint, Flask, current_app, jsonify
from pydantic import BaseModel, ConfigDict, Field

PROBE = f"{API_PREFIX}/probe"
CALLS = "probe_calls"  # app.extensions: the texts POST /api/probe accepted
RETRY_AFTER = 5


class ProbeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # an unknown key is a 400, as a careful model makes it
    text: str = Field(min_length=1, max_length=10)


class Probe(BaseModel):
    text: str


class Calls(BaseModel):
    count: int


probe = Blueprint("probe", __name__, url_prefix=PROBE)


@probe.post("")
@documented("Echo a body.", {201: Probe})
def echo(body: ProbeIn):
    current_app.extensions[CALLS].append(body.text)
    return jsonify(text=body.text), 201


@probe.get("")
@documented("Answer 200.", {200: Probe})
def answer():
    return jsonify(text="ok")


@probe.get("/calls")
@documented("How many bodies POST accepted.", {200: Calls})
def calls():
    return jsonify(count=len(current_app.extensions[CALLS]))


@probe.get("/datastore")
@documented("One DynamoDB call with the platform's client.", {200: Probe, 503: UNAVAILABLE})
def datastore():
    ping()
    return jsonify(text="ok")


@probe.get("/<item_id>")
@documented("A 404 of the blueprint's own for any id but `known`.", {200: Probe, 404: "No such item."})
def item(item_id: str):
    if item_id != "known":
        raise ApiError(404, "probe_not_found", "No such item.", field="id")
    return jsonify(text=item_id)


@probe.delete("/<item_id>")
@documented("Answer 204.", {204: None})
def forget(item_id: str):
    return "", 204


@probe.get("/boom")
@documented("Fail as code with a bug does.", {200: Probe})
def boom():
    raise RuntimeError("secret internals")


@probe.get("/unavailable")
@documented("A dependency that does not answer.", {503: UNAVAILABLE})
def unavailable():
    raise DatastoreUnavailable(retry_after=7, reason="probe")


_client = None
_lock = threading.Lock()


def ping() -> None:
    """One ListTables call (it needs no table: a copy without the sample has none) through the platform's
    client, built once per process from the environment as a blueprint's store builds it; a failure is the
    platform's 503 with Retry-After."""
    global _client
    from botocore.exceptions import BotoCoreError, ClientError  # as api/dynamodb.py: not when the app loads
    if _client is None:
        with _lock:
            if _client is None:
                _client = new_client(os.environ.get("AWS_REGION", "us-east-1"),
                                     os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"))
    try:
        _client.list_tables(Limit=1)
    except (ClientError, BotoCoreError) as exc:
        raise DatastoreUnavailable(RETRY_AFTER, f"probe: {type(exc).__name__}") from exc


def register(app: Flask) -> Flask:
    """Add the probe to an app create_app built (whatever blueprints it registers)."""
    app.extensions[CALLS] = []
    app.register_blueprint(probe)
    return app
