"""Passage-editing and publishing services: key stability, positions, redirects."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied, ValidationError

from speeches import services
from speeches.models import (
    Annotation,
    Correction,
    Footnote,
    Passage,
    PassageRedirect,
    PassageText,
    SlugHistory,
    Speech,
    TaggedPassage,
)
from tests.factories import SpeechFactory, make_bilingual_speech

pytestmark = pytest.mark.django_db


def _user(group: str) -> User:
    user = User.objects.create_user(f"{group.lower()}-user", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return User.objects.get(pk=user.pk)  # fresh permission cache


def positions(speech: Speech) -> list[int]:
    return list(speech.passages.order_by("position").values_list("position", flat=True))


def assert_contiguous(speech: Speech) -> None:
    assert positions(speech) == list(range(1, speech.passages.count() + 1))


def resolve(key: str) -> tuple[str, Passage | None]:
    """What an old URL /p/<key>/ would find: the passage, a redirect, or a tombstone."""
    passage = Passage.objects.filter(key=key).first()
    if passage is not None:
        return "passage", passage
    redirect = PassageRedirect.objects.get(old_key=key)
    if redirect.passage is None:
        return "removed", None
    return "redirect", redirect.passage


def texts(passage: Passage) -> dict[str, str]:
    return {pt.version.code: pt.text for pt in passage.texts.select_related("version")}


# ---------------------------------------------------------------- speeches


def test_publish_requires_permission() -> None:
    speech = SpeechFactory(status=Speech.Status.DRAFT)
    with pytest.raises(PermissionDenied):
        services.publish_speech(speech=speech, user=_user("Editor"))
    speech.refresh_from_db()
    assert speech.status == Speech.Status.DRAFT
    assert speech.published_at is None


def test_publish_and_withdraw_keep_first_publication_date() -> None:
    publisher = _user("Publisher")
    speech = make_bilingual_speech(2, status=Speech.Status.DRAFT)
    speech = services.publish_speech(speech=speech, user=publisher)
    assert speech.status == Speech.Status.PUBLISHED
    first = speech.published_at
    assert first is not None
    speech = services.withdraw_speech(speech=speech, user=publisher, reason="Source retracted")
    assert speech.status == Speech.Status.WITHDRAWN
    assert speech.withdrawn_reason == "Source retracted"
    assert speech.passages.count() == 2  # withdrawn keeps everything
    assert services.publish_speech(speech=speech, user=publisher).published_at == first


def test_withdraw_needs_reason_and_permission() -> None:
    speech = SpeechFactory()
    with pytest.raises(ValidationError):
        services.withdraw_speech(speech=speech, user=_user("Publisher"), reason=" ")
    with pytest.raises(PermissionDenied):
        services.withdraw_speech(speech=speech, user=_user("Editor"), reason="x")


def test_change_slug_records_history_and_allows_going_back() -> None:
    speech = SpeechFactory(slug="old-name")
    services.change_speech_slug(speech=speech, new_slug="new-name")
    assert SlugHistory.objects.get(old_slug="old-name").speech == speech
    services.change_speech_slug(speech=speech, new_slug="old-name")
    speech.refresh_from_db()
    assert speech.slug == "old-name"
    assert set(SlugHistory.objects.values_list("old_slug", flat=True)) == {"new-name"}


def test_change_slug_refuses_a_slug_used_by_another_speech() -> None:
    first = SpeechFactory(slug="first")
    services.change_speech_slug(speech=first, new_slug="first-renamed")
    other = SpeechFactory(slug="other")
    with pytest.raises(ValidationError):
        services.change_speech_slug(speech=other, new_slug="first")
    with pytest.raises(ValidationError):
        services.change_speech_slug(speech=other, new_slug="first-renamed")
    with pytest.raises(ValidationError):
        services.change_speech_slug(speech=other, new_slug="Not A Slug")


def test_slug_change_answers_301_on_public_page(client) -> None:
    speech = SpeechFactory(slug="before")
    services.change_speech_slug(speech=speech, new_slug="after")
    response = client.get("/speeches/before/")
    assert response.status_code == 301
    assert response["Location"] == "/speeches/after/"


# ---------------------------------------------------------------- insert


def test_insert_at_start_middle_and_end() -> None:
    speech = make_bilingual_speech(3)
    en = speech.versions.get(code="en")
    zh = speech.versions.get(code="zh-Hans")
    keys = list(speech.passages.values_list("key", flat=True))
    p1, p2, p3 = speech.passages.order_by("position")

    middle = services.insert_passage(speech=speech, after=p1, texts={en: "New.", zh: "新。"})
    start = services.insert_passage(speech=speech, after=None, texts={en: "First."})
    end = services.insert_passage(speech=speech, after=p3, texts={zh: "最后。"}, turn_speaker="Xi")

    assert_contiguous(speech)
    order = list(speech.passages.order_by("position").values_list("key", flat=True))
    assert order == [start.key, p1.key, middle.key, p2.key, p3.key, end.key]
    assert set(keys) < set(order)
    assert len(set(order)) == 6
    assert texts(middle) == {"en": "New.", "zh-Hans": "新。"}
    assert texts(start) == {"en": "First."}
    assert end.turn_speaker == "Xi"


def test_insert_requires_text_and_own_versions() -> None:
    speech = make_bilingual_speech(1)
    other = make_bilingual_speech(1)
    with pytest.raises(ValidationError):
        services.insert_passage(speech=speech, after=None, texts={})
    with pytest.raises(ValidationError):
        services.insert_passage(
            speech=speech, after=None, texts={other.versions.get(code="en"): "x"}
        )
    assert speech.passages.count() == 1


def test_new_key_never_reuses_a_retired_key(monkeypatch) -> None:
    speech = make_bilingual_speech(2)
    p1 = speech.passages.get(position=1)
    services.delete_passage(passage=p1, reason="Duplicate")
    fresh = iter([p1.key, "freshkey"])
    monkeypatch.setattr("speeches.models.new_passage_key", lambda: next(fresh))
    inserted = services.insert_passage(
        speech=speech, after=None, texts={speech.versions.get(code="en"): "x"}
    )
    assert inserted.key == "freshkey"


# ---------------------------------------------------------------- split


def test_split_keeps_key_on_first_part_and_moves_footnotes_and_annotations() -> None:
    speech = make_bilingual_speech(3)
    en = speech.versions.get(code="en")
    zh = speech.versions.get(code="zh-Hans")
    p1, p2, p3 = speech.passages.order_by("position")
    en_text = p2.texts.get(version=en)
    en_text.text = "First sentence.[^1] Second sentence about reform.[^2]"
    en_text.save()
    fn1 = Footnote.objects.create(version=en, passage=p2, number=1, body="one")
    fn2 = Footnote.objects.create(version=en, passage=p2, number=2, body="two")
    head_note = Annotation.objects.create(passage=p2, version=en, body="a", exact="First", start=0)
    tail_note = Annotation.objects.create(
        passage=p2, version=en, body="b", exact="reform", start=en_text.text.index("reform")
    )
    whole = Annotation.objects.create(passage=p2, body="whole passage")
    services.tag_passages(passages=[p2], themes=["Reform"])

    first, second = services.split_passage(
        passage=p2,
        version_splits={en: ("First sentence.[^1] ", "Second sentence about reform.[^2]")},
    )

    assert first.key == p2.key
    assert second.key not in {p1.key, p2.key, p3.key}
    assert_contiguous(speech)
    order = list(speech.passages.order_by("position").values_list("key", flat=True))
    assert order == [p1.key, p2.key, second.key, p3.key]
    assert texts(first) == {"en": "First sentence.[^1]", "zh-Hans": "第2段：建设网络强国。"}
    assert texts(second) == {"en": "Second sentence about reform.[^2]"}
    fn1.refresh_from_db()
    fn2.refresh_from_db()
    assert (fn1.passage_id, fn2.passage_id) == (first.pk, second.pk)
    head_note.refresh_from_db()
    tail_note.refresh_from_db()
    whole.refresh_from_db()
    assert head_note.passage_id == first.pk and head_note.start == 0
    assert tail_note.passage_id == second.pk
    assert tail_note.start == texts(second)["en"].index("reform")
    assert not tail_note.is_orphaned and not head_note.is_orphaned
    assert whole.passage_id == first.pk
    assert list(second.themes.names()) == ["Reform"]
    # A split retires no key: every key still resolves to a live passage.
    for key in [p1.key, p2.key, p3.key]:
        assert resolve(key)[0] == "passage"
    assert zh  # the original stayed whole on the first part


def test_split_refuses_to_change_words() -> None:
    speech = make_bilingual_speech(1)
    en = speech.versions.get(code="en")
    passage = speech.passages.get()
    with pytest.raises(ValidationError):
        services.split_passage(passage=passage, version_splits={en: ("Paragraph 1:", "edited")})
    with pytest.raises(ValidationError):
        services.split_passage(
            passage=passage, version_splits={en: ("Paragraph 1: build a cyber superpower.", "")}
        )
    assert speech.passages.count() == 1


# ---------------------------------------------------------------- merge


def test_merge_redirects_second_key_and_moves_everything() -> None:
    speech = make_bilingual_speech(4)
    en = speech.versions.get(code="en")
    _, p2, p3, _ = speech.passages.order_by("position")
    first_en = p2.texts.get(version=en).text
    note = Annotation.objects.create(
        passage=p3,
        version=en,
        body="n",
        exact="cyber",
        start=p3.texts.get(version=en).text.index("cyber"),
    )
    footnote = Footnote.objects.create(version=en, passage=p3, number=1, body="fn")
    correction = Correction.objects.create(version=en, date="2024-01-01", description="c")
    correction.passages.add(p3)
    services.tag_passages(passages=[p2], themes=["Innovation"])
    services.tag_passages(passages=[p3], themes=["Cyber", "innovation"])

    merged = services.merge_passages(first=p2, second=p3)

    assert merged.key == p2.key
    assert not Passage.objects.filter(pk=p3.pk).exists()
    assert_contiguous(speech)
    assert resolve(p3.key) == ("redirect", merged)
    redirect = PassageRedirect.objects.get(old_key=p3.key)
    assert (redirect.reason, redirect.old_position) == ("merged", 3)
    merged_en = texts(merged)["en"]
    assert merged_en == first_en + "\n\nParagraph 3: build a cyber superpower."
    note.refresh_from_db()
    assert note.passage_id == merged.pk
    assert merged_en[note.start : note.start + 5] == "cyber"
    assert note.start > len(first_en)
    assert not note.is_orphaned
    footnote.refresh_from_db()
    assert footnote.passage_id == merged.pk
    assert list(correction.passages.all()) == [merged]
    assert sorted(merged.themes.names()) == ["Cyber", "Innovation"]
    assert TaggedPassage.objects.filter(content_object=merged).count() == 2


def test_merge_only_adjacent_passages() -> None:
    speech = make_bilingual_speech(3)
    p1, _, p3 = speech.passages.order_by("position")
    with pytest.raises(ValidationError):
        services.merge_passages(first=p1, second=p3)
    with pytest.raises(ValidationError):
        services.merge_passages(first=p3, second=p1)


def test_merge_moves_text_of_a_version_only_the_second_has() -> None:
    speech = make_bilingual_speech(2)
    en = speech.versions.get(code="en")
    p1, p2 = speech.passages.order_by("position")
    p1.texts.filter(version=en).delete()
    merged = services.merge_passages(first=p1, second=p2)
    assert texts(merged)["en"] == "Paragraph 2: build a cyber superpower."


# ---------------------------------------------------------------- delete


def test_delete_leaves_tombstone_and_correction_and_keeps_annotations() -> None:
    speech = make_bilingual_speech(3)
    en = speech.versions.get(code="en")
    p1, p2, _ = speech.passages.order_by("position")
    note = Annotation.objects.create(
        passage=p2, version=en, body="keep me", exact="cyber", start=20
    )
    footnote = Footnote.objects.create(version=en, passage=p2, number=1, body="fn")

    tombstone = services.delete_passage(passage=p2, reason="Duplicated paragraph")

    assert resolve(p2.key) == ("removed", None)
    assert (tombstone.reason, tombstone.old_position) == ("removed", 2)
    assert_contiguous(speech)
    corrections = Correction.objects.filter(version__speech=speech)
    assert corrections.count() == 2  # one per version with text
    assert all("Duplicated paragraph" in c.description for c in corrections)
    assert tombstone.correction in corrections
    note.refresh_from_db()
    assert note.passage_id == p1.pk and note.is_orphaned and note.body == "keep me"
    footnote.refresh_from_db()
    assert footnote.passage_id is None
    assert not PassageText.objects.filter(passage_id=p2.pk).exists()


def test_delete_first_passage_moves_annotations_to_next() -> None:
    speech = make_bilingual_speech(2)
    p1, p2 = speech.passages.order_by("position")
    note = Annotation.objects.create(passage=p1, body="n")
    services.delete_passage(passage=p1, reason="Not part of the speech")
    note.refresh_from_db()
    assert note.passage_id == p2.pk and note.is_orphaned
    p2.refresh_from_db()
    assert p2.position == 1


def test_delete_requires_reason_and_refuses_to_lose_annotations() -> None:
    speech = make_bilingual_speech(1)
    passage = speech.passages.get()
    with pytest.raises(ValidationError):
        services.delete_passage(passage=passage, reason="")
    Annotation.objects.create(passage=passage, body="n")
    with pytest.raises(ValidationError):
        services.delete_passage(passage=passage, reason="gone")
    assert Passage.objects.filter(pk=passage.pk).exists()


# ---------------------------------------------------------------- key stability


def test_every_old_key_resolves_through_a_sequence_of_edits() -> None:
    speech = make_bilingual_speech(6)
    en = speech.versions.get(code="en")
    zh = speech.versions.get(code="zh-Hans")
    seen: set[str] = set(speech.passages.values_list("key", flat=True))

    def passage_at(position: int) -> Passage:
        return speech.passages.get(position=position)

    inserted = services.insert_passage(speech=speech, after=passage_at(2), texts={en: "Extra."})
    seen.add(inserted.key)
    assert_contiguous(speech)

    target = passage_at(4)
    en_text = target.texts.get(version=en).text
    zh_text = target.texts.get(version=zh).text
    _, second = services.split_passage(
        passage=target,
        version_splits={en: (en_text[:10], en_text[10:]), zh: (zh_text[:3], zh_text[3:])},
    )
    seen.add(second.key)
    assert_contiguous(speech)

    merged_away = passage_at(2)
    services.merge_passages(first=passage_at(1), second=merged_away)
    assert_contiguous(speech)
    # Merging into a passage that was itself a merge target re-points the redirect.
    services.merge_passages(first=passage_at(1), second=passage_at(2))
    assert_contiguous(speech)
    assert resolve(merged_away.key) == ("redirect", passage_at(1))

    removed = passage_at(3)
    services.delete_passage(passage=removed, reason="Not in the source")
    assert_contiguous(speech)
    # Deleting a passage that absorbed others turns their redirects into tombstones.
    survivor = passage_at(1)
    services.delete_passage(passage=survivor, reason="Editorial")
    assert_contiguous(speech)

    live = set(speech.passages.values_list("key", flat=True))
    for key in seen:
        kind, target_passage = resolve(key)
        if kind == "passage":
            assert key in live
        elif kind == "redirect":
            assert target_passage.key in live
            assert target_passage.speech_id == speech.pk
        else:
            assert kind == "removed"
    assert resolve(merged_away.key) == ("removed", None)
    assert resolve(survivor.key) == ("removed", None)
    retired = seen - live
    assert set(PassageRedirect.objects.values_list("old_key", flat=True)) == retired
