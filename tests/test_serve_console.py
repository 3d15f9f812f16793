"""The approval console at `/`, in a real browser: Debian's Chromium driven by Playwright,
against the real server and the scripted model."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from fake_model_server import openai_reply
from serve_support import read_events
from test_serve_sessions import started_service

CHROMIUM = "/usr/bin/chromium"
BEFORE = "".join(f"line {n}\n" for n in range(1, 31))
# The added line starts "++ ", so its diff line starts "+++ " like a file header: shown all
# the same, since it is what approving writes.
FIRST = "++ line two\n"
# The second change is markup that would run if the page ever parsed a diff as HTML.
HOSTILE = "line twenty-eight <img src=x onerror=\"document.title='pwned'\">\n"
AFTER = BEFORE.replace("line 2\n", FIRST).replace("line 28\n", HOSTILE)
CALL_ID = "call_1?answer=elsewhere#x"
"""A call id is the model's to choose: unencoded in a path, its ? and # would send the
answer to another route."""

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="Chromium is not installed here (.ci/run installs it)"
)


def test_approving_one_hunk_of_two_in_the_browser_writes_exactly_that_hunk(
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    with started_service(tmp_path, files={"notes.txt": BEFORE}) as service:
        page_headers = httpx.get(service.url + "/").headers
        assert "script-src 'self'" in page_headers["content-security-policy"]
        sid = service.new_session("alice", mode="ask")["id"]
        service.model.enqueue(
            openai_reply(
                tool_calls=[("write_file", {"path": "notes.txt", "content": AFTER}, CALL_ID)]
            ),
            openai_reply(text="Changed.", usage=dict(prompt=10, completion=2)),
        )
        service.post("alice", f"/v1/sessions/{sid}/messages", json={"text": "edit notes"})

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
            try:
                page = browser.new_page()
                page.goto(service.url + "/")
                page.fill("#token", service.tokens["alice"])
                page.click("#sign-in button")
                expect(page.locator("#who")).to_have_text("alice")
                page.click(f"tr[data-session='{sid}']")
                card = page.locator(".approval")
                expect(card.locator("input[type=checkbox]")).to_have_count(2)
                # The changed words are marked within their lines.
                expect(card.locator("mark", has_text="twenty-eight <img")).to_have_count(1)
                expect(card.locator("img")).to_have_count(0)  # shown as text, never parsed
                assert page.title() == "nanotui serve"
                expect(card.locator(".hunk").first).to_contain_text("+++ line two")
                card.locator("input[type=checkbox]").nth(1).uncheck()
                if shot := os.environ.get("NANOTUI_CONSOLE_SCREENSHOT"):  # for the README
                    page.set_viewport_size({"width": 1100, "height": 900})
                    page.screenshot(path=shot, full_page=True)
                card.get_by_role("button", name="Approve").click()
                expect(page.locator("#events li", has_text="approval_resolved")).to_have_count(1)
                expect(page.locator(".approval")).to_have_count(0)
                assert page.title() == "nanotui serve"

                # Bob, in a tab of his own, sees none of alice's sessions.
                other = browser.new_page()
                other.goto(service.url + "/")
                other.fill("#token", service.tokens["bob"])
                other.click("#sign-in button")
                expect(other.locator("#who")).to_have_text("bob")
                expect(other.locator("#sessions tbody tr")).to_have_count(0)
            finally:
                browser.close()

        result = read_events(service.url, service.tokens["alice"], sid)[-1]
        assert result["exit_code"] == 0, result
        (written,) = service.home.rglob(f"worktrees/{sid}/notes.txt")
        assert written.read_text() == BEFORE.replace("line 2\n", FIRST)
