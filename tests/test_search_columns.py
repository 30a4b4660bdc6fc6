"""The search columns cannot drift from the data they are computed from.

Every write path — factories/ORM save, services (insert, split, merge, edit,
revert, delete, publish, withdraw), the admin passage editor, speech field
changes, version language changes and the importer (create and re-import) —
leaves `search.drifted_texts()` empty and the tokens equal to textnorm's.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group, User
from django.db import IntegrityError, connection, transaction
from django.db.models import Value
from django.db.models.functions import Concat
from django.urls import reverse
from django.utils import timezone

from speeches import search, services, textnorm
from speeches.importers.document import PassageDoc, SpeechDocument, VersionDoc
from speeches.importers.writer import import_speech_document
from speeches.models import Passage, PassageText, Speech, Version
from tests.factories import SpeakerFactory, make_bilingual_speech

pytestmark = pytest.mark.django_db


def assert_consistent() -> None:
    assert search.drifted_texts() == []
    for text, tokens in PassageText.objects.values_list("text", "search_tokens"):
        assert tokens == textnorm.index_tokens(text)
    for title, tokens in Speech.objects.values_list("title", "search_title_tokens"):
        assert tokens == textnorm.index_tokens(title, cjk_only=True)


def columns(passage_text: PassageText) -> dict:
    return (
        PassageText.objects.filter(pk=passage_text.pk)
        .values(
            "search_lang",
            "search_public",
            "search_speech_id",
            "search_speaker_id",
            "search_date",
            "search_kind",
        )
        .get()
    )


def publisher() -> User:
    user = User.objects.create_user("pub", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name="Publisher"))
    return user


def hits(q: str, **filters) -> int:
    return search.run_search(search.read_params({"q": q, **filters})).total


def test_orm_create_fills_every_column() -> None:
    speech = make_bilingual_speech(2, kind="interview")
    zh = PassageText.objects.get(
        passage__speech=speech, passage__position=1, version__code="zh-Hans"
    )
    assert columns(zh) == {
        "search_lang": "zh",
        "search_public": True,
        "search_speech_id": speech.pk,
        "search_speaker_id": speech.speaker_id,
        "search_date": speech.delivered_on,
        "search_kind": "interview",
    }
    assert zh.search_tokens == textnorm.index_tokens(zh.text)
    assert_consistent()


def test_publish_withdraw_date_speaker_kind_changes_reach_the_texts() -> None:
    speech = make_bilingual_speech(2, status=Speech.Status.DRAFT)
    assert hits("网络强国") == 0
    user = publisher()
    services.publish_speech(speech=speech, user=user)
    assert hits("网络强国") == 2
    speech = Speech.objects.get(pk=speech.pk)
    speech.delivered_on = dt.date(1999, 12, 31)
    speech.speaker = SpeakerFactory(slug="someone-else")
    speech.kind = Speech.Kind.LETTER
    speech.save()
    assert_consistent()
    assert hits("网络强国", speaker="someone-else", **{"from": "1999", "to": "1999"}) == 2
    assert hits("网络强国", kind="letter") == 2
    services.withdraw_speech(speech=speech, user=user, reason="Retracted")
    assert hits("网络强国") == 0
    assert hits("cyber superpower") == 0
    assert_consistent()


def test_admin_status_change_with_update_fields() -> None:
    speech = make_bilingual_speech(1)
    speech.status = Speech.Status.DRAFT
    speech.save(update_fields=["status"])
    assert hits("网络强国") == 0
    assert_consistent()


def test_services_text_edits_keep_tokens_and_columns() -> None:
    speech = make_bilingual_speech(3)
    zh = Version.objects.get(speech=speech, code="zh-Hans")
    en = Version.objects.get(speech=speech, code="en")
    first, second, third = speech.passages.order_by("position")
    start = timezone.now()

    text = first.texts.get(version=zh)
    services.update_passage_text(passage_text=text, text="推进自主创新。")
    assert hits("自主创新") == 1
    assert_consistent()

    services.insert_passage(
        speech=speech, after=first, texts={zh: "太陽花學運。", en: "Sunflower."}
    )
    assert hits("太阳花") == 1
    assert_consistent()

    head, tail = services.split_passage(
        passage=second,
        version_splits={zh: ("第2段：建设", "网络强国。")},
    )
    assert_consistent()

    services.merge_passages(first=head, second=tail)
    assert_consistent()
    services.merge_passages(first=head, second=third)
    assert_consistent()

    services.revert_passage(passage=first, as_of=start)
    assert hits("自主创新") == 0
    assert_consistent()

    services.delete_passage(passage=Passage.objects.get(pk=first.pk), reason="Duplicate")
    assert_consistent()


def test_text_loaded_with_only_is_saved_with_its_tokens() -> None:
    speech = make_bilingual_speech(1)
    text = PassageText.objects.only("id", "text").get(
        passage__speech=speech, version__code="zh-Hans"
    )
    text.text = "新的文字：乡村振兴。"
    text.save()
    assert hits("乡村振兴") == 1
    assert_consistent()


def test_version_language_change_moves_texts_between_indexes() -> None:
    speech = make_bilingual_speech(1)
    assert hits("superpowers", lang="en") == 1
    Version.objects.filter(speech=speech, code="en").update(language="fr")
    assert_consistent()
    assert hits("superpower", lang="fr") == 1
    assert hits("superpowers", lang="fr") == 0  # no English stemming any more


def test_admin_passage_editor_edit(admin_client) -> None:
    speech = make_bilingual_speech(1)
    passage = speech.passages.get()
    rows = list(passage.texts.select_related("version").order_by("pk"))
    data = {
        "turn_speaker": "",
        "new_themes": "",
        "texts-TOTAL_FORMS": str(len(rows)),
        "texts-INITIAL_FORMS": str(len(rows)),
        "texts-MIN_NUM_FORMS": "0",
        "texts-MAX_NUM_FORMS": "1000",
        "annotations-TOTAL_FORMS": "0",
        "annotations-INITIAL_FORMS": "0",
        "annotations-MIN_NUM_FORMS": "0",
        "annotations-MAX_NUM_FORMS": "0",
    }
    for i, row in enumerate(rows):
        data[f"texts-{i}-id"] = str(row.pk)
        data[f"texts-{i}-passage"] = str(passage.pk)
        data[f"texts-{i}-version"] = str(row.version_id)
        data[f"texts-{i}-text"] = "共同富裕。" if row.version.code == "zh-Hans" else row.text
    url = reverse("admin:speeches_passage_change", args=[passage.pk])
    response = admin_client.post(url, data)
    assert response.status_code == 302
    assert hits("共同富裕") == 1
    assert_consistent()


def _doc(zh: list[str], en: list[str], title: str = "讲话") -> SpeechDocument:
    return SpeechDocument(
        slug="imported",
        title=title,
        speaker_name="Jane Doe",
        delivered_on=dt.date(2020, 5, 1),
        original_language="zh-Hans",
        versions=[
            VersionDoc(code="zh-Hans", language="zh-Hans", title=title, is_original=True),
            VersionDoc(code="en", language="en", title="A speech"),
        ],
        passages=[PassageDoc(texts={"zh-Hans": z, "en": e}) for z, e in zip(zh, en, strict=True)],
    )


def test_importer_create_and_reimport() -> None:
    zh = ["建设网络强国。", "推进自主创新。", "坚持共同富裕。"]
    en = ["Build a cyber superpower.", "Promote indigenous innovation.", "Common prosperity."]
    import_speech_document(_doc(zh, en), publish=True)
    assert_consistent()
    assert hits("网络强国") == 1
    assert hits("innovating") == 1
    zh[1] = "推进高水平科技自立自强。"
    en[1] = "Promote self-reliance in science."
    import_speech_document(_doc(zh, en, title="关于网络强国的讲话"), publish=True)
    assert_consistent()
    assert hits("自主创新") == 0
    assert hits("自立自强") == 1
    assert hits("self-reliance") == 1


def test_queryset_update_of_a_literal_text_brings_its_tokens() -> None:
    speech = make_bilingual_speech(1)
    PassageText.objects.filter(passage__speech=speech, version__code="zh-Hans").update(
        text="乡村振兴。"
    )
    assert hits("乡村振兴") == 1
    assert_consistent()


def test_a_write_that_skips_the_tokens_is_refused() -> None:
    speech = make_bilingual_speech(1)
    with pytest.raises(IntegrityError), transaction.atomic():
        PassageText.objects.filter(passage__speech=speech).update(text=Concat("text", Value("!")))
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE speeches_passagetext SET text = 'stale tokens'")
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE speeches_speech SET title = 'New title, old tokens'")


def test_an_instance_loaded_before_a_push_does_not_write_stale_columns() -> None:
    speech = make_bilingual_speech(1, status=Speech.Status.DRAFT)
    text = PassageText.objects.get(passage__speech=speech, version__code="zh-Hans")
    services.publish_speech(speech=speech, user=publisher())
    text.text = "建设数字中国。"  # `text` still holds search_public=False from before
    text.save()
    assert columns(text)["search_public"] is True
    assert hits("数字中国") == 1
    assert_consistent()
