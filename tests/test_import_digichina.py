"""DigiChina-style plain text: the seeds parse to exact values; bad files fail clearly."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

from speeches.importers.coverage import import_coverage
from speeches.importers.digichina import (
    extract_term_candidates,
    parse_digichina_file,
    parse_digichina_folder,
)
from speeches.importers.document import (
    CoverageDoc,
    ImportFormatError,
    SpeechDocument,
    TermCandidate,
)
from speeches.importers.writer import import_speech_document
from speeches.models import Coverage, Footnote, Speech, Term
from tests.factories import SpeakerFactory, SpeechFactory


def _seed(seeds_dir: str, prefix: str) -> str:
    name = next(n for n in sorted(os.listdir(seeds_dir)) if n.startswith(prefix))
    return os.path.join(seeds_dir, name)


@pytest.fixture
def speech_001(seeds_dir: str) -> SpeechDocument:
    doc = parse_digichina_file(_seed(seeds_dir, "001"))
    assert isinstance(doc, SpeechDocument)
    return doc


# ---------------------------------------------------------------- 001: the translation


def test_001_speech_fields(speech_001: SpeechDocument) -> None:
    doc = speech_001
    assert doc.title == (
        "Strive to Become the World’s Primary Center for Science and High Ground for Innovation"
    )
    assert doc.speaker_name == "Xi Jinping"
    assert doc.speaker_name_original == "习近平"
    assert doc.delivered_on == dt.date(2018, 5, 28)
    assert doc.date_precision == "day"
    assert doc.original_language == "zh-Hans"
    assert doc.kind == "speech"
    assert doc.occasion == (
        "19th Conference of Academicians of the Chinese Academy of Sciences and the "
        "14th Conference of Academicians of the Chinese Academy of Engineering"
    )
    assert doc.slug == "2018-05-28-strive-to-become-the-worlds-primary-center-for-science-and-high"
    assert len(doc.passages) == 23
    assert doc.passages[0].texts == {"en": doc.passages[0].texts["en"]} and doc.passages[0].texts[
        "en"
    ].startswith("With the advent of the 21st century")
    assert doc.passages[-1].texts["en"].startswith("On the road of innovation")


def test_001_versions_and_credits(speech_001: SpeechDocument) -> None:
    original, translation = speech_001.versions
    assert (original.code, original.language, original.is_original) == ("zh-Hans", "zh-Hans", True)
    assert original.has_text is False
    assert original.source_name == "Qiushi"
    assert original.source_url == "http://www.qstheory.cn/dukan/qs/2021-03/15/c_1127209130.htm"
    assert all("zh-Hans" not in p.texts for p in speech_001.passages)

    assert (translation.code, translation.language, translation.is_original) == ("en", "en", False)
    assert translation.title == speech_001.title
    assert translation.translators == (
        "Ben Murphy, Rogier Creemers, Elsa Kania, Paul Triolo, and Kevin Neville"
    )
    assert translation.editor == "Graham Webster"
    assert translation.licence == ""  # the seed states none; the research notes record none
    intro = translation.introduction.split("\n\n")
    assert len(intro) == 6
    assert intro[0].startswith("As the Chinese government released the 14th Five-Year Plan")
    assert intro[2].startswith("The speech, given on May 28, 2018")
    assert intro[-1].startswith("The speech translated below provides important insight")


def test_001_corrections(speech_001: SpeechDocument) -> None:
    corrections = speech_001.version("en").corrections
    assert [c.date for c in corrections] == [dt.date(2021, 3, 19), dt.date(2021, 4, 5)]
    assert corrections[0].description == (
        "Due to an editing error, this translation was originally published without "
        "co-translator Elsa Kania’s byline."
    )
    assert corrections[1].description.startswith(
        "The introduction to this translation originally misstated the date of the speech as "
        "May 5; the original source indicates it was May 28."
    )


def test_001_footnotes_kinds_and_passages(speech_001: SpeechDocument) -> None:
    footnotes = speech_001.version("en").footnotes
    assert [(f.number, f.kind) for f in footnotes] == [
        (1, "editor"),
        (2, "translator"),
        (3, "translator"),
        (4, "translator"),
        (5, "translator"),
    ]
    assert [f.passage_index for f in footnotes] == [1, 5, 7, 7, 8]
    assert footnotes[0].body.startswith("The term translated here as “superpower”")
    assert footnotes[4].body.startswith("Four Self-Confidences:")
    texts = [p.texts["en"] for p in speech_001.passages]
    # Markers stay where they stand, in the native [^n] form.
    assert "world S&T superpower (世界科技强国).[^1]" in texts[1]
    assert "“four self-confidences,”[^5]" in texts[8]
    assert "[^2]" in texts[5] and "[^3]" in texts[7] and "[^4]" in texts[7]
    # Bracketed editorial insertions are not markers.
    assert "[into practical applications]" in texts[1]


def test_001_term_candidates(speech_001: SpeechDocument) -> None:
    terms = {t.original: t.translation for t in speech_001.term_candidates}
    assert terms["自主创新"] == "independent innovation"
    assert terms["世界科技强国"] == "world S&T superpower"
    assert terms["供给侧结构性改革"] == "supply-side structural reform"
    assert terms["力"] == "strength"


# ---------------------------------------------------------------- 000, 002–004: coverage


def test_000_the_register_about_the_2018_speech(seeds_dir: str) -> None:
    _speeches, coverage = parse_digichina_folder(seeds_dir)
    doc = coverage[0]
    assert doc.outlet == "The Register"
    assert doc.title == "Chinese president Xi seeks innovation independence"
    assert doc.kind == "news"
    assert doc.published_on is None  # the page does not say
    assert doc.url == ""
    assert doc.about_date == dt.date(2018, 5, 28)
    assert doc.about_speaker == "Xi Jinping"
    assert doc.excerpt.startswith("Chinese president Xi Jinping has given a major speech")
    assert len(doc.excerpt) <= 600


def test_000_alone_has_no_date_to_link(seeds_dir: str) -> None:
    doc = parse_digichina_file(_seed(seeds_dir, "000"))
    assert isinstance(doc, CoverageDoc)
    assert doc.about_date is None


def test_002_scmp(seeds_dir: str) -> None:
    doc = parse_digichina_file(_seed(seeds_dir, "002"))
    assert isinstance(doc, CoverageDoc)
    assert doc.outlet == "South China Morning Post"
    assert doc.title == (
        "Xi Jinping calls for Chinese scientists to step up innovation in hi-tech ‘battlefield’"
    )
    assert (doc.kind, doc.published_on, doc.about_date) == ("news", None, None)
    assert doc.about_speaker == "Xi Jinping"
    assert "Advertisement" not in doc.excerpt and len(doc.excerpt) <= 600


def test_003_xinhua(seeds_dir: str) -> None:
    doc = parse_digichina_file(_seed(seeds_dir, "003"))
    assert isinstance(doc, CoverageDoc)
    assert doc.outlet == "Xinhua"
    assert doc.title == (
        "Xi Focus: Sci-tech self-reliance, a key concern in Xi's domestic inspections"
    )
    assert doc.published_on == dt.date(2023, 6, 9)
    assert doc.kind == "news"
    assert doc.excerpt.startswith("BEIJING, June 9 (Xinhua) -- As China promotes")


def test_004_digichina_analysis(seeds_dir: str) -> None:
    doc = parse_digichina_file(_seed(seeds_dir, "004"))
    assert isinstance(doc, CoverageDoc)
    assert doc.outlet == "DigiChina (New America)"
    assert doc.kind == "analysis"
    assert doc.title.startswith("Xi Jinping Puts ‘Indigenous Innovation’ and ‘Core Technologies’")
    assert doc.published_on == dt.date(2018, 5, 1)
    assert doc.about_date == dt.date(2018, 4, 20)  # the "4.20 speech"
    assert len(doc.excerpt) <= 600
    terms = {t.original: t.translation for t in doc.term_candidates}
    assert terms["网络强国"] == "cyber superpower"
    assert terms["自主创新"] == "indigenous innovation"
    assert terms["核心技术"] == "core technologies"
    assert terms["两弹一星"] == "two bombs, one satellite"
    assert terms["正确的网络安全观"] == "correct cybersecurity view"
    # “Core technologies” as “important instruments” (核心技术是国之重器) names neither alone.
    assert "核心技术是国之重器" not in terms


# ---------------------------------------------------------------- term extraction rules


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "building China into a cyber superpower (网络强国), and",
            ("网络强国", "cyber superpower"),
        ),
        (
            "we must stay the course of  independent innovation (自主创新).",
            ("自主创新", "independent innovation"),
        ),
        ("Xi focused on core technologies （核心技术） today", ("核心技术", "core technologies")),
        ("“Core technology” (核心技术) is raised", ("核心技术", "core technology")),
        ("the canon that “strength (力) is that", ("力", "strength")),
    ],
)
def test_extract_term_candidates(text: str, expected: tuple[str, str]) -> None:
    assert extract_term_candidates(text) == [TermCandidate(*expected)]


def test_extract_term_candidates_skips_sentences_and_non_chinese() -> None:
    text = (
        "science and technology (S&T) took center stage; “Without cybersecurity there is no "
        "national security; without informatization, there is no modernization” "
        "(没有网络安全就没有国家安全,没有信息化就没有现代化)."
    )
    assert extract_term_candidates(text) == []


# ---------------------------------------------------------------- bad input


def test_empty_file(tmp_path) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("  \n\n", encoding="utf-8")
    with pytest.raises(ImportFormatError) as info:
        parse_digichina_file(str(path))
    assert str(info.value) == f"{path}, line 1: file is empty"


def test_invalid_utf8(tmp_path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("Title\n\nA line\nCaf\xe9 society\n".encode("latin-1"))
    with pytest.raises(ImportFormatError) as info:
        parse_digichina_file(str(path))
    assert str(info.value) == f"{path}, line 4: not valid UTF-8 (byte 0xe9 at offset 17)"
    assert info.value.line == 4


def test_neither_shape(tmp_path) -> None:
    path = tmp_path / "list.txt"
    path.write_text("Groceries\n\neggs\nmilk\n", encoding="utf-8")
    with pytest.raises(ImportFormatError) as info:
        parse_digichina_file(str(path))
    assert str(info.value) == (
        f"{path}, line 1: neither a DigiChina translation (no 'Translation by …' credit line) "
        "nor an article (fewer than two prose paragraphs)"
    )


def test_truncated_translation(tmp_path, seeds_dir: str) -> None:
    """Cut inside the introduction: a credit line but no text."""
    lines = Path(_seed(seeds_dir, "001")).read_text(encoding="utf-8").split("\n")
    path = tmp_path / "cut.txt"
    path.write_text("\n".join(lines[:9]), encoding="utf-8")
    with pytest.raises(ImportFormatError) as info:
        parse_digichina_file(str(path))
    assert str(info.value) == (
        f"{path}, line 9: translation has a credit line but no 'By <speaker>' line before the "
        "text (is the file truncated?)"
    )


def test_marker_without_note(tmp_path, seeds_dir: str) -> None:
    """Cut before the notes: the first marker in the text has no note."""
    lines = Path(_seed(seeds_dir, "001")).read_text(encoding="utf-8").split("\n")
    cut = next(i for i, line in enumerate(lines) if line.startswith("[1]"))
    path = tmp_path / "no-notes.txt"
    path.write_text("\n".join(lines[:cut]), encoding="utf-8")
    with pytest.raises(ImportFormatError) as info:
        parse_digichina_file(str(path))
    assert str(info.value) == f"{path}, line 28: footnote marker [1] has no note"


# ---------------------------------------------------------------- writing


@pytest.mark.django_db
def test_001_imports_with_footnotes_on_their_passages(speech_001: SpeechDocument) -> None:
    result = import_speech_document(speech_001, publish=True)
    speech = result.speech
    assert speech.versions.get(code="zh-Hans").has_text is False
    notes = Footnote.objects.filter(version__speech=speech).order_by("number")
    assert [(n.number, n.kind, n.passage.position) for n in notes] == [
        (1, "editor", 2),
        (2, "translator", 6),
        (3, "translator", 8),
        (4, "translator", 8),
        (5, "translator", 9),
    ]
    assert speech.versions.get(code="en").corrections.count() == 2
    assert Term.objects.get(original="自主创新").translation == "independent innovation"


@pytest.mark.django_db
def test_import_coverage_links_and_is_idempotent(seeds_dir: str) -> None:
    speeches, coverage = parse_digichina_folder(seeds_dir)
    speech = import_speech_document(speeches[0], publish=True).speech
    first = import_coverage(coverage[0])
    again = import_coverage(coverage[0])
    assert first.pk == again.pk
    assert Coverage.objects.filter(outlet="The Register").count() == 1
    assert again.speech_id == speech.pk
    assert again.excerpt == coverage[0].excerpt


@pytest.mark.django_db
def test_import_coverage_without_matching_speech_stays_unlinked(seeds_dir: str) -> None:
    doc = parse_digichina_file(_seed(seeds_dir, "004"))
    other = SpeakerFactory(name="Someone Else", slug="someone-else")
    SpeechFactory(speaker=other, delivered_on=dt.date(2018, 4, 20))
    coverage = import_coverage(doc)
    assert coverage.speech is None
    assert Term.objects.filter(original="网络强国", translation="cyber superpower").exists()


@pytest.mark.django_db
def test_import_coverage_dry_run_writes_nothing(seeds_dir: str) -> None:
    doc = parse_digichina_file(_seed(seeds_dir, "003"))
    import_coverage(doc, dry_run=True)
    assert not Coverage.objects.exists()
    assert not Term.objects.exists()


@pytest.mark.django_db
def test_import_coverage_matches_by_url(seeds_dir: str) -> None:
    doc = parse_digichina_file(_seed(seeds_dir, "003"))
    doc.url = "https://example.org/xinhua-2023"
    import_coverage(doc)
    doc.title = "A retitled page"
    import_coverage(doc)
    assert list(Coverage.objects.values_list("title", flat=True)) == ["A retitled page"]
    assert not Speech.objects.exists()


def test_folder_copy_keeps_order_rule(tmp_path, seeds_dir: str) -> None:
    """Articles are tied to the translation even when they sort before it."""
    shutil.copy(_seed(seeds_dir, "001"), tmp_path / "b-translation.txt")
    shutil.copy(_seed(seeds_dir, "000"), tmp_path / "a-article.txt")
    speeches, coverage = parse_digichina_folder(str(tmp_path))
    assert len(speeches) == 1
    assert coverage[0].about_date == dt.date(2018, 5, 28)


def test_minimal_translation_without_source_or_corrections(tmp_path) -> None:
    path = tmp_path / "minimal.txt"
    path.write_text(
        "Li Qiang: ‘A Page Title’\n\n"
        "Translation by A. Person.\n\n"
        "The speech was delivered on 5 March 2024 in Beijing.\n\n"
        "The Real Title\n\n"
        "By Li Qiang\n\n"
        "First paragraph of the speech.[1]\n\n"
        "[1] Translator’s note: A note.\n",
        encoding="utf-8",
    )
    doc = parse_digichina_file(str(path))
    assert isinstance(doc, SpeechDocument)
    assert (doc.title, doc.speaker_name_original) == ("The Real Title", "李强")
    assert doc.delivered_on == dt.date(2024, 3, 5)
    assert doc.version("en").translators == "A. Person"
    assert doc.version("en").introduction == "The speech was delivered on 5 March 2024 in Beijing."
    assert doc.version("zh-Hans").source_url == ""
    assert [(f.kind, f.passage_index) for f in doc.version("en").footnotes] == [("translator", 0)]
    assert doc.passages[0].texts["en"] == "First paragraph of the speech.[^1]"
