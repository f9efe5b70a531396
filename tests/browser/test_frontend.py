"""The sample frontend in a real headless Chromium (Debian's, driven by
Playwright; no browser download), against the local stack on one origin."""
from __future__ import annotations

import os
import shutil
import uuid

import pytest
import requests
from playwright.sync_api import expect, sync_playwright

from local.stack import ROOT, LocalStack, free_port

pytestmark = pytest.mark.browser
SCREENSHOTS = ROOT / "reports" / "screenshots"
# Chromium on a machine with no network beyond the package registries: no
# background connections, no sandbox (root in a container), no GPU.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.fail("Chromium is missing: run `make test` (it installs Debian's chromium) "
                    "or set CHROMIUM=/path/to/chromium")
    return path


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with LocalStack(port=free_port(), log=tmp_path_factory.mktemp("logs") / "stack.log") as stack:
        yield stack.url


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def test_shows_api_health_and_version(page, site):
    page.goto(site + "/")
    expect(page.locator("#health")).to_have_text("API ok · version " + page.evaluate(
        "fetch('/api/health-check').then(r => r.json()).then(h => h.version)"))
    expect(page.locator("#health")).to_have_class("health ok")


def add_note(page, site, text: str) -> str:
    page.goto(site + "/")
    page.fill("#note-text", text)
    page.click("text=Add note")
    item = page.locator("#notes li", has_text=text)
    expect(item).to_have_count(1)
    return item.get_attribute("data-id")


def test_add_list_open_deep_link_and_delete(page, site):
    text = f"browser note {uuid.uuid4().hex[:8]}"
    note_id = add_note(page, site, text)

    # Still listed after a reload: it came from the API, not from the page's memory.
    page.reload()
    expect(page.locator("#notes li", has_text=text)).to_have_count(1)

    # A deep link opened directly (as from a bookmark) renders the note.
    page.goto(f"{site}/notes/{note_id}")
    expect(page.locator("#note-detail p")).to_have_text(text)
    expect(page.locator("#list-view")).to_be_hidden()

    # Client-side navigation back, then delete (the page asks first).
    page.click("text=← All notes")
    expect(page).to_have_url(site + "/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#notes li", has_text=text).get_by_role("button", name="Delete").click()
    expect(page.locator("#notes li", has_text=text)).to_have_count(0)
    page.reload()
    expect(page.locator("#notes li", has_text=text)).to_have_count(0)


def test_delete_asks_first_and_keeps_the_note_when_cancelled(page, site):
    text = f"keep me {uuid.uuid4().hex[:8]}"
    add_note(page, site, text)
    questions: list[str] = []

    def dismiss(dialog):
        questions.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.locator("#notes li", has_text=text).get_by_role("button", name="Delete").click()
    expect(page.locator("#notes li", has_text=text)).to_have_count(1)
    assert len(questions) == 1 and "Delete this note?" in questions[0] and text in questions[0]
    page.reload()
    expect(page.locator("#notes li", has_text=text)).to_have_count(1)


def test_a_note_can_be_deleted_from_its_own_page(page, site):
    text = f"delete from its page {uuid.uuid4().hex[:8]}"
    note_id = add_note(page, site, text)
    page.goto(f"{site}/notes/{note_id}")
    expect(page.locator("#note-detail p")).to_have_text(text)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#note-view").get_by_role("button", name="Delete").click()
    expect(page).to_have_url(site + "/")  # back to the list, without the note
    expect(page.locator("#list-view")).to_be_visible()
    expect(page.locator("#notes li", has_text=text)).to_have_count(0)
    page.goto(f"{site}/notes/{note_id}")
    expect(page.locator("#error")).to_contain_text("There is no note at this address.")


