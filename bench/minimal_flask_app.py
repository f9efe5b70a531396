"""A third point of reference for `make bench`: the smallest Flask app with a
request-id hook, returning the same health-check JSON. The service against it
shows what our own code adds; it against the bare app, what Flask itself costs."""
import time
import uuid

from flask import Flask, jsonify, request

STARTED = time.monotonic()
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
    return jsonify(status="ok", version="bench", uptimeSeconds=round(time.monotonic() - STARTED, 3))
