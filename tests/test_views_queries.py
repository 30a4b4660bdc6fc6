"""Pinned query counts: the main pages cost the same number of queries with 5 or
150 passages, and with 3 or 40 speeches (an N+1 fails here)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from taggit.models import Tag

from speeches.models import (
    Annotation,
    Collection,
    CollectionItem,
    Footnote,
    Speech,
    TaggedPassage,
    Term,
)
from tests.factories import make_bilingual_speech

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_cache")]


# Measured on this code; a change is fine when explained, never when it grows with data.
# Reading page, first request: the page's key (speech status and stamps by
# slug, speeches/pagestore.py), the stored page (none yet), the speech with its
# speaker, then in one snapshot the versions, 7 row sources, corrections,
# coverage, themes, collections (outside a test's transaction also BEGIN, SET
# TRANSACTION and COMMIT), then storing the page: a savepoint (only inside a
# test's transaction), the upsert, the clean-up of older generations, the release.
# Any later request, from any process: the page's key and the stored page.
READING_QUERIES = 19
READING_QUERIES_STORED = 2
# Passage page: the key, the stored page, the passage with its speech and
# speaker, 10 queries to render it and 4 to store it (as above).
PASSAGE_QUERIES = 17
PASSAGE_QUERIES_STORED = 2
LIST_QUERIES = 8
HOME_QUERIES = 7
THEME_QUERIES = 6
TERM_QUERIES = 4
SPEAKER_QUERIES = 4
COLLECTION_QUERIES = 2


def decorated_speech(n_passages: int, slug: str) -> Speech:
    speech = make_bilingual_speech(n_passages, slug=slug)
    speech.themes.add("Innovation")
    tag, _ = Tag.objects.get_or_create(name="Cyberspace", slug="cyberspace")
    en = speech.versions.get(code="en")
    for passage in speech.passages.all():
        TaggedPassage.objects.create(content_object=passage, tag=tag)
        Footnote.objects.create(version=en, passage=passage, number=passage.position, body="n")
        Annotation.objects.create(passage=passage, version=en, body="a", exact="cyber")
    Term.objects.get_or_create(
        original="网络强国",
        defaults={"slug": "wlqg", "translation": "cyber superpower", "status": "confirmed"},
    )
    return speech


def count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


@pytest.mark.parametrize("n_passages", [5, 150])
def test_reading_page_queries_constant(client, django_assert_num_queries, n_passages):
    speech = decorated_speech(n_passages, f"speech-{n_passages}")
    for params in ({}, {"view": "single", "left": "en"}):
        with django_assert_num_queries(READING_QUERIES):
            client.get(speech.get_absolute_url(), params)
        with django_assert_num_queries(READING_QUERIES_STORED):
            client.get(speech.get_absolute_url(), params)


@pytest.mark.parametrize("n_passages", [5, 150])
def test_passage_page_queries_constant(client, django_assert_num_queries, n_passages):
    speech = decorated_speech(n_passages, f"speech-{n_passages}")
    passage = speech.passages.get(position=3)
    with django_assert_num_queries(PASSAGE_QUERIES):
        client.get(passage.get_absolute_url())
    with django_assert_num_queries(PASSAGE_QUERIES_STORED):
        client.get(passage.get_absolute_url())


@pytest.mark.parametrize("n_speeches", [3, 40])
def test_listing_pages_queries_constant(client, django_assert_num_queries, n_speeches):
    collection = Collection.objects.create(title="Series", slug="series")
    speeches = [decorated_speech(5, f"s-{i}") for i in range(n_speeches)]
    for speech in speeches:
        speech.speaker = speeches[0].speaker
        speech.save()
        CollectionItem.objects.create(collection=collection, speech=speech)
    with django_assert_num_queries(HOME_QUERIES):
        client.get("/")
    with django_assert_num_queries(LIST_QUERIES):
        client.get("/speeches/")
    with django_assert_num_queries(LIST_QUERIES):
        client.get("/speeches/", {"theme": "innovation", "lang": "zh", "sort": "title"})
    with django_assert_num_queries(SPEAKER_QUERIES):
        client.get(speeches[0].speaker.get_absolute_url())
    with django_assert_num_queries(COLLECTION_QUERIES):
        client.get(collection.get_absolute_url())
    with django_assert_num_queries(THEME_QUERIES):
        client.get("/themes/cyberspace/")
    with django_assert_num_queries(TERM_QUERIES):
        client.get("/glossary/wlqg/")


def test_feeds_and_sitemap_queries_do_not_grow(client):
    for i in range(3):
        decorated_speech(3, f"a-{i}")
    small = [count(client, url) for url in ("/feeds/speeches/", "/sitemap-passages.xml")]
    for i in range(20):
        decorated_speech(3, f"b-{i}")
    large = [count(client, url) for url in ("/feeds/speeches/", "/sitemap-passages.xml")]
    assert small == large
