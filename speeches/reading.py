"""Assembly of the reading page and the passage page (queries and text rendering).

Views stay thin: they call `build_reading_page()` / `build_passage_page()` and
hand the result to a template that only reads attributes. Every query here is
bounded by a constant, whatever the number of passages (pinned by
tests/test_views_reading.py).

Passage text is plain text. It is escaped first; then we add, in this order of
precedence (spans never overlap, and a span never cuts a footnote marker):

1. footnote markers `[^n]` → a superscript link to the note (`#fn-<code>-<n>`),
   with the id `fnref-<code>-<n>` the note links back to;
2. public annotations anchored on a quote → `<mark>` around the best match of
   the quote (prefix/suffix agreement first, then nearest to the offset hint);
   an annotation whose quote is not found is still listed, just not highlighted;
3. confirmed glossary terms → a link to the term page with the original and its
   pinyin in the title (hover), first occurrence per passage and term only.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import NamedTuple

from django.db.models import Prefetch, QuerySet
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from speeches.anchoring import locate_quote
from speeches.models import (
    Annotation,
    Collection,
    Correction,
    Coverage,
    Footnote,
    Passage,
    PassageRedirect,
    PassageText,
    Speech,
    TaggedPassage,
    Term,
    Version,
)

# Atomic tokens a highlight may wrap but never cut: footnote markers, and the
# Markdown links importers keep in plain text ([text](https://…)).
TOKEN = re.compile(
    r"\[\^(?P<note>\d+)\]"
    r"|\[(?P<label>[^\[\]\n]+)\]\((?P<url>(?:https?://|mailto:)[^\s()]+)\)"
)
VIEWS = ("parallel", "single")


# ------------------------------------------------------------------ glossary forms


@functools.cache
def _opencc(config: str):
    import opencc

    return opencc.OpenCC(config)


def chinese_forms(original: str) -> list[str]:
    """The term as written in Simplified and Traditional script (网络强国, 網絡強國, 網路強國)."""
    forms = {original}
    for config in ("t2s.json", "s2t.json", "s2tw.json", "s2twp.json"):
        forms.add(_opencc(config).convert(original))
    return sorted(forms, key=lambda f: (-len(f), f))


def translation_forms(term: Term) -> list[str]:
    forms = {form.strip() for form in [term.translation, *term.variant_list()] if form.strip()}
    return sorted(forms, key=lambda f: (-len(f), f.lower()))


def is_chinese(language: str) -> bool:
    return language.lower().startswith("zh")


class TermMatcher:
    """Finds glossary terms in a text: Chinese forms in Chinese texts, English
    (translation and variants, plural -s allowed) in the others."""

    def __init__(self, terms: list[Term]) -> None:
        self._by_form: dict[str, Term] = {}
        zh: list[str] = []
        other: list[str] = []
        for term in terms:
            for form in chinese_forms(term.original):
                self._by_form.setdefault(form, term)
                zh.append(form)
            for form in translation_forms(term):
                self._by_form.setdefault(form.lower(), term)
                other.append(form)
        zh.sort(key=len, reverse=True)
        other.sort(key=len, reverse=True)
        self._zh = re.compile("|".join(map(re.escape, zh))) if zh else None
        self._other = (
            re.compile(
                r"(?<![\w-])(" + "|".join(map(re.escape, other)) + r")(?:s|es)?(?![\w-])",
                re.IGNORECASE,
            )
            if other
            else None
        )

    def url(self, term: Term) -> str:
        # One reverse() per page, not per occurrence: the reading page links hundreds.
        if not hasattr(self, "_url_pattern"):
            self._url_pattern = reverse("speeches:term", kwargs={"slug": "SLUG"})
        return self._url_pattern.replace("SLUG", term.slug)

    def find(self, text: str, language: str) -> list[tuple[int, int, Term]]:
        """Non-overlapping (start, end, term), first occurrence of each term only."""
        found: list[tuple[int, int, Term]] = []
        seen: set[int] = set()
        if is_chinese(language):
            if self._zh is None:
                return found
            for match in self._zh.finditer(text):
                term = self._by_form[match.group(0)]
                if term.pk not in seen:
                    seen.add(term.pk)
                    found.append((match.start(), match.end(), term))
        elif self._other is not None:
            for match in self._other.finditer(text):
                term = self._by_form[match.group(1).lower()]
                if term.pk not in seen:
                    seen.add(term.pk)
                    found.append((match.start(), match.end(), term))
        return found


def term_title(term: Term) -> str:
    return " · ".join(part for part in (term.original, term.pinyin) if part)


# ------------------------------------------------------------------ text rendering


@dataclass
class _Span:
    start: int
    end: int
    open: str
    close: str


def _overlaps(start: int, end: int, spans: list[_Span]) -> bool:
    return any(start < span.end and span.start < end for span in spans)


def _cuts_marker(start: int, end: int, markers: list[tuple[int, int]]) -> bool:
    return any(m_start < start < m_end or m_start < end < m_end for m_start, m_end in markers)


def _plain(text: str, *, code: str, notes: set[int], seen_refs: set[tuple[str, int]]) -> str:
    """Escape a run of text; turn its footnote markers and Markdown links into links."""
    out: list[str] = []
    last = 0
    for match in TOKEN.finditer(text):
        out.append(escape(text[last : match.start()]))
        last = match.end()
        if match.group("url"):
            label = escape(match.group("label"))
            out.append(
                f'<a class="ext" href="{escape(match.group("url"))}" '
                f'rel="noopener noreferrer nofollow">{label}</a>'
            )
            continue
        number = int(match.group("note"))
        if number not in notes:
            out.append(escape(match.group(0)))
        else:
            ref_id = ""
            if (code, number) not in seen_refs:
                seen_refs.add((code, number))
                ref_id = f' id="fnref-{code}-{number}"'
            out.append(
                f'<sup class="fn-ref"{ref_id}><a href="#fn-{code}-{number}" '
                f'role="doc-noteref">{number}</a></sup>'
            )
    out.append(escape(text[last:]))
    return "".join(out).replace("\n", "<br>\n")


def render_text(
    text: str,
    *,
    code: str,
    language: str,
    notes: set[int],
    annotations: list[Annotation],
    matcher: TermMatcher | None,
    seen_refs: set[tuple[str, int]] | None = None,
) -> SafeString:
    """One passage's text in one version as safe HTML (see the module docstring)."""
    seen_refs = set() if seen_refs is None else seen_refs
    markers = [(m.start(), m.end()) for m in TOKEN.finditer(text)]
    spans: list[_Span] = []
    for annotation in annotations:
        if annotation.is_orphaned:
            continue
        where = locate_quote(
            text,
            exact=annotation.exact,
            prefix=annotation.prefix,
            suffix=annotation.suffix,
            start_hint=annotation.start,
        )
        if where is None or _overlaps(*where, spans) or _cuts_marker(*where, markers):
            continue
        spans.append(
            _Span(
                *where,
                f'<mark class="anno" id="q-{annotation.pk}" aria-describedby="a-{annotation.pk}">',
                "</mark>",
            )
        )
    if matcher is not None:
        marker_spans = [_Span(s, e, "", "") for s, e in markers]
        for start, end, term in matcher.find(text, language):
            if _overlaps(start, end, spans) or _overlaps(start, end, marker_spans):
                continue
            href = matcher.url(term)
            spans.append(
                _Span(
                    start,
                    end,
                    f'<a class="term" href="{escape(href)}" title="{escape(term_title(term))}">',
                    "</a>",
                )
            )
    spans.sort(key=lambda span: span.start)
    out: list[str] = []
    position = 0
    for span in spans:
        out.append(
            _plain(
                text[position : span.start],
                code=code,
                notes=notes,
                seen_refs=seen_refs,
            )
        )
        out.append(span.open)
        out.append(
            _plain(
                text[span.start : span.end],
                code=code,
                notes=notes,
                seen_refs=seen_refs,
            )
        )
        out.append(span.close)
        position = span.end
    out.append(_plain(text[position:], code=code, notes=notes, seen_refs=seen_refs))
    return mark_safe("".join(out))  # every piece of text was escaped


