"""Audrey Tang's transcripts (corpus folder `tang-transcripts-zh-en`).

One SpeechDocument per English / Traditional Chinese pair listed in `pairs.csv`
(or, without it, the source's own `alternates.tsv`). Each file is Markdown:

    # 2021-05-12 Interview with TechSequences
    ### Leslie Daigle:
    text…
    > (section title or stage direction)

Choices, so that the archive never stores raw HTML and keeps every word:

* `### Name:` / `### 名字：` sets the speaker of the following paragraphs
  (Passage.turn_speaker; the English name wins, English being the pivot of
  the alignment).
* `> …` notes and `##` section headings are kept as paragraphs of their own,
  without the `>`/`#` marker and with no turn speaker; a bare `>` line
  separates two notes.
* `<iframe src=…>` (embedded videos) becomes a Markdown link `[Video](src)`,
  `<a href=…>text</a>` becomes `[text](href)`, `<br>` a line break, and any
  other tag (`<sup>`) is dropped keeping its text; entities are decoded.
* Original language — a simple rule, since the source does not say which text
  came first: Tang's Business Weekly columns (商周專欄, "BW Column") are written
  for a Taiwanese magazine and Taiwanese consultation meetings are held in
  Mandarin, so their zh-Hant text is the original; everything else (interviews
  with foreign media, talks abroad, panels) is treated as English first.
* Versions are aligned with `align_versions` (turns, then paragraphs).
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from speeches.importers.alignment import align_versions
from speeches.importers.corpus.common import ascii_slug, read_text
from speeches.importers.document import (
    ImportFormatError,
    Paragraph,
    SpeechDocument,
    VersionDoc,
)

SOURCE_REPOSITORY = "https://github.com/audreyt/transcript"
SOURCE_COMMIT = "1524a5d25dd6a05608062d9f86ae3b57f2be79da"
SOURCE_NAME = "archive.tw (audreyt/transcript)"
LICENCE = "CC0 1.0"
SPEAKER = "Audrey Tang"
SPEAKER_ORIGINAL = "唐鳳"

_TITLE_RE = re.compile(r"^#\s+(?P<date>\d{4}-\d{2}-\d{2})\s+(?P<title>.+?)\s*$")
_SPEAKER_RE = re.compile(r"^###\s+(?P<name>.+?)\s*[:：]?\s*$")
_HEADING_RE = re.compile(r"^#{1,6}\s+(?P<text>.+?)\s*$")
_IFRAME_RE = re.compile(
    r"<iframe\b[^>]*?\bsrc=\"(?P<src>[^\"]+)\"[^>]*>.*?</iframe\s*>", re.I | re.S
)
_IFRAME_NO_SRC_RE = re.compile(r"<iframe\b[^>]*>.*?</iframe\s*>", re.I | re.S)
_LINK_RE = re.compile(
    r"<a\b[^>]*?\bhref=\"(?P<href>[^\"]+)\"[^>]*>(?P<text>.*?)</a\s*>", re.I | re.S
)
_BR_RE = re.compile(r"<br\s*/?>", re.I)
_TAG_RE = re.compile(r"</?[a-zA-Z][^<>]*>")

# Title words -> Speech.kind, checked in order (English and Chinese titles).
_KINDS = [
    (re.compile(r"press conference|記者會|聯訪", re.I), "press-conference"),
    (re.compile(r"\bdebate\b|辯論", re.I), "debate"),
    (re.compile(r"\bcolumn\b|專欄", re.I), "article"),
    (re.compile(r"interview|conversation|dialogue|訪|對談|對話", re.I), "interview"),
    (re.compile(r"consultation|committee|hearing|panel|brief|諮詢|委員會|座談", re.I), "other"),
]


@dataclass
class Pair:
    date: dt.date
    en_file: str
    zh_file: str


def clean_html(text: str) -> str:
    """Markdown with the embedded HTML turned into Markdown or plain text."""
    text = _IFRAME_RE.sub(lambda m: f"[Video]({html.unescape(m['src'])})", text)
    text = _IFRAME_NO_SRC_RE.sub("", text)
    text = _LINK_RE.sub(lambda m: f"[{m['text'].strip()}]({html.unescape(m['href'])})", text)
    text = _BR_RE.sub("\n", text)
    text = _TAG_RE.sub("", text)
    text = html.unescape(text)
    lines = [line.strip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line)


def parse_transcript(path: str) -> tuple[dt.date, str, list[Paragraph]]:
    """(date, title, paragraphs) of one transcript file."""
    text = read_text(path)
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), 0)
    match = _TITLE_RE.match(lines[first].strip())
    if not match:
        raise ImportFormatError(
            "expected a first line '# YYYY-MM-DD Title'", path=path, line=first + 1
        )
    try:
        date = dt.date.fromisoformat(match["date"])
    except ValueError as exc:
        raise ImportFormatError(f"invalid date {match['date']}", path=path, line=first + 1) from exc
    title = match["title"]

    paragraphs: list[Paragraph] = []
    speaker = ""
    buffer: list[str] = []
    buffer_line = 0
    buffer_is_note = False

    def flush() -> None:
        nonlocal buffer
        if buffer:
            cleaned = clean_html("\n".join(buffer))
            if cleaned:
                paragraphs.append(
                    Paragraph(
                        text=cleaned,
                        turn_speaker="" if buffer_is_note else speaker,
                        line=buffer_line,
                    )
                )
        buffer = []

    for number, raw in enumerate(lines[first + 1 :], start=first + 2):
        line = raw.strip()
        if not line:
            flush()
        elif line.startswith("### ") and (m := _SPEAKER_RE.match(line)):
            flush()
            speaker = m["name"].rstrip(":：").strip()
        elif m := _HEADING_RE.match(line):
            flush()
            buffer, buffer_line, buffer_is_note = [m["text"]], number, True
            flush()
        elif line.startswith(">"):
            content = line[1:].strip()
            if not buffer_is_note:
                flush()
            if not content:
                flush()
                continue
            if not buffer:
                buffer_line, buffer_is_note = number, True
            buffer.append(content)
        else:
            if buffer_is_note:
                flush()
            if not buffer:
                buffer_line, buffer_is_note = number, False
            buffer.append(line)
    flush()
    if not paragraphs:
        raise ImportFormatError("transcript has no text after its title", path=path, line=first + 1)
    return date, title, paragraphs


def read_pairs(folder: str | Path) -> list[Pair]:
    """The pairs, from pairs.csv (dated) or else alternates.tsv (date from the name)."""
    folder = Path(folder)
    pairs_csv = folder / "pairs.csv"
    if pairs_csv.exists():
        with pairs_csv.open(encoding="utf-8", newline="") as handle:
            return [
                Pair(dt.date.fromisoformat(row["date"]), row["en_file"], row["zh_file"])
                for row in csv.DictReader(handle)
            ]
    pairs = []
    alternates = folder / "alternates.tsv"
    for number, line in enumerate(read_text(alternates).split("\n"), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            raise ImportFormatError(
                "expected '<english file>\\t<chinese file>'", path=str(alternates), line=number
            )
        try:
            date = dt.date.fromisoformat(parts[0][:10])
        except ValueError as exc:
            raise ImportFormatError(
                "file name does not start with a date", path=str(alternates), line=number
            ) from exc
        pairs.append(Pair(date, parts[0].strip(), parts[1].strip()))
    return pairs


def original_language(en_title: str, zh_title: str) -> str:
    """See the module docstring: columns and consultations were written in Chinese."""
    if re.match(r"BW Column\b", en_title) or "商周專欄" in zh_title:
        return "zh-Hant"
    if re.search(r"\bConsultation\b", en_title) or "諮詢會議" in zh_title:
        return "zh-Hant"
    return "en"


def speech_kind(en_title: str, zh_title: str) -> str:
    for pattern, kind in _KINDS:
        if pattern.search(en_title) or pattern.search(zh_title):
            return kind
    return "speech"


def load_pair(folder: str | Path, pair: Pair) -> SpeechDocument:
    transcripts = Path(folder) / "transcripts"
    en_path, zh_path = str(transcripts / pair.en_file), str(transcripts / pair.zh_file)
    en_date, en_title, en_paragraphs = parse_transcript(en_path)
    _zh_date, zh_title, zh_paragraphs = parse_transcript(zh_path)
    original = original_language(en_title, zh_title)
    passages = align_versions({"en": en_paragraphs, "zh-Hant": zh_paragraphs})
    versions = [
        VersionDoc(
            code=code,
            language=code,
            title=title,
            is_original=code == original,
            source_name=SOURCE_NAME,
            source_url=f"{SOURCE_REPOSITORY}/blob/{SOURCE_COMMIT}/{quote(filename)}",
            licence=LICENCE,
        )
        for code, title, filename in (
            ("en", en_title, pair.en_file),
            ("zh-Hant", zh_title, pair.zh_file),
        )
    ]
    versions.sort(key=lambda version: not version.is_original)
    return SpeechDocument(
        slug=f"{en_date.isoformat()}-{ascii_slug(en_title, 70)}",
        title=en_title,
        speaker_name=SPEAKER,
        speaker_slug=ascii_slug(SPEAKER),
        speaker_name_original=SPEAKER_ORIGINAL,
        delivered_on=en_date,
        date_precision="day",
        original_language=original,
        kind=speech_kind(en_title, zh_title),
        versions=versions,
        passages=passages,
        source_path=en_path,
    )
