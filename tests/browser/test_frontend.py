"""The sample frontend in a real headless Chromium (Debian's, driven by
Playwright; no browser download), against the local stack on one origin."""
from __future__ import annotations

import os
import shutil
import uuid

import pytest
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


def test_add_list_open_deep_link_and_delete(page, site):
    text = f"browser note {uuid.uuid4().hex[:8]}"
    page.goto(site + "/")
    page.fill("#note-text", text)
    page.click("text=Add note")
    item = page.locator("#notes li", has_text=text)
    expect(item).to_have_count(1)
    note_id = item.get_attribute("data-id")

    # Still listed after a reload: it came from the API, not from the page's memory.
    page.reload()
    expect(page.locator("#notes li", has_text=text)).to_have_count(1)

    # A deep link opened directly (as from a bookmark) renders the note.
    page.goto(f"{site}/notes/{note_id}")
    expect(page.locator("#note-detail p")).to_have_text(text)
    expect(page.locator("#list-view")).to_be_hidden()

    # Client-side navigation back, then delete.
    page.click("text=← All notes")
    expect(page).to_have_url(site + "/")
    page.locator("#notes li", has_text=text).get_by_role("button", name="Delete").click()
    expect(page.locator("#notes li", has_text=text)).to_have_count(0)
    page.reload()
    expect(page.locator("#notes li", has_text=text)).to_have_count(0)


def test_api_errors_are_shown_readably(page, site):
    page.goto(site + "/")
    page.fill("#note-text", "   ")  # passes `required`, fails the API's validation
    page.click("text=Add note")
    error = page.locator("#error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("[validation_error]")
    expect(error).to_contain_text("request ")

    page.goto(f"{site}/notes/{'0' * 28}")
    expect(page.locator("#error")).to_contain_text("No note with that id. [note_not_found]")
