"""PRC Government Work Reports (corpus folder `prc-government-work-reports-zh`).

`government_work_reports.jsonl` holds one JSON object per line: title, url
(Wikisource), content, year. Choices:

* Only the 52 reports are loaded. The 20 NPC resolutions approving them (`year`
  null) are skipped: they are votes of an assembly, not speeches, and giving
  them a "speaker" would invent one.
* Paragraphs are separated by two or more newlines; a single newline is a
  Wikisource link artefact and is joined **without** a space. Zero-width
  characters are dropped, and full-width indentation spaces are stripped.
* Speaker: the Premier named in the header ("国务院总理　\\n李　强"), else a
  bare name in the header (1957: 周恩来), else the table below of who delivered
  each year's report (Premiers, and the Vice-Premiers or ministers who presented
  the 1955, 1956, 1958, 1960 and 1980 reports). Romanised with pypinyin unless
  the table in common.KNOWN_NAMES knows better (薄 is Bó, not Báo).
* Date: "——2024年3月5日在第十四届全国人民代表大会第二次会议上" gives the day
  and the occasion; without it, the year only (precision "year"), and the
  occasion from the first paragraph when it names the session.
* The header lines (title, date line, Premier) are not passages.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

from speeches.importers.corpus.common import read_text, romanize_name
from speeches.importers.document import (
    ImportFormatError,
    PassageDoc,
    SpeechDocument,
    VersionDoc,
)

FILE_NAME = "government_work_reports.jsonl"
SOURCE_NAME = "Chinese Wikisource (维基文库)"
LICENCE = "Public domain (official document, PRC Copyright Law Art. 5)"

# Who presented the report, by year, when the text itself does not say.
PRESENTERS: dict[int, str] = {
    **dict.fromkeys([1954, 1957, 1959, 1964, 1975], "周恩来"),
    1955: "李富春",
    1956: "李先念",
    1958: "薄一波",
    1960: "谭震林",
    **dict.fromkeys([1978, 1979], "华国锋"),
    1980: "姚依林",
    **dict.fromkeys(range(1981, 1988), "赵紫阳"),
    **dict.fromkeys(range(1988, 1999), "李鹏"),
    **dict.fromkeys(range(1999, 2004), "朱镕基"),
    **dict.fromkeys(range(2004, 2014), "温家宝"),
    **dict.fromkeys(range(2014, 2024), "李克强"),
    **dict.fromkeys(range(2024, 2029), "李强"),
}

_ZERO_WIDTH = re.compile(r"[\u200b\u200c\u200d\ufeff]")
_DATE_LINE = re.compile(
    r"^—*\s*(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日在(?P<occasion>.+?)上\s*$"
)
_PREMIER = re.compile(r"国务院总理(?P<name>[\u3400-\u9fff]{2,4})$")
_BARE_NAME = re.compile(r"^[\u3400-\u9fff]{2,4}$")
_SESSION = re.compile(r"第[一二三四五六七八九十]+届全国人民代表大会第[一二三四五六七八九十]+次会议")


def split_paragraphs(content: str) -> list[str]:
    content = _ZERO_WIDTH.sub("", content).replace("\r\n", "\n")
    paragraphs = []
    for block in re.split(r"\n\s*\n", content):
        text = "".join(line.strip(" \u3000\t") for line in block.split("\n"))
        if text:
            paragraphs.append(text)
    return paragraphs


def parse_record(record: dict, *, path: str, line: int) -> SpeechDocument | None:
    """One JSON record -> SpeechDocument, or None for an approval resolution."""
    for field in ("title", "content", "year"):
        if field not in record:
            raise ImportFormatError(f"record has no '{field}' field", path=path, line=line)
    if record["year"] is None:
        return None
    try:
        year = int(record["year"])
    except (TypeError, ValueError) as exc:
        raise ImportFormatError(f"invalid year {record['year']!r}", path=path, line=line) from exc
    paragraphs = split_paragraphs(record["content"])
    if not paragraphs:
        raise ImportFormatError("report has no text", path=path, line=line)

    # Header: everything before the salutation "各位代表", if it comes early.
    salutation = next(
        (i for i, text in enumerate(paragraphs[:8]) if text.startswith("各位代表")), 0
    )
    header, body = paragraphs[:salutation], paragraphs[salutation:]
    delivered_on, precision, occasion = dt.date(year, 1, 1), "year", ""
    name_original = ""
    for text in header:
        compact = re.sub(r"[\s\u3000]+", "", text)
        if match := _DATE_LINE.match(compact):
            delivered_on = dt.date(int(match["y"]), int(match["m"]), int(match["d"]))
            precision, occasion = "day", match["occasion"]
        elif match := _PREMIER.search(compact):
            name_original = match["name"]
        elif _BARE_NAME.match(compact) and compact != "政府工作报告":
            name_original = compact
    if not occasion:
        for text in body[:3]:
            if match := _SESSION.search(text):
                occasion = match.group(0)
                break
    if not name_original:
        name_original = PRESENTERS.get(year, "")
    if not name_original:
        raise ImportFormatError(f"no presenter known for the {year} report", path=path, line=line)
    name = romanize_name(name_original)
    title = record["title"].strip()
    return SpeechDocument(
        slug=f"gov-work-report-{year}",
        title=title,
        speaker_name=name,
        speaker_slug=f"{name.lower().replace(' ', '-')}",
        speaker_name_original=name_original,
        delivered_on=delivered_on,
        date_precision=precision,
        original_language="zh-Hans",
        occasion=occasion,
        place="Beijing",
        kind="report",
        versions=[
            VersionDoc(
                code="zh-Hans",
                language="zh-Hans",
                title=title,
                is_original=True,
                source_name=SOURCE_NAME,
                source_url=record.get("url") or "",
                licence=LICENCE,
            )
        ],
        passages=[PassageDoc(texts={"zh-Hans": text}) for text in body],
        source_path=f"{path}:{line}",
    )


def read_records(folder: str | Path) -> list[tuple[str, int, dict]]:
    """(path, line, record) for every non-blank line of the JSON Lines file."""
    path = str(Path(folder) / FILE_NAME)
    records = []
    for number, line in enumerate(read_text(path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ImportFormatError(f"invalid JSON ({exc.msg})", path=path, line=number) from exc
        if not isinstance(record, dict):
            raise ImportFormatError("expected a JSON object", path=path, line=number)
        records.append((path, number, record))
    return records
