"""Every main page loads without console errors; screenshots at desktop and phone
widths are saved under tests/browser/screenshots/ (gitignored) for review."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import Page

from tests.browser.conftest import ConsoleLog
from tests.browser.data import build_archive

pytestmark = pytest.mark.django_db(transaction=True)


def main_pages(corpus_dir: str) -> dict[str, str]:
    archive = build_archive(corpus_dir)
    speech = archive.speech
    return {
        "home": reverse("speeches:home"),
        "speech-list": reverse("speeches:speech_list"),
        "speech-list-filtered": reverse("speeches:speech_list") + "?lang=zh&sort=oldest",
        "reading": speech.get_absolute_url(),
        "reading-single": speech.get_absolute_url() + "?view=single&left=en",
        "passage": archive.passage.get_absolute_url(),
        "speaker": speech.speaker.get_absolute_url(),
        "speakers": reverse("speeches:speaker_list"),
        "collection": archive.collection.get_absolute_url(),
        "themes": reverse("speeches:theme_list"),
        "theme": reverse("speeches:theme", kwargs={"slug": archive.theme.slug}),
        "glossary": reverse("speeches:glossary"),
        "term": reverse("speeches:term", kwargs={"slug": archive.term.slug}),
    }


def test_main_pages_without_console_errors_with_screenshots(
    page: Page, phone_page: Page, corpus_dir: str, console: ConsoleLog, screenshots: Path
):
    pages = main_pages(corpus_dir)
    for name, url in pages.items():
        for label, tab in (("desktop", page), ("phone", phone_page)):
            response = tab.goto(url)
            assert response is not None and response.status == 200, (name, label)
            assert tab.locator("main h1").count() == 1, (name, label)
            path = screenshots / f"{name}-{label}.png"
            tab.screenshot(path=str(path), full_page=name not in ("reading", "reading-single"))
            assert path.stat().st_size > 5000
    assert console == []


def test_pages_work_without_javascript(browser, live_server, corpus_dir: str):
    pages = main_pages(corpus_dir)
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    try:
        tab = context.new_page()
        tab.goto(pages["reading"])
        # The pickers fall back to a submit button; copy buttons stay hidden.
        assert tab.locator("form.reading-controls button.apply").is_visible()
        assert tab.locator("button.copy-link").first.is_hidden()
        tab.locator("select[name=left]").select_option("en")
        tab.locator("form.reading-controls button.apply").click()
        assert "left=en" in tab.url
        first_cell = tab.locator(".text .row:not(.row-head) .cell").first
        assert first_cell.get_attribute("lang") == "en"
    finally:
        context.close()
