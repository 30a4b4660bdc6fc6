"""The reading experience in a real browser (Chromium through Playwright)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import ConsoleLog
from tests.browser.data import build_archive

pytestmark = pytest.mark.django_db(transaction=True)

ROW_TOPS = """
() => Array.from(document.querySelectorAll('.text.parallel .row:not(.row-head)')).map(row => {
  const tops = Array.from(row.querySelectorAll(':scope > .cell'))
    .map(cell => cell.getBoundingClientRect().top);
  return {id: row.id, tops};
})
"""

IN_VIEWPORT = """
(id) => {
  const el = document.getElementById(id);
  if (!el) return null;
  const box = el.getBoundingClientRect();
  return {top: box.top, bottom: box.bottom, height: window.innerHeight};
}
"""


def assert_rows_aligned(tab: Page, n_passages: int) -> None:
    rows = tab.evaluate(ROW_TOPS)
    assert len(rows) == n_passages > 50
    misaligned = [
        row for row in rows if len(row["tops"]) != 2 or max(row["tops"]) - min(row["tops"]) > 2
    ]
    assert misaligned == []


def test_aligned_rows_share_top_edges(
    page: Page, browser, live_server, corpus_dir: str, console: ConsoleLog
):
    archive = build_archive(corpus_dir)
    url = archive.speech.get_absolute_url()
    # Rendered; then, for another browser, served from the page store as
    # stored (gzip). (304 for a client holding the page: tests/test_pagestore.py.)
    other = browser.new_context(base_url=live_server.url)
    try:
        tabs = [(page, None), (other.new_page(), "gzip")]
        for tab, encoding in tabs:
            response = tab.goto(url)
            assert response.headers.get("content-encoding") == encoding
            assert_rows_aligned(tab, archive.speech.passages.count())
    finally:
        other.close()
    # The two columns really sit side by side (not stacked) at desktop width.
    lefts = page.evaluate(
        "() => Array.from(document.querySelectorAll('.row:not(.row-head)')[3]"
        ".querySelectorAll(':scope > .cell')).map(c => c.getBoundingClientRect().left)"
    )
    assert lefts[1] - lefts[0] > 300
    assert console == []


def test_phone_layout_stacks_versions_of_each_passage(
    phone_page: Page, corpus_dir: str, console: ConsoleLog
):
    archive = build_archive(corpus_dir)
    phone_page.goto(archive.speech.get_absolute_url())
    boxes = phone_page.evaluate(
        "() => Array.from(document.querySelectorAll('.row:not(.row-head)')[3]"
        ".querySelectorAll(':scope > .cell')).map(c => c.getBoundingClientRect().toJSON())"
    )
    assert len(boxes) == 2
    assert boxes[1]["top"] >= boxes[0]["bottom"] - 1  # stacked, original first
    assert abs(boxes[0]["left"] - boxes[1]["left"]) < 2
    overflow = phone_page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    assert console == []


def test_passage_url_and_anchor_land_on_the_passage(
    page: Page, corpus_dir: str, console: ConsoleLog
):
    archive = build_archive(corpus_dir)
    key = archive.passage.key
    page.goto(f"/p/{key}/")
    assert f"¶{archive.passage.position}" in page.locator("h1").inner_text()
    page.goto(f"{archive.speech.get_absolute_url()}#p-{key}")
    box = page.evaluate(IN_VIEWPORT, f"p-{key}")
    assert box is not None
    assert 0 <= box["top"] < box["height"] * 0.5, box
    # Not covered by the sticky reading controls.
    controls = page.evaluate(
        "() => document.querySelector('.reading-controls').getBoundingClientRect().bottom"
    )
    assert box["top"] >= controls - 1
    assert console == []


def test_copy_link_copies_the_permalink(page: Page, corpus_dir: str, live_server, console):
    archive = build_archive(corpus_dir)
    key = archive.passage.key
    page.goto(f"{archive.speech.get_absolute_url()}#p-{key}")
    button = page.locator(f"#p-{key} button.copy-link")
    button.click()
    assert page.evaluate("navigator.clipboard.readText()") == f"{live_server.url}/p/{key}/"
    assert button.inner_text().startswith("Copied")
    assert console == []


def test_version_picker_switches_without_a_button(page: Page, corpus_dir: str, console):
    archive = build_archive(corpus_dir)
    page.goto(archive.speech.get_absolute_url())
    assert not page.locator("form.reading-controls button.apply").is_visible()
    with page.expect_navigation():
        page.locator("input[name=view][value=single]").check()
    assert "view=single" in page.url
    assert page.locator(".text.single .row .cell").count() == archive.speech.passages.count()
    assert console == []
