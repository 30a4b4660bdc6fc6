"""The native format parser (speeches.importers.native), the writer's first
import, dry runs, and the import_speech command."""

from __future__ import annotations

import datetime as dt
import os
import textwrap

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from speeches import models
from speeches.importers.document import ImportFormatError, TermCandidate
from speeches.importers.native import parse_native_files
from speeches.importers.writer import ImportCache, import_speech_document, record_term_candidates

DATA = os.path.join(os.path.dirname(__file__), "data", "native")
EXAMPLE = [
    os.path.join(DATA, "cyber-conference.zh-Hans.md"),
    os.path.join(DATA, "cyber-conference.en.md"),
]

HEADER = """\
---
speech: test-speech
title: A test speech
speaker: Jane Doe
date: 2020-01-02
language: en
---
"""


def write(tmp_path, name: str, content: str | bytes) -> str:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(textwrap.dedent(content), encoding="utf-8")
    return str(path)


def error_of(paths: list[str]) -> str:
    with pytest.raises(ImportFormatError) as info:
        parse_native_files(paths)
    return str(info.value)


# ---------------------------------------------------------------- parsing


def test_example_parses_into_aligned_passages():
    [doc] = parse_native_files(EXAMPLE)
    assert doc.slug == "xi-2018-cybersecurity-conference"
    assert doc.title == "在全国网络安全和信息化工作会议上的讲话"  # the original's title
    assert doc.original_language == "zh-Hans"
    assert doc.speaker_name_original == "习近平"
    assert doc.delivered_on == dt.date(2018, 4, 20)
    assert doc.themes == ["cyber superpower", "internet governance"]
    assert [v.code for v in doc.versions] == ["zh-Hans", "en"]
    assert len(doc.passages) == 3
    first, second, third = doc.passages
    assert first.key == "opening"
    assert first.texts["zh-Hans"].endswith("会议。")  # the label is not part of the text
    assert first.turn_speaker == "习近平"  # the pivot (original) names the speaker
    # Two English paragraphs translate one Chinese paragraph: they form one passage.
    assert second.texts["en"].count("\n\n") == 1
    assert third.texts["en"] == "Without cybersecurity there is no national security."


def test_example_footnotes_corrections_and_version_fields():
    [doc] = parse_native_files(EXAMPLE)
    en = doc.version("en")
    assert [(f.number, f.kind, f.passage_index) for f in en.footnotes] == [
        (1, "translator", 1),
        (2, "editor", 1),
    ]
    assert en.footnotes[1].body == (
        "The original has this sentence in the paragraph before.\nIt was split in translation."
    )
    assert en.corrections[0].date == dt.date(2018, 6, 1)
    assert en.introduction.startswith("This translation was prepared")
    assert "\n\n" in en.introduction
    assert en.published_on == dt.date(2018, 5, 1)
    assert doc.version("zh-Hans").footnotes[0].kind == "editor"  # 编者注
    assert doc.term_candidates[0].original == "网络强国"


@pytest.mark.parametrize(
    ("value", "expected", "precision"),
    [
        ("2018-05-28", dt.date(2018, 5, 28), "day"),
        ("'2018-05'", dt.date(2018, 5, 1), "month"),
        ("2018", dt.date(2018, 1, 1), "year"),
    ],
)
def test_date_precision(tmp_path, value, expected, precision):
    path = write(tmp_path, "a.md", HEADER.replace("2020-01-02", value) + "\nText.\n")
    [doc] = parse_native_files([path])
    assert (doc.delivered_on, doc.date_precision) == (expected, precision)


def test_speaker_turns_and_consecutive_labels(tmp_path):
    body = """
    ### Interviewer:

    First question?

    ### Audrey Tang：

    Answer one. {#ans}

    Answer continues. {#ans}

    ### :

    Narration without a speaker.
    """
    path = write(tmp_path, "a.md", HEADER + textwrap.dedent(body))
    [doc] = parse_native_files([path])
    assert [(p.turn_speaker, p.key) for p in doc.passages] == [
        ("Interviewer", None),
        ("Audrey Tang", "ans"),
        ("", None),
    ]
    assert doc.passages[1].texts["en"] == "Answer one.\n\nAnswer continues."


# ---------------------------------------------------------------- errors


def test_empty_file(tmp_path):
    path = write(tmp_path, "empty.md", "\n  \n")
    assert error_of([path]) == f"{path}: the file is empty"


