"""Re-importing a changed text keeps passage keys stable (speeches.importers.writer)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from speeches import models
from speeches.importers.document import PassageDoc, SpeechDocument, VersionDoc
from speeches.importers.writer import import_speech_document, match_passages

ORIGINAL = [
    "The first paragraph opens the speech and greets the delegates warmly.",
    "The second paragraph describes the economy, growth and employment in detail.",
    "The third paragraph is about cyberspace governance and international rules.",
    "The fourth paragraph covers education, science and the training of talent.",
    "The fifth paragraph closes the speech with thanks and a call to action.",
]


def document(paragraphs: list[str], *, zh: list[str] | None = None, slug="re-speech"):
    versions = [VersionDoc(code="en", language="en", title="A speech", is_original=True)]
    passages = [PassageDoc(texts={"en": text}) for text in paragraphs]
    if zh is not None:
        versions.append(VersionDoc(code="zh-Hans", language="zh-Hans", title="讲话"))
        for passage, text in zip(passages, zh, strict=True):
            passage.texts["zh-Hans"] = text
    return SpeechDocument(
        slug=slug,
        title="A speech",
        speaker_name="Jane Doe",
        delivered_on=dt.date(2020, 5, 1),
        original_language="en",
        versions=versions,
        passages=passages,
    )


def state(speech: models.Speech) -> list[tuple[str, str]]:
    return [
        (t.passage.key, t.text)
        for t in models.PassageText.objects.filter(passage__speech=speech, version__code="en")
        .select_related("passage")
        .order_by("passage__position")
    ]


def keys(speech: models.Speech) -> list[str]:
    return list(speech.passages.order_by("position").values_list("key", flat=True))


@pytest.fixture
def imported(db):
    return import_speech_document(document(ORIGINAL)).speech


# ---------------------------------------------------------------- matching (pure)


def test_match_lightly_edited_inserted_removed():
    old = ["alpha beta gamma delta", "one two three four five", "x y z w", "the end here now"]
    new = ["alpha beta gamma delta", "one two three four six", "brand new text", "the end here now"]
    matching = match_passages(old, new)
    assert matching.pairs == {0: 0, 1: 1, 3: 3}
    assert matching.removed == [2]


def test_match_split_and_merge():
    old = ["aa bb cc dd ee ff gg hh", "ii jj kk", "ll mm nn"]
    new = ["aa bb cc dd", "ee ff gg hh", "ii jj kk ll mm nn"]
    matching = match_passages(old, new)
    assert matching.moved == {0: ("split", 0), 1: ("merged", 2), 2: ("merged", 2)}
    assert matching.pairs == {}


# ---------------------------------------------------------------- writer


@pytest.mark.django_db
def test_unchanged_reimport_changes_nothing(imported):
    before = keys(imported)
    history = models.Passage.history.count() + models.PassageText.history.count()
    result = import_speech_document(document(ORIGINAL))
    assert result.created is False
    assert result.correction is None
    assert keys(imported) == before
    assert models.Passage.history.count() + models.PassageText.history.count() == history
    assert models.Correction.objects.count() == 0
    assert result.summary() == "re-speech: updated (no changes)"


@pytest.mark.django_db
def test_lightly_edited_passage_keeps_its_key_and_records_history(imported):
    before = keys(imported)
    edited = list(ORIGINAL)
    edited[1] = edited[1].replace("in detail", "in some detail")
    result = import_speech_document(document(edited))
    assert keys(imported) == before
    assert state(imported)[1] == (before[1], edited[1])
    text = models.PassageText.objects.get(passage__key=before[1])
    assert [h.text for h in text.history.order_by("history_date")] == [ORIGINAL[1], edited[1]]
    assert result.counts["passages changed"] == 1
    correction = result.correction
    assert correction.version.code == "en"
    assert correction.date == timezone.localdate()
    assert correction.description == "Re-import: 1 changed, 0 added, 0 removed, 0 merged/split."
    assert list(correction.passages.values_list("key", flat=True)) == [before[1]]


@pytest.mark.django_db
def test_inserted_passage_gets_a_new_key(imported):
    before = keys(imported)
    inserted = [*ORIGINAL[:2], "A completely new passage about agriculture.", *ORIGINAL[2:]]
    result = import_speech_document(document(inserted))
    after = keys(imported)
    assert after[:2] == before[:2] and after[3:] == before[2:]
    assert after[2] not in before
    assert result.counts["passages added"] == 1
    assert result.correction.description.startswith("Re-import: 0 changed, 1 added")
    # Positions are renumbered 1..n.
    assert list(imported.passages.values_list("position", flat=True).order_by("position")) == [
        1,
        2,
        3,
        4,
        5,
        6,
    ]


@pytest.mark.django_db
def test_removed_passage_leaves_a_redirect(imported):
    before = keys(imported)
    result = import_speech_document(document([*ORIGINAL[:2], *ORIGINAL[3:]]))
    assert keys(imported) == before[:2] + before[3:]
    redirect = models.PassageRedirect.objects.get(old_key=before[2])
    assert (redirect.reason, redirect.passage, redirect.old_position) == ("removed", None, 3)
    assert redirect.correction == result.correction
    assert result.counts["passages removed"] == 1


@pytest.mark.django_db
def test_split_passage_redirects_to_its_first_part(imported):
    before = keys(imported)
    first, second = ORIGINAL[1].split(", ")
    result = import_speech_document(document([ORIGINAL[0], first + ",", second, *ORIGINAL[2:]]))
    after = keys(imported)
    assert after[0] == before[0] and after[3:] == before[2:]
    assert before[1] not in after
    redirect = models.PassageRedirect.objects.get(old_key=before[1])
    assert (redirect.reason, redirect.passage.key) == ("split", after[1])
    assert result.counts["passages merged/split"] == 1


@pytest.mark.django_db
def test_merged_passages_redirect_to_the_merged_one(imported):
    before = keys(imported)
    merged = ORIGINAL[2] + " " + ORIGINAL[3]
    import_speech_document(document([*ORIGINAL[:2], merged, ORIGINAL[4]]))
    after = keys(imported)
    assert after[:2] == before[:2] and after[3] == before[4]
    for old in before[2:4]:
        redirect = models.PassageRedirect.objects.get(old_key=old)
        assert (redirect.reason, redirect.passage.key) == ("merged", after[2])


@pytest.mark.django_db
def test_older_redirects_follow_a_removed_passage(imported):
    before = keys(imported)
    target = imported.passages.get(key=before[2])
    models.PassageRedirect.objects.create(
        old_key="oldkey22", passage=target, speech=imported, reason="split"
    )
    import_speech_document(document([*ORIGINAL[:2], *ORIGINAL[3:]]))
    old = models.PassageRedirect.objects.get(old_key="oldkey22")
    assert (old.reason, old.passage) == ("removed", None)


@pytest.mark.django_db
def test_annotation_orphaned_when_its_quote_is_edited_away(imported, django_user_model):
    editor = django_user_model.objects.create(username="editor")
    passage = imported.passages.get(position=3)
    en = imported.versions.get(code="en")
    kept = models.Annotation.objects.create(
        passage=passage, version=en, body="Keep", exact="cyberspace governance", author=editor
    )
    lost = models.Annotation.objects.create(
        passage=passage, version=en, body="Lose", exact="international rules", author=editor
    )
    edited = list(ORIGINAL)
    edited[2] = "The third paragraph is about cyberspace governance and global norms."
    result = import_speech_document(document(edited))
    kept.refresh_from_db()
    lost.refresh_from_db()
    assert (kept.is_orphaned, lost.is_orphaned) == (False, True)
    assert result.counts["annotations orphaned"] == 1


@pytest.mark.django_db
def test_reimport_refreshes_the_anchor_of_a_quote_that_moved(imported):
    # Re-anchoring is speeches.anchoring's: the quote's offset follows the edit.
    passage = imported.passages.get(position=3)
    en = imported.versions.get(code="en")
    quote = "cyberspace governance"
    note = models.Annotation.objects.create(
        passage=passage, version=en, body="Note", exact=quote, start=ORIGINAL[2].index(quote)
    )
    edited = list(ORIGINAL)
    edited[2] = "Briefly: " + ORIGINAL[2]
    result = import_speech_document(document(edited))
    note.refresh_from_db()
    assert (note.passage_id, note.is_orphaned) == (passage.pk, False)
    assert note.start == edited[2].index(quote)
    assert result.counts["annotations orphaned"] == 0


@pytest.mark.django_db
def test_annotation_on_a_removed_passage_moves_and_is_flagged(imported):
    passage = imported.passages.get(position=3)
    note = models.Annotation.objects.create(passage=passage, body="A note on the whole passage")
    import_speech_document(document([*ORIGINAL[:2], *ORIGINAL[3:]]))
    note.refresh_from_db()
    assert note.passage.position == 2  # the nearest passage before it
    assert note.is_orphaned is True


@pytest.mark.django_db
def test_only_the_changed_version_gets_a_correction():
    zh = ["第一段。", "第二段。", "第三段。", "第四段。", "第五段。"]
    speech = import_speech_document(document(ORIGINAL, zh=zh)).speech
    edited = list(zh)
    edited[4] = "第五段，稍作修改。"
    result = import_speech_document(document(ORIGINAL, zh=edited))
    assert [c.version.code for c in result.corrections] == ["zh-Hans"]
    assert models.Correction.objects.filter(version__speech=speech).count() == 1


@pytest.mark.django_db
def test_adding_a_translation_is_not_a_correction(imported):
    before = keys(imported)
    zh = ["第一段。", "第二段。", "第三段。", "第四段。", "第五段。"]
    result = import_speech_document(document(ORIGINAL, zh=zh))
    assert keys(imported) == before
    assert result.correction is None
    assert result.messages == ["added version zh-Hans"]
    assert models.PassageText.objects.filter(version__code="zh-Hans").count() == 5


@pytest.mark.django_db
def test_reimport_does_not_unpublish(imported):
    import_speech_document(document(ORIGINAL), publish=True)
    import_speech_document(document(ORIGINAL))
    imported.refresh_from_db()
    assert imported.status == "published"


@pytest.mark.django_db
def test_dry_run_reimport_rolls_back(imported):
    before = state(imported)
    result = import_speech_document(document(ORIGINAL[:3]), dry_run=True)
    assert result.counts["passages removed"] == 2
    assert state(imported) == before
    assert models.PassageRedirect.objects.count() == 0
