"""Plain-text import of DigiChina-style pages (see ../shared/seeds/).

Two shapes are recognised, one paragraph per non-blank line:

* **A translation** — a page title, a credit line ("Translation by …. Edited with
  an introduction by …."), the introduction, an optional "[Corrections: <date>:
  … <date>: …]" paragraph, "Original source: <url>", the translated heading,
  "By <Speaker>", the body with inline markers "[n]", an optional trailing
  "*This is a portion of …'s speech at <occasion>." line, and a list of notes
  "[n] Editor's note: …" / "[n] Translators' note: …". It becomes a
  SpeechDocument with the English translation as its only text and an original
  version (has_text=False) that records the source. Markers are rewritten to the
  native `[^n]` form so that an export re-imports unchanged.
* **An article about a speech** (news or analysis) — anything else with prose
  paragraphs. It becomes a CoverageDoc with a short excerpt (never the full
  text); the outlet comes from the page's own markers (a "-Outlet" title suffix,
  a "Source:" line, site furniture, or the text naming itself), else "Unknown".

Licence: the seeds do not state one, and the project's research notes do not
record DigiChina's licence, so the licence field is left blank rather than guessed.

Chinese terms given in parentheses after an English phrase ("cyber superpower
(网络强国)") become TermCandidates on either shape; the caller records them.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from speeches.importers.corpus.common import ORIGINAL_NAMES, ascii_slug, read_text
from speeches.importers.document import (
    CorrectionDoc,
    CoverageDoc,
    FootnoteDoc,
    ImportFormatError,
    PassageDoc,
    SpeechDocument,
    TermCandidate,
    VersionDoc,
)

EXCERPT_LIMIT = 600

# English month names (calendar uses the C locale unless told otherwise).
MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}
_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
)
# "May 28, 2018" / "May 28" (year optional), "19 March 2021", "2023-06-09"
_DATE_RE = re.compile(
    rf"\b(?P<m1>{_MONTH})\s+(?P<d1>\d{{1,2}})(?:,\s*(?P<y1>\d{{4}}))?\b"
    rf"|\b(?P<d2>\d{{1,2}})\s+(?P<m2>{_MONTH})\s+(?P<y2>\d{{4}})\b"
    r"|\b(?P<y3>\d{4})-(?P<m3>\d{2})-(?P<d3>\d{2})\b"
)

# Where an original was published -> the name readers know it by.
SOURCE_NAMES = {
    "qstheory.cn": "Qiushi",
    "xinhuanet.com": "Xinhua",
    "news.cn": "Xinhua",
    "people.com.cn": "People's Daily",
    "cac.gov.cn": "Cyberspace Administration of China",
    "gov.cn": "Central People's Government (gov.cn)",
}

# Outlets an article may name itself as ("The Register has heard…",
# "DigiChina's full translation", "translated by DigiChina").
KNOWN_OUTLETS = {
    "The Register": "The Register",
    "DigiChina": "DigiChina (New America)",
    "Xinhua": "Xinhua",
    "South China Morning Post": "South China Morning Post",
    "Reuters": "Reuters",
    "The Guardian": "The Guardian",
    "The New York Times": "The New York Times",
    "China Daily": "China Daily",
    "Global Times": "Global Times",
}
# Site furniture copied along with an article: pattern -> the outlet it identifies.
SITE_SIGNATURES = [
    (re.compile(r"\bmyNEWS\b"), "South China Morning Post"),
    (re.compile(r"^Send us news$"), "The Register"),
]
# Lines that are page furniture, not article text.
BOILERPLATE = re.compile(
    r"^(?:This article is more than \d+ \w+ old|Advertisement|Get more with myNEWS"
    r"|A personalised news feed of stories that matter to you|Learn more|More about"
    r"|Send us news|Other stories you might like|Share|Comments?|Related|Read more"
    r"|\d+)$",
    re.IGNORECASE,
)
ANALYSIS_LABELS = re.compile(r"^(?:Blog Post|Analysis|Opinion|Commentary|Explainer)$", re.I)
META_LINE = re.compile(r"^(?P<key>Source|Editor|By|Author)\s*:\s*(?P<value>.+)$")
CAPTION = re.compile(r"\bPhoto:\s*\S+\s*$")

CREDIT_RE = re.compile(r"^(?:Translation|Translated) by (?P<rest>.+)$")
EDITOR_RE = re.compile(r"^Edited(?: with an introduction)?(?: and notes)? by (?P<editor>.+?)\.?$")
BYLINE_RE = re.compile(r"^By (?P<name>[A-Z][\w.’' -]{2,60})$")
CORRECTIONS_RE = re.compile(r"^\[Corrections?:\s*(?P<body>.+?)\]?$")
ORIGINAL_SOURCE_RE = re.compile(r"^Original source:\s*(?P<url>\S+)\s*$", re.I)
OCCASION_RE = re.compile(
    r"^\*+\s*This (?:is|was) (?:a portion|an excerpt|part|the text) of .*?"
    r"(?:speech|remarks|address|talk)\s+(?:at|to|before|during)\s+(?:the\s+)?"
    r"(?P<occasion>.+?)\.?\**$"
)
NOTE_RE = re.compile(r"^\[(?P<number>\d{1,3})\]\s*(?P<body>.*)$")
NOTE_LABEL_RE = re.compile(
    r"^(?P<label>Editor|Translator|Author|Source)s?(?:[’']s?)?(?:\s+notes?)?\s*:\s*", re.I
)
NOTE_KINDS = {
    "editor": "editor",
    "translator": "translator",
    "author": "author",
    "source": "source",
}
MARKER_RE = re.compile(r"\[\^?(\d{1,3})\]")

TERMINAL = '.!?。！？”"’)'


@dataclass
class _Line:
    number: int  # 1-based line in the file
    text: str


def parse_digichina_file(
    path: str, *, known_speeches: Sequence[SpeechDocument] = ()
) -> SpeechDocument | CoverageDoc:
    """Parse one DigiChina-style text file (see the module docstring).

    `known_speeches` (e.g. the translations parsed from the same folder) lets an
    article that names an occasion but no date be tied to that speech.
    Raises ImportFormatError (path and line) for anything else.
    """
    text = read_text(path)
    lines = _lines(text)
    credit = next((i for i, line in enumerate(lines) if CREDIT_RE.match(line.text)), None)
    if credit is not None:
        return _parse_translation(path, lines, credit)
    if len(_body_lines(lines)) >= 2:
        return _parse_article(path, lines, known_speeches)
    raise ImportFormatError(
        "neither a DigiChina translation (no 'Translation by …' credit line) nor an article "
        "(fewer than two prose paragraphs)",
        path=path,
        line=1,
    )


def is_translation_file(path: str) -> bool:
    """Does the file have a translation's credit line? (Reads it; raises on bad input.)"""
    return any(CREDIT_RE.match(line.text) for line in _lines(read_text(path)))


