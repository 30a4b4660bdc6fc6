"""UN General Debate statements, 2015–2024 (corpus folder
`un-general-debate-corpus-2015-2024`).

`TXT/Session NN - YYYY/ISO_NN_YYYY.txt`: text extracted from the PDF verbatim
records, in three shapes — one paragraph per line; lines hard-wrapped with
blank lines between paragraphs; and hard-wrapped lines with no blank lines at
all. Rebuilding paragraphs (`rebuild_paragraphs`):

* form feeds are page breaks; lines that are only page furniture — a page
  number ("12", "31/34"), the record symbol ("A/70/PV.15"), the job number
  ("15-29425") or the date ("28/09/2015"), alone or together — are dropped;
* a file is wrapped when almost no line is longer than a PDF column (140
  characters); otherwise each line is a paragraph;
* in a wrapped file, a paragraph ends at a blank line, or at a line that ends a
  sentence well short of the wrap width; other lines are joined with a space;
* a paragraph that starts with a lowercase letter continues the previous one
  (the page-break blank line or page furniture fell mid-sentence).

Speaker: `speakers_by_session_2015_2024.csv` (its ISO-code typos PKR, POR and
ZFA are read as PRK, PRT and ZAF); a file with no row falls back to the
country's name (from another year's row, else the ISO code). Date: the debate
is held in late September; the exact day is not in the files, so the date is
1 September of the year with precision "month".
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from speeches.importers.corpus.common import ascii_slug, read_text
from speeches.importers.document import (
    ImportFormatError,
    PassageDoc,
    SpeechDocument,
    VersionDoc,
)

SPEAKERS_FILE = "speakers_by_session_2015_2024.csv"
ISO_TYPOS = {"PKR": "PRK", "POR": "PRT", "ZFA": "ZAF"}
SOURCE_NAME = "UN General Debate Corpus (Jankin, Baturo & Dasandi), Harvard Dataverse"
SOURCE_URL = "https://doi.org/10.7910/DVN/0TJX8Y"
LICENCE = "CC0 1.0"

_FILE_RE = re.compile(r"^(?P<iso>[A-Z]{2,4})_(?P<session>\d{1,3})_(?P<year>\d{4})\.txt$")
_FURNITURE_TOKEN = r"(?:\d{1,3}(?:/\d{1,3})?|A/\d+/PV\.\d+|\d{2}-\d{5}|\d{2}/\d{2}/\d{4})"
_FURNITURE = re.compile(rf"^\s*{_FURNITURE_TOKEN}(?:\s+{_FURNITURE_TOKEN})*\s*$")
_HONORIFIC = re.compile(r"^(?:(?:Mr|Mrs|Ms|Mme|Dr|H\.\s?E)\.?\s+)+")
_SENTENCE_END = tuple('.!?:;”"’)')


@dataclass
class SpeakerRow:
    country: str
    name: str
    post: str


def list_files(folder: str | Path) -> list[Path]:
    return sorted(
        p for p in (Path(folder) / "TXT").glob("Session */*.txt") if _FILE_RE.match(p.name)
    )


def read_speakers(folder: str | Path) -> dict[tuple[str, int], SpeakerRow]:
    """(ISO code, year) -> row, with the sheet's ISO typos corrected."""
    path = Path(folder) / SPEAKERS_FILE
    rows: dict[tuple[str, int], SpeakerRow] = {}
    if not path.exists():
        return rows
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            iso = row["ISO Code"].strip()
            iso = ISO_TYPOS.get(iso, iso)
            rows[(iso, int(row["Year"]))] = SpeakerRow(
                country=row["Country"].strip(),
                name=row["Name of Person Speaking"].strip(),
                post=row["Post"].strip(),
            )
    return rows


def rebuild_paragraphs(text: str) -> list[str]:
    """Paragraphs from PDF-extracted text (see the module docstring)."""
    lines = text.replace("\x0c", "\n").split("\n")
    # (text, blank_line_follows) for every kept line
    kept: list[list] = []
    for raw in lines:
        line = raw.strip()
        if not line:
            if kept:
                kept[-1][1] = True
            continue
        if _FURNITURE.match(line):
            continue
        kept.append([line, False])
    if not kept:
        return []
    lengths = [len(line) for line, _ in kept]
    # A PDF column wraps near 100 characters: a file with many longer lines has
    # one paragraph per line instead.
    wrapped = sum(1 for n in lengths if n > 140) < 0.05 * len(lengths)
    width = sorted(lengths)[int(len(lengths) * 0.9)] if wrapped else 0

    units: list[str] = []
    current: list[str] = []
    for line, blank_after in kept:
        current.append(line)
        ends_sentence = line.endswith(_SENTENCE_END)
        if not wrapped or blank_after or (ends_sentence and len(line) < 0.8 * width):
            units.append(_join(current))
            current = []
    if current:
        units.append(_join(current))

    paragraphs: list[str] = []
    for unit in units:
        if paragraphs and (unit[:1].islower() or paragraphs[-1].endswith("-")):
            paragraphs[-1] = _join([paragraphs[-1], unit])
        else:
            paragraphs.append(unit)
    return paragraphs


def _join(lines: list[str]) -> str:
    text = lines[0]
    for line in lines[1:]:
        # "major-\ncountry": a hyphen at the end of a line is kept, without a space.
        text = text + line if text.endswith("-") else f"{text} {line}"
    return text


def ordinal(number: int) -> str:
    if 10 <= number % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def parse_file(
    path: str | Path,
    speakers: dict[tuple[str, int], SpeakerRow],
) -> SpeechDocument:
    path = str(path)
    match = _FILE_RE.match(Path(path).name)
    if not match:
        raise ImportFormatError("file name must be ISO_SESSION_YEAR.txt", path=path)
    iso, session, year = match["iso"], int(match["session"]), int(match["year"])
    paragraphs = rebuild_paragraphs(read_text(path))
    if not paragraphs:
        raise ImportFormatError("no text (only page furniture)", path=path, line=1)
    row = speakers.get((iso, year))
    country = row.country if row else _country_elsewhere(speakers, iso)
    speaker = _HONORIFIC.sub("", row.name) if row and row.name else country
    title = f"Statement by {country} at the {ordinal(session)} session of the UN General Debate"
    return SpeechDocument(
        slug=f"{year}-un-general-debate-{ascii_slug(country, 60)}",
        title=title,
        speaker_name=speaker,
        speaker_slug=ascii_slug(speaker),
        delivered_on=dt.date(year, 9, 1),
        date_precision="month",
        original_language="en",
        occasion=f"General Debate of the {ordinal(session)} session of the "
        "United Nations General Assembly",
        place="United Nations, New York",
        kind="statement",
        summary=f"Delivered by {row.name}, {row.post}." if row and row.post else "",
        versions=[
            VersionDoc(
                code="en",
                language="en",
                title=title,
                is_original=True,
                source_name=SOURCE_NAME,
                source_url=SOURCE_URL,
                licence=LICENCE,
            )
        ],
        passages=[PassageDoc(texts={"en": text}) for text in paragraphs],
        source_path=path,
    )


def _country_elsewhere(speakers: dict[tuple[str, int], SpeakerRow], iso: str) -> str:
    for (code, _year), row in speakers.items():
        if code == iso and row.country:
            return row.country
    return iso