# ------------------------------------------------------------------ page values


@dataclass
class Cell:
    version: Version
    html: SafeString
    missing: bool = False


class Theme(NamedTuple):
    name: str
    slug: str
    url: str


@dataclass
class Row:
    passage: Passage
    url: str  # the passage's permanent URL
    cells: list[Cell]
    themes: list = field(default_factory=list)
    annotations: list[Annotation] = field(default_factory=list)
    old_keys: list[str] = field(default_factory=list)
    new_turn: bool = False  # the turn speaker differs from the previous passage's


@dataclass
class VersionNotes:
    version: Version
    footnotes: list[Footnote]


@dataclass
class ReadingPage:
    speech: Speech
    versions: list[Version]  # every version, for credits and sources
    text_versions: list[Version]  # versions with a text, for the pickers
    shown: list[Version]  # one (single) or two (parallel) versions, left first
    view: str
    rows: list[Row]
    notes: list[VersionNotes]
    corrections: list[Correction]
    coverage: list[Coverage]
    themes: list
    collections: list[Collection]
    original: Version | None

    @property
    def left(self) -> Version | None:
        return self.shown[0] if self.shown else None

    @property
    def right(self) -> Version | None:
        return self.shown[1] if len(self.shown) > 1 else None

    @property
    def is_parallel(self) -> bool:
        return len(self.shown) == 2


