"""The in-memory shape every importer produces and every exporter reads.

Parsers (native Markdown, DigiChina plain text, corpus folders) build these
plain dataclasses; `services.import_speech_document()` writes them. Keeping the
database out of parsing makes `--dry-run` exact and lets the property test
compare export → import → export without touching anything else.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


class ImportFormatError(ValueError):
    """Bad input. The message names the file and, where known, the line."""

    def __init__(self, message: str, *, path: str = "", line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = path + (f", line {line}" if line is not None else "") if path else ""
        super().__init__(f"{where}: {message}" if where else message)


@dataclass
class Paragraph:
    """One paragraph of one version as parsed, before versions are aligned."""

    text: str
    turn_speaker: str = ""
    label: str | None = None  # explicit {#key} label
    line: int | None = None  # 1-based line in the source file, for messages
    themes: list[str] = field(default_factory=list)


@dataclass
class FootnoteDoc:
    number: int
    kind: str  # Footnote.Kind value: editor / translator / author / source
    body: str  # Markdown
    passage_index: int | None = None  # index into SpeechDocument.passages where the marker stands


@dataclass
class CorrectionDoc:
    date: dt.date
    description: str
    passage_indexes: list[int] = field(default_factory=list)  # passages it names (JSON import)


@dataclass
class VersionDoc:
    code: str  # unique within the speech, e.g. "en", "zh-Hant"
    language: str  # BCP 47
    title: str
    is_original: bool = False
    translators: str = ""
    editor: str = ""
    introduction: str = ""  # Markdown
    source_name: str = ""
    source_url: str = ""
    licence: str = ""
    published_on: dt.date | None = None
    has_text: bool = True
    footnotes: list[FootnoteDoc] = field(default_factory=list)
    corrections: list[CorrectionDoc] = field(default_factory=list)


@dataclass
class PassageDoc:
    texts: dict[str, str]  # version code -> text (a version may lack a passage)
    turn_speaker: str = ""
    key: str | None = None  # an explicit {#key} label, or the key when re-exported
    themes: list[str] = field(default_factory=list)


@dataclass
class CoverageDoc:
    outlet: str
    title: str
    url: str = ""
    published_on: dt.date | None = None
    kind: str = "news"  # Coverage.Kind value
    excerpt: str = ""
    about_date: dt.date | None = None  # date of the speech it discusses, for linking
    about_speaker: str = ""  # speaker name it discusses, for linking
    # Glossary candidates found in the article ("cyber superpower (网络强国)").
    term_candidates: list[TermCandidate] = field(default_factory=list)


@dataclass
class TermCandidate:
    original: str  # 网络强国
    translation: str  # cyber superpower


@dataclass
class SpeechDocument:
    slug: str
    title: str
    speaker_name: str
    delivered_on: dt.date
    original_language: str
    speaker_slug: str = ""
    speaker_name_original: str = ""
    date_precision: str = "day"
    occasion: str = ""
    place: str = ""
    kind: str = "speech"
    status: str = "draft"
    nickname: str = ""
    summary: str = ""
    themes: list[str] = field(default_factory=list)
    collections: list[str] = field(default_factory=list)  # collection slugs
    versions: list[VersionDoc] = field(default_factory=list)
    passages: list[PassageDoc] = field(default_factory=list)
    term_candidates: list[TermCandidate] = field(default_factory=list)
    source_path: str = ""  # where it came from, for messages

    def version(self, code: str) -> VersionDoc:
        for version in self.versions:
            if version.code == code:
                return version
        raise KeyError(code)
