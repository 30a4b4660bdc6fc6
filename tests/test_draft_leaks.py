"""Nothing public ever reveals a draft: every public surface is walked with a
draft speech whose title, text, speaker, theme and notes carry a unique word."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from django.urls import NoReverseMatch, reverse
from taggit.models import Tag

from speeches.models import (
    Annotation,
    Collection,
    CollectionItem,
    Coverage,
    Footnote,
    PassageRedirect,
    SlugHistory,
    Speech,
    TaggedPassage,
    Term,
)
from tests.factories import SpeakerFactory, make_bilingual_speech

pytestmark = pytest.mark.django_db

SECRET = "Zanzibarquux"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def make_world():
    shared_theme = Tag.objects.create(name="Shared theme", slug="shared-theme")
    public = make_bilingual_speech(3, title="Public speech", slug="public-speech")
    TaggedPassage.objects.create(content_object=public.passages.first(), tag=shared_theme)
    public.themes.add("Shared speech theme")

    speaker = SpeakerFactory(name=f"{SECRET} Speaker", slug="secret-speaker")
    draft = make_bilingual_speech(
        3,
        title=f"{SECRET} draft title",
        slug="secret-draft",
        speaker=speaker,
        status=Speech.Status.DRAFT,
        summary=f"{SECRET} summary",
    )
    draft.themes.add(f"{SECRET} speech theme", "Shared speech theme")
    secret_theme = Tag.objects.create(name=f"{SECRET} theme", slug="secret-theme")
    en = draft.versions.get(code="en")
    for passage in draft.passages.all():
        text = passage.texts.get(version=en)
        text.text = f"{SECRET} says: build a cyber superpower. 网络强国 [^{passage.position}]"
        text.save()
        Footnote.objects.create(
            version=en, passage=passage, number=passage.position, body=f"{SECRET} note"
        )
        Annotation.objects.create(passage=passage, version=en, body=f"{SECRET} annotation")
        TaggedPassage.objects.create(content_object=passage, tag=shared_theme)
        TaggedPassage.objects.create(content_object=passage, tag=secret_theme)
    Coverage.objects.create(speech=draft, outlet="Outlet", title=f"{SECRET} coverage")
    collection = Collection.objects.create(title="Mixed series", slug="mixed")
    CollectionItem.objects.create(collection=collection, speech=public, position=1)
    CollectionItem.objects.create(collection=collection, speech=draft, position=2)
    Term.objects.create(
        original="网络强国",
        slug="wangluo-qiangguo",
        pinyin="wǎngluò qiángguó",
        translation="cyber superpower",
        status=Term.Status.CONFIRMED,
    )
    SlugHistory.objects.create(old_slug="old-secret-draft", speech=draft)
    first = draft.passages.order_by("position").first()
    PassageRedirect.objects.create(
        old_key="oldsecret", passage=first, speech=draft, reason=PassageRedirect.Reason.SPLIT
    )
    return public, draft, collection


def public_urls(client, public, draft, collection) -> list[str]:
    urls = [
        "/",
        "/speeches/",
        f"/speeches/?speaker={draft.speaker.slug}",
        "/speeches/?theme=shared-speech-theme",
        "/speeches/?collection=mixed",
        "/speeches/?sort=title",
        "/speeches/?sort=added",
        public.get_absolute_url(),
        f"/speeches/{public.slug}.json",
        f"/speeches/{public.slug}.md",
        f"/speeches/{public.slug}/cite.bib",
        "/speakers/",
        public.speaker.get_absolute_url(),
        "/collections/",
        collection.get_absolute_url(),
        "/themes/",
        "/themes/shared-theme/",
        "/themes/shared-speech-theme/",
        "/glossary/",
        "/glossary/wangluo-qiangguo/",
        "/feeds/speeches/",
        "/feeds/themes/shared-theme/",
        "/feeds/themes/shared-speech-theme/",
        "/robots.txt",
        "/sitemap.xml",
        "/api/speeches/",
        f"/api/speeches/?speaker={draft.speaker.slug}",
        "/api/speeches/?theme=shared-speech-theme",
        "/api/speeches/?collection=mixed",
        f"/api/speeches/{public.slug}/",
        "/api/themes/",
        "/api/speakers/",
        "/api/terms/",
        "/api/search/?q=cyber+superpower",
        "/api/search/?q=网络强国",
        f"/api/search/?q=says&speaker={draft.speaker.slug}",
    ]
    for passage in public.passages.all():
        urls += [
            passage.get_absolute_url(),
            f"/p/{passage.key}/cite.ris",
            f"/api/passages/{passage.key}/",
        ]
    index = ET.fromstring(client.get("/sitemap.xml").content)
    urls += [loc.text.split("testserver", 1)[1] for loc in index.iter(f"{SITEMAP}loc")]
    try:
        search = reverse("speeches:search")
    except NoReverseMatch:
        search = None
    if search:
        urls += [f"{search}?q={SECRET}", f"{search}?q=cyber+superpower", f"{search}?q=网络强国"]
    return urls


def without_query_echo(url: str, content: str) -> str:
    """A search page repeats the visitor's own query (title, input values,
    links to refine it): that is no leak. What is left — results, facets,
    titles, snippets — must not name the draft."""
    if "?q=" not in url:
        return content
    content = re.sub(r"<title>.*?</title>", "", content, flags=re.S)
    return re.sub(r'="[^"]*"', '=""', content)


def test_no_public_page_reveals_a_draft(client):
    public, draft, collection = make_world()
    for url in public_urls(client, public, draft, collection):
        response = client.get(url)
        assert response.status_code == 200, url
        content = without_query_echo(url, response.content.decode())
        assert SECRET.lower() not in content.lower(), url


def test_draft_urls_answer_404_like_unknown_ones(client):
    _, draft, _ = make_world()
    urls = [
        draft.get_absolute_url(),
        f"{draft.get_absolute_url()}?view=single",
        f"/speeches/{draft.slug}.json",
        f"/speeches/{draft.slug}.md",
        f"/speeches/{draft.slug}/cite.bib",
        "/speeches/old-secret-draft/",
        "/speeches/old-secret-draft.json",
        "/p/oldsecret/",
        "/p/oldsecret/cite.ris",
        draft.speaker.get_absolute_url(),
        f"/feeds/speakers/{draft.speaker.slug}/",
        "/themes/secret-theme/",
        "/feeds/themes/secret-theme/",
        f"/api/speeches/{draft.slug}/",
        "/api/speeches/old-secret-draft/",
        "/api/passages/oldsecret/",
    ]
    for passage in draft.passages.all():
        urls += [
            f"/api/passages/{passage.key}/",
            passage.get_absolute_url(),
            f"{passage.get_absolute_url()}?format=bibtex",
            f"/p/{passage.key}/cite.json",
        ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 404, url
        assert SECRET.lower() not in response.content.decode().lower(), url


def test_withdrawn_speech_is_a_tombstone_not_a_text(client):
    _, draft, _ = make_world()
    draft.status = Speech.Status.WITHDRAWN
    draft.withdrawn_reason = "Source retracted."
    draft.save()
    response = client.get(draft.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 410
    assert "Source retracted." in html and "Speech Archive," in html  # the kept citation
    assert "cyber superpower" not in html and "note" not in html.split("<main")[1].lower()
    passage = draft.passages.first()
    assert client.get(passage.get_absolute_url()).status_code == 410
    assert client.get(f"/speeches/{draft.slug}.json").status_code == 410
    assert client.get("/speeches/old-secret-draft/").status_code == 301
    for url in ("/", "/speeches/", "/feeds/speeches/", "/sitemap-speeches.xml", "/themes/"):
        assert SECRET.lower() not in client.get(url).content.decode().lower(), url
