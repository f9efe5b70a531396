"""The starter's example endpoint: one view, its response model, its test (tests/test_hello.py).

Replace it with your own blueprints (docs/api.md, "Adding an endpoint"): `@documented` validates what a
view reads and puts the operation and its models in the OpenAPI document by itself.
"""
from flask import Blueprint, jsonify
from pydantic import BaseModel

from .apidoc import documented
from .config import API_PREFIX

bp = Blueprint("hello", __name__, url_prefix=f"{API_PREFIX}/hello")


class Hello(BaseModel):
    message: str


@bp.get("")
@documented("Say hello.", {200: Hello})
def hello():
    return jsonify(message="Hello!")