def test_invalid_utf8_names_the_line(tmp_path):
    path = write(tmp_path, "bad.md", HEADER.encode() + b"\nGood line.\n\nBad \xff byte.\n")
    assert error_of([path]) == (
        f"{path}, line 11: not valid UTF-8 (byte 0xff at offset {len(HEADER) + 17})"
    )


def test_truncated_front_matter(tmp_path):
    path = write(tmp_path, "cut.md", "---\nspeech: x\ntitle: T\n")
    assert error_of([path]) == (
        f"{path}: front matter starts at line 1 but is never closed (no second '---' line)"
    )


def test_missing_front_matter(tmp_path):
    path = write(tmp_path, "none.md", "Just text.\n")
    assert error_of([path]) == (
        f"{path}, line 1: the file must start with YAML front matter (a line '---')"
    )


def test_yaml_error_names_the_line(tmp_path):
    path = write(tmp_path, "yaml.md", "---\nspeech: x\ntitle: [unclosed\nlanguage: en\n---\nT\n")
    assert error_of([path]) == (
        f"{path}, line 4: invalid YAML in front matter: expected ',' or ']', but got ':'"
    )


def test_missing_required_field(tmp_path):
    path = write(tmp_path, "a.md", HEADER.replace("language: en\n", "") + "\nText.\n")
    assert error_of([path]) == f"{path}, line 1: missing required field 'language'"


def test_missing_speech_field_across_files(tmp_path):
    path = write(tmp_path, "a.md", HEADER.replace("speaker: Jane Doe\n", "") + "\nText.\n")
    assert error_of([path]) == (
        f"{path}, line 1: missing required field 'speaker' (in one of the speech's files)"
    )


def test_unknown_field(tmp_path):
    path = write(
        tmp_path, "a.md", HEADER.replace("language: en", "language: en\nauthor: X") + "T\n"
    )
    assert error_of([path]) == f"{path}, line 7: unknown field 'author'"


def test_bad_date(tmp_path):
    path = write(tmp_path, "a.md", HEADER.replace("2020-01-02", "'2 Jan 2020'") + "T\n")
    assert error_of([path]) == (
        f"{path}, line 5: field 'date' must be a date like 2018-05-28, 2018-05 or 2018, "
        "not '2 Jan 2020'"
    )


def test_unknown_footnote_reference(tmp_path):
    body = "\nFirst paragraph.[^1]\n\nSecond[^7] paragraph.\n\n[^1]: A note.\n"
    path = write(tmp_path, "a.md", HEADER + body)
    assert error_of([path]) == f"{path}, line 11: [^7] at line 11 has no definition"


def test_footnote_defined_but_never_referenced(tmp_path):
    body = "\nA paragraph.[^1]\n\n[^1]: Used.\n[^2]: Unused.\n"
    path = write(tmp_path, "a.md", HEADER + body)
    assert error_of([path]) == f"{path}, line 12: footnote [^2] is defined but never referenced"


def test_footnote_defined_twice(tmp_path):
    body = "\nA paragraph.[^1]\n\n[^1]: One.\n\n[^1]: Two.\n"
    path = write(tmp_path, "a.md", HEADER + body)
    assert error_of([path]) == (
        f"{path}, line 13: footnote [^1] is defined twice (first at line 11)"
    )


def test_mismatched_alignment_labels_out_of_order(tmp_path):
    zh = HEADER.replace("language: en", "language: zh-Hans\noriginal: true")
    a = write(tmp_path, "zh.md", zh + "\n甲。 {#a}\n\n乙。 {#b}\n")
    b = write(tmp_path, "en.md", HEADER + "\nB. {#b}\n\nA. {#a}\n")
    assert error_of([a, b]) == (
        f'{b}, line 9: version "en": label {{#b}} is out of order: in version "zh-Hans" it '
        'comes after labels that "en" places after it, so the versions cannot be aligned'
    )


def test_label_used_twice(tmp_path):
    path = write(tmp_path, "a.md", HEADER + "\nOne. {#x}\n\nTwo.\n\nThree. {#x}\n")
    assert error_of([path]) == (
        f"{path}, line 13: label {{#x}} is used twice (first at line 9); only consecutive "
        "paragraphs may share a label"
    )


def test_conflicting_speech_field(tmp_path):
    a = write(tmp_path, "a.md", HEADER + "\nText.\n")
    fr = HEADER.replace("language: en", "language: fr").replace("2020-01-02", "2020-01-03")
    b = write(tmp_path, "b.md", fr + "\nTexte.\n")
    assert error_of([a, b]) == (
        f"{b}, line 5: field 'date' is datetime.date(2020, 1, 3) here but "
        f"datetime.date(2020, 1, 2) in {a}"
    )


