"""The Content-Security-Policy (no inline script, same-origin only) breaks
neither the editors' admin nor the API's interactive docs: both work in a real
browser with no CSP violation in the console."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from tests.browser.conftest import ConsoleLog
from tests.factories import make_bilingual_speech

pytestmark = pytest.mark.django_db(transaction=True)


def test_admin_works_under_the_csp(page: Page, console: ConsoleLog):
    User.objects.create_superuser("chief", password="a-long-enough-password")
    speech = make_bilingual_speech(3)
    page.goto("/admin/login/")
    page.fill("#id_username", "chief")
    page.fill("#id_password", "a-long-enough-password")
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_be_visible()
    page.goto(f"/admin/speeches/speech/{speech.pk}/change/")
    expect(page.locator("#speech_form")).to_be_visible()
    # Admin JavaScript runs (it is all in static files): the changelist's
    # select-all checkbox ticks every row.
    page.goto("/admin/speeches/speech/")
    page.check("#action-toggle")
    expect(page.locator("input.action-select:checked")).to_have_count(1)
    # (The admin's pages name no icon, so the browser's /favicon.ico 404 is expected.)
    assert [line for line in console if "favicon" not in line and "404" not in line] == []


def test_api_docs_render_under_the_csp(page: Page, console: ConsoleLog):
    page.goto("/api/docs")
    expect(page.locator(".opblock-summary-path").first).to_be_visible(timeout=15_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/speeches/" in path for path in paths)
    assert not [line for line in console if "Content Security Policy" in line]
