"""Stored public pages (speeches/pagestore.py): served only while they are current."""

from __future__ import annotations

import datetime
import gzip

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from speeches import pagestore
from speeches.models import PassageText, Speech, StoredPage, Term
from tests.factories import make_bilingual_speech

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_cache")]


@pytest.fixture
def renders(monkeypatch) -> list[str]:
    """The pages really rendered (not served from the store)."""
    calls: list[str] = []
    real = pagestore.store

    def counting(slot, content):
        calls.append(slot.key)
        return real(slot, content)

    monkeypatch.setattr(pagestore, "store", counting)
    return calls


def get(client, url: str, **params) -> str:
    response = client.get(url, params)
    assert response.status_code == 200, url
    return response.content.decode()


def test_a_reading_page_is_rendered_once_then_served_from_the_store(client, renders):
    speech = make_bilingual_speech(3)
    url = speech.get_absolute_url()
    first = get(client, url)
    cache.clear()  # another process: no article cache, same store
    assert get(client, url) == first
    assert len(renders) == 1
    assert StoredPage.objects.filter(speech=speech).count() == 1


def test_a_passage_page_is_rendered_once_then_served_from_the_store(client, renders):
    speech = make_bilingual_speech(3)
    passage = speech.passages.get(position=2)
    first = get(client, passage.get_absolute_url())
    assert get(client, passage.get_absolute_url()) == first
    assert len(renders) == 1


def test_an_edit_shows_on_the_next_request_and_older_generations_go(client, renders):
    speech = make_bilingual_speech(3)
    passage = speech.passages.get(position=2)
    get(client, speech.get_absolute_url())
    get(client, passage.get_absolute_url())
    assert StoredPage.objects.filter(speech=speech).count() == 2
    PassageText.objects.filter(passage=passage, version__code="en").update(text="Edited words.")
    assert "Edited words." in get(client, speech.get_absolute_url())
    assert "Edited words." in get(client, passage.get_absolute_url())
    assert len(renders) == 4
    # Both pages of the old generation were removed when the new ones were stored.
    assert StoredPage.objects.filter(speech=speech).count() == 2


def test_a_glossary_change_shows_on_the_next_request(client, renders):
    speech = make_bilingual_speech(2)
    assert 'class="term"' not in get(client, speech.get_absolute_url())
    Term.objects.create(
        original="网络强国", slug="wlqg", translation="cyber superpower", status="confirmed"
    )
    assert 'class="term"' in get(client, speech.get_absolute_url())
    assert len(renders) == 2


def test_a_stored_page_of_a_speech_made_draft_is_never_served(client):
    speech = make_bilingual_speech(2)
    passage = speech.passages.first()
    get(client, speech.get_absolute_url())
    get(client, passage.get_absolute_url())
    Speech.objects.filter(pk=speech.pk).update(status=Speech.Status.DRAFT)
    assert client.get(speech.get_absolute_url()).status_code == 404
    assert client.get(passage.get_absolute_url()).status_code == 404
    Speech.objects.filter(pk=speech.pk).update(status=Speech.Status.WITHDRAWN)
    assert client.get(speech.get_absolute_url()).status_code == 410


def test_layouts_are_stored_apart(client, renders):
    speech = make_bilingual_speech(2)
    url = speech.get_absolute_url()
    parallel = get(client, url)
    single = get(client, url, view="single", left="en")
    assert parallel != single
    assert get(client, url) == parallel
    assert get(client, url, view="single", left="en") == single
    assert len(renders) == 2


@pytest.mark.parametrize(
    "params",
    [
        {"q": "anything"},  # shown in the header's search box
        {"utm_source": "newsletter"},
        {"view": "single", "left": "<script>"},
        {"left": "x" * 40},
    ],
)
def test_other_or_odd_parameters_are_rendered_not_stored(client, renders, params):
    speech = make_bilingual_speech(2)
    get(client, speech.get_absolute_url(), **params)
    get(client, speech.get_absolute_url(), **params)
    assert renders == []
    assert not StoredPage.objects.exists()