def test_a_pasted_note_over_the_limit_is_refused_visibly_not_cut(page, site):
    limit = api_note_limit(site)
    long_text = "é" * (limit + 234)
    page.goto(site + "/")
    page.fill("#note-text", long_text)  # as a paste: the whole text arrives at once
    assert len(page.input_value("#note-text")) == limit + 234  # nothing was cut
    expect(page.locator("#note-count")).to_contain_text(f"{limit + 234:,} characters: a note holds at most {limit:,}")
    page.click("text=Add note")
    expect(page.locator("#error-text")).to_have_text(
        f"This note is {limit + 234:,} characters long; a note holds at most {limit:,}. Shorten it and add it again.")
    assert page.input_value("#note-text") == long_text  # kept for the user to shorten
    expect(page.locator("#notes li", has_text="éééé")).to_have_count(0)

    # Exactly the limit (in characters, as the API counts them) is accepted.
    page.fill("#note-text", long_text[:limit])
    expect(page.locator("#note-count")).to_have_text(f"{limit:,} / {limit:,} characters")
    page.click("text=Add note")
    expect(page.locator("#notes li", has_text=long_text[:limit])).to_have_count(1)


def api_note_limit(site: str) -> int:
    """The largest note the API takes, from its own OpenAPI document (the page's limit must agree)."""
    doc = requests.get(site + "/api/openapi.json", timeout=5).json()
    limits = {prop["maxLength"] for schema in doc["components"]["schemas"].values()
              for name, prop in schema.get("properties", {}).items() if name == "text" and "maxLength" in prop}
    assert len(limits) == 1, limits
    return limits.pop()


def test_the_page_limit_is_the_api_limit(page, site):
    page.goto(site + "/")
    page.fill("#note-text", "x")
    expect(page.locator("#note-count")).to_have_text(f"1 / {api_note_limit(site):,} characters")


def test_api_errors_are_shown_as_plain_sentences(page, site):
    logged: list[str] = []
    page.on("console", lambda message: logged.append(message.text) if message.type == "error" else None)
    page.goto(site + "/")
    page.fill("#note-text", "   ")  # passes `required`, fails the API's validation
    page.click("text=Add note")
    error = page.locator("#error")
    expect(error).to_be_visible()
    expect(page.locator("#error-text")).to_have_text(
        "That note cannot be saved: it needs a visible character and no control characters.")
    # No code and no request id in the sentence a person reads: they are in the details and the console.
    sentence = page.locator("#error-text").inner_text()
    assert "validation_error" not in sentence and "request" not in sentence and "[" not in sentence
    expect(page.locator("#error-ref")).to_be_hidden()  # the details element is closed
    page.locator("#error summary").click()
    expect(page.locator("#error-ref")).to_contain_text("code validation_error")
    expect(page.locator("#error-ref")).to_contain_text("request ")
    assert any("validation_error" in line for line in logged), logged

    page.goto(f"{site}/notes/{'0' * 28}")
    expect(page.locator("#error-text")).to_have_text("There is no note at this address. It may have been deleted.")
    assert "note_not_found" not in page.locator("#error-text").inner_text()


@pytest.mark.parametrize("path", ["/nope", "/notes", "/notes/a/b", "/some/deep/link"])
def test_an_unknown_path_shows_not_found_not_the_list(page, site, path):
    page.goto(site + path)
    expect(page.locator("#not-found-view")).to_be_visible()
    expect(page.locator("#not-found-view h2")).to_have_text("Page not found")
    expect(page.locator("#list-view")).to_be_hidden()
    expect(page.locator("#note-view")).to_be_hidden()
    page.click("#not-found-view >> text=← All notes")
    expect(page).to_have_url(site + "/")
    expect(page.locator("#list-view")).to_be_visible()
    expect(page.locator("#not-found-view")).to_be_hidden()


def test_the_page_names_an_icon_the_site_serves(page, site):
    """With a <link rel=icon>, a browser does not fall back to asking for /favicon.ico (HTML's
    "default icon" rule), which the site has not got. (Playwright does not report icon requests, so
    the test checks the declaration and the file rather than the browser's traffic.)"""
    page.goto(site + "/")
    icons = page.locator("link[rel=icon]")
    expect(icons).to_have_count(1)
    r = page.request.get(site + icons.get_attribute("href"))
    assert r.status == 200 and r.headers["content-type"].startswith("image/svg+xml"), (r.status, r.headers)
    assert r.body().lstrip().startswith(b"<svg")
