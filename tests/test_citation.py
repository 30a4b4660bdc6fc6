"""Citations: one value, every format (text, CSL-JSON, BibTeX, RIS, meta tags)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from speeches.citation import build_citation, human_date
from speeches.models import Speech
from tests.factories import SpeakerFactory, SpeechFactory, VersionFactory, make_bilingual_speech

pytestmark = pytest.mark.django_db

ACCESSED = dt.date(2025, 3, 4)


def april_speech(precision: str = "day") -> Speech:
    speaker = SpeakerFactory(name="Xi Jinping", slug="xi-jinping")
    return SpeechFactory(
        title="Speech at the Work Conference for Cybersecurity & Informatization",
        speaker=speaker,
        delivered_on=dt.date(2016, 4, 19),
        date_precision=precision,
        occasion="Work Conference",
        place="Beijing",
    )


def test_passage_citation_text_has_pinpoint_url_and_accessed_date():
    speech = april_speech()
    passage = make_bilingual_speech(12).passages.get(position=12)
    passage.speech = speech
    en = VersionFactory(speech=speech, code="en", language="en", translators="DigiChina")
    citation = build_citation(
        speech=speech,
        url="https://a.example/p/abc/",
        accessed=ACCESSED,
        passage=passage,
        version=en,
    )
    assert citation.text() == (
        "Xi Jinping, “Speech at the Work Conference for Cybersecurity & Informatization,” "
        "Work Conference, Beijing, 19 April 2016, ¶12, trans. DigiChina, Speech Archive, "
        "https://a.example/p/abc/ (accessed 4 March 2025)."
    )


@pytest.mark.parametrize(
    ("precision", "parts", "human", "bib_month"),
    [
        ("day", [2016, 4, 19], "19 April 2016", True),
        ("month", [2016, 4], "April 2016", True),
        ("year", [2016], "2016", False),
    ],
)
def test_date_precision_is_kept_in_every_format(precision, parts, human, bib_month):
    speech = april_speech(precision)
    citation = build_citation(speech=speech, url="https://a.example/s/", accessed=ACCESSED)
    assert citation.csl()["issued"] == {"date-parts": [parts]}
    assert human_date(speech.delivered_on, precision) == human in citation.text()
    assert ("month = {apr}" in citation.bibtex()) is bib_month
    assert f"DA  - {'/'.join(f'{p:02d}' if i else str(p) for i, p in enumerate(parts))}" in (
        citation.ris()
    )


def test_formats_keep_the_name_whole_and_escape_bibtex():
    citation = build_citation(speech=april_speech(), url="https://a.example/s/", accessed=ACCESSED)
    csl = json.loads(citation.csl_json())[0]
    assert csl["author"] == [{"literal": "Xi Jinping"}] and csl["type"] == "speech"
    assert csl["accessed"] == {"date-parts": [[2025, 3, 4]]}
    bib = citation.bibtex()
    assert bib.startswith("@misc{xi2016speech,")
    assert "author = {{Xi Jinping}}" in bib and r"Cybersecurity \& Informatization" in bib
    assert "urldate = {2025-03-04}" in bib
    ris = citation.ris()
    assert ris.startswith("TY  - GEN\r\n") and ris.endswith("ER  -\r\n")
    assert "AU  - Xi Jinping\r\n" in ris and "Y2  - 2025/03/04\r\n" in ris


def test_meta_tags_are_highwire_press():
    tags = dict(
        build_citation(
            speech=april_speech(), url="https://a.example/s/", accessed=ACCESSED
        ).meta_tags()
    )
    assert tags["citation_title"].startswith("Speech at the Work Conference")
    assert tags["citation_author"] == "Xi Jinping"
    assert tags["citation_publication_date"] == "2016/04/19"
    assert tags["citation_public_url"] == "https://a.example/s/"


def test_original_title_and_withdrawn_flag():
    speech = april_speech()
    original = VersionFactory(
        speech=speech, code="zh-Hans", language="zh-Hans", is_original=True, title="讲话"
    )
    speech.status = Speech.Status.WITHDRAWN
    citation = build_citation(
        speech=speech, url="https://a.example/s/", accessed=ACCESSED, original=original
    )
    assert citation.csl()["original-title"] == "讲话"
    assert "withdrawn" in citation.text()
