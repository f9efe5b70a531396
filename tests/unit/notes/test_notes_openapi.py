"""The sample's operations in the OpenAPI document (tests/unit/test_openapi.py: the document itself)."""
import pytest
from api.config import API_PREFIX

from tests.unit.test_openapi import check


@pytest.fixture
def doc(client):
    return client.get("/api/openapi.json").get_json()


def test_the_notes_paths_are_documented(doc):
    assert {f"{API_PREFIX}/notes", f"{API_PREFIX}/notes/{{note_id}}"} <= set(doc["paths"])
    assert doc["paths"][f"{API_PREFIX}/notes/{{note_id}}"]["parameters"] == [
        {"name": "note_id", "in": "path", "required": True, "schema": {"type": "string"}}]


def test_real_responses_match_the_documented_schemas(client, doc):
    check(doc, "GET", "/api/ready", client.get("/api/ready"))
    created = client.post("/api/notes", json={"text": "hi"})
    check(doc, "POST", "/api/notes", created)
    check(doc, "POST", "/api/notes", client.post("/api/notes", json={"text": ""}))
    check(doc, "POST", "/api/notes", client.post("/api/notes", data="x", content_type="text/plain"))
    check(doc, "GET", "/api/notes", client.get("/api/notes?limit=1"))
    check(doc, "GET", "/api/notes", client.get("/api/notes?limit=0"))
    note_id = created.get_json()["id"]
    check(doc, "GET", "/api/notes/{note_id}", client.get(f"/api/notes/{note_id}"))
    check(doc, "DELETE", "/api/notes/{note_id}", client.delete(f"/api/notes/{note_id}"))
    check(doc, "GET", "/api/notes/{note_id}", client.get(f"/api/notes/{note_id}"))


def test_with_an_origin_secret_the_notes_operations_declare_the_403(table):
    from tests.unit.notes.conftest import make_app
    client = make_app(origin_verify_secret="s" * 32).test_client()
    headers = {"X-Origin-Verify": "s" * 32}
    guarded = client.get("/api/openapi.json", headers=headers).get_json()
    check(guarded, "GET", "/api/notes", client.get("/api/notes"))
    check(guarded, "POST", "/api/notes", client.post("/api/notes", json={"text": "x"}))
    check(guarded, "GET", "/api/notes", client.get("/api/notes", headers=headers))


def test_the_note_text_pattern_means_the_same_in_ecmascript(doc):
    """OpenAPI patterns are ECMAScript regular expressions: clients and fuzzers in other languages read the
    document's pattern that way. node decides a sample of every kind of character as pydantic does."""
    import json
    import shutil
    import subprocess

    from api.notes.schemas import NoteIn
    from pydantic import ValidationError
    node = shutil.which("node")
    if not node:
        pytest.fail("node is needed to check the pattern as ECMAScript (Debian: apt-get install nodejs)")
    pattern = doc["components"]["schemas"]["NoteIn"]["properties"]["text"]["pattern"]
    samples = [c for code in [*range(0xA1), 0x2028, 0x200B, 0xFEFF, 0x1F600] for c in (chr(code), f"a{chr(code)}b")]
    samples += [" ", " \t\n ", "a\r\nb", "\U0001F600" * 3]
    script = "const [p, s] = JSON.parse(process.argv[1]); console.log(JSON.stringify(s.map(t => new RegExp(p).test(t))))"
    result = subprocess.run([node, "-e", script, json.dumps([pattern, samples])], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr

    def valid(text):
        try:
            NoteIn(text=text)
        except ValidationError:
            return False
        return True
    assert json.loads(result.stdout) == [valid(t) for t in samples]
