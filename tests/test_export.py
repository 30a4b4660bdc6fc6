"""Export (speeches.exporters) and its round trip: export → import → export is
identical, for the native Markdown and for JSON, on real texts and on
generated documents."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest
from django.core.management import call_command
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from speeches import models
from speeches.exporters import document_from_json, export_json, export_native
from speeches.importers.alignment import align_versions
from speeches.importers.document import (
    FootnoteDoc,
    PassageDoc,
    SpeechDocument,
    VersionDoc,
)
from speeches.importers.native import parse_native_files
from speeches.importers.writer import import_speech_document
from tests.test_alignment import tang_pair

DATA = os.path.join(os.path.dirname(__file__), "data", "native")
EXAMPLE = [
    os.path.join(DATA, "cyber-conference.zh-Hans.md"),
    os.path.join(DATA, "cyber-conference.en.md"),
]
TANG_SAMPLES = [
    ("2019-11-23-Interview-with-DW-Business.md", "2019-11-23-德國之聲採訪.md"),
    ("2025-02-02-BBC-Interview.md", "2025-02-02-BBC-採訪.md"),
    (
        "2025-12-02-Right-Livelihood-Award-Acceptance-Speech.md",
        "2025-12-02-正命獎得獎感言.md",
    ),
]


def write_files(folder, files: dict[str, str]) -> list[str]:
    paths = []
    for name, content in files.items():
        path = os.path.join(folder, name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(content)
        paths.append(path)
    return paths


def without_publication_time(data: dict) -> dict:
    data = json.loads(json.dumps(data))
    data["speech"].pop("published_at")
    return data


def native_round_trip(speech: models.Speech, folder) -> tuple[dict, dict]:
    """Export, delete the speech, import the export, export again."""
    first = export_native(speech)
    os.makedirs(folder, exist_ok=True)
    paths = write_files(folder, first)
    speech.delete()
    [doc] = parse_native_files(paths)
    again = import_speech_document(doc).speech
    return first, export_native(again)


def json_round_trip(speech: models.Speech) -> tuple[dict, dict]:
    first = export_json(speech)
    speech.delete()
    again = import_speech_document(document_from_json(json.loads(json.dumps(first)))).speech
    return without_publication_time(first), without_publication_time(export_json(again))


def tang_document(corpus_dir: str, en_file: str, zh_file: str) -> SpeechDocument:
    pair = tang_pair(corpus_dir, en_file, zh_file)
    slug = en_file[:-3].lower().replace("’", "").replace("?", "")
    return SpeechDocument(
        slug="".join(c if c.isalnum() else "-" for c in slug).strip("-")[:150],
        title=en_file[11:-3].replace("-", " "),
        speaker_name="Audrey Tang",
        speaker_name_original="唐鳳",
        delivered_on=dt.date.fromisoformat(en_file[:10]),
        original_language="en",
        kind="interview",
        versions=[
            VersionDoc(code="en", language="en", title=en_file[11:-3], is_original=True),
            VersionDoc(code="zh-Hant", language="zh-Hant", title=zh_file[11:-3]),
        ],
        passages=align_versions(pair),
    )


# ---------------------------------------------------------------- exports


@pytest.mark.django_db
def test_native_export_of_the_example(tmp_path):
    [doc] = parse_native_files(EXAMPLE)
    speech = import_speech_document(doc).speech
    files = export_native(speech)
    assert list(files) == [
        "xi-2018-cybersecurity-conference.zh-Hans.md",
        "xi-2018-cybersecurity-conference.en.md",
    ]
    en = files["xi-2018-cybersecurity-conference.en.md"]
    key = speech.passages.get(position=2).key
    assert f"We have achieved historic results.[^2] {{#{key}}}\n" in en
    assert "[^1]: Translators' note: 网络强国" in en
    assert "introduction: |-\n  This translation was prepared" in en
    assert "speaker_original: 习近平" in files["xi-2018-cybersecurity-conference.zh-Hans.md"]


@pytest.mark.django_db
def test_json_export_is_complete():
    [doc] = parse_native_files(EXAMPLE)
    speech = import_speech_document(doc).speech
    data = export_json(speech)
    assert data["format"] == "speech-archive/1"
    assert data["speech"]["speaker"] == {
        "name": "Xi Jinping",
        "name_original": "习近平",
        "slug": "xi-jinping",
    }
    assert data["passages"][0]["key"] == "opening"
    en = next(v for v in data["versions"] if v["code"] == "en")
    assert en["footnotes"][1] == {
        "number": 2,
        "kind": "editor",
        "body": "The original has this sentence in the paragraph before.\n"
        "It was split in translation.",
        "passage": data["passages"][1]["key"],
    }
    assert en["corrections"][0]["date"] == "2018-06-01"


@pytest.mark.django_db
def test_export_command_writes_files(tmp_path, capsys):
    [doc] = parse_native_files(EXAMPLE)
    import_speech_document(doc)
    slug = "xi-2018-cybersecurity-conference"
    call_command("export_speech", slug, "--format", "md", "--output", str(tmp_path))
    call_command("export_speech", slug, "--format", "json", "--output", str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == [f"{slug}.en.md", f"{slug}.json", f"{slug}.zh-Hans.md"]
    data = json.loads((tmp_path / f"{slug}.json").read_text(encoding="utf-8"))
    assert data["speech"]["slug"] == slug


# ---------------------------------------------------------------- round trips


@pytest.mark.django_db
def test_example_round_trips_through_markdown(tmp_path):
    [doc] = parse_native_files(EXAMPLE)
    speech = import_speech_document(doc, publish=True).speech
    first, again = native_round_trip(speech, tmp_path)
    assert again == first


@pytest.mark.django_db
def test_example_round_trips_through_json():
    [doc] = parse_native_files(EXAMPLE)
    speech = import_speech_document(doc, publish=True).speech
    first, again = json_round_trip(speech)
    assert again == first


@pytest.mark.django_db
def test_reimporting_an_export_onto_the_speech_changes_nothing(tmp_path):
    [doc] = parse_native_files(EXAMPLE)
    speech = import_speech_document(doc).speech
    paths = write_files(tmp_path, export_native(speech))
    history = models.PassageText.history.count() + models.Passage.history.count()
    [again] = parse_native_files(paths)
    result = import_speech_document(again)
    assert result.correction is None
    assert models.PassageText.history.count() + models.Passage.history.count() == history


@pytest.mark.django_db
@pytest.mark.parametrize(("en_file", "zh_file"), TANG_SAMPLES)
def test_tang_transcripts_round_trip(corpus_dir, tmp_path, en_file, zh_file):
    doc = tang_document(corpus_dir, en_file, zh_file)
    speech = import_speech_document(doc).speech
    assert speech.passages.count() == len(doc.passages)
    first, again = native_round_trip(speech, tmp_path)
    assert again == first
    speech = models.Speech.objects.get(slug=doc.slug)
    first_json, again_json = json_round_trip(speech)
    assert again_json == first_json


# ---------------------------------------------------------------- generated documents

# Text made of what speeches contain: Latin and CJK words, punctuation, spaces
# (including the ideographic one), line breaks, and the characters the format
# gives meaning to (#, {, }, [, ], :) so escaping is exercised.
_ALPHABET = st.sampled_from(
    list("abcxyzABC 0123456789.,;!?-—“”'\"()#{}[]:：*_|<>&")
    + list("网络强国建设。，；：「」")
    + ["\n", " ", "\u3000", "\t"]
)
_TEXT = st.text(_ALPHABET, min_size=1, max_size=60).filter(lambda t: t.strip())
_LINE_STARTS = st.sampled_from(["", "### ", "### Who:", "[^1]: ", "    ", "\\", "{#abc} "])


@st.composite
def _passage_text(draw) -> str:
    text = draw(_LINE_STARTS) + draw(_TEXT)
    if draw(st.booleans()):
        text += "\n\n" + draw(_TEXT)
    return text


@st.composite
def documents(draw) -> SpeechDocument:
    codes = draw(st.sampled_from([["zh-Hans"], ["zh-Hans", "en"], ["zh-Hans", "en", "fr"]]))
    n = draw(st.integers(min_value=1, max_value=6))
    speakers = draw(st.sampled_from([[""], ["习近平"], ["Host", "Guest", ""]]))
    passages = []
    for index in range(n):
        texts = {codes[0]: draw(_passage_text())}  # the original has every passage
        for code in codes[1:]:
            if draw(st.integers(0, 4)):
                texts[code] = draw(_passage_text())
        passages.append(PassageDoc(texts=texts, turn_speaker=speakers[index % len(speakers)]))
    versions = []
    for code in codes:
        footnotes = []
        holders = [i for i, p in enumerate(passages) if code in p.texts]
        for number in range(1, (draw(st.integers(0, 2)) if holders else 0) + 1):
            index = draw(st.sampled_from(holders))
            passages[index].texts[code] += f"[^{number}]"
            kind = draw(st.sampled_from(["editor", "translator", "author", "source"]))
            body = draw(_TEXT).replace("\n", " ").strip() or "note"
            footnotes.append(FootnoteDoc(number=number, kind=kind, body=body, passage_index=index))
        versions.append(
            VersionDoc(
                code=code,
                language=code,
                title=draw(_TEXT).replace("\n", " ").strip() or "title",
                is_original=code == codes[0],
                introduction=draw(st.sampled_from(["", "One line.", "Two\n\nparagraphs: yes"])),
                footnotes=footnotes,
            )
        )
    precision = draw(st.sampled_from(["day", "month", "year"]))
    day = (
        dt.date(2018, 4, 20)
        if precision == "day"
        else dt.date(2018, 4 if precision == "month" else 1, 1)
    )
    return SpeechDocument(
        slug="generated",
        title=draw(_TEXT).replace("\n", " ").strip() or "title",
        speaker_name=draw(st.sampled_from(["Xi Jinping", "Audrey Tang", "No"])),
        delivered_on=day,
        date_precision=precision,
        original_language=codes[0],
        summary=draw(st.sampled_from(["", "null", "yes", "A summary: with a colon"])),
        themes=draw(st.lists(st.sampled_from(["网络强国", "cyber", "2018"]), unique=True)),
        versions=versions,
        passages=passages,
    )


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents())
def test_generated_documents_round_trip(tmp_path_factory, doc):
    folder = tmp_path_factory.mktemp("export")
    with transaction.atomic():
        speech = import_speech_document(doc).speech
        first, again = native_round_trip(speech, folder)
        assert again == first
        speech = models.Speech.objects.get(slug="generated")
        first_json, again_json = json_round_trip(speech)
        assert again_json == first_json
        transaction.set_rollback(True)


# ---------------------------------------------------------------- every corpus folder

CORPUS_SAMPLE = 3  # speeches per folder, spread evenly over the folder


def corpus_sample_documents(corpus_dir: str, seeds_dir: str) -> list[SpeechDocument]:
    from speeches.importers.corpus import CORPUS_NAMES, corpus_items

    documents = []
    for folder in [*(os.path.join(corpus_dir, name) for name in CORPUS_NAMES), seeds_dir]:
        for item in corpus_items(folder, sample=CORPUS_SAMPLE):
            doc = item.load()
            if isinstance(doc, SpeechDocument):  # seeds also hold news coverage
                documents.append(doc)
    return documents


@pytest.mark.django_db
def test_every_corpus_folder_round_trips(corpus_dir, seeds_dir, tmp_path):
    """Export → import → export is identical, in both formats, for real speeches
    from each corpus loader and the DigiChina seed (footnotes, credits, a
    text-less original)."""
    documents = corpus_sample_documents(corpus_dir, seeds_dir)
    assert len(documents) >= 4 * CORPUS_SAMPLE + 1
    for number, doc in enumerate(documents):
        speech = import_speech_document(doc).speech
        first, again = native_round_trip(speech, tmp_path / f"md-{number}")
        assert again == first, doc.source_path
        speech = models.Speech.objects.get(slug=doc.slug)
        first_json, again_json = json_round_trip(speech)
        assert again_json == first_json, doc.source_path