def choose_versions(
    text_versions: list[Version], *, view: str | None, left: str | None, right: str | None
) -> tuple[str, list[Version]]:
    """Which versions to show. Unknown codes or views fall back to the defaults,
    never to an error: a link with a stale ?left= still reads the speech."""
    by_code = {version.code: version for version in text_versions}
    if not text_versions:
        return "single", []
    original = next((v for v in text_versions if v.is_original), text_versions[0])
    left_version = by_code.get(left or "", original)
    if view not in VIEWS:
        view = "parallel"
    if view == "single" or len(text_versions) < 2:
        return "single", [left_version]
    others = [v for v in text_versions if v.pk != left_version.pk]
    default_right = next((v for v in others if not is_chinese(v.language)), others[0])
    right_version = by_code.get(right or "", default_right)
    if right_version.pk == left_version.pk:
        right_version = default_right
    return "parallel", [left_version, right_version]


def public_terms() -> list[Term]:
    return list(
        Term.objects.public().only("pk", "original", "slug", "pinyin", "translation", "variants")
    )


def _annotations_by_passage(passage_ids: QuerySet | list[int]) -> dict[int, list[Annotation]]:
    grouped: dict[int, list[Annotation]] = defaultdict(list)
    for annotation in (
        Annotation.objects.public()
        .filter(passage_id__in=passage_ids)
        .select_related("version")
        .order_by("passage_id", "start", "pk")
    ):
        grouped[annotation.passage_id].append(annotation)
    return grouped


def build_reading_page(
    speech: Speech, *, view: str | None, left: str | None, right: str | None
) -> ReadingPage:
    """Everything the reading page shows, in a constant number of queries."""
    versions = list(speech.versions.all())
    text_versions = [v for v in versions if v.has_text]
    view, shown = choose_versions(text_versions, view=view, left=left, right=right)
    shown_ids = [v.pk for v in shown]

    # Plain values, not model instances: this page reads hundreds of rows.
    passages = list(
        speech.passages.order_by("position", "pk").only(
            "pk", "speech_id", "key", "position", "turn_speaker"
        )
    )
    texts: dict[tuple[int, int], str] = {
        (passage_id, version_id): text
        for passage_id, version_id, text in PassageText.objects.filter(
            passage__speech=speech, version_id__in=shown_ids
        ).values_list("passage_id", "version_id", "text")
    }
    themes: dict[int, list[Theme]] = defaultdict(list)
    theme_url = reverse("speeches:theme", kwargs={"slug": "SLUG"})
    for passage_id, name, slug in (
        TaggedPassage.objects.filter(content_object__speech=speech)
        .order_by("tag__name", "tag_id")
        .values_list("content_object_id", "tag__name", "tag__slug")
    ):
        themes[passage_id].append(Theme(name, slug, theme_url.replace("SLUG", slug)))
    footnotes = list(
        Footnote.objects.filter(version_id__in=shown_ids).order_by("version_id", "number")
    )
    notes_by_version: dict[int, set[int]] = defaultdict(set)
    for footnote in footnotes:
        notes_by_version[footnote.version_id].add(footnote.number)
    annotations = _annotations_by_passage([p.pk for p in passages])
    old_keys: dict[int, list[str]] = defaultdict(list)
    for old_key, passage_id in PassageRedirect.objects.filter(
        speech=speech, passage__isnull=False
    ).values_list("old_key", "passage_id"):
        old_keys[passage_id].append(old_key)
    matcher = TermMatcher(public_terms())

    seen_refs: set[tuple[str, int]] = set()
    rows = []
    previous_turn = ""
    passage_url = reverse("speeches:passage", kwargs={"key": "KEY"})
    for passage in passages:
        passage_annotations = annotations.get(passage.pk, [])
        cells = []
        for version in shown:
            text = texts.get((passage.pk, version.pk))
            if text is None:
                cells.append(Cell(version=version, html=mark_safe(""), missing=True))
                continue
            cells.append(
                Cell(
                    version=version,
                    html=render_text(
                        text,
                        code=version.code,
                        language=version.language,
                        notes=notes_by_version[version.pk],
                        annotations=[a for a in passage_annotations if a.version_id == version.pk],
                        matcher=matcher,
                        seen_refs=seen_refs,
                    ),
                )
            )
        rows.append(
            Row(
                passage=passage,
                url=passage_url.replace("KEY", passage.key),
                cells=cells,
                themes=themes.get(passage.pk, []),
                annotations=passage_annotations,
                old_keys=old_keys.get(passage.pk, []),
                new_turn=bool(passage.turn_speaker) and passage.turn_speaker != previous_turn,
            )
        )
        previous_turn = passage.turn_speaker

    version_by_id = {v.pk: v for v in versions}
    notes = [
        VersionNotes(version=v, footnotes=[f for f in footnotes if f.version_id == v.pk])
        for v in shown
    ]
    corrections = list(
        Correction.objects.filter(version__speech=speech)
        .prefetch_related(Prefetch("passages", queryset=Passage.objects.order_by("position")))
        .order_by("-date", "pk")
    )
    for correction in corrections:
        correction.version_obj = version_by_id.get(correction.version_id)
    return ReadingPage(
        speech=speech,
        versions=versions,
        text_versions=text_versions,
        shown=shown,
        view=view,
        rows=rows,
        notes=[n for n in notes if n.footnotes],
        corrections=corrections,
        coverage=list(Coverage.objects.public().filter(speech=speech).order_by("-published_on")),
        themes=list(speech.themes.all()),
        collections=list(speech.collections.all()),
        original=next((v for v in versions if v.is_original), None),
    )


