"""The read-only JSON API (speeches/api.py): content, filters, permanence, CORS,
and query counts that do not grow with the data."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from taggit.models import Tag

from speeches.models import (
    Annotation,
    Collection,
    CollectionItem,
    Correction,
    Footnote,
    PassageRedirect,
    SlugHistory,
    Speech,
    TaggedPassage,
    Term,
)
from tests.factories import SpeakerFactory, SpeechFactory, make_bilingual_speech

pytestmark = pytest.mark.django_db


def get_json(client, url: str, status: int = 200):
    response = client.get(url)
    assert response.status_code == status, (url, response.content[:500])
    assert response["Content-Type"].startswith("application/json")
    return response.json()


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


# ---------------------------------------------------------------- speeches


def test_list_shows_published_speeches_only_newest_first(client):
    old = make_bilingual_speech(2, title="Old one", delivered_on=dt.date(2001, 1, 1))
    new = make_bilingual_speech(2, title="New one", delivered_on=dt.date(2020, 1, 1))
    make_bilingual_speech(2, title="Hidden draft", status=Speech.Status.DRAFT)
    make_bilingual_speech(2, title="Gone", status=Speech.Status.WITHDRAWN)
    data = get_json(client, "/api/speeches/")
    assert data["count"] == 2
    assert [item["slug"] for item in data["items"]] == [new.slug, old.slug]
    item = data["items"][0]
    assert item["languages"] == ["en", "zh-Hans"]
    assert item["speaker"]["slug"] == new.speaker.slug
    assert item["url"] == f"http://testserver/speeches/{new.slug}/"
    assert item["api_url"] == f"http://testserver/api/speeches/{new.slug}/"


def test_list_filters_match_the_list_page(client):
    xi = SpeakerFactory(name="Xi", slug="xi")
    a = make_bilingual_speech(1, speaker=xi, delivered_on=dt.date(2016, 4, 19), kind="speech")
    b = make_bilingual_speech(1, delivered_on=dt.date(2018, 5, 1), kind="interview")
    c = SpeechFactory(delivered_on=dt.date(2016, 1, 1), original_language="en")
    a.themes.add("Cyber")
    series = Collection.objects.create(title="Series", slug="series")
    CollectionItem.objects.create(collection=series, speech=b)

    def slugs(query: str) -> list[str]:
        return sorted(item["slug"] for item in get_json(client, f"/api/speeches/?{query}")["items"])

    assert slugs("speaker=xi") == [a.slug]
    assert slugs("theme=cyber") == [a.slug]
    assert slugs("year=2016") == sorted([a.slug, c.slug])
    assert slugs("kind=interview") == [b.slug]
    assert slugs("collection=series") == [b.slug]
    assert slugs("lang=zh") == sorted([a.slug, b.slug])  # c has no version with a text
    assert slugs("speaker=nobody") == []
    oldest = get_json(client, "/api/speeches/?sort=oldest")["items"]
    assert oldest[0]["slug"] == c.slug


def test_list_pagination_and_bad_parameters(client):
    for _ in range(5):
        SpeechFactory()
    first = get_json(client, "/api/speeches/?page_size=2")
    assert (first["count"], first["pages"], first["previous"]) == (5, 3, None)
    assert first["next"] == "http://testserver/api/speeches/?page_size=2&page=2"
    last = get_json(client, "/api/speeches/?page_size=2&page=3")
    assert len(last["items"]) == 1 and last["next"] is None
    assert get_json(client, "/api/speeches/?page=4&page_size=2", 404)["detail"]
    assert get_json(client, "/api/speeches/?year=abc", 422)["detail"]
    assert get_json(client, "/api/speeches/?kind=poem", 422)["detail"]
    assert get_json(client, "/api/speeches/?page_size=10000", 422)["detail"]
    assert get_json(client, "/api/speeches/?speaker=%00", 422)["detail"]


def test_list_query_count_does_not_grow(client):
    for _ in range(2):
        make_bilingual_speech(2).themes.add("A", "B")
    small = count_queries(client, "/api/speeches/")
    for _ in range(20):
        make_bilingual_speech(2).themes.add("A", "C")
    assert count_queries(client, "/api/speeches/") == small
    assert small <= 6


def _rich_speech(n_passages: int = 3) -> Speech:
    speech = make_bilingual_speech(n_passages, title="Rich", slug="rich", nickname="4.20 speech")
    speech.themes.add("Cyber policy")
    en = speech.versions.get(code="en")
    first, second = list(speech.passages.order_by("position"))[:2]
    TaggedPassage.objects.create(content_object=first, tag=Tag.objects.create(name="Internet"))
    Footnote.objects.create(version=en, passage=first, number=1, body="A *note*.")
    Annotation.objects.create(passage=second, version=en, body="Public note", exact="Paragraph")
    Annotation.objects.create(
        passage=second, body="Editors only", visibility=Annotation.Visibility.INTERNAL
    )
    correction = Correction.objects.create(version=en, date=dt.date(2020, 2, 2), description="Fix")
    correction.passages.add(second)
    return speech


def test_speech_detail_has_versions_passages_notes_and_public_annotations(client):
    speech = _rich_speech()
    data = get_json(client, "/api/speeches/rich/")
    assert data["title"] == "Rich" and data["nickname"] == "4.20 speech"
    assert data["themes"] == ["cyber-policy"]
    assert [v["code"] for v in data["versions"]] == ["zh-Hans", "en"]
    en = data["versions"][1]
    first, second = list(speech.passages.order_by("position"))[:2]
    assert en["footnotes"] == [
        {"number": 1, "kind": "editor", "body": "A *note*.", "passage": first.key}
    ]
    assert en["corrections"] == [
        {"date": "2020-02-02", "description": "Fix", "passages": [second.key]}
    ]
    assert [p["key"] for p in data["passages"]] == list(
        speech.passages.order_by("position").values_list("key", flat=True)
    )
    assert data["passages"][0]["texts"] == {
        "zh-Hans": "第1段：建设网络强国。",
        "en": "Paragraph 1: build a cyber superpower.",
    }
    assert data["passages"][0]["themes"] == ["internet"]
    assert data["passages"][0]["url"] == f"http://testserver/p/{first.key}/"
    assert [(a["passage"], a["body"], a["version"]) for a in data["annotations"]] == [
        (second.key, "Public note", "en")
    ]
    assert "Editors only" not in str(data)


def test_speech_detail_query_count_does_not_grow_with_passages(client):
    _rich_speech(3)
    small = count_queries(client, "/api/speeches/rich/")
    big = _rich_speech_named("big", 120)
    assert count_queries(client, f"/api/speeches/{big.slug}/") == small
    assert small <= 15


def _rich_speech_named(slug: str, n: int) -> Speech:
    speech = make_bilingual_speech(n, slug=slug)
    en = speech.versions.get(code="en")
    for passage in speech.passages.all()[:40]:
        Footnote.objects.create(version=en, passage=passage, number=passage.position, body="n")
        Annotation.objects.create(passage=passage, body="a")
        TaggedPassage.objects.create(
            content_object=passage, tag=Tag.objects.get_or_create(name="T", slug="t")[0]
        )
    correction = Correction.objects.create(version=en, date=dt.date(2020, 1, 1), description="c")
    correction.passages.add(*speech.passages.all()[:30])
    return speech


def test_speech_permanence_old_slug_withdrawn_and_draft(client):
    speech = make_bilingual_speech(1, slug="new-slug")
    SlugHistory.objects.create(old_slug="old-slug", speech=speech)
    response = client.get("/api/speeches/old-slug/?x=1")
    assert response.status_code == 301
    assert response["Location"] == "/api/speeches/new-slug/?x=1"
    gone = make_bilingual_speech(
        1, slug="gone", status=Speech.Status.WITHDRAWN, withdrawn_reason="Retracted."
    )
    data = get_json(client, "/api/speeches/gone/", 410)
    assert (data["status"], data["reason"], data["speech"]) == ("withdrawn", "Retracted.", "gone")
    assert "build a cyber superpower" not in str(data)
    make_bilingual_speech(1, slug="draft", status=Speech.Status.DRAFT)
    assert get_json(client, "/api/speeches/draft/", 404) == {"detail": "No such speech."}
    assert get_json(client, "/api/speeches/never/", 404) == {"detail": "No such speech."}
    assert gone.pk


# ---------------------------------------------------------------- passages


def test_passage_detail(client):
    speech = _rich_speech()
    first, second, third = speech.passages.order_by("position")
    data = get_json(client, f"/api/passages/{second.key}/")
    assert data["key"] == second.key and data["position"] == 2
    assert [t["version"] for t in data["texts"]] == ["zh-Hans", "en"]
    assert data["texts"][1]["text"] == "Paragraph 2: build a cyber superpower."
    assert (data["previous"], data["next"]) == (first.key, third.key)
    assert [a["body"] for a in data["annotations"]] == ["Public note"]
    assert data["speech"]["api_url"] == "http://testserver/api/speeches/rich/"
    assert get_json(client, f"/api/passages/{first.key}/")["footnotes"][0]["body"] == "A *note*."


def test_passage_permanence(client):
    speech = make_bilingual_speech(2)
    first, second = speech.passages.order_by("position")
    PassageRedirect.objects.create(
        old_key="oldkey", passage=first, speech=speech, reason=PassageRedirect.Reason.SPLIT
    )
    response = client.get("/api/passages/oldkey/")
    assert response.status_code == 301
    assert response["Location"] == f"/api/passages/{first.key}/"
    upper = client.get(f"/api/passages/{first.key.upper()}/")
    assert upper.status_code == 301 and upper["Location"] == f"/api/passages/{first.key}/"
    correction = Correction.objects.create(
        version=speech.versions.get(code="en"), date=dt.date(2021, 1, 1), description="Dropped."
    )
    PassageRedirect.objects.create(
        old_key="removed1",
        speech=speech,
        reason=PassageRedirect.Reason.REMOVED,
        correction=correction,
    )
    gone = get_json(client, "/api/passages/removed1/", 410)
    assert (gone["status"], gone["reason"], gone["speech"]) == ("removed", "Dropped.", speech.slug)
    assert get_json(client, "/api/passages/nosuchkey/", 404)["detail"]
    assert get_json(client, "/api/passages/bad%00key/", 422)["detail"]
    speech.status = Speech.Status.DRAFT
    speech.save()
    assert get_json(client, f"/api/passages/{second.key}/", 404)["detail"]
    assert get_json(client, "/api/passages/oldkey/", 404)["detail"]
    speech.status = Speech.Status.WITHDRAWN
    speech.save()
    assert get_json(client, f"/api/passages/{second.key}/", 410)["status"] == "withdrawn"


# ---------------------------------------------------------------- indexes


def test_themes_speakers_and_terms_are_public_only(client):
    public = make_bilingual_speech(1)
    public.themes.add("Open theme")
    draft = make_bilingual_speech(
        1, status=Speech.Status.DRAFT, speaker=SpeakerFactory(name="Hidden", slug="hidden")
    )
    draft.themes.add("Secret theme")
    Term.objects.create(
        original="网络强国",
        slug="wlqg",
        translation="cyber superpower",
        status="confirmed",
        variants="network power\ninternet power",
    )
    Term.objects.create(original="候选", slug="hx", translation="candidate")
    themes = get_json(client, "/api/themes/")["items"]
    assert [(t["slug"], t["speeches"]) for t in themes] == [("open-theme", 1)]
    speakers = get_json(client, "/api/speakers/")["items"]
    assert [s["slug"] for s in speakers] == [public.speaker.slug]
    terms = get_json(client, "/api/terms/")["items"]
    assert [(t["original"], t["variants"]) for t in terms] == [
        ("网络强国", ["network power", "internet power"])
    ]
    assert "网络强国" in client.get("/api/terms/").content.decode()  # UTF-8, not \\u escapes


def test_index_query_counts_do_not_grow(client):
    def counts() -> tuple[int, ...]:
        return tuple(count_queries(client, url) for url in ("/api/themes/", "/api/speakers/"))

    make_bilingual_speech(1).themes.add("A")
    small = counts()
    for i in range(15):
        make_bilingual_speech(1).themes.add(f"T{i}")
    assert counts() == small


# ---------------------------------------------------------------- HTTP details


def test_cors_is_open_for_get_and_preflight(client):
    response = client.get("/api/speeches/")
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "X-Request-ID" in response["Access-Control-Expose-Headers"]
    preflight = client.options(
        "/api/speeches/",
        HTTP_ORIGIN="https://example.org",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
    )
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == "*"
    assert "GET" in preflight["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Origin" not in client.get("/speeches/")


def test_api_is_read_only(client):
    assert client.post("/api/speeches/", {}).status_code == 405
    assert client.delete("/api/speeches/x/").status_code == 405


def test_openapi_schema_and_docs(client):
    schema = get_json(client, "/api/openapi.json")
    paths = set(schema["paths"])
    assert {
        "/api/speeches/",
        "/api/speeches/{slug}/",
        "/api/passages/{key}/",
        "/api/themes/",
        "/api/speakers/",
        "/api/terms/",
    } <= paths
    assert set(schema["paths"]["/api/passages/{key}/"]["get"]["responses"]) >= {
        "200",
        "301",
        "404",
        "410",
        "422",
        "429",
    }
    docs = client.get("/api/docs")
    html = docs.content.decode()
    assert docs.status_code == 200
    # Swagger UI from our own static files, and no inline script (the CSP forbids it).
    assert "cdn." not in html
    assert "<script>" not in html.replace(" ", "")


def test_a_logged_in_editor_sees_no_draft_through_the_api(admin_client):
    """The API is public only: a session (even a superuser's) changes nothing."""
    draft = make_bilingual_speech(2, slug="draft", status=Speech.Status.DRAFT)
    assert get_json(admin_client, "/api/speeches/")["count"] == 0
    assert get_json(admin_client, "/api/speeches/draft/", 404)
    assert get_json(admin_client, f"/api/passages/{draft.passages.first().key}/", 404)
