"""Export a speech as native Markdown (one file per version) or as lossless JSON.

Both are re-importable: every paragraph carries its passage key (`{#key}`),
so importing an export keeps every key, and export → import → export gives
the same files (tests/test_export.py checks this on real texts and on
generated ones). Callers decide who may export what: the public views pass
only `.public()` speeches.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import yaml

from speeches.importers.document import (
    CorrectionDoc,
    FootnoteDoc,
    ImportFormatError,
    PassageDoc,
    SpeechDocument,
    VersionDoc,
)
from speeches.importers.native import FOOTNOTE_DEFINITION, KIND_PREFIX, SPEAKER_HEADING
from speeches.models import Footnote, Passage, PassageRedirect, PassageText, Speech, Version

JSON_FORMAT = "speech-archive/1"


class _Dumper(yaml.SafeDumper):
    """Block scalars for multi-line text, so introductions stay readable."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _yaml(data: dict[str, Any]) -> str:
    return yaml.dump(
        data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=10_000
    ).rstrip("\n")


def _date_value(date: dt.date, precision: str) -> Any:
    if precision == Speech.DatePrecision.YEAR:
        return date.year
    if precision == Speech.DatePrecision.MONTH:
        return f"{date.year:04d}-{date.month:02d}"
    return date


def _escape_line(line: str) -> str:
    """A text line that would read as a heading or a footnote definition."""
    if SPEAKER_HEADING.match(line) or FOOTNOTE_DEFINITION.match(line):
        return "\\" + line
    return line


def _load(speech: Speech) -> tuple[list[Any], list[Passage], dict[int, dict[int, str]]]:
    versions = list(speech.versions.order_by("-is_original", "code", "pk"))
    passages = list(speech.passages.order_by("position", "pk").prefetch_related("themes"))
    texts: dict[int, dict[int, str]] = {v.pk: {} for v in versions}
    for text in PassageText.objects.filter(passage__speech=speech).only(
        "passage_id", "version_id", "text"
    ):
        texts[text.version_id][text.passage_id] = text.text
    return versions, passages, texts


def _collections(speech: Speech) -> list[str]:
    return list(
        speech.collection_items.order_by("collection__slug").values_list(
            "collection__slug", flat=True
        )
    )


def export_native(speech: Speech) -> dict[str, str]:
    """`{filename: Markdown}`, one file per version, original first.

    Speech-level fields go in the first file's front matter. Each paragraph
    ends with its passage key; a passage of several paragraphs repeats its key
    on each, which the parser reads back as one passage.
    """
    versions, passages, texts = _load(speech)
    files: dict[str, str] = {}
    for index, version in enumerate(versions):
        meta: dict[str, Any] = {"speech": speech.slug}
        if index == 0:
            if speech.title != version.title:
                meta["speech_title"] = speech.title
            meta["speaker"] = speech.speaker.name
            meta["speaker_slug"] = speech.speaker.slug
            if speech.speaker.name_original:
                meta["speaker_original"] = speech.speaker.name_original
            meta["date"] = _date_value(speech.delivered_on, speech.date_precision)
            for name in ("occasion", "place", "kind", "nickname", "summary", "status"):
                if getattr(speech, name):
                    meta[name] = str(getattr(speech, name))  # TextChoices -> plain str
            themes = sorted(speech.themes.names())
            if themes:
                meta["themes"] = themes
            collections = _collections(speech)
            if collections:
                meta["collections"] = collections
        meta["language"] = version.language
        if version.code != version.language:
            meta["code"] = version.code
        if version.is_original:
            meta["original"] = True
        meta["title"] = version.title
        for field, name in (
            ("translators", "translators"),
            ("editor", "editor"),
            ("source_name", "source"),
            ("source_url", "source_url"),
            ("licence", "licence"),
            ("published_on", "published"),
            ("introduction", "introduction"),
        ):
            value = getattr(version, field)
            if value:
                meta[name] = value
        corrections = [
            {"date": c.date, "text": c.description}
            for c in version.corrections.order_by("date", "pk")
        ]
        if corrections:
            meta["corrections"] = corrections

        body: list[str] = []
        speaker: str | None = None
        for passage in passages:
            text = texts[version.pk].get(passage.pk)
            if text is None:
                continue
            if passage.turn_speaker != (speaker if speaker is not None else ""):
                body.append(f"### {passage.turn_speaker}:")
            speaker = passage.turn_speaker
            for paragraph in text.split("\n\n"):
                lines = [_escape_line(line) for line in paragraph.split("\n")]
                body.append("\n".join(lines) + f" {{#{passage.key}}}")
        for footnote in version.footnotes.order_by("number"):
            first, *rest = footnote.body.split("\n")
            lines = [f"[^{footnote.number}]: {KIND_PREFIX[footnote.kind]} {first}".rstrip()]
            lines.extend(("    " + line) if line.strip() else "" for line in rest)
            body.append("\n".join(lines))
        files[f"{speech.slug}.{version.code}.md"] = (
            f"---\n{_yaml(meta)}\n---\n\n" + "\n\n".join(body) + "\n"
        )
    return files


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def version_metadata(version: Version) -> dict:
    """A version's own fields, as the JSON export and the API both publish them."""
    return {
        "code": version.code,
        "language": version.language,
        "is_original": version.is_original,
        "title": version.title,
        "translators": version.translators,
        "editor": version.editor,
        "introduction": version.introduction,
        "source_name": version.source_name,
        "source_url": version.source_url,
        "licence": version.licence,
        "published_on": version.published_on,
        "has_text": version.has_text,
    }