def parse_digichina_folder(folder: str) -> tuple[list[SpeechDocument], list[CoverageDoc]]:
    """Every *.txt file in a folder, translations first so articles can refer to them."""
    paths = sorted(str(p) for p in Path(folder).glob("*.txt"))
    speeches: list[SpeechDocument] = []
    articles: list[str] = []
    for path in paths:
        if is_translation_file(path):
            doc = parse_digichina_file(path)
            assert isinstance(doc, SpeechDocument)
            speeches.append(doc)
        else:
            articles.append(path)
    coverage = []
    for path in articles:
        doc = parse_digichina_file(path, known_speeches=speeches)
        assert isinstance(doc, CoverageDoc)
        coverage.append(doc)
    return speeches, coverage


# ---------------------------------------------------------------- translations


def _parse_translation(path: str, lines: list[_Line], credit: int) -> SpeechDocument:
    translators, editor = _parse_credit(lines[credit].text)
    byline = next(
        (i for i in range(credit + 1, len(lines)) if BYLINE_RE.match(lines[i].text)), None
    )
    if byline is None:
        raise ImportFormatError(
            "translation has a credit line but no 'By <speaker>' line before the text "
            "(is the file truncated?)",
            path=path,
            line=lines[-1].number,
        )
    speaker_name = BYLINE_RE.match(lines[byline].text)["name"].strip()

    # Front matter between the credit line and the byline.
    introduction: list[str] = []
    corrections: list[CorrectionDoc] = []
    source_url = ""
    heading = ""
    for i in range(credit + 1, byline):
        line = lines[i].text
        if match := CORRECTIONS_RE.match(line):
            corrections = _parse_corrections(match["body"], path, lines[i].number)
        elif match := ORIGINAL_SOURCE_RE.match(line):
            source_url = match["url"]
        elif i == byline - 1:
            heading = line  # the translated title, just above "By …"
        elif not source_url and not corrections:
            introduction.append(line)
    title = heading or _title_from_page_title(lines[0].text)

    # Body, trailing occasion line and the notes.
    body: list[_Line] = []
    notes: list[tuple[_Line, str]] = []  # (line, text) per note, continuations appended
    occasion = ""
    for line in lines[byline + 1 :]:
        if match := NOTE_RE.match(line.text):
            notes.append((line, match.group(0)))
        elif notes:
            start, note_text = notes[-1]
            notes[-1] = (start, note_text + "\n\n" + line.text)
        elif match := OCCASION_RE.match(line.text):
            occasion = match["occasion"].strip()
        else:
            body.append(line)
    if not body:
        raise ImportFormatError(
            "translation has no text after the 'By <speaker>' line",
            path=path,
            line=lines[-1].number,
        )

    footnotes = _parse_notes(notes, body, introduction, path)
    passages = [PassageDoc(texts={"en": _native_markers(line.text)}) for line in body]
    intro_markdown = "\n\n".join(_native_markers(paragraph) for paragraph in introduction)

    delivered_on = _delivery_date(introduction, corrections)
    if delivered_on is None:
        raise ImportFormatError(
            "no date of delivery found (expected e.g. 'given on May 28, 2018' in the introduction)",
            path=path,
            line=lines[credit].number,
        )
    original = VersionDoc(
        code="zh-Hans",
        language="zh-Hans",
        title="",  # the file does not give the original's title
        is_original=True,
        source_name=_source_name(source_url),
        source_url=source_url,
        has_text=False,
    )
    translation = VersionDoc(
        code="en",
        language="en",
        title=title,
        is_original=False,
        translators=translators,
        editor=editor,
        introduction=intro_markdown,
        source_name="DigiChina",
        footnotes=footnotes,
        corrections=corrections,
    )
    full_text = "\n".join(line.text for line in lines)
    return SpeechDocument(
        slug=f"{delivered_on.isoformat()}-{ascii_slug(title, 70)}",
        title=title,
        speaker_name=speaker_name,
        speaker_slug=ascii_slug(speaker_name),
        speaker_name_original=ORIGINAL_NAMES.get(speaker_name, ""),
        delivered_on=delivered_on,
        date_precision="day",
        original_language="zh-Hans",
        occasion=occasion,
        kind="speech",
        versions=[original, translation],
        passages=passages,
        term_candidates=extract_term_candidates(full_text),
        source_path=path,
    )


