"""W3C TextQuoteSelector anchoring: locate_quote and re-anchoring on edits."""

from __future__ import annotations

import pytest

from speeches import services
from speeches.anchoring import locate_quote, reanchor_annotations
from speeches.models import Annotation, PassageText
from tests.factories import make_bilingual_speech


def test_unique_exact_match() -> None:
    text = "We must build a cyber superpower."
    assert locate_quote(text, exact="cyber superpower") == (16, 32)


def test_missing_quote_returns_none() -> None:
    assert locate_quote("Nothing here.", exact="cyber") is None
    assert locate_quote("Nothing here.", exact="   ") is None


def test_prefix_and_suffix_choose_between_repeats() -> None:
    text = "innovation first; then innovation again; innovation last"
    second = text.index("innovation", 1)
    span = locate_quote(text, exact="innovation", prefix="then ", suffix=" again")
    assert span == (second, second + len("innovation"))


def test_hint_breaks_ties_when_context_is_equal() -> None:
    text = "abc xyz abc xyz abc"
    assert locate_quote(text, exact="abc", start_hint=9) == (8, 11)
    assert locate_quote(text, exact="abc", start_hint=20) == (16, 19)
    assert locate_quote(text, exact="abc") == (0, 3)


def test_context_beats_hint() -> None:
    text = "red apple, green apple"
    span = locate_quote(text, exact="apple", prefix="red ", start_hint=20)
    assert span == (4, 9)


def test_whitespace_changes_are_tolerated() -> None:
    text = "build a\n  cyber   superpower now"
    start, end = locate_quote(text, exact="cyber superpower")
    assert text[start:end] == "cyber   superpower"
    start, end = locate_quote("build a cyber superpower", exact="cyber\nsuperpower")
    assert (start, end) == (8, 24)


def test_chinese_quote() -> None:
    text = "我们要建设网络强国，推进自主创新。"
    assert locate_quote(text, exact="网络强国") == (5, 9)


def _annotation(passage, version, exact: str, start: int, **kwargs) -> Annotation:
    return Annotation.objects.create(
        passage=passage, version=version, body="note", exact=exact, start=start, **kwargs
    )


@pytest.mark.django_db
def test_edit_moves_anchor_and_refreshes_context() -> None:
    speech = make_bilingual_speech(1)
    passage = speech.passages.get()
    en = speech.versions.get(code="en")
    text = PassageText.objects.get(passage=passage, version=en)
    start = text.text.index("cyber")
    annotation = _annotation(passage, en, "cyber superpower", start, prefix="build a ")

    services.update_passage_text(
        passage_text=text, text="Intro words. Paragraph 1: build a cyber superpower."
    )
    annotation.refresh_from_db()
    assert annotation.is_orphaned is False
    assert annotation.start == text.text.index("cyber")
    assert annotation.prefix.endswith("build a ")


@pytest.mark.django_db
def test_edit_removing_quote_orphans_then_restoring_clears_flag() -> None:
    speech = make_bilingual_speech(1)
    passage = speech.passages.get()
    en = speech.versions.get(code="en")
    text = PassageText.objects.get(passage=passage, version=en)
    annotation = _annotation(passage, en, "cyber superpower", text.text.index("cyber"))

    services.update_passage_text(passage_text=text, text="Paragraph 1: build a strong network.")
    annotation.refresh_from_db()
    assert annotation.is_orphaned is True
    assert annotation.exact == "cyber superpower"  # the quote is kept for editors
    assert Annotation.objects.filter(pk=annotation.pk).exists()

    services.update_passage_text(passage_text=text, text="Now: a cyber superpower, again.")
    annotation.refresh_from_db()
    assert annotation.is_orphaned is False
    assert annotation.start == text.text.index("cyber")


@pytest.mark.django_db
def test_whole_passage_annotation_is_not_orphaned_by_edits() -> None:
    speech = make_bilingual_speech(1)
    passage = speech.passages.get()
    annotation = Annotation.objects.create(passage=passage, body="about the whole paragraph")
    en_text = passage.texts.get(version__code="en")
    services.update_passage_text(passage_text=en_text, text="Completely different.")
    annotation.refresh_from_db()
    assert annotation.is_orphaned is False


@pytest.mark.django_db
def test_reanchor_counts_changes_and_records_history() -> None:
    speech = make_bilingual_speech(1)
    passage = speech.passages.get()
    zh = speech.versions.get(code="zh-Hans")
    zh_text = passage.texts.get(version=zh)
    annotation = _annotation(passage, zh, "网络强国", 0)  # stale hint
    assert reanchor_annotations(passage=passage) == 1
    annotation.refresh_from_db()
    assert annotation.start == zh_text.text.index("网络强国")
    assert reanchor_annotations(passage=passage) == 0  # nothing left to change
    assert annotation.history.count() == 2