# ------------------------------------------------------------------ passage page


@dataclass
class PassagePage:
    passage: Passage
    speech: Speech
    cells: list[Cell]
    footnotes: list[tuple[Version, list[Footnote]]]
    annotations: list[Annotation]
    themes: list
    previous: Passage | None
    next: Passage | None
    corrections: list[Correction]
    coverage: list[Coverage]
    versions: list[Version]
    original: Version | None
    cited_version: Version | None


def build_passage_page(passage: Passage) -> PassagePage:
    """The passage in every version, its neighbours, notes and context."""
    speech = passage.speech
    versions = list(speech.versions.all())
    text_versions = [v for v in versions if v.has_text]
    texts = {t.version_id: t for t in PassageText.objects.filter(passage=passage)}
    footnotes = list(passage.footnotes.order_by("version_id", "number"))
    notes_by_version: dict[int, set[int]] = defaultdict(set)
    for footnote in footnotes:
        notes_by_version[footnote.version_id].add(footnote.number)
    annotations = _annotations_by_passage([passage.pk]).get(passage.pk, [])
    matcher = TermMatcher(public_terms())
    cells = []
    for version in text_versions:
        text = texts.get(version.pk)
        if text is None:
            continue
        cells.append(
            Cell(
                version=version,
                html=render_text(
                    text.text,
                    code=version.code,
                    language=version.language,
                    notes=notes_by_version[version.pk],
                    annotations=[a for a in annotations if a.version_id == version.pk],
                    matcher=matcher,
                ),
            )
        )
    neighbours = Passage.objects.filter(speech=speech).only("pk", "key", "position", "speech_id")
    previous = neighbours.filter(position__lt=passage.position).order_by("-position").first()
    following = neighbours.filter(position__gt=passage.position).order_by("position").first()
    footnote_groups = [
        (v, [f for f in footnotes if f.version_id == v.pk])
        for v in versions
        if any(f.version_id == v.pk for f in footnotes)
    ]
    original = next((v for v in versions if v.is_original), None)
    translations = [v for v in text_versions if not v.is_original]
    cited = next((v for v in translations if not is_chinese(v.language)), None) or original
    return PassagePage(
        passage=passage,
        speech=speech,
        cells=cells,
        footnotes=footnote_groups,
        annotations=annotations,
        themes=list(passage.themes.all()),
        previous=previous,
        next=following,
        corrections=list(passage.corrections.order_by("-date", "pk")),
        coverage=list(Coverage.objects.public().filter(passages=passage)),
        versions=versions,
        original=original,
        cited_version=cited,
    )
