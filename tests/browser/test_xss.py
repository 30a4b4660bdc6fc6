"""Stored XSS: payloads imported in a speech's text, title, summary, introduction
and footnotes, and typed by editors into annotations, corrections, term notes
and a speaker's bio, must open no dialog on any page that shows them (and the
CSP reports no blocked inline script either, since the payloads never reach
the page as markup)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from playwright.sync_api import Dialog, Page

from speeches.exporters import document_from_json, export_json
from speeches.importers.writer import import_speech_document
from speeches.models import Annotation, Correction, Speaker, Speech, Term
from tests.browser.conftest import ConsoleLog
from tests.factories import make_bilingual_speech

pytestmark = pytest.mark.django_db(transaction=True)

PAYLOADS = [
    "<script>alert('script')</script>",
    "<img src=x onerror=alert('img')>",
    "<svg onload=alert('svg')></svg>",
    "<iframe src=\"javascript:alert('iframe')\"></iframe>",
    "[click](javascript:alert('link'))",
    "<a href=\"javascript:alert('a')\">a</a>",
    "<details open ontoggle=alert('details')>",
    "\"><script>alert('attr')</script>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert('mxss')>",
]
PAYLOAD = " ".join(PAYLOADS)


def stored_payloads() -> tuple[Speech, Term]:
    """An imported speech carrying payloads everywhere, plus editors' notes."""
    data = export_json(make_bilingual_speech(3, slug="xss"))
    Speech.objects.filter(slug="xss").delete()
    data = json.loads(json.dumps(data))
    data["speech"]["title"] = f"Title {PAYLOADS[0]}"
    data["speech"]["summary"] = PAYLOAD
    for version in data["versions"]:
        version["introduction"] = PAYLOAD
        version["title"] = f"Version {PAYLOADS[1]}"
        version["footnotes"] = [
            {"number": 1, "kind": "editor", "body": PAYLOAD, "passage": data["passages"][0]["key"]}
        ]
    for passage in data["passages"]:
        passage["turn_speaker"] = PAYLOADS[1]
        passage["texts"] = {
            code: f"{text} [^1] {PAYLOAD}" for code, text in passage["texts"].items()
        }
    speech = import_speech_document(document_from_json(data), publish=True).speech
    en = speech.versions.get(code="en")
    passage = speech.passages.order_by("position").first()
    Annotation.objects.create(passage=passage, version=en, body=PAYLOAD, exact="Paragraph")
    Annotation.objects.create(passage=passage, body=PAYLOAD)
    Correction.objects.create(version=en, date=dt.date(2020, 1, 1), description=PAYLOAD)
    Speaker.objects.filter(pk=speech.speaker_id).update(bio=PAYLOAD)
    term = Term.objects.create(
        original="网络强国",
        slug="wlqg",
        translation="cyber superpower",
        note=PAYLOAD,
        status=Term.Status.CONFIRMED,
    )
    return speech, term


def test_stored_payloads_open_no_dialog(page: Page, console: ConsoleLog):
    speech, term = stored_payloads()
    dialogs: list[str] = []

    def trap(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", trap)
    passage = speech.passages.order_by("position").first()
    urls = [
        "/",
        "/speeches/",
        speech.get_absolute_url(),
        speech.get_absolute_url() + "?view=single&left=en",
        passage.get_absolute_url(),
        speech.speaker.get_absolute_url(),
        f"/glossary/{term.slug}/",
        "/glossary/",
    ]
    for url in urls:
        response = page.goto(url)
        assert response is not None and response.status == 200, url
        page.wait_for_load_state("load")
        # Interact too: hovering and toggling is how event-handler payloads fire.
        page.mouse.move(200, 300)
        page.keyboard.press("Tab")
        assert page.locator("script:not([src])").count() == 0, url
        assert page.locator("iframe, object, embed, svg [onload], [onerror]").count() == 0, url
    assert dialogs == []
    # The payload text is shown (escaped) on the reading page, not dropped silently.
    page.goto(speech.get_absolute_url() + "?view=single&left=en")
    assert "alert('script')" in page.locator("main").inner_text()
    assert not [line for line in console if "Content Security Policy" in line]
