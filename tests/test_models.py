import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from speeches.models import Passage, PassageText, Speech, Version, new_passage_key
from tests.factories import PassageFactory, SpeechFactory, VersionFactory, make_bilingual_speech

pytestmark = pytest.mark.django_db


def test_public_querysets_hide_drafts_and_withdrawn():
    published = make_bilingual_speech(status=Speech.Status.PUBLISHED)
    draft = make_bilingual_speech(status=Speech.Status.DRAFT)
    withdrawn = make_bilingual_speech(status=Speech.Status.WITHDRAWN)

    assert list(Speech.objects.public()) == [published]
    public_passages = set(Passage.objects.public().values_list("speech_id", flat=True))
    assert public_passages == {published.pk}
    texts = set(PassageText.objects.public().values_list("passage__speech_id", flat=True))
    assert texts == {published.pk}
    assert draft.pk not in texts and withdrawn.pk not in texts


def test_passage_keys_are_opaque_and_unique():
    keys = {new_passage_key() for _ in range(1000)}
    assert len(keys) == 1000
    assert all(len(k) == 8 and k.isalnum() and k == k.lower() for k in keys)
    passage = PassageFactory()
    assert not passage.key.isdigit()
    assert str(passage.position) != passage.key


def test_database_rejects_invalid_status():
    speech = SpeechFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Speech.objects.filter(pk=speech.pk).update(status="secret")


def test_one_original_version_per_speech():
    speech = SpeechFactory()
    VersionFactory(speech=speech, code="zh", language="zh-Hans", is_original=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        Version.objects.create(
            speech=speech, code="zh2", language="zh-Hans", is_original=True, title="x"
        )


def test_passage_positions_unique_at_commit():
    speech = SpeechFactory()
    PassageFactory(speech=speech, position=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        PassageFactory(speech=speech, position=1)
        # the constraint is deferred: it fires when the savepoint's outer transaction checks
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_history_records_passage_theme_tags():
    passage = PassageFactory()
    passage.themes.add("innovation")
    passage.themes.remove("innovation")
    through_history = passage.themes.through.history.filter(content_object_id=passage.pk)
    assert [h.history_type for h in through_history.order_by("history_date")] == ["+", "-"]


def test_speech_ordering_newest_first():
    old = SpeechFactory(delivered_on=dt.date(2000, 1, 1))
    new = SpeechFactory(delivered_on=dt.date(2020, 1, 1))
    assert list(Speech.objects.all()) == [new, old]
