"""Playwright (Python) driving Debian's Chromium against pytest-django's live server.

Every test in this folder is marked `browser`. Playwright's sync API runs an
event loop in the test thread, which makes Django refuse ORM calls there unless
DJANGO_ALLOW_ASYNC_UNSAFE is set — set here, for this folder's tests only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class ConsoleLog(list):
    """Console errors and uncaught exceptions seen by a page."""

    def attach(self, page: Page) -> None:
        page.on("console", lambda msg: self.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: self.append(f"uncaught: {exc}"))


@pytest.fixture
def console() -> ConsoleLog:
    return ConsoleLog()


@pytest.fixture
def context(browser: Browser, live_server) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=live_server.url, viewport=DESKTOP)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext, console: ConsoleLog) -> Iterator[Page]:
    page = context.new_page()
    console.attach(page)
    yield page
    page.close()


@pytest.fixture
def phone_page(browser: Browser, live_server, console: ConsoleLog) -> Iterator[Page]:
    context = browser.new_context(
        base_url=live_server.url,
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    page = context.new_page()
    console.attach(page)
    yield page
    context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS
