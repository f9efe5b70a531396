"""A point of reference for `make bench`: the smallest Flask app with a request-id hook.

- Health check: the same JSON as the service's. The service against it shows what our
  own code adds (the verdicts); it against the bare app, what Flask itself costs.
- Notes: the baseline's DynamoDB calls (bench/baseline_app.py), written as any Flask
  app would (get_json, jsonify), with the service's tuned client: Flask's floor on this
  work, a figure beside the notes verdicts.
"""
import uuid

from flask import Flask, jsonify, request

from bench import baseline_app

app = Flask(__name__)


@app.before_request
def request_id():
    request.environ["rid"] = request.environ.get("HTTP_X_AMZN_TRACE_ID") or uuid.uuid4().hex


@app.after_request
def echo_request_id(response):
    response.headers["X-Request-Id"] = request.environ["rid"]
    return response


@app.get("/api/health-check")
def health_check():
    return jsonify(baseline_app.health())


@app.post("/api/notes")
def create_note():
    note = baseline_app.create(request.get_json()["text"])
    return jsonify(note), 201, {"Location": f"/api/notes/{note['id']}"}


@app.get("/api/notes/<note_id>")
def get_note(note_id):
    note = baseline_app.read(note_id)
    return jsonify(note) if note else (jsonify(error={"code": "note_not_found"}), 404)


@app.get("/api/notes")
def list_notes():
    return jsonify(baseline_app.page(request.args.get("limit", 20, type=int)))