def test_a_repeated_parameter_is_not_stored(client, renders):
    speech = make_bilingual_speech(2)
    response = client.get(speech.get_absolute_url() + "?view=single&view=parallel")
    assert response.status_code == 200
    assert renders == []


def test_the_key_changes_with_the_day_the_host_and_the_code(rf, monkeypatch):
    speech = make_bilingual_speech(1)

    def key(host: str = "testserver") -> str:
        request = rf.get("/", HTTP_HOST=host)
        return pagestore.slot_for(request, kind="reading", lookup=speech.slug).key

    today = key()
    assert key() == today
    assert key("127.0.0.1") != today
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    monkeypatch.setattr(timezone, "localdate", lambda: tomorrow)
    assert key() != today
    monkeypatch.undo()
    monkeypatch.setattr(pagestore, "render_version", lambda: "another release")
    assert key() != today


def test_only_published_pages_have_a_slot(rf):
    speech = make_bilingual_speech(1)
    passage = speech.passages.get()
    request = rf.get("/")
    assert pagestore.slot_for(request, kind="passage", lookup=passage.key) is not None
    assert pagestore.slot_for(request, kind="passage", lookup="nosuchkey") is None
    assert pagestore.slot_for(request, kind="reading", lookup="no-such-slug") is None
    for status in (Speech.Status.DRAFT, Speech.Status.WITHDRAWN):
        Speech.objects.filter(pk=speech.pk).update(status=status)
        assert pagestore.slot_for(request, kind="passage", lookup=passage.key) is None
        assert pagestore.slot_for(request, kind="reading", lookup=speech.slug) is None


def test_without_a_glossary_stamp_nothing_is_stored(client, renders):
    speech = make_bilingual_speech(1)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM speeches_glossary_stamp")
    get(client, speech.get_absolute_url())
    get(client, speech.get_absolute_url())
    assert not StoredPage.objects.exists()


def test_a_failed_store_is_logged_and_the_transaction_goes_on(caplog):
    speech = make_bilingual_speech(1)
    # A key longer than the column: PostgreSQL refuses the row.
    slot = pagestore.Slot(key="k" * 65, speech_id=speech.pk, generation="g")
    pagestore.store(slot, b"<p>page</p>")
    assert "stored page not kept" in caplog.text
    assert Speech.objects.filter(pk=speech.pk).exists()  # the connection still works


def test_render_version_names_the_templates_and_sources():
    version = pagestore.render_version()
    assert len(version) == 16 and version == pagestore.render_version()


def test_a_client_that_accepts_gzip_gets_the_stored_bytes_as_they_are(client):
    speech = make_bilingual_speech(3)
    url = speech.get_absolute_url()
    rendered = client.get(url)
    assert "Accept-Encoding" in rendered["Vary"] and not rendered.has_header("Content-Encoding")
    plain = client.get(url)
    zipped = client.get(url, headers={"accept-encoding": "gzip, deflate, br"})
    assert zipped["Content-Encoding"] == "gzip" and "Accept-Encoding" in zipped["Vary"]
    assert gzip.decompress(zipped.content) == plain.content == rendered.content
    assert not plain.has_header("Content-Encoding") and "Accept-Encoding" in plain["Vary"]
    assert len(zipped.content) < len(plain.content) / 2


def test_a_client_holding_the_page_gets_304_until_it_changes(client, django_assert_num_queries):
    speech = make_bilingual_speech(2)
    url = speech.get_absolute_url()
    first = client.get(url)
    etag = first["ETag"]
    assert etag.startswith('W/"') and etag == client.get(url)["ETag"]
    with django_assert_num_queries(1):  # the page's key only: no stored page read
        again = client.get(url, headers={"if-none-match": etag})
    assert again.status_code == 304 and again["ETag"] == etag and not again.content
    assert "Accept-Encoding" in again["Vary"]
    PassageText.objects.filter(passage__speech=speech, version__code="en").update(text="New.")
    changed = client.get(url, headers={"if-none-match": etag})
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert "New." in changed.content.decode()
