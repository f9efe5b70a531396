"""The notes sample on the real server: its endpoints over real HTTP, what its model refuses, its pages,
its datastore errors. Goes with app/api/notes/ (docs/services.md, "Remove the sample"). The platform's own
behaviour (bodies, bounds, errors, the origin check, the drain, slow clients) is tested in tests/server/
through the tests' probe blueprint; the cases here are the sample's, or the platform's seen once through
the sample's views (nothing a refused request sends is stored)."""
from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.server.conftest import start_stack
from tests.server.support import assert_json_error
from tests.server.test_hostile import HOSTILE_BODIES
from tests.server.test_http import BAD_POSTS

pytestmark = pytest.mark.server
NOTES = "/api/notes"
EMOJI_NOTE = "\U0001F600" * 1000  # the longest note in bytes: 4,000 of UTF-8


def note_count(stack) -> int:
    return len(requests.get(f"{stack.api_url}{NOTES}", params={"limit": 100}, headers=stack.origin_headers,
                            timeout=5).json()["items"])


def post(stack, body: bytes, content_type: str = "application/json"):
    return requests.post(f"{stack.api_url}{NOTES}", data=body,
                         headers={"Content-Type": content_type, **stack.origin_headers}, timeout=10)


SAMPLE_BODIES = {
    **HOSTILE_BODIES,
    "only whitespace": json.dumps({"text": " \t\n "}).encode(),  # the note's model strips, then needs a character
    "over the body limit": b'{"text": "' + b"x" * (16 * 1024 + 1) + b'"}',
}


@pytest.mark.parametrize("name", sorted(SAMPLE_BODIES))
def test_hostile_bodies_store_no_note(stack, name):
    before = note_count(stack)
    assert_json_error(post(stack, SAMPLE_BODIES[name]), range(400, 500))
    assert note_count(stack) == before


@pytest.mark.parametrize("text", ["bell\u0007", "a\u0001b", "esc\u001b]0;title\u0007", "cr\rlf", "del\u007f",
                                  "csi\u009b2J", "nul\u0000"])
def test_control_characters_in_a_note_are_refused(stack, text):
    before = note_count(stack)
    error = assert_json_error(post(stack, json.dumps({"text": text}).encode()), 400, "validation_error")
    assert error["field"] == "text"
    assert note_count(stack) == before


def test_ready_checks_the_table(http, base):
    ready = http.get(f"{base}/api/ready", timeout=5).json()
    assert ready["status"] == "ready" and ready["checks"]["datastore"] == "ok"


def test_note_round_trip(http, base):
    text = f"server test {uuid.uuid4()}"
    created = http.post(f"{base}{NOTES}", json={"text": text}, timeout=5)
    assert created.status_code == 201
    note = created.json()
    listed = http.get(f"{base}{NOTES}", params={"limit": 100}, timeout=5).json()["items"]
    assert note in listed
    assert http.get(f"{base}{NOTES}/{note['id']}", timeout=5).json() == note
    assert http.delete(f"{base}{NOTES}/{note['id']}", timeout=5).status_code == 204


@pytest.mark.parametrize("kwargs,status,code", BAD_POSTS)
def test_bad_posts(http, base, kwargs, status, code):
    assert_json_error(http.post(f"{base}{NOTES}", timeout=5, **kwargs), status, code)


def test_an_unknown_note_and_a_wrong_method(http, base):
    assert_json_error(http.get(f"{base}{NOTES}/{'0' * 28}", timeout=5), 404, "note_not_found")
    r = http.patch(f"{base}{NOTES}", timeout=5)
    assert_json_error(r, 405, "method_not_allowed")
    assert "POST" in r.headers["Allow"]


@pytest.mark.parametrize("path", [NOTES, f"{NOTES}/" + "0" * 28])
def test_options_is_204_without_a_body_or_html(stack, path):
    r = requests.options(f"{stack.url}{path}", timeout=5)
    assert r.status_code == 204 and r.content == b""
    assert "html" not in r.headers.get("Content-Type", "") and "GET" in r.headers["Allow"]


@pytest.mark.parametrize("method,path", [("GET", NOTES), ("POST", NOTES), ("OPTIONS", NOTES),
                                         ("DELETE", f"{NOTES}/" + "0" * 28)])
@pytest.mark.parametrize("secret", [None, "wrong"])
def test_the_origin_refuses_the_notes_without_the_secret(stack, method, path, secret):
    headers = {"X-Origin-Verify": secret} if secret else {}
    before = note_count(stack)
    r = requests.request(method, f"{stack.api_url}{path}", json={"text": "bypass"}, headers=headers, timeout=5)
    assert_json_error(r, 403, "origin_forbidden")
    assert note_count(stack) == before


def test_notes_come_back_as_utf_8_and_pages_stop_at_the_byte_budget(stack):
    ids = []
    try:
        for i in range(80):
            r = post(stack, json.dumps({"text": f"{i:02d}" + EMOJI_NOTE[2:]}).encode())
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        assert r.headers["Content-Type"] == "application/json; charset=utf-8"
        assert len(r.content) < 4200 and b"\\u" not in r.content
        pages, cursor = [], None
        while True:
            params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            r = requests.get(f"{stack.url}{NOTES}", params=params, timeout=10)  # as a browser would
            assert r.status_code == 200 and len(r.content) <= 257 * 1024, len(r.content)
            pages.append([n["id"] for n in r.json()["items"]])
            cursor = r.json()["nextCursor"]
            if not cursor:
                break
        seen = [i for page in pages for i in page]
        assert len(seen) == len(set(seen)), "a note came back twice"
        assert [i for i in seen if i in ids] == sorted(ids, reverse=True), "a note was lost"
        assert len(pages[0]) < 80, "the first page was not cut by the byte budget"
    finally:
        for note_id in ids:
            requests.delete(f"{stack.api_url}{NOTES}/{note_id}", headers=stack.origin_headers, timeout=5)


def test_lists_and_creates_at_moderate_concurrency_without_an_error(stack):
    """The sample's own calls under load (tests/server/test_robustness.py loads the platform with the probe)."""
    def work(seed: int) -> list[bool]:
        with requests.Session() as s:
            return [s.get(f"{stack.url}{NOTES}", params={"limit": 5}, timeout=10).status_code == 200 if i % 3
                    else s.post(f"{stack.url}{NOTES}", json={"text": f"load {seed}-{i}"}, timeout=10).status_code == 201
                    for i in range(40)]
    with ThreadPoolExecutor(8) as pool:
        results = [ok for batch in pool.map(work, range(8)) for ok in batch]
    assert len(results) == 320 and results.count(False) == 0, results.count(False)


def test_datastore_outage_is_503_and_recovers_by_itself(tmp_path):
    with start_stack(tmp_path) as stack:
        base = stack.url
        assert requests.post(f"{base}{NOTES}", json={"text": "before"}, timeout=5).status_code == 201
        stack.stop_db()
        for method, path in (("GET", NOTES), ("POST", NOTES), ("GET", f"{NOTES}/{'0' * 28}")):
            r = requests.request(method, base + path, json={"text": "during"}, timeout=15)
            assert_json_error(r, 503, "datastore_unavailable")
            assert int(r.headers["Retry-After"]) > 0
        stack.start_db()  # same port: the API is not restarted
        deadline = time.monotonic() + 30
        while requests.get(f"{base}/api/ready", timeout=15).status_code != 200:
            assert time.monotonic() < deadline, "no recovery"
            time.sleep(0.1)
        assert requests.post(f"{base}{NOTES}", json={"text": "after"}, timeout=5).status_code == 201
