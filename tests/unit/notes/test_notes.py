import json

import pytest
from api.notes.schemas import MAX_NOTE_LENGTH
from api.notes.store import decode_cursor, encode_cursor, new_note_id

from tests.unit.conftest import assert_error
from tests.unit.notes.conftest import TABLE, make_app


def create(client, text="hello"):
    response = client.post("/api/notes", json={"text": text})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response


def test_create_get_delete_round_trip(client):
    response = create(client, "  buy milk  ")
    note = response.get_json()
    assert note["text"] == "  buy milk  "  # stored as sent
    assert response.headers["Location"] == f"/api/notes/{note['id']}"
    assert note["createdAt"].endswith("Z")

    assert client.get(f"/api/notes/{note['id']}").get_json() == note
    assert client.delete(f"/api/notes/{note['id']}").status_code == 204
    assert_error(client.get(f"/api/notes/{note['id']}"), 404, "note_not_found")
    assert_error(client.delete(f"/api/notes/{note['id']}"), 404, "note_not_found")


def test_note_is_stored_in_the_table_the_template_defines(client, table):
    note = create(client, "stored").get_json()
    item = table.get_item(TableName=TABLE, Key={"pk": {"S": "NOTE"}, "sk": {"S": note["id"]}})["Item"]
    assert item["text"]["S"] == "stored"


def test_list_is_newest_first_and_paginates_with_an_opaque_cursor(client):
    ids = [create(client, f"note {i}").get_json()["id"] for i in range(5)]
    seen, cursor, pages = [], None, 0
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"/api/notes{query}").get_json()
        assert len(page["items"]) <= 2
        seen += [n["id"] for n in page["items"]]
        pages += 1
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert seen == sorted(ids, reverse=True)
    assert pages == 3


def test_list_default_limit_and_empty_table(client):
    assert client.get("/api/notes").get_json() == {"items": [], "nextCursor": None}


@pytest.mark.parametrize("query,field", [
    ("limit=0", "limit"), ("limit=101", "limit"), ("limit=abc", "limit"), ("cursor=", "cursor"),
])
def test_list_rejects_bad_query_naming_the_field(client, query, field):
    error = assert_error(client.get(f"/api/notes?{query}"), 400, "validation_error")
    assert error["field"] == field


@pytest.mark.parametrize("cursor", ["not-base64!", "e30", encode_cursor({"sk": {"S": "x"}})[:-2] + "zz",
                                    "eyJzayI6ICIuLi8uLi8ifQ"])
def test_list_rejects_a_forged_cursor(client, cursor):
    error = assert_error(client.get(f"/api/notes?cursor={cursor}"), 400, "invalid_cursor")
    assert error["field"] == "cursor"


def test_cursor_round_trip():
    note_id = new_note_id()
    key = {"pk": {"S": "NOTE"}, "sk": {"S": note_id}}
    assert decode_cursor(encode_cursor(key)) == key


def test_ids_sort_by_time():
    assert new_note_id(1000) < new_note_id(1001) < new_note_id(2 ** 40)


@pytest.mark.parametrize("body,field", [
    ({}, "text"),
    ({"text": ""}, "text"),
    ({"text": "   "}, "text"),
    ({"text": 42}, "text"),
    ({"text": "x" * (MAX_NOTE_LENGTH + 1)}, "text"),
    ({"text": "ok", "extra": 1}, "extra"),
    ([], "body"),
])
def test_create_validation_names_the_field(client, body, field):
    error = assert_error(client.post("/api/notes", json=body), 400, "validation_error")
    assert error["field"] == field
    assert error["details"][0]["field"] == field
    assert client.get("/api/notes").get_json()["items"] == []  # nothing stored


def test_create_accepts_the_maximum_length(client):
    assert create(client, "x" * MAX_NOTE_LENGTH).get_json()["text"] == "x" * MAX_NOTE_LENGTH


@pytest.mark.parametrize("raw", [b"{", b'{"text": "a",}', b"\xff\xfe", b"", b"[" * 5000 + b"]" * 5000])
def test_create_malformed_json_is_400(client, raw):
    response = client.post("/api/notes", data=raw, content_type="application/json")
    assert_error(response, 400, "malformed_json")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_create_requires_json_content_type(client, content_type):
    kwargs = {"content_type": content_type} if content_type else {}
    response = client.post("/api/notes", data=json.dumps({"text": "x"}), **kwargs)
    assert_error(response, 415, "unsupported_media_type")


def test_create_body_over_the_limit_is_413_and_stores_nothing(table):
    client = make_app(max_body_bytes=1024).test_client()
    response = client.post("/api/notes", data=json.dumps({"text": "x" * 2000}), content_type="application/json")
    assert assert_error(response, 413, "payload_too_large")["message"] == "The body is over 1024 bytes."
    assert client.get("/api/notes").get_json()["items"] == []


