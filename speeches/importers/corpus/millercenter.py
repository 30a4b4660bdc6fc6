"""US presidential speeches from the Miller Center (corpus folder
`us-presidential-speeches-millercenter`).

`data/YYYY-MM-DD-slug.txt` (one file lacks `.txt`): a first line
"President: <name>", a blank line, then paragraphs separated by blank lines
(some "blank" lines hold spaces; lines may end in two spaces, a Markdown line
break, and are joined with a space). The text is kept as published: `--`
dashes and bracketed notes such as `[Laughter]` stay in the text.

Title: from the slug ("second-inaugural-address" -> "Second Inaugural
Address"). Source URL: rebuilt by the rule in SOURCE_README.md
(`…/presidential-speeches/january-21-2013-second-inaugural-address`). Kind:
press/news conferences, debates, interviews, proclamations and statements,
written messages (annual, veto, special messages) and letters are told apart
by the slug; everything else is a speech.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from pathlib import Path

from speeches.importers.corpus.common import ascii_slug, read_text
from speeches.importers.document import (
    ImportFormatError,
    PassageDoc,
    SpeechDocument,
    VersionDoc,
)

URL_PREFIX = "https://millercenter.org/the-presidency/presidential-speeches/"
SOURCE_NAME = "Miller Center, University of Virginia"
LICENCE = "Public domain (17 U.S.C. § 105)"

_NAME_RE = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})-(?P<slug>.+?)(?:\.txt)?$")
_PRESIDENT_RE = re.compile(r"^President:\s*(?P<name>\S.*?)\s*$")
_SMALL_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "as",
        "at",
        "but",
        "by",
        "for",
        "from",
        "in",
        "into",
        "of",
        "on",
        "or",
        "the",
        "to",
        "vs",
        "with",
    ]
)
_ACRONYMS = {"us": "US", "un": "UN", "nato": "NATO", "usa": "USA", "ii": "II", "iii": "III"}
_KINDS = [
    (re.compile(r"\b(press|news) conference\b"), "press-conference"),
    (re.compile(r"\bdebate\b"), "debate"),
    (re.compile(r"\binterview\b"), "interview"),
    (re.compile(r"\b(proclamation|statement)\b"), "statement"),
    (re.compile(r"\b(message|letter)\b"), "letter"),
]


def list_files(folder: str | Path) -> list[Path]:
    data = Path(folder) / "data"
    return sorted(p for p in data.iterdir() if p.is_file() and _NAME_RE.match(p.name))


def title_from_slug(slug: str) -> str:
    words = slug.split("-")
    titled = []
    for index, word in enumerate(words):
        if word in _ACRONYMS:
            titled.append(_ACRONYMS[word])
        elif index and word in _SMALL_WORDS:
            titled.append(word)
        else:
            titled.append(word[:1].upper() + word[1:])
    return " ".join(titled)


def source_url(date: dt.date, slug: str) -> str:
    return f"{URL_PREFIX}{calendar.month_name[date.month].lower()}-{date.day}-{date.year}-{slug}"


def speech_kind(slug: str) -> str:
    words = slug.replace("-", " ")
    for pattern, kind in _KINDS:
        if pattern.search(words):
            return kind
    return "speech"


def parse_file(path: str | Path) -> SpeechDocument:
    path = str(path)
    match = _NAME_RE.match(Path(path).name)
    if not match:
        raise ImportFormatError("file name must be YYYY-MM-DD-slug.txt", path=path)
    try:
        date = dt.date.fromisoformat(match["date"])
    except ValueError as exc:
        raise ImportFormatError(
            f"invalid date {match['date']} in the file name", path=path
        ) from exc
    slug = match["slug"]
    lines = read_text(path).split("\n")
    first = next(i for i, line in enumerate(lines) if line.strip())
    president = _PRESIDENT_RE.match(lines[first].strip())
    if not president:
        raise ImportFormatError(
            "expected a first line 'President: <name>'", path=path, line=first + 1
        )
    name = president["name"]

    paragraphs: list[str] = []
    block: list[str] = []
    for line in [*lines[first + 1 :], ""]:
        if line.strip():
            block.append(line.strip())
        elif block:
            paragraphs.append(" ".join(block))
            block = []
    if not paragraphs:
        raise ImportFormatError("no text after the 'President:' line", path=path, line=first + 1)
    title = title_from_slug(slug)
    return SpeechDocument(
        slug=f"{date.isoformat()}-{ascii_slug(slug, 70)}",
        title=title,
        speaker_name=name,
        speaker_slug=ascii_slug(name),
        speaker_name_original=name,
        delivered_on=date,
        date_precision="day",
        original_language="en",
        kind=speech_kind(slug),
        versions=[
            VersionDoc(
                code="en",
                language="en",
                title=title,
                is_original=True,
                source_name=SOURCE_NAME,
                source_url=source_url(date, slug),
                licence=LICENCE,
            )
        ],
        passages=[PassageDoc(texts={"en": text}) for text in paragraphs],
        source_path=path,
    )
