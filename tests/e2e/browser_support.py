"""What the admin's browser tests share: Debian's Chromium, the app served on loopback,
a signed-in page, and the ``artifacts/`` folder for screenshots a person looks at.

Headless Chromium (``/usr/bin/chromium``, never a downloaded build) through
Playwright; the hub's web app served by waitress on a free loopback port.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from waitress import create_server

from hub.accounts.users import set_admin
from hub.runtime.hub import Hub
from hub.web import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
EMAIL = "merchant@example.com"
PASSWORD = "browser test password"

#: Mark a module whose tests drive the browser: skipped, saying why, without Chromium.
needs_chromium = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"the browser test needs Debian's Chromium at {CHROMIUM}"
)


def artifact(name: str) -> str:
    """Where a screenshot named ``name`` goes (``artifacts/`` is git-ignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return str(ARTIFACTS / name)


def make_admin(hub: Hub) -> None:
    """The merchant who signs in: :data:`EMAIL` with :data:`PASSWORD`."""
    with hub.db.transaction() as session:
        set_admin(session, EMAIL, PASSWORD)


@contextmanager
def serving(hub: Hub) -> Iterator[str]:
    """The hub's web app served by waitress on loopback; yields its base URL."""
    server = create_server(create_app({"HUB": hub}), host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        thread.join(timeout=10)


@contextmanager
def chromium_browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def signed_in(
    browser: Browser, base: str, width: int = 1280, *, height: int = 844, wait: bool = True
) -> Page:
    """A new page of ``width`` px, signed in as the merchant (:func:`make_admin`)."""
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(base + "/login")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Sign in')")
    if wait:
        page.wait_for_selector("h1")
    return page