def _parse_credit(line: str) -> tuple[str, str]:
    rest = CREDIT_RE.match(line)["rest"]
    parts = re.split(r"\.\s+(?=Edited\b)", rest, maxsplit=1)
    translators = re.sub(r"\s+", " ", parts[0]).strip().rstrip(".")
    editor = ""
    if len(parts) == 2 and (match := EDITOR_RE.match(parts[1].strip())):
        editor = match["editor"].strip()
    return translators, editor


def _parse_corrections(body: str, path: str, line: int) -> list[CorrectionDoc]:
    """ "19 March 2021: text. 5 April 2021: text." -> one CorrectionDoc per dated entry."""
    starts = [m for m in _DATE_RE.finditer(body) if body[m.end() : m.end() + 1] == ":"]
    if not starts:
        raise ImportFormatError(
            "corrections paragraph has no dated entry ('<date>: what changed')",
            path=path,
            line=line,
        )
    corrections = []
    for index, match in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(body)
        description = body[match.end() + 1 : end].strip()
        corrections.append(CorrectionDoc(date=_to_date(match), description=description))
    return corrections


def _parse_notes(
    notes: list[tuple[_Line, str]], body: list[_Line], introduction: list[str], path: str
) -> list[FootnoteDoc]:
    footnotes: dict[int, FootnoteDoc] = {}
    for line, note_text in notes:
        match = NOTE_RE.match(note_text)
        number = int(match["number"])
        if number in footnotes:
            raise ImportFormatError(
                f"note [{number}] is defined twice", path=path, line=line.number
            )
        rest = match["body"].strip()
        kind = "editor"  # DigiChina's unlabelled notes are the editors'
        if label := NOTE_LABEL_RE.match(rest):
            kind = NOTE_KINDS[label["label"].lower()]
            rest = rest[label.end() :]
        footnotes[number] = FootnoteDoc(number=number, kind=kind, body=rest.strip())
    for index, line in enumerate(body):
        for marker in MARKER_RE.finditer(line.text):
            number = int(marker.group(1))
            if number not in footnotes:
                raise ImportFormatError(
                    f"footnote marker [{number}] has no note", path=path, line=line.number
                )
            if footnotes[number].passage_index is None:
                footnotes[number].passage_index = index
    for paragraph in introduction:
        for marker in MARKER_RE.finditer(paragraph):
            if int(marker.group(1)) not in footnotes:
                raise ImportFormatError(
                    f"footnote marker [{marker.group(1)}] has no note", path=path
                )
    return [footnotes[number] for number in sorted(footnotes)]