def export_json(speech: Speech) -> dict[str, Any]:
    """Every field of the speech, its versions, passages (with keys), texts,
    footnotes, corrections, themes and collections; `document_from_json`
    reads it back. Old keys (redirects) are listed for reference only."""
    versions, passages, texts = _load(speech)
    key_of = {p.pk: p.key for p in passages}
    speaker = speech.speaker
    return {
        "format": JSON_FORMAT,
        "speech": {
            "slug": speech.slug,
            "title": speech.title,
            "speaker": {
                "name": speaker.name,
                "name_original": speaker.name_original,
                "slug": speaker.slug,
            },
            "delivered_on": _iso(speech.delivered_on),
            "date_precision": speech.date_precision,
            "occasion": speech.occasion,
            "place": speech.place,
            "original_language": speech.original_language,
            "kind": speech.kind,
            "status": speech.status,
            "published_at": _iso(speech.published_at),
            "nickname": speech.nickname,
            "summary": speech.summary,
            "themes": sorted(speech.themes.names()),
            "collections": _collections(speech),
        },
        "versions": [
            {
                **version_metadata(v),
                "published_on": _iso(v.published_on),
                "footnotes": [
                    {
                        "number": f.number,
                        "kind": f.kind,
                        "body": f.body,
                        "passage": key_of.get(f.passage_id),
                    }
                    for f in Footnote.objects.filter(version=v).order_by("number")
                ],
                "corrections": [
                    {
                        "date": _iso(c.date),
                        "description": c.description,
                        "passages": sorted(
                            (p.key for p in c.passages.all()), key=lambda k: key_of.get(k, k)
                        ),
                    }
                    for c in v.corrections.order_by("date", "pk").prefetch_related("passages")
                ],
            }
            for v in versions
        ],
        "passages": [
            {
                "key": p.key,
                "position": p.position,
                "turn_speaker": p.turn_speaker,
                "themes": sorted(p.themes.names()),
                "texts": {v.code: texts[v.pk][p.pk] for v in versions if p.pk in texts[v.pk]},
            }
            for p in passages
        ],
        "redirects": [
            {
                "old_key": r.old_key,
                "reason": r.reason,
                "passage": r.passage.key if r.passage else None,
            }
            for r in PassageRedirect.objects.filter(speech=speech)
            .select_related("passage")
            .order_by("old_key")
        ],
    }


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def document_from_json(data: dict[str, Any]) -> SpeechDocument:
    """The SpeechDocument an `export_json` dict describes (keys included).

    `published_at` and `redirects` are not re-imported: publication time is set
    when a speech is published here, and old keys belong to the archive that
    retired them.
    """
    if data.get("format") != JSON_FORMAT:
        raise ImportFormatError(f"not a {JSON_FORMAT} export (format: {data.get('format')!r})")
    s = data["speech"]
    index_of = {p["key"]: i for i, p in enumerate(data["passages"])}
    versions = [
        VersionDoc(
            code=v["code"],
            language=v["language"],
            title=v["title"],
            is_original=v["is_original"],
            translators=v["translators"],
            editor=v["editor"],
            introduction=v["introduction"],
            source_name=v["source_name"],
            source_url=v["source_url"],
            licence=v["licence"],
            published_on=_date(v["published_on"]),
            has_text=v["has_text"],
            footnotes=[
                FootnoteDoc(
                    number=f["number"],
                    kind=f["kind"],
                    body=f["body"],
                    passage_index=index_of.get(f["passage"]),
                )
                for f in v["footnotes"]
            ],
            corrections=[
                CorrectionDoc(
                    date=_date(c["date"]),
                    description=c["description"],
                    passage_indexes=[index_of[k] for k in c["passages"] if k in index_of],
                )
                for c in v["corrections"]
            ],
        )
        for v in data["versions"]
    ]
    return SpeechDocument(
        slug=s["slug"],
        title=s["title"],
        speaker_name=s["speaker"]["name"],
        speaker_slug=s["speaker"]["slug"],
        speaker_name_original=s["speaker"]["name_original"],
        delivered_on=_date(s["delivered_on"]),
        date_precision=s["date_precision"],
        original_language=s["original_language"],
        occasion=s["occasion"],
        place=s["place"],
        kind=s["kind"],
        status=s["status"],
        nickname=s["nickname"],
        summary=s["summary"],
        themes=list(s["themes"]),
        collections=list(s["collections"]),
        versions=versions,
        passages=[
            PassageDoc(
                texts=dict(p["texts"]),
                turn_speaker=p["turn_speaker"],
                key=p["key"],
                themes=list(p["themes"]),
            )
            for p in data["passages"]
        ],
        source_path="<json>",
    )


__all__ = ["document_from_json", "export_json", "export_native"]
