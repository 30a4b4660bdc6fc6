"""The bulk dump of the public archive: write it, recognise it, read it back.

A dump is a folder:

    speeches.jsonl.gz   one published speech per line, the lossless JSON of
                        speeches.exporters.export_json (versions, passages with
                        keys, texts, footnotes, corrections, themes, collections,
                        old keys), ordered by slug; gzip with a zero timestamp, so
                        the same archive always gives the same bytes
    manifest.json       format, creation time, counts, and the sha256 and size
                        of each file

`manage.py dump_archive OUT_DIR` writes one; `manage.py load_corpus OUT_DIR`
(or the .jsonl.gz file itself) loads it into an archive, empty or not: each
speech is (re)imported in its own transaction by the usual writer, keeping its
passage keys, then its publication time and retired keys are restored, so that
dump → load → dump gives the same speeches file.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from speeches.exporters import JSON_FORMAT, document_from_json, export_json
from speeches.importers.document import ImportFormatError
from speeches.models import Passage, PassageRedirect, Speech

DUMP_FORMAT = "speech-archive-dump/1"
SPEECHES_FILE = "speeches.jsonl.gz"
MANIFEST_FILE = "manifest.json"
BATCH = 100


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _counts(data: dict[str, Any]) -> dict[str, int]:
    return {
        "versions": len(data["versions"]),
        "passages": len(data["passages"]),
        "texts": sum(len(p["texts"]) for p in data["passages"]),
        "footnotes": sum(len(v["footnotes"]) for v in data["versions"]),
        "corrections": sum(len(v["corrections"]) for v in data["versions"]),
        "redirects": len(data["redirects"]),
    }


def write_dump(out_dir: Path, *, progress: Any = None) -> dict[str, Any]:
    """Write every published speech to `out_dir` (created if needed); return the
    manifest. `progress`, if given, is called with each speech's slug."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / SPEECHES_FILE
    tmp = path.with_suffix(".tmp")
    totals = {"speeches": 0, "versions": 0, "passages": 0, "texts": 0}
    totals |= {"footnotes": 0, "corrections": 0, "redirects": 0}
    slugs = list(Speech.objects.public().order_by("slug").values_list("slug", flat=True))
    # mtime=0 and no file name in the gzip header: identical archives, identical bytes.
    with (
        tmp.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
        io.TextIOWrapper(gz, encoding="utf-8", newline="\n") as text,
    ):
        for start in range(0, len(slugs), BATCH):
            batch = Speech.objects.public().select_related("speaker")
            for speech in batch.filter(slug__in=slugs[start : start + BATCH]).order_by("slug"):
                data = export_json(speech)
                text.write(json.dumps(data, ensure_ascii=False, sort_keys=True) + "\n")
                totals["speeches"] += 1
                for key, value in _counts(data).items():
                    totals[key] += value
                if progress is not None:
                    progress(speech.slug)
    tmp.replace(path)
    manifest = {
        "format": DUMP_FORMAT,
        "speech_format": JSON_FORMAT,
        "created_at": timezone.now().isoformat(timespec="seconds"),
        "counts": totals,
        "files": [{"name": SPEECHES_FILE, "sha256": _sha256(path), "bytes": path.stat().st_size}],
    }
    (out_dir / MANIFEST_FILE).write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return manifest


def is_dump(path: str | Path) -> bool:
    """A dump folder (with its manifest) or a dump's speeches file."""
    path = Path(path)
    if path.is_dir():
        return (path / MANIFEST_FILE).is_file() and (path / SPEECHES_FILE).is_file()
    return path.is_file() and path.name.endswith(".jsonl.gz")


def _speeches_file(path: Path) -> Path:
    """The speeches file of a dump, checked against the manifest when there is one."""
    if path.is_file():
        return path
    manifest_path = path / MANIFEST_FILE
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ImportFormatError(f"unreadable manifest: {exc}", path=str(manifest_path)) from exc
    if manifest.get("format") != DUMP_FORMAT:
        raise ImportFormatError(
            f"not a {DUMP_FORMAT} manifest (format: {manifest.get('format')!r})",
            path=str(manifest_path),
        )
    speeches = path / SPEECHES_FILE
    expected = {f["name"]: f["sha256"] for f in manifest.get("files", [])}.get(SPEECHES_FILE)
    if expected is not None and expected != _sha256(speeches):
        raise ImportFormatError(
            "checksum does not match the manifest (truncated or altered file?)",
            path=str(speeches),
        )
    return speeches


def iter_dump_records(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, export_json dict) for each speech of a dump folder or file."""
    speeches = _speeches_file(Path(path))
    try:
        with gzip.open(speeches, "rt", encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                except ValueError as exc:
                    raise ImportFormatError(
                        f"not JSON: {exc}", path=str(speeches), line=number
                    ) from exc
                yield number, data
    except (OSError, EOFError) as exc:  # gzip: bad header or truncated stream
        raise ImportFormatError(f"not a readable gzip file: {exc}", path=str(speeches)) from exc


def iter_dump_documents(path: str | Path):
    """SpeechDocuments of a dump, for any importer loop (parsing only, no database)."""
    for number, data in iter_dump_records(path):
        try:
            yield document_from_json(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ImportFormatError(
                f"incomplete speech record ({exc!r})", path=str(path), line=number
            ) from exc


def restore_extras(speech: Speech, data: dict[str, Any]) -> None:
    """What the writer does not take from a document: the original publication
    time, and retired passage keys (so old citations keep resolving)."""
    published_at = data["speech"].get("published_at")
    when = dt.datetime.fromisoformat(published_at) if published_at else None
    if speech.published_at != when:
        Speech.objects.filter(pk=speech.pk).update(published_at=when)
    keys = {r["passage"] for r in data.get("redirects", []) if r.get("passage")}
    passage_by_key = dict(
        Passage.objects.filter(speech=speech, key__in=keys).values_list("key", "pk")
    )
    for redirect in data.get("redirects", []):
        target = passage_by_key.get(redirect.get("passage") or "")
        if redirect.get("passage") and target is None:
            continue  # its target is not in this archive: nothing to point to
        PassageRedirect.objects.get_or_create(
            old_key=redirect["old_key"],
            defaults={"speech": speech, "passage_id": target, "reason": redirect["reason"]},
        )


def load_dump(
    path: str | Path,
    *,
    limit: int | None = None,
    publish: bool = False,
    dry_run: bool = False,
    progress: bool = False,
    cache: Any = None,
) -> dict[str, int]:
    """Load a dump (folder or file); returns counts like load_corpus.load_folder.

    Like a corpus load, each speech commits without waiting for the disk
    (`durable=False`, see import_speech_document): a load is re-runnable."""
    from tqdm import tqdm

    from speeches.importers.writer import ImportCache, import_speech_document

    cache = cache if cache is not None else ImportCache()
    counts = {"speeches": 0, "created": 0, "passages": 0, "coverage": 0}
    records = iter_dump_records(path)
    for number, data in tqdm(records, desc=Path(path).name, unit="speech", disable=not progress):
        if limit is not None and counts["speeches"] >= limit:
            break
        try:
            doc = document_from_json(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ImportFormatError(
                f"incomplete speech record ({exc!r})", path=str(path), line=number
            ) from exc
        with transaction.atomic():
            result = import_speech_document(
                doc, publish=publish, dry_run=dry_run, cache=cache, durable=False
            )
            if not dry_run:
                restore_extras(Speech.objects.get(slug=doc.slug), data)
        counts["speeches"] += 1
        counts["created"] += int(result.created)
        counts["passages"] += len(doc.passages)
    return counts
