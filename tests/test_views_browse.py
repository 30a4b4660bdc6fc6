"""Browsing pages: home, list with filters and sort, speakers, collections,
themes, glossary, feeds, sitemap, robots.txt and the reader exports."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from taggit.models import Tag

from speeches.models import (
    Collection,
    CollectionItem,
    PassageText,
    Speech,
    TaggedPassage,
    Term,
)
from tests.factories import (
    PassageFactory,
    PassageTextFactory,
    SpeakerFactory,
    SpeechFactory,
    VersionFactory,
    make_bilingual_speech,
)

pytestmark = pytest.mark.django_db

ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def titles(response) -> list[str]:
    return [speech.title for speech in response.context["page"].object_list]


def test_home_lists_recent_speeches_themes_and_speakers(client):
    speech = make_bilingual_speech(2, title="Work conference speech")
    TaggedPassage.objects.create(
        content_object=speech.passages.first(),
        tag=Tag.objects.create(name="Cybersecurity", slug="cybersecurity"),
    )
    html = client.get("/").content.decode()
    assert "Work conference speech" in html
    assert "Cybersecurity" in html and speech.speaker.name in html
    assert 'role="search"' in html


def test_speech_list_filters(client):
    xi = SpeakerFactory(name="Xi Jinping", slug="xi-jinping")
    a = make_bilingual_speech(1, title="A", speaker=xi, delivered_on=dt.date(2016, 4, 19))
    b = SpeechFactory(title="B", kind=Speech.Kind.INTERVIEW, delivered_on=dt.date(2019, 1, 1))
    VersionFactory(speech=b, code="en", language="en", is_original=True)
    c = make_bilingual_speech(1, title="C", delivered_on=dt.date(2016, 1, 5))
    c.themes.add("Innovation")
    collection = Collection.objects.create(title="Series", slug="series")
    CollectionItem.objects.create(collection=collection, speech=a)
    url = reverse("speeches:speech_list")
    assert titles(client.get(url)) == ["B", "A", "C"]
    assert titles(client.get(url, {"speaker": "xi-jinping"})) == ["A"]
    assert titles(client.get(url, {"year": "2016"})) == ["A", "C"]
    assert titles(client.get(url, {"lang": "zh"})) == ["A", "C"]
    assert titles(client.get(url, {"lang": "zh-Hans"})) == ["A", "C"]
    assert titles(client.get(url, {"lang": "en"})) == ["B", "A", "C"]
    assert titles(client.get(url, {"kind": "interview"})) == ["B"]
    assert titles(client.get(url, {"theme": "innovation"})) == ["C"]
    assert titles(client.get(url, {"collection": "series"})) == ["A"]
    assert titles(client.get(url, {"sort": "oldest"})) == ["C", "A", "B"]
    assert titles(client.get(url, {"sort": "title"})) == ["A", "B", "C"]


@pytest.mark.parametrize(
    "params",
    [
        {"year": "99999"},
        {"year": "-5"},
        {"year": "2016.5"},
        {"year": "1e400"},
        {"year": "abc"},
        {"kind": "nope"},
        {"sort": "drop table"},
        {"lang": "(("},
    ],
)
def test_speech_list_bad_filters_never_500(client, params):
    make_bilingual_speech(1)
    response = client.get(reverse("speeches:speech_list"), params)
    assert response.status_code == 200


def test_speech_list_bad_page_is_404(client):
    make_bilingual_speech(1)
    assert client.get(reverse("speeches:speech_list"), {"page": "9"}).status_code == 404
    assert client.get(reverse("speeches:speech_list"), {"page": "x"}).status_code == 404


def test_speaker_page_and_empty_speaker(client):
    speech = make_bilingual_speech(1, title="Speaker's speech")
    response = client.get(speech.speaker.get_absolute_url())
    assert response.status_code == 200 and "Speaker&#x27;s speech" in response.content.decode()
    lonely = SpeakerFactory()
    assert client.get(lonely.get_absolute_url()).status_code == 404


def test_collection_timeline_groups_by_year_in_date_order(client):
    collection = Collection.objects.create(title="Series", slug="series")
    late = make_bilingual_speech(1, title="Late", delivered_on=dt.date(2020, 5, 1))
    early = make_bilingual_speech(1, title="Early", delivered_on=dt.date(2018, 3, 1))
    draft = make_bilingual_speech(1, title="Hidden", status=Speech.Status.DRAFT)
    for position, speech in enumerate((late, early, draft), start=1):
        CollectionItem.objects.create(collection=collection, speech=speech, position=position)
    response = client.get(collection.get_absolute_url())
    html = response.content.decode()
    assert [year for year, _ in response.context["years"]] == [2018, 2020]
    assert html.index("Early") < html.index("Late") and "Hidden" not in html


def test_theme_index_and_page_show_passages_in_context(client):
    speech = make_bilingual_speech(3, title="Themed speech")
    tag = Tag.objects.create(name="Data security", slug="data-security")
    second = speech.passages.get(position=2)
    TaggedPassage.objects.create(content_object=second, tag=tag)
    index = client.get(reverse("speeches:theme_list")).content.decode()
    assert "Data security" in index
    html = client.get(reverse("speeches:theme", kwargs={"slug": "data-security"})).content.decode()
    assert f'href="/p/{second.key}/"' in html
    assert f"/speeches/{speech.slug}/#p-{second.key}" in html
    assert "第2段" in html and "Paragraph 2" in html
    assert client.get("/themes/unknown/").status_code == 404


def test_glossary_term_page_lists_occurrences_in_both_languages(client):
    hans = make_bilingual_speech(1, title="Simplified speech")
    hant = SpeechFactory(title="Traditional speech", original_language="zh-Hant")
    zh = VersionFactory(speech=hant, code="zh-Hant", language="zh-Hant", is_original=True)
    PassageTextFactory(
        passage=PassageFactory(speech=hant, position=1), version=zh, text="要建設網絡強國。"
    )
    other = make_bilingual_speech(1, title="Plural speech")
    PassageText.objects.filter(passage__speech=other, version__language="en").update(
        text="Two Cyber Superpowers met; cyber superpowerful is not a match."
    )
    PassageText.objects.filter(passage__speech=other, version__language="zh-Hans").update(
        text="无关。"
    )
    term = Term.objects.create(
        original="网络强国",
        slug="wangluo-qiangguo",
        pinyin="wǎngluò qiángguó",
        translation="cyber superpower",
        variants="cyberpower\nstrong cyber country",
        status=Term.Status.CONFIRMED,
    )
    response = client.get(reverse("speeches:term", kwargs={"slug": term.slug}))
    html = response.content.decode()
    texts = [row["text"] for row in response.context["rows"]]
    languages = sorted(t.version.language for t in texts)
    # Simplified zh + its English, Traditional zh, and the plural English: 4 texts.
    assert languages == ["en", "en", "zh-Hans", "zh-Hant"]
    assert "<mark>網絡強國</mark>" in html and "<mark>Cyber Superpowers</mark>" in html
    assert response.context["summary"].speeches == 3
    assert hans.title in html
    glossary = client.get(reverse("speeches:glossary")).content.decode()
    assert "网络强国" in glossary


def test_candidate_terms_are_not_public(client):
    Term.objects.create(original="新质生产力", slug="xzscl", translation="new productive forces")
    assert client.get("/glossary/xzscl/").status_code == 404
    assert "新质生产力" not in client.get("/glossary/").content.decode()


def test_atom_feeds_all_speaker_theme(client):
    speech = make_bilingual_speech(1, title="Feed speech")
    speech.themes.add("Innovation")
    for url in (
        "/feeds/speeches/",
        f"/feeds/speakers/{speech.speaker.slug}/",
        "/feeds/themes/innovation/",
    ):
        response = client.get(url)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("application/atom+xml")
        root = ET.fromstring(response.content)
        entries = root.findall(f"{ATOM}entry")
        assert [e.find(f"{ATOM}title").text for e in entries] == ["Feed speech"]
        assert entries[0].find(f"{ATOM}link").get("href").endswith(speech.get_absolute_url())
    assert client.get("/feeds/speakers/nobody/").status_code == 404


def test_sitemap_index_and_sections(client):
    speech = make_bilingual_speech(2)
    index = ET.fromstring(client.get("/sitemap.xml").content)
    sections = [loc.text for loc in index.iter(f"{SITEMAP}loc")]
    assert any(s.endswith("/sitemap-speeches.xml") for s in sections)
    urls = []
    for section in sections:
        path = section.split("testserver", 1)[1]
        urls += [loc.text for loc in ET.fromstring(client.get(path).content).iter(f"{SITEMAP}loc")]
    assert f"http://testserver{speech.get_absolute_url()}" in urls
    for passage in speech.passages.all():
        assert f"http://testserver/p/{passage.key}/" in urls


def test_robots_txt_points_to_sitemap(client):
    response = client.get("/robots.txt")
    body = response.content.decode()
    assert response["Content-Type"].startswith("text/plain")
    assert "Disallow: /admin/" in body and "Sitemap: http://testserver/sitemap.xml" in body


def test_exports_json_and_markdown(client):
    speech = make_bilingual_speech(2, title="Exported speech")
    response = client.get(f"/speeches/{speech.slug}.json")
    assert response.status_code == 200
    data = json.loads(response.content)
    assert "Exported speech" in json.dumps(data, ensure_ascii=False)
    md = client.get(f"/speeches/{speech.slug}.md")
    assert md.status_code == 200 and md["Content-Type"].startswith("text/markdown")
    assert "第1段" in md.content.decode()
    en = client.get(f"/speeches/{speech.slug}.md", {"version": "en"}).content.decode()
    assert "Paragraph 1" in en and "第1段" not in en
    assert client.get(f"/speeches/{speech.slug}.md", {"version": "xx"}).status_code == 404


@pytest.mark.django_db
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    params=st.dictionaries(
        st.sampled_from(["speaker", "theme", "year", "lang", "kind", "collection", "sort", "page"]),
        st.text(max_size=40),
        max_size=4,
    )
)
def test_speech_list_any_parameters_answer_a_page(client, params):
    response = client.get(reverse("speeches:speech_list"), params)
    assert response.status_code in (200, 400, 404)


def test_list_items_and_filter_options_escape_what_editors_typed(client):
    speaker = SpeakerFactory(name='Ann <b onmouseover="x()">Lee</b>', slug="ann-lee")
    speech = make_bilingual_speech(1, speaker=speaker, title="Cyber <script>alert(1)</script>")
    speech.summary = 'A "summary" & <i>more</i>'
    speech.save()
    for url in ("/", "/speeches/", speaker.get_absolute_url()):
        html = client.get(url).content.decode()
        assert "<script>alert(1)" not in html and "<b onmouseover" not in html, url
        assert "Cyber &lt;script&gt;alert(1)&lt;/script&gt;" in html, url
    html = client.get("/speeches/", {"speaker": "ann-lee", "lang": "en"}).content.decode()
    assert '<option value="ann-lee" selected>Ann &lt;b onmouseover=&quot;x()&quot;&gt;Lee' in html
    assert '<option value="en" selected>English</option>' in html
    assert "A &quot;summary&quot; &amp; &lt;i&gt;more&lt;/i&gt;" in html
    # Each item names the languages the speech can be read in.
    assert "· Chinese (Simplified) · English</span>" in html