def test_two_files_for_one_version(tmp_path):
    a = write(tmp_path, "a.md", HEADER + "\nText.\n")
    b = write(tmp_path, "b.md", HEADER + "\nText again.\n")
    assert error_of([a, b]) == (
        f"{b}, line 6: speech 'test-speech' has two files for version 'en' (the other is {a})"
    )


# ---------------------------------------------------------------- writing


def counts() -> dict[str, int]:
    tables = [
        models.Speech,
        models.Speaker,
        models.Version,
        models.Passage,
        models.PassageText,
        models.Footnote,
        models.Correction,
        models.Term,
        models.Collection,
        models.CollectionItem,
        models.TaggedSpeech,
        models.Passage.history.model,
        models.PassageText.history.model,
    ]
    return {t.__name__: t.objects.count() for t in tables}


@pytest.mark.django_db
def test_import_writes_everything_with_history():
    [doc] = parse_native_files(EXAMPLE)
    result = import_speech_document(doc)
    speech = result.speech
    assert result.created is True
    assert result.counts["passages"] == 3
    assert result.counts["texts"] == 6
    assert result.counts["footnotes"] == 3
    assert speech.status == "draft" and speech.published_at is None
    assert speech.speaker.name_original == "习近平"
    assert speech.speaker.slug == "xi-jinping"
    assert sorted(speech.themes.names()) == ["cyber superpower", "internet governance"]
    passages = list(speech.passages.order_by("position"))
    assert passages[0].key == "opening"
    assert all(len(p.key) == 8 for p in passages[1:])
    en = speech.versions.get(code="en")
    assert en.translators == "Rogier Creemers, Graham Webster"
    assert en.corrections.get().description == "Corrected the name of the conference."
    note = en.footnotes.get(number=2)
    assert note.passage == passages[1]
    assert models.Collection.objects.get(slug="xi-on-cyberspace").speeches.get() == speech
    term = models.Term.objects.get(original="网络强国")
    assert (term.slug, term.pinyin, term.status) == (
        "wang-luo-qiang-guo",
        "wǎng luò qiáng guó",
        "candidate",
    )
    # History was written for the bulk-created rows.
    assert models.Passage.history.filter(speech_id=speech.pk).count() == 3
    assert models.PassageText.history.filter(passage_id__in=[p.pk for p in passages]).count() == 6


BULK_WRITTEN = [models.Speech, models.Version, models.Passage, models.PassageText, models.Footnote]


def stored(obj) -> dict:
    """Every column of a row as the database has it, but the last-modified time."""
    row = type(obj).objects.filter(pk=obj.pk).values().get()
    row.pop("updated_at")
    return row


@pytest.mark.django_db
def test_bulk_written_rows_are_what_save_would_store():
    # The first import writes these tables with its own INSERTs: saving any of
    # their rows through the ORM (pre_save, derived search columns, triggers)
    # must change nothing but updated_at.
    [doc] = parse_native_files(EXAMPLE)
    import_speech_document(doc)
    for model in BULK_WRITTEN:
        rows = list(model.objects.all())
        assert rows, model.__name__
        for obj in rows:
            before = stored(obj)
            obj.save()
            assert stored(obj) == before, model.__name__


@pytest.mark.django_db
def test_bulk_written_rows_have_one_creation_history_row_each(django_user_model):
    editor = django_user_model.objects.create(username="importer")
    [doc] = parse_native_files(EXAMPLE)
    import_speech_document(doc, user=editor)
    for model in BULK_WRITTEN:
        history = model.history.model.objects.all()
        assert sorted(h.id for h in history) == sorted(model.objects.values_list("pk", flat=True))
        assert {(h.history_type, h.history_user_id) for h in history} == {("+", editor.pk)}
        row = model.objects.first()
        recorded = history.get(id=row.pk)
        columns = {f.attname for f in model._meta.concrete_fields}
        kept = [f.attname for f in history.model._meta.concrete_fields if f.attname in columns]
        assert len(kept) > 3
        assert [getattr(recorded, name) for name in kept] == [getattr(row, name) for name in kept]