def _native_markers(text: str) -> str:
    return MARKER_RE.sub(lambda m: f"[^{m.group(1)}]", text)


def _delivery_date(introduction: list[str], corrections: list[CorrectionDoc]) -> dt.date | None:
    found: dt.date | None = None
    for paragraph in introduction:
        for sentence in _sentences(paragraph):
            if not re.search(r"\b(given|delivered|speech|remarks|spoke)\b", sentence, re.I):
                continue
            for match in _DATE_RE.finditer(sentence):
                if match["y1"] or match["y2"] or match["y3"]:
                    found = _to_date(match)
                    break
            if found:
                break
        if found:
            break
    # A dated correction of the date ("misstated the date … as May 5; … it was May 28")
    # wins: its last month-day is the corrected one.
    for correction in corrections:
        if found and re.search(r"\bdate\b", correction.description, re.I):
            mentions = list(_DATE_RE.finditer(correction.description))
            if mentions:
                corrected = _to_date(mentions[-1], default_year=found.year)
                if corrected:
                    found = corrected
    return found


def _title_from_page_title(line: str) -> str:
    """'Xi Jinping: ‘Title’' -> 'Title'."""
    title = re.sub(r"^[^:]{2,40}:\s*", "", line)
    return title.strip("‘’“”\"' ")


def _source_name(url: str) -> str:
    if not url:
        return ""
    host = (urlparse(url).hostname or "").lower()
    for domain, name in SOURCE_NAMES.items():
        if host == domain or host.endswith("." + domain):
            return name
    return host.removeprefix("www.")


# ---------------------------------------------------------------- articles


def _parse_article(
    path: str, lines: list[_Line], known_speeches: Sequence[SpeechDocument]
) -> CoverageDoc:
    outlet = ""
    kind = "news"
    published_on: dt.date | None = None
    title = ""
    first = lines[0].text
    second = lines[1].text if len(lines) > 1 else ""
    # A browser page title "Headline-Outlet" followed by the headline itself.
    if second and first.startswith(second) and first != second:
        suffix = first[len(second) :].strip(" -|–—")
        if suffix:
            outlet, title = suffix, second
    headline = None
    for index, line in enumerate(lines):
        text = line.text
        if match := META_LINE.match(text):
            if match["key"] == "Source" and not outlet:
                outlet = match["value"].strip()
        elif ANALYSIS_LABELS.match(text):
            kind = "analysis"
        elif headline is None and (title == text or (not title and _is_headline(text))):
            title, headline = text, index
    if headline is None:
        raise ImportFormatError("article has no headline", path=path, line=1)
    # A standfirst that is only a quotation is not the article's text.
    body = [
        line
        for line in _body_lines(lines[headline + 1 :])
        if not re.fullmatch(r"[‘“\"'].*[’”\"']", line.text)
    ]
    body_start = body[0].number if body else lines[-1].number + 1
    for line in lines[headline + 1 :]:
        if line.number < body_start and (date := _date_line(line.text)):
            published_on = date
            break
    full_text = "\n".join(line.text for line in lines)
    if not outlet:
        outlet = _outlet_from_text(lines, full_text)
    if outlet.startswith("DigiChina"):
        kind = "analysis"
    about_speaker = _main_speaker(full_text)
    about_date = _speech_date(full_text, published_on)
    if about_date is None:
        for speech in known_speeches:
            same_speaker = not about_speaker or about_speaker == speech.speaker_name
            if same_speaker and speech.occasion and _mentions_occasion(full_text, speech.occasion):
                about_date, about_speaker = speech.delivered_on, speech.speaker_name
                break
    return CoverageDoc(
        outlet=outlet,
        title=title,
        url="",  # none of the pasted pages carries its address
        published_on=published_on,
        kind=kind,
        excerpt=make_excerpt([line.text for line in body]),
        about_date=about_date,
        about_speaker=about_speaker,
        term_candidates=extract_term_candidates(full_text),
    )


