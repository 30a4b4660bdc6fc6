"""Citations for speeches and passages: formatted text, CSL-JSON, BibTeX, RIS, meta tags.

One `Citation` value is built from a speech (and optionally a passage) and then
rendered in every format, so the formats cannot disagree. Choices a reader of a
citation relies on:

- Speakers' names are kept whole (CSL `literal`, BibTeX `{{…}}`): splitting
  "Xi Jinping" into given/family names by Western rules would be wrong.
- The date keeps its precision: a speech known only to the month is cited as
  "April 2016", and CSL's `date-parts` carry only year and month.
- A passage citation carries its pinpoint (¶12) and the passage URL, which never
  changes (keys are immutable and old keys redirect).
- The accessed date is the day the citation is produced (the request's day).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field

from speeches.models import Passage, Speech, Version

SITE_NAME = "Speech Archive"

_MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip


@dataclass(frozen=True)
class Citation:
    speaker: str
    title: str
    date: dt.date
    precision: str  # Speech.DatePrecision value
    url: str
    accessed: dt.date
    kind: str = "speech"
    occasion: str = ""
    place: str = ""
    paragraph: int | None = None
    passage_key: str = ""
    language: str = ""
    translators: str = ""
    source_name: str = ""
    original_title: str = ""
    withdrawn: bool = False
    keywords: list[str] = field(default_factory=list)

    # -------------------------------------------------------------- helpers

    @property
    def date_parts(self) -> list[int]:
        if self.precision == Speech.DatePrecision.YEAR:
            return [self.date.year]
        if self.precision == Speech.DatePrecision.MONTH:
            return [self.date.year, self.date.month]
        return [self.date.year, self.date.month, self.date.day]

    @property
    def human_date(self) -> str:
        return human_date(self.date, self.precision)

    @property
    def iso_date(self) -> str:
        """ISO 8601 truncated to the known precision (2016, 2016-04, 2016-04-19)."""
        return "-".join(f"{part:02d}" if i else str(part) for i, part in enumerate(self.date_parts))

    @property
    def cite_key(self) -> str:
        surname = re.sub(r"[^a-z0-9]", "", self.speaker.split()[0].lower()) or "speech"
        word = next(
            (w for w in re.findall(r"[a-z0-9]+", self.title.lower()) if len(w) > 3), "speech"
        )
        key = f"{surname}{self.date.year}{word}"
        return f"{key}-{self.passage_key}" if self.passage_key else key

    # -------------------------------------------------------------- formats

    def text(self) -> str:
        """Chicago-like note: Speaker, "Title," occasion, date, ¶n, site, URL (accessed …)."""
        parts = [f"{self.speaker},", f"“{self.title},”"]
        if self.occasion:
            parts.append(f"{self.occasion},")
        if self.place:
            parts.append(f"{self.place},")
        parts.append(f"{self.human_date},")
        if self.paragraph is not None:
            parts.append(f"¶{self.paragraph},")
        if self.translators:
            parts.append(f"trans. {self.translators},")
        if self.withdrawn:
            parts.append("withdrawn,")
        parts.append(f"{SITE_NAME},")
        parts.append(f"{self.url} (accessed {human_date(self.accessed, 'day')}).")
        return " ".join(parts)

    def csl(self) -> dict:
        item: dict = {
            "id": self.cite_key,
            "type": "speech",
            "title": self.title,
            "author": [{"literal": self.speaker}],
            "issued": {"date-parts": [self.date_parts]},
            "accessed": {
                "date-parts": [[self.accessed.year, self.accessed.month, self.accessed.day]]
            },
            "URL": self.url,
            "publisher": SITE_NAME,
            "genre": self.kind,
        }
        if self.occasion:
            item["event-title"] = self.occasion
        if self.place:
            item["event-place"] = self.place
        if self.paragraph is not None:
            item["section"] = f"¶{self.paragraph}"
        if self.language:
            item["language"] = self.language
        if self.translators:
            item["translator"] = [{"literal": self.translators}]
        if self.original_title and self.original_title != self.title:
            item["original-title"] = self.original_title
        if self.source_name:
            item["source"] = self.source_name
        if self.keywords:
            item["keyword"] = ", ".join(self.keywords)
        return item

    def csl_json(self) -> str:
        return json.dumps([self.csl()], ensure_ascii=False, indent=2) + "\n"

    def bibtex(self) -> str:
        fields: list[tuple[str, str]] = [
            ("author", "{" + _bib_escape(self.speaker) + "}"),
            ("title", "{" + _bib_escape(self.title) + "}"),
            ("year", str(self.date.year)),
        ]
        if self.precision != Speech.DatePrecision.YEAR:
            fields.append(("month", _MONTHS[self.date.month - 1][:3].lower()))
        fields.append(("date", self.iso_date))
        if self.occasion:
            fields.append(("eventtitle", _bib_escape(self.occasion)))
        if self.place:
            fields.append(("venue", _bib_escape(self.place)))
        if self.translators:
            fields.append(("translator", "{" + _bib_escape(self.translators) + "}"))
        if self.language:
            fields.append(("language", self.language))
        note = [self.kind.replace("-", " ").capitalize()]
        if self.paragraph is not None:
            note.append(f"paragraph {self.paragraph}")
        fields += [
            ("howpublished", "{" + SITE_NAME + "}"),
            ("note", _bib_escape("; ".join(note))),
            ("url", self.url),
            ("urldate", self.accessed.isoformat()),
        ]
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
        return f"@misc{{{self.cite_key},\n{body}\n}}\n"

    def ris(self) -> str:
        lines = [
            ("TY", "GEN"),
            ("AU", self.speaker),
            ("TI", self.title),
            ("M3", self.kind.replace("-", " ").capitalize()),
            ("DA", "/".join(f"{p:02d}" if i else str(p) for i, p in enumerate(self.date_parts))),
            ("PY", str(self.date.year)),
        ]
        if self.occasion:
            lines.append(("T2", self.occasion))
        if self.place:
            lines.append(("CY", self.place))
        if self.paragraph is not None:
            lines.append(("SP", f"¶{self.paragraph}"))
        if self.translators:
            lines.append(("A4", self.translators))
        if self.language:
            lines.append(("LA", self.language))
        for keyword in self.keywords:
            lines.append(("KW", keyword))
        lines += [
            ("PB", SITE_NAME),
            ("UR", self.url),
            ("Y2", self.accessed.strftime("%Y/%m/%d")),
            ("ER", ""),
        ]
        # RIS lines are "TAG  - value"; the end record tag takes no value.
        return "".join(f"{tag}  - {value}".rstrip() + "\r\n" for tag, value in lines)

    def meta_tags(self) -> list[tuple[str, str]]:
        """Highwire Press `citation_*` tags (what Zotero and Google Scholar read)."""
        tags = [
            ("citation_title", self.title),
            ("citation_author", self.speaker),
            ("citation_date", self.iso_date.replace("-", "/")),
            ("citation_publication_date", self.iso_date.replace("-", "/")),
            ("citation_publisher", SITE_NAME),
            ("citation_public_url", self.url),
        ]
        if self.language:
            tags.append(("citation_language", self.language))
        if self.occasion:
            tags.append(("citation_conference_title", self.occasion))
        for keyword in self.keywords:
            tags.append(("citation_keywords", keyword))
        tags += [
            ("DC.title", self.title),
            ("DC.creator", self.speaker),
            ("DC.date", self.iso_date),
            ("DC.type", "Text"),
            ("DC.publisher", SITE_NAME),
            ("DC.identifier", self.url),
        ]
        return tags


def human_date(date: dt.date, precision: str) -> str:
    if precision == Speech.DatePrecision.YEAR:
        return str(date.year)
    if precision == Speech.DatePrecision.MONTH:
        return f"{_MONTHS[date.month - 1]} {date.year}"
    return f"{date.day} {_MONTHS[date.month - 1]} {date.year}"


def _bib_escape(value: str) -> str:
    return re.sub(r"([&%$#_{}])", r"\\\1", value)


def build_citation(
    *,
    speech: Speech,
    url: str,
    accessed: dt.date,
    passage: Passage | None = None,
    version: Version | None = None,
    original: Version | None = None,
    keywords: list[str] | None = None,
) -> Citation:
    """The citation of a speech, or of one passage when `passage` is given.

    `version` is the text the reader cites (usually the translation shown); its
    language and translators go into the citation. The title is the speech's
    catalogue title; `original` lends its title as `original-title` when it differs.
    """
    return Citation(
        speaker=speech.speaker.name,
        title=speech.title,
        date=speech.delivered_on,
        precision=speech.date_precision,
        url=url,
        accessed=accessed,
        kind=speech.kind,
        occasion=speech.occasion,
        place=speech.place,
        paragraph=passage.position if passage is not None else None,
        passage_key=passage.key if passage is not None else "",
        language=version.language if version is not None else speech.original_language,
        translators=version.translators if version is not None else "",
        source_name=version.source_name if version is not None else "",
        original_title=original.title if original is not None else "",
        withdrawn=speech.status == Speech.Status.WITHDRAWN,
        keywords=list(keywords or []),
    )