@pytest.mark.parametrize("size,status", [(1000, 201), (1024, 413), (5000, 413)])
def test_a_body_without_a_length_is_held_to_the_limit_too(table, size, status):
    """A chunked body (no Content-Length; the server terminates the stream, as gunicorn does): one that
    reaches MAX_BODY_BYTES is refused, never read cut short."""
    import io
    client = make_app(max_body_bytes=1024).test_client()
    body = json.dumps({"text": "x" * (size - 12)}).encode()
    assert len(body) == size
    response = client.post("/api/notes", input_stream=io.BytesIO(body), content_type="application/json",
                           headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == status, response.get_data(as_text=True)
    if status == 413:
        assert_error(response, 413, "payload_too_large")


@pytest.mark.parametrize("length,status,code", [
    ("abc", 400, "bad_request"),          # gunicorn refuses this itself; the app does not trust it to
    ("\u00b2", 400, "bad_request"),        # a digit to str.isdigit(), not to int()
    ("999", 400, "bad_request"),          # the body ends before its length (a client that hung up)
    ("99999999", 413, "payload_too_large"),
])
def test_a_body_that_does_not_match_its_length_is_refused_and_stores_nothing(client, length, status, code):
    body = json.dumps({"text": "x"}).encode()
    response = client.post("/api/notes", data=body, content_type="application/json",
                           environ_overrides={"CONTENT_LENGTH": length})
    assert_error(response, status, code)
    assert client.get("/api/notes").get_json()["items"] == []


def test_the_location_of_a_created_note_is_where_it_is_read(client):
    created = client.post("/api/notes", json={"text": "here"})
    assert created.status_code == 201 and created.headers["Location"] == f"/api/notes/{created.get_json()['id']}"
    assert client.get(created.headers["Location"]).get_json() == created.get_json()


@pytest.mark.parametrize("path,code", [
    ("/api/notes/nope", "note_not_found"),
    ("/api/notes/" + "a" * 28, "note_not_found"),
    ("/api/notes/..%2F..%2Fetc%2Fpasswd", "not_found"),  # no route matches a path with slashes
])
def test_unknown_or_malformed_ids_are_404(client, path, code):
    assert_error(client.get(path), 404, code)


def test_notes_expire_after_note_ttl_days(table, monkeypatch):
    """NOTE_TTL_DAYS writes expiresAt (epoch seconds), the attribute service.yml's TTL deletes on;
    an expired note DynamoDB has not removed yet is already gone for the API."""
    import time

    from api.notes import store
    monkeypatch.setenv("NOTE_TTL_DAYS", "7")
    assert store.NotesSettings().note_ttl_days == 7
    client = make_app(note_ttl_days=7).test_client()
    before = int(time.time())
    note = create(client, "short-lived").get_json()
    item = table.get_item(TableName=TABLE, Key={"pk": {"S": "NOTE"}, "sk": {"S": note["id"]}})["Item"]
    expires = int(item[store.TTL_ATTRIBUTE]["N"])
    assert before + 7 * 86400 <= expires <= int(time.time()) + 7 * 86400
    assert "expiresAt" not in client.get(f"/api/notes/{note['id']}").get_json()

    monkeypatch.setattr(store.time, "time", lambda: expires + 1)
    assert_error(client.get(f"/api/notes/{note['id']}"), 404, "note_not_found")
    assert note["id"] not in [n["id"] for n in client.get("/api/notes").get_json()["items"]]


def test_notes_never_expire_with_note_ttl_days_zero(client, table):
    note = create(client, "kept").get_json()
    item = table.get_item(TableName=TABLE, Key={"pk": {"S": "NOTE"}, "sk": {"S": note["id"]}})["Item"]
    assert "expiresAt" not in item


# --- bounded responses ---------------------------------------------------------------------------
EMOJI_NOTE = "\U0001F600" * MAX_NOTE_LENGTH  # 1,000 characters, 4,000 bytes of UTF-8


def test_text_is_utf_8_not_escaped(client):
    created = client.post("/api/notes", json={"text": EMOJI_NOTE})
    assert created.headers["Content-Type"] == "application/json; charset=utf-8"
    assert b"\\u" not in created.data and EMOJI_NOTE.encode() in created.data
    assert len(created.data) < 4200  # was 12,087 bytes with \uXXXX escapes
    note = created.get_json()
    assert client.get(f"/api/notes/{note['id']}").get_json()["text"] == EMOJI_NOTE


def test_a_page_stops_at_the_byte_budget_and_the_cursor_loses_nothing(client):
    from api.notes.views import PAGE_BUDGET_BYTES
    ids = [create(client, f"{i:03d}" + EMOJI_NOTE[3:]).get_json()["id"] for i in range(130)]
    seen, cursor, sizes = [], None, []
    while True:
        r = client.get("/api/notes?limit=100" + (f"&cursor={cursor}" if cursor else ""))
        page = r.get_json()
        sizes.append((len(page["items"]), len(r.data)))
        seen += [n["id"] for n in page["items"]]
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert seen == sorted(ids, reverse=True), "a note was lost or repeated across pages"
    assert all(size <= PAGE_BUDGET_BYTES + 1024 for _, size in sizes), sizes
    assert sizes[0][0] < 100 and len(sizes) >= 3, sizes  # the budget, not the limit, ended the first page


@pytest.mark.parametrize("text", ["a\u0001b", "bell\u0007", "a\rb", "esc\u001b[31m", "del\u007f", "nel\u0085",
                                  "csi\u009b", "nul\u0000", "\u000b", "form\u000cfeed"])
def test_text_refuses_control_characters(client, text):
    error = assert_error(client.post("/api/notes", json={"text": text}), 400, "validation_error")
    assert error["field"] == "text" and "control" in error["message"]
    assert client.get("/api/notes").get_json()["items"] == []


@pytest.mark.parametrize("text", ["line one\nline two", "col\tcol", "\u00e9\u00e8 \u4e2d\u6587 \U0001F600",
                                  "a\u2028b", "\n\tx\n"])
def test_text_keeps_newline_tab_and_any_printable_character(client, text):
    assert create(client, text).get_json()["text"] == text


@pytest.mark.parametrize("text", ["\u200b", "\ufeff", "\u202e", "\u2066\u2069", "\u00a0\u3000\u2003", "\u2060 \u200d"])
def test_text_of_only_invisible_characters_is_refused(client, text):
    """A note of only a zero-width space, a BOM or a bidi override would show as nothing."""
    error = assert_error(client.post("/api/notes", json={"text": text}), 400, "validation_error")
    assert error["field"] == "text"


@pytest.mark.parametrize("text", ["a\u200bb", "\u05e9\u05dc\u05d5\u05dd \u200f!", "\U0001F469\u200d\U0001F4BB"])
def test_invisible_characters_inside_visible_text_are_kept(client, text):
    assert create(client, text).get_json()["text"] == text


def test_the_validator_and_the_openapi_pattern_agree(app):
    import re

    from api.notes.schemas import NoteIn
    from api.openapi import document
    from pydantic import ValidationError
    pattern = document(app)["components"]["schemas"]["NoteIn"]["properties"]["text"]["pattern"]
    for code in [*range(0x00, 0xA2), 0x1680, 0x180E, *range(0x2000, 0x2071), 0x3000, 0xFEFF, *range(0xFFF8, 0xFFFD)]:
        for text in (chr(code), f"a{chr(code)}b"):
            try:
                NoteIn(text=text)
                valid = True
            except ValidationError:
                valid = False
            assert valid == bool(re.search(pattern, text)), (hex(code), text)


def test_a_validation_error_stays_small_whatever_the_body(client):
    # 14.5 KB of unknown keys used to come back as a 42 KB error listing every one of them.
    body = json.dumps({f"key{i:05d}-" + "k" * 90: 1 for i in range(140)})
    assert len(body) > 14_000
    r = client.post("/api/notes", data=body, content_type="application/json")
    error = assert_error(r, 400, "validation_error")
    assert len(r.data) < 4096
    assert len(error["details"]) == 5
    assert all(len(d["field"]) <= 64 for d in error["details"])
    assert error["details"][0]["field"] == "text"


def test_a_validation_error_with_hostile_field_names_stays_small(client):
    # Control characters in a name cost 6 bytes each once escaped: still under 4 KB.
    body = json.dumps({"\u0001" * 200 + str(i): 1 for i in range(10)})
    r = client.post("/api/notes", data=body, content_type="application/json")
    assert_error(r, 400, "validation_error")
    assert len(r.data) < 4096


def test_every_json_response_is_spaced_alike_the_list_included(client):
    """One JSON style for every response: compact, UTF-8, one trailing newline (the list used to be spaced)."""
    note_id = create(client, "spaced: like, this").get_json()["id"]
    responses = [client.get("/api/notes"), client.get("/api/notes?limit=1"), client.get(f"/api/notes/{note_id}"),
                 client.post("/api/notes", json={"text": "é, x: y"}), client.get("/api/health-check"),
                 client.get("/api/ready"), client.get("/api/openapi.json"), client.get("/api/nope"),
                 client.post("/api/notes", json={"text": ""})]
    for r in responses:
        compact = json.dumps(r.get_json(), separators=(",", ":"), ensure_ascii=False) + "\n"
        assert r.get_data(as_text=True) == compact, r.request.path