def _body_lines(lines: list[_Line]) -> list[_Line]:
    """Prose paragraphs: long, or sentence-like, and not page furniture."""
    body = []
    for line in lines:
        text = line.text.lstrip("•·*- ").strip()
        if BOILERPLATE.match(text) or CAPTION.search(text) or META_LINE.match(text):
            continue
        if len(text) >= 100 or (text.endswith(tuple(TERMINAL)) and len(text.split()) >= 8):
            body.append(_Line(line.number, text))
    return body


def _is_headline(text: str) -> bool:
    return (
        not BOILERPLATE.match(text)
        and not CAPTION.search(text)
        and len(text.split()) >= 4
        and len(text) <= 200
        and not text.endswith(".")
    )


def _date_line(text: str) -> dt.date | None:
    """A line that is only a date (optionally with a time)."""
    match = _DATE_RE.match(text)
    only_date = match and re.fullmatch(r"[\s\d:]*", text[match.end() :])
    if only_date and (match["y1"] or match["y2"] or match["y3"]):
        return _to_date(match)
    return None


def _outlet_from_text(lines: list[_Line], full_text: str) -> str:
    for pattern, name in SITE_SIGNATURES:
        if any(pattern.search(line.text) for line in lines):
            return name
    for name, outlet in KNOWN_OUTLETS.items():
        escaped = re.escape(name)
        self_reference = (
            rf"\b{escaped}(?:[’']s)? (?:has|have|is|full translation|translation)\b"
            rf"|\b(?:translated|transcribed and translated) by {escaped}\b"
        )
        if re.search(self_reference, full_text):
            return outlet
    return "Unknown"


def _main_speaker(text: str) -> str:
    counts = Counter(
        {name: len(re.findall(rf"\b{re.escape(name)}\b", text)) for name in ORIGINAL_NAMES}
    )
    name, count = counts.most_common(1)[0]
    return name if count else ""


def _speech_date(text: str, published_on: dt.date | None) -> dt.date | None:
    """The date of the speech an article is about: a sentence naming a speech and a date."""
    for sentence in _sentences(text):
        if not re.search(r"\b(speech|address|remarks)\b", sentence, re.I):
            continue
        for match in _DATE_RE.finditer(sentence):
            year = published_on.year if published_on else None
            date = _to_date(match, default_year=year)
            if date and (published_on is None or date <= published_on):
                return date
    return None


def _mentions_occasion(text: str, occasion: str) -> bool:
    """True when one sentence names the occasion: all its ordinals, most of its nouns."""
    ordinals = set(re.findall(r"\b\d+(?:st|nd|rd|th)\b", occasion))
    words = {_stem(w) for w in re.findall(r"[A-Za-z]+", occasion) if w[0].isupper()}
    if not ordinals and len(words) < 3:
        return False
    for sentence in _sentences(text):
        if not ordinals <= set(re.findall(r"\b\d+(?:st|nd|rd|th)\b", sentence)):
            continue
        present = {_stem(w) for w in re.findall(r"[A-Za-z]+", sentence)}
        if words and len(words & present) / len(words) >= 0.7:
            return True
    return False


def _stem(word: str) -> str:
    word = word.lower()
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


def make_excerpt(paragraphs: list[str], limit: int = EXCERPT_LIMIT) -> str:
    """The opening paragraphs, at most `limit` characters, cut at a sentence or word."""
    text = ""
    for paragraph in paragraphs:
        text = f"{text} {paragraph}".strip()
        if len(text) >= limit // 2:
            break
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    sentence_end = max(cut.rfind(". "), cut.rfind("” "), cut.rfind("? "))
    if sentence_end >= limit // 2:
        return cut[: sentence_end + 1].strip()
    return cut.rsplit(" ", 1)[0].rstrip(",;:") + "…"


# ---------------------------------------------------------------- term candidates

