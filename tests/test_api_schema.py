"""schemathesis against /api/openapi.json on a live server: generated requests
(valid and invalid) never get a 5xx, and every response — status, content type,
headers, body — matches the schema. Bounded: a few dozen examples per
operation, each with a deadline, over a small archive."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from taggit.models import Tag

from speeches.api import api
from speeches.models import (
    Annotation,
    Footnote,
    PassageRedirect,
    SlugHistory,
    Speech,
    TaggedPassage,
    Term,
)
from tests.factories import make_bilingual_speech


def make_small_archive() -> None:
    speech = make_bilingual_speech(4, slug="speech", title="A speech")
    speech.themes.add("Cyber")
    en = speech.versions.get(code="en")
    first, second = list(speech.passages.order_by("position"))[:2]
    TaggedPassage.objects.create(content_object=first, tag=Tag.objects.create(name="Internet"))
    Footnote.objects.create(version=en, passage=first, number=1, body="Note")
    Annotation.objects.create(passage=second, version=en, body="Public", exact="Paragraph")
    PassageRedirect.objects.create(
        old_key="moved", passage=first, speech=speech, reason=PassageRedirect.Reason.SPLIT
    )
    PassageRedirect.objects.create(
        old_key="removed", speech=speech, reason=PassageRedirect.Reason.REMOVED
    )
    SlugHistory.objects.create(old_slug="old-speech", speech=speech)
    make_bilingual_speech(2, slug="withdrawn", status=Speech.Status.WITHDRAWN)
    make_bilingual_speech(2, slug="draft", status=Speech.Status.DRAFT)
    make_bilingual_speech(1, delivered_on=dt.date(2016, 4, 19), kind="interview")
    Term.objects.create(
        original="网络强国",
        slug="wlqg",
        translation="cyber superpower",
        status=Term.Status.CONFIRMED,
    )


# The schema as the API serves it (ninja builds it from the code, no request needed);
# the requests go to a live server over real HTTP.
def served_schema() -> dict:
    return json.loads(json.dumps(api.get_openapi_schema(path_prefix="/api/")))


schema = schemathesis.openapi.from_dict(served_schema())


@pytest.fixture
def archive_server(live_server, transactional_db, settings) -> str:
    settings.RATE_LIMIT_ENABLED = False  # hundreds of requests from one client
    make_small_archive()
    return live_server.url


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=dt.timedelta(seconds=5),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_api_matches_its_schema_and_never_fails(case, archive_server):
    case.call_and_validate(base_url=archive_server)


def test_the_served_schema_is_the_tested_one(client):
    assert client.get("/api/openapi.json").json() == served_schema()
