"""Revision history: every edit is recorded, and revert restores texts and themes."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.utils import timezone

from speeches import services
from speeches.models import Annotation, PassageText, TaggedPassage
from tests.factories import make_bilingual_speech

pytestmark = pytest.mark.django_db


def _editor() -> User:
    user = User.objects.create_user("ed", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name="Editor"))
    return user


def _en(passage) -> PassageText:
    return passage.texts.get(version__code="en")


def test_tag_and_untag_are_recorded_with_user() -> None:
    editor = _editor()
    passage = make_bilingual_speech(1).passages.get()
    services.tag_passages(passages=[passage], themes=["Cyber", "Reform"], user=editor)
    services.untag_passages(passages=[passage], themes=["reform"], user=editor)
    assert list(passage.themes.names()) == ["Cyber"]
    records = TaggedPassage.history.filter(content_object_id=passage.pk)
    assert sorted((r.tag.name, r.history_type) for r in records) == [
        ("Cyber", "+"),
        ("Reform", "+"),
        ("Reform", "-"),
    ]
    assert {r.history_user_id for r in records} == {editor.pk}


def test_tagging_is_idempotent_and_case_insensitive() -> None:
    passage = make_bilingual_speech(1).passages.get()
    assert services.tag_passages(passages=[passage], themes=["Cyber"]) == 1
    assert services.tag_passages(passages=[passage], themes=["cyber", " CYBER "]) == 0
    assert list(passage.themes.names()) == ["Cyber"]


def test_revert_restores_text_and_tags_and_is_itself_revertible() -> None:
    speech = make_bilingual_speech(2)
    passage = speech.passages.get(position=1)
    original_text = _en(passage).text
    services.tag_passages(passages=[passage], themes=["Cyber"])
    checkpoint = timezone.now()

    services.update_passage_text(passage_text=_en(passage), text="Rewritten paragraph.")
    services.untag_passages(passages=[passage], themes=["Cyber"])
    services.tag_passages(passages=[passage], themes=["Economy"])
    after_edits = timezone.now()
    assert list(passage.themes.names()) == ["Economy"]

    services.revert_passage(passage=passage, as_of=checkpoint)
    assert _en(passage).text == original_text
    assert list(passage.themes.names()) == ["Cyber"]
    # The revert wrote new history rows rather than rewriting old ones.
    assert _en(passage).history.first().history_change_reason.startswith("Reverted to")

    services.revert_passage(passage=passage, as_of=after_edits)
    assert _en(passage).text == "Rewritten paragraph."
    assert list(passage.themes.names()) == ["Economy"]


def test_revert_restores_turn_speaker_and_reanchors_annotations() -> None:
    speech = make_bilingual_speech(1)
    passage = speech.passages.get()
    en_text = _en(passage)
    note = Annotation.objects.create(
        passage=passage,
        version=en_text.version,
        body="n",
        exact="cyber",
        start=en_text.text.index("cyber"),
    )
    checkpoint = timezone.now()
    passage.turn_speaker = "Moderator"
    passage.save()
    services.update_passage_text(passage_text=en_text, text="No quote here.")
    note.refresh_from_db()
    assert note.is_orphaned

    services.revert_passage(passage=passage, as_of=checkpoint)
    passage.refresh_from_db()
    note.refresh_from_db()
    assert passage.turn_speaker == ""
    assert not note.is_orphaned


def test_revert_removes_text_added_later_and_history_keeps_it() -> None:
    speech = make_bilingual_speech(1)
    passage = speech.passages.get()
    checkpoint = timezone.now()
    zh_hant = speech.versions.create(code="zh-Hant", language="zh-Hant", title="t")
    PassageText.objects.create(passage=passage, version=zh_hant, text="建設網絡強國")
    services.revert_passage(passage=passage, as_of=checkpoint)
    assert not passage.texts.filter(version=zh_hant).exists()
    assert PassageText.history.filter(version_id=zh_hant.pk, history_type="-").exists()


def test_revert_before_creation_is_refused() -> None:
    before = timezone.now()
    speech = make_bilingual_speech(1)
    with pytest.raises(ValidationError):
        services.revert_passage(passage=speech.passages.get(), as_of=before)


def test_split_and_merge_are_recorded_in_text_history() -> None:
    speech = make_bilingual_speech(2)
    en = speech.versions.get(code="en")
    p1, p2 = speech.passages.order_by("position")
    services.merge_passages(first=p1, second=p2)
    text = _en(p1)
    assert text.history.count() == 2
    assert "Merged with" in text.history.first().history_change_reason
    services.split_passage(
        passage=p1,
        version_splits={en: ("Paragraph 1: build a cyber superpower.", text.text[39:])},
    )
    assert _en(p1).text == "Paragraph 1: build a cyber superpower."
    assert _en(p1).history.count() == 3


def test_one_edit_is_one_step_in_history_and_revert_keeps_all_of_it() -> None:
    speech = make_bilingual_speech(1)
    en = speech.versions.get(code="en")
    zh = speech.versions.get(code="zh-Hans")
    inserted = services.insert_passage(
        speech=speech, after=None, texts={en: "A.", zh: "甲。"}, turn_speaker="Host"
    )
    dates = {r.history_date for r in PassageText.history.filter(passage_id=inserted.pk)}
    dates.add(inserted.history.get().history_date)
    assert len(dates) == 1
    services.update_passage_text(passage_text=_en(inserted), text="B.")
    services.revert_passage(passage=inserted, as_of=dates.pop())
    assert {pt.version.code: pt.text for pt in inserted.texts.all()} == {
        "en": "A.",
        "zh-Hans": "甲。",
    }