_CJK_TERM = re.compile(r"[(（]\s*(?P<original>[\u3400-\u9fff][\u3400-\u9fff·・]{0,11})\s*[)）]")
_QUOTED_BEFORE = re.compile(r"[“\"‘](?P<phrase>[^“”\"‘’]{1,80}?)[,.]?[”\"’]\s*$")
_FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "from",
        "with",
        "into",
        "onto",
        "as",
        "and",
        "or",
        "but",
        "nor",
        "that",
        "which",
        "who",
        "whom",
        "whose",
        "this",
        "these",
        "those",
        "its",
        "their",
        "our",
        "his",
        "her",
        "my",
        "your",
        "we",
        "they",
        "he",
        "she",
        "it",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "has",
        "have",
        "had",
        "do",
        "does",
        "did",
        "not",
        "no",
        "than",
        "then",
        "so",
        "such",
        "also",
        "very",
        "more",
        "most",
        "our",
        "us",
        "them",
        "him",
        "i",
        "you",
        "called",
        "known",
        "termed",
        "dubbed",
    ]
)
_MAX_TERM_WORDS = 6


def extract_term_candidates(text: str) -> list[TermCandidate]:
    """Chinese terms in parentheses after their English rendering, first rendering wins.

    The English phrase is the quoted text just before the parenthesis when there
    is one ("“Core technology” (核心技术)"); otherwise the words just before it,
    at most about one word per two characters of Chinese (hyphenated parts count
    separately), stopping at punctuation and function words ("building China into
    a cyber superpower (网络强国)" -> "cyber superpower"). Long quotations are skipped.
    """
    found: dict[str, str] = {}
    for match in _CJK_TERM.finditer(text):
        original = match["original"]
        if original in found:
            continue
        before = text[max(0, match.start() - 200) : match.start()].rstrip()
        quoted = _QUOTED_BEFORE.search(before)
        if quoted:
            phrase = quoted["phrase"].strip()
            if len(phrase.split()) > _MAX_TERM_WORDS:
                continue
            # “Core technologies” as “important instruments” (核心技术是国之重器): the
            # Chinese renders both quotations, so neither alone is its translation.
            if re.search(r"[”\"’]\s+\w+\s*$", before[: quoted.start()]):
                continue
            phrase = _sentence_case(phrase)
        else:
            phrase = _phrase_before(before, budget=max(1, math.ceil(len(original) / 2)))
        if phrase:
            found[original] = phrase
    return [TermCandidate(original=o, translation=t) for o, t in found.items()]


def _phrase_before(before: str, budget: int) -> str:
    words: list[str] = []
    used = 0
    for token in reversed(re.split(r"\s+", before)):
        core = token.lstrip('“"‘(（[')
        opens_quote = core != token  # “strength (力) …: the phrase starts at the quote
        if not core or re.search(r"[^\w&'’-]", core) or re.search(r"[\u3400-\u9fff]", core):
            break
        if core.lower() in _FUNCTION_WORDS:
            break
        cost = len(core.split("-"))
        if used + cost > budget:
            break
        words.insert(0, core)
        used += cost
        if opens_quote:
            break
    return " ".join(words)


def _sentence_case(phrase: str) -> str:
    """A quoted phrase capitalised only because it opens a quote: 'Core technology' ->
    'core technology'; 'S&T' and all-title-case names are kept."""
    words = phrase.split()
    if not words:
        return ""
    first = words[0]
    proper = len(words) > 1 and all(w[:1].isupper() for w in words[1:])
    if first[:1].isupper() and first[1:] == first[1:].lower() and not proper:
        words[0] = first[:1].lower() + first[1:]
    return " ".join(words)


# ---------------------------------------------------------------- helpers


def _lines(text: str) -> list[_Line]:
    result = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = re.sub(r"[ \t\u00a0\u2002\u2003\u2009]+", " ", raw).strip()
        if line:
            result.append(_Line(number, line))
    return result


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z“\"‘])|\n+", text) if s.strip()]


def _to_date(match: re.Match, default_year: int | None = None) -> dt.date | None:
    try:
        if match["m1"]:
            year = int(match["y1"]) if match["y1"] else default_year
            if year is None:
                return None
            return dt.date(year, MONTHS[match["m1"].lower()], int(match["d1"]))
        if match["m2"]:
            return dt.date(int(match["y2"]), MONTHS[match["m2"].lower()], int(match["d2"]))
        return dt.date(int(match["y3"]), int(match["m3"]), int(match["d3"]))
    except ValueError:
        return None