@pytest.mark.django_db
def test_cache_remembers_only_committed_speakers(django_capture_on_commit_callbacks):
    [doc] = parse_native_files(EXAMPLE)
    cache = ImportCache()
    with django_capture_on_commit_callbacks(execute=True):
        import_speech_document(doc, cache=cache, dry_run=True)
    assert cache.speakers == {}
    with django_capture_on_commit_callbacks(execute=True):
        import_speech_document(doc, cache=cache)
    assert cache.speakers["xi-jinping"] == models.Speaker.objects.get(slug="xi-jinping")
    doc.slug = "another-speech"
    for passage in doc.passages:
        passage.key = ""  # explicit keys belong to the first speech
    again = import_speech_document(doc, cache=cache)
    assert again.speech.speaker_id == cache.speakers["xi-jinping"].pk
    assert models.Speaker.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_non_durable_commit_is_local_to_the_speech():
    [doc] = parse_native_files(EXAMPLE)
    result = import_speech_document(doc, durable=False)
    assert models.PassageText.objects.filter(passage__speech=result.speech).count() == 6
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone() == ("on",)


@pytest.mark.django_db
def test_publish_sets_status_and_date():
    [doc] = parse_native_files(EXAMPLE)
    speech = import_speech_document(doc, publish=True).speech
    speech.refresh_from_db()
    assert speech.status == "published"
    assert speech.published_at is not None


@pytest.mark.django_db
def test_dry_run_writes_nothing_and_reports_the_same_counts():
    before = counts()
    [doc] = parse_native_files(EXAMPLE)
    dry = import_speech_document(doc, dry_run=True)
    assert counts() == before
    assert dry.dry_run is True
    real = import_speech_document(doc)
    assert real.counts == dry.counts
    assert counts()["Passage"] == before["Passage"] + 3


@pytest.mark.django_db
def test_term_candidates_never_downgrade_a_confirmed_term():
    models.Term.objects.create(
        original="网络强国",
        slug="wang-luo-qiang-guo",
        translation="cyber power",
        status="confirmed",
    )
    created = record_term_candidates(
        [TermCandidate("网络强国", "cyber superpower"), TermCandidate("数字中国", "Digital China")]
    )
    assert created == 1
    term = models.Term.objects.get(original="网络强国")
    assert (term.status, term.translation, term.variants) == ("confirmed", "cyber power", "")
    assert models.Term.objects.get(original="数字中国").status == "candidate"


@pytest.mark.django_db
def test_command_imports_and_prints_a_summary(capsys):
    call_command("import_speech", *EXAMPLE, "--publish")
    out = capsys.readouterr().out
    assert "xi-2018-cybersecurity-conference: created (3 passages, 6 texts, 3 footnotes" in out
    assert models.Speech.objects.get().status == "published"


@pytest.mark.django_db
def test_command_dry_run_writes_nothing(capsys):
    before = counts()
    call_command("import_speech", *EXAMPLE, "--dry-run")
    assert "would be created" in capsys.readouterr().out
    assert counts() == before


@pytest.mark.django_db
def test_failing_file_in_a_multi_file_import_writes_nothing(tmp_path):
    good = write(tmp_path, "good.md", HEADER.replace("test-speech", "good-speech") + "\nFine.\n")
    bad = write(tmp_path, "bad.md", HEADER + "\nBroken[^3].\n")
    before = counts()
    with pytest.raises(CommandError) as info:
        call_command("import_speech", good, *EXAMPLE, bad)
    assert str(info.value) == f"{bad}, line 9: [^3] at line 9 has no definition"
    assert counts() == before


@pytest.mark.django_db
def test_failing_write_in_a_multi_file_import_rolls_back_earlier_speeches(tmp_path):
    # Two files that parse but whose second speech reuses the first's explicit key.
    a = write(tmp_path, "a.md", HEADER.replace("test-speech", "speech-a") + "\nOne. {#shared}\n")
    b = write(tmp_path, "b.md", HEADER.replace("test-speech", "speech-b") + "\nTwo. {#shared}\n")
    before = counts()
    with pytest.raises(CommandError) as info:
        call_command("import_speech", a, b)
    assert "passage key {#shared} already belongs to another passage" in str(info.value)
    assert counts() == before


@pytest.mark.django_db
def test_command_imports_digichina_seeds_by_extension(seeds_dir, capsys):
    seeds = sorted(os.path.join(seeds_dir, name) for name in os.listdir(seeds_dir))
    call_command("import_speech", *seeds)
    out = capsys.readouterr().out
    assert models.Speech.objects.count() >= 1
    assert "created (" in out
    speech = models.Speech.objects.first()
    assert speech.passages.count() > 0
    assert models.Coverage.objects.count() == sum(
        1 for line in out.split("\n") if line.startswith("coverage: ")
    )
