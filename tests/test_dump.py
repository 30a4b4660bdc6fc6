"""The bulk dump (`dump_archive`, speeches/importers/dump.py): public speeches
only, a manifest that checks, and dump → empty archive → load → dump gives
the same bytes, on real corpus texts and on hand-made edge cases."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from taggit.models import Tag

from speeches.importers.document import ImportFormatError
from speeches.importers.dump import (
    MANIFEST_FILE,
    SPEECHES_FILE,
    is_dump,
    iter_dump_documents,
    load_dump,
)
from speeches.models import (
    Annotation,
    Collection,
    CollectionItem,
    Correction,
    Coverage,
    Footnote,
    Passage,
    PassageRedirect,
    Speaker,
    Speech,
    TaggedPassage,
    Term,
)
from tests.factories import make_bilingual_speech

pytestmark = pytest.mark.django_db


def make_archive(seeds_dir: str, corpus_dir: str) -> None:
    """Real DigiChina-style texts plus every kind of record a speech can carry."""
    quiet = StringIO()
    call_command("load_corpus", seeds_dir, "--publish", stdout=quiet)
    tang = Path(corpus_dir) / "tang-transcripts-zh-en"
    call_command("load_corpus", str(tang), "--limit", "3", "--publish", stdout=quiet)
    speech = make_bilingual_speech(
        3, slug="edge-case", nickname="4.20 speech", summary="Line one\nline two"
    )
    speech.themes.add("Cyber policy")
    en = speech.versions.get(code="en")
    first, second, third = speech.passages.order_by("position")
    TaggedPassage.objects.create(content_object=first, tag=Tag.objects.create(name="Internet"))
    Footnote.objects.create(version=en, passage=second, number=1, body="A *note*.")
    correction = Correction.objects.create(version=en, date=dt.date(2020, 1, 2), description="Fix")
    correction.passages.add(third)
    PassageRedirect.objects.create(
        old_key="oldsplit", passage=first, speech=speech, reason=PassageRedirect.Reason.SPLIT
    )
    PassageRedirect.objects.create(
        old_key="oldgone", speech=speech, reason=PassageRedirect.Reason.REMOVED
    )
    series = Collection.objects.create(title="Series", slug="series")
    CollectionItem.objects.create(collection=series, speech=speech)
    make_bilingual_speech(2, slug="secret-draft", status=Speech.Status.DRAFT)
    make_bilingual_speech(2, slug="withdrawn-one", status=Speech.Status.WITHDRAWN)


def empty_the_archive() -> None:
    Annotation.objects.all().delete()
    Coverage.objects.all().delete()
    Term.objects.all().delete()
    Speech.objects.all().delete()
    Speaker.objects.all().delete()
    Collection.objects.all().delete()
    Tag.objects.all().delete()
    assert not Passage.objects.exists() and not PassageRedirect.objects.exists()


def lines(folder: Path) -> list[dict]:
    with gzip.open(folder / SPEECHES_FILE, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def test_dump_holds_public_speeches_with_a_checking_manifest(tmp_path, seeds_dir, corpus_dir):
    make_archive(seeds_dir, corpus_dir)
    call_command("dump_archive", str(tmp_path), stdout=StringIO())
    records = lines(tmp_path)
    slugs = [record["speech"]["slug"] for record in records]
    assert slugs == sorted(Speech.objects.public().values_list("slug", flat=True))
    assert "secret-draft" not in slugs and "withdrawn-one" not in slugs
    manifest = json.loads((tmp_path / MANIFEST_FILE).read_text())
    assert manifest["counts"]["speeches"] == len(records) == Speech.objects.public().count()
    assert manifest["counts"]["passages"] == Passage.objects.public().count()
    [entry] = manifest["files"]
    data = (tmp_path / SPEECHES_FILE).read_bytes()
    assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert entry["bytes"] == len(data)
    assert dt.datetime.fromisoformat(manifest["created_at"]).date() == dt.date.today()
    assert is_dump(tmp_path) and is_dump(tmp_path / SPEECHES_FILE)


def test_dump_empty_archive_load_dump_is_identical(tmp_path, seeds_dir, corpus_dir):
    make_archive(seeds_dir, corpus_dir)
    first, second = tmp_path / "first", tmp_path / "second"
    call_command("dump_archive", str(first), stdout=StringIO())
    published_before = dict(Speech.objects.public().values_list("slug", "published_at"))
    empty_the_archive()

    out = StringIO()
    call_command("load_corpus", str(first), stdout=out)  # the dump folder, as a corpus
    assert f"{len(published_before)} speeches" in out.getvalue()
    assert dict(Speech.objects.values_list("slug", "published_at")) == published_before
    edge = Speech.objects.get(slug="edge-case")
    assert edge.passage_redirects.get(old_key="oldsplit").passage.position == 1
    assert edge.passage_redirects.get(old_key="oldgone").passage is None

    call_command("dump_archive", str(second), stdout=StringIO())
    assert (second / SPEECHES_FILE).read_bytes() == (first / SPEECHES_FILE).read_bytes()
    manifest = [json.loads((d / MANIFEST_FILE).read_text()) for d in (first, second)]
    assert manifest[0]["counts"] == manifest[1]["counts"]
    assert manifest[0]["files"] == manifest[1]["files"]


def test_loading_a_dump_twice_changes_nothing(tmp_path, seeds_dir, corpus_dir):
    make_archive(seeds_dir, corpus_dir)
    call_command("dump_archive", str(tmp_path / "a"), stdout=StringIO())
    # The speeches file alone loads too.
    call_command("load_corpus", str(tmp_path / "a" / SPEECHES_FILE), stdout=StringIO())
    call_command("dump_archive", str(tmp_path / "b"), stdout=StringIO())
    assert (tmp_path / "a" / SPEECHES_FILE).read_bytes() == (
        tmp_path / "b" / SPEECHES_FILE
    ).read_bytes()


def test_a_damaged_dump_is_refused_before_anything_is_written(tmp_path, seeds_dir, corpus_dir):
    make_archive(seeds_dir, corpus_dir)
    call_command("dump_archive", str(tmp_path), stdout=StringIO())
    path = tmp_path / SPEECHES_FILE
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    empty_the_archive()
    with pytest.raises(ImportFormatError, match="checksum"):
        load_dump(tmp_path)
    assert not Speech.objects.exists()


def test_a_bad_line_names_its_line(tmp_path):
    path = tmp_path / "broken.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write('{"format": "speech-archive/1"}\n{not json\n')
    with pytest.raises(ImportFormatError) as error:
        list(iter_dump_documents(path))
    assert error.value.line == 1  # the first record lacks its speech
    path.write_bytes(b"not gzip at all")
    with pytest.raises(ImportFormatError, match="gzip"):
        list(iter_dump_documents(path))


def test_dry_run_load_writes_nothing(tmp_path, seeds_dir, corpus_dir):
    make_archive(seeds_dir, corpus_dir)
    call_command("dump_archive", str(tmp_path), stdout=StringIO())
    empty_the_archive()
    counts = load_dump(tmp_path, dry_run=True)
    assert counts["speeches"] > 0
    assert not Speech.objects.exists() and not PassageRedirect.objects.exists()
