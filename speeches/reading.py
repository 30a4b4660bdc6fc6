"""Assembly of the reading page and the passage page (queries and text rendering).

Views stay thin: they call `reading_article()` / `build_passage_page()` and
hand the result to a template that only reads attributes. Every query here is
bounded by a constant, whatever the number of passages (pinned by
tests/test_views_queries.py).

The reading page is the archive's heaviest page (hundreds of passages, each in
two versions, with notes, highlights, themes and glossary links), so:

* its passage rows and notes are built as strings in Python
  (`render_reading_body`), not walked by the template engine, from plain value
  rows (`body_sources`) rather than model instances;
* the whole page is kept in the page store (speeches/pagestore.py), keyed on
  the speech's content stamp, which PostgreSQL triggers renew on any change to
  a row the page shows (migration 0005), and on the glossary's stamp. An edit
  of any kind — save(), QuerySet.update(), the importer's bulk INSERTs, raw
  SQL — shows on the very next request; nothing needs invalidating.

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
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html import escape as html_escape  # Django's escape() minus a costly lazy-string check
from typing import NamedTuple

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import Prefetch, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from speeches.anchoring import locate_quote
from speeches.markdown import render_markdown
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

log = logging.getLogger(__name__)

LANGUAGE_NAMES = {
    "en": "English",
    "zh": "Chinese",
    "zh-hans": "Chinese (Simplified)",
    "zh-hant": "Chinese (Traditional)",
    "zh-cn": "Chinese (Simplified)",
    "zh-tw": "Chinese (Traditional)",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
    "ru": "Russian",
    "ar": "Arabic",
    "ja": "Japanese",
    "ko": "Korean",
    "pt": "Portuguese",
}


def language_name(code: str) -> str:
    """English name of a BCP 47 code we know (zh-Hant → Chinese (Traditional)), else the code."""
    return LANGUAGE_NAMES.get((code or "").lower(), code)


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
        # How many terms each pattern can find: once all are found, stop looking.
        self._n_zh = len({id(self._by_form[form]) for form in zh})
        self._n_other = len({id(self._by_form[form.lower()]) for form in other})
        self._link_open: dict[int, str] = {}
        self._zh = re.compile("|".join(map(re.escape, zh))) if zh else None
        self._other = _english_pattern(other, re.IGNORECASE) if other else None
        # The same over lowercased forms, for lowercased texts: a case-sensitive
        # alternation is several times faster than an IGNORECASE one.
        lowered = sorted(dict.fromkeys(form.lower() for form in other), key=len, reverse=True)
        self._other_lowered = _english_pattern(lowered, 0) if other else None

    def url(self, term: Term) -> str:
        # One reverse() per page, not per occurrence: the reading page links hundreds.
        if not hasattr(self, "_url_pattern"):
            self._url_pattern = reverse("speeches:term", kwargs={"slug": "SLUG"})
        return self._url_pattern.replace("SLUG", term.slug)

    def link_open(self, term: Term) -> str:
        """The escaped `<a class="term" …>` for a term, built once per term."""
        tag = self._link_open.get(id(term))
        if tag is None:
            tag = (
                f'<a class="term" href="{html_escape(self.url(term))}" '
                f'title="{html_escape(term_title(term))}">'
            )
            self._link_open[id(term)] = tag
        return tag

    def find(self, text: str, language: str) -> list[tuple[int, int, Term]]:
        """Non-overlapping (start, end, term), first occurrence of each term only."""
        found: list[tuple[int, int, Term]] = []
        seen: set[int] = set()  # id() of the terms: cheaper than the pk property
        chinese = is_chinese(language)
        pattern, total = (self._zh, self._n_zh) if chinese else (self._other, self._n_other)
        if pattern is None:
            return found
        if not chinese:
            lowered = text.lower()
            if len(lowered) == len(text):  # one character for one: the offsets hold
                pattern, text = self._other_lowered, lowered
        for match in pattern.finditer(text):
            term = self._by_form[match.group(0) if chinese else match.group(1).lower()]
            if id(term) not in seen:
                seen.add(id(term))
                found.append((match.start(), match.end(), term))
                if len(seen) == total:  # the rest could only repeat a term
                    break
        return found


def _english_pattern(forms: list[str], flags: int) -> re.Pattern:
    """Any of the forms as a whole word, plural -s/-es allowed (longest form first)."""
    return re.compile(
        r"(?<![\w-])(" + "|".join(map(re.escape, forms)) + r")(?:s|es)?(?![\w-])", flags
    )


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
    if "[" not in text:  # no token can start: most runs (a hot path of the reading page)
        return html_escape(text).replace("\n", "<br>\n")
    out: list[str] = []
    last = 0
    for match in TOKEN.finditer(text):
        out.append(html_escape(text[last : match.start()]))
        last = match.end()
        if match.group("url"):
            label = html_escape(match.group("label"))
            out.append(
                f'<a class="ext" href="{html_escape(match.group("url"))}" '
                f'rel="noopener noreferrer nofollow">{label}</a>'
            )
            continue
        number = int(match.group("note"))
        if number not in notes:
            out.append(html_escape(match.group(0)))
        else:
            ref_id = ""
            if (code, number) not in seen_refs:
                seen_refs.add((code, number))
                ref_id = f' id="fnref-{code}-{number}"'
            out.append(
                f'<sup class="fn-ref"{ref_id}><a href="#fn-{code}-{number}" '
                f'role="doc-noteref">{number}</a></sup>'
            )
    out.append(html_escape(text[last:]))
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
    code = html_escape(code)  # goes into id and href attributes
    markers = [(m.start(), m.end()) for m in TOKEN.finditer(text)] if "[" in text else []
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
            spans.append(_Span(start, end, matcher.link_open(term), "</a>"))
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


@dataclass
class ReadingPage:
    speech: Speech
    versions: list[Version]  # every version, for credits and sources
    text_versions: list[Version]  # versions with a text, for the pickers
    shown: list[Version]  # one (single) or two (parallel) versions, left first
    view: str
    rows_html: SafeString  # every passage row (see render_reading_body)
    notes_html: SafeString  # the footnotes of the shown versions; "" when none
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


TERM_FIELDS = ("pk", "original", "slug", "pinyin", "translation", "variants")


def public_terms() -> list[Term]:
    return list(Term.objects.public().only(*TERM_FIELDS))


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


# ------------------------------------------------------------------ reading page body


class AnnotationRow(NamedTuple):
    """The fields of an annotation the reading page reads (render_text duck-types it)."""

    pk: int
    passage_id: int
    version_id: int | None
    exact: str
    prefix: str
    suffix: str
    start: int | None
    is_orphaned: bool
    body: str


def body_sources(speech: Speech, shown_ids: list[int]) -> dict[str, QuerySet]:
    """Every row the passage rows and the notes are built from, as value querysets.

    The renderer reads exactly these. A new source needs its table in the
    content-stamp triggers (migration 0005), or a stored page goes stale."""
    return {
        "passages": Passage.objects.filter(speech=speech)
        .order_by("position", "pk")
        .values_list("pk", "key", "position", "turn_speaker"),
        # Unordered: the renderer looks texts up by (passage, version), and the
        # model's ordering (through version to speech) cost two joins per row.
        "texts": PassageText.objects.filter(passage__speech=speech, version_id__in=shown_ids)
        .order_by()
        .values_list("passage_id", "version_id", "text"),
        "themes": TaggedPassage.objects.filter(content_object__speech=speech)
        .order_by("tag__name", "tag_id")
        .values_list("content_object_id", "tag__name", "tag__slug"),
        "footnotes": Footnote.objects.filter(version_id__in=shown_ids)
        .order_by("version_id", "number")
        .values_list("version_id", "number", "kind", "body", "passage_id"),
        "annotations": Annotation.objects.public()
        .filter(passage__speech=speech)
        .order_by("passage_id", "start", "pk")
        .values_list(*AnnotationRow._fields),
        "redirects": PassageRedirect.objects.filter(speech=speech, passage__isnull=False)
        .order_by("pk")
        .values_list("old_key", "passage_id"),
        "terms": Term.objects.public().values_list(*TERM_FIELDS),
    }


# Stand-ins for the speech's and the shown versions' primary keys (real ones
# are positive) in the body queries compiled once per process.
_SPEECH_PLACEHOLDER = -1_000_001
_VERSION_PLACEHOLDERS = (-2_000_001, -2_000_002)


@functools.cache
def _compiled_body_sources(n_shown: int) -> dict[str, tuple[str, tuple] | None]:
    """body_sources() for a speech showing `n_shown` versions, compiled to SQL
    once per process: compiling the seven querysets costs about as much Python
    time as PostgreSQL takes to run them, and only the primary keys change.
    None stands for a source that cannot have rows (no version shown)."""
    speech = Speech(pk=_SPEECH_PLACEHOLDER)
    compiled: dict[str, tuple[str, tuple] | None] = {}
    for name, queryset in body_sources(speech, list(_VERSION_PLACEHOLDERS[:n_shown])).items():
        try:
            sql, params = queryset.query.sql_with_params()
        except EmptyResultSet:  # version_id__in=[]
            compiled[name] = None
        else:
            compiled[name] = (sql, tuple(params))
    return compiled


def fetch_body_sources(speech: Speech, shown_ids: list[int]) -> dict[str, list[tuple]]:
    """The rows of body_sources(), by the precompiled queries. Their columns
    need no conversion from the database (text, integers, booleans), so the
    rows are what values_list() would give."""
    stand_ins = _VERSION_PLACEHOLDERS[: len(shown_ids)]
    real = {_SPEECH_PLACEHOLDER: speech.pk, **dict(zip(stand_ins, shown_ids, strict=True))}
    rows: dict[str, list[tuple]] = {}
    with connection.cursor() as cursor:
        for name, compiled in _compiled_body_sources(len(shown_ids)).items():
            if compiled is None:
                rows[name] = []
                continue
            sql, params = compiled
            cursor.execute(sql, [real.get(p, p) if type(p) is int else p for p in params])
            rows[name] = cursor.fetchall()
    return rows


def _terms(rows: list[tuple]) -> list[Term]:
    # Unsaved instances: TermMatcher reads attributes and variant_list().
    return [Term(**dict(zip(TERM_FIELDS, row, strict=True))) for row in rows]


def render_reading_body(
    sources: dict[str, Iterable[tuple]],
    *,
    versions: list[Version],
    shown: list[Version],
    origin: str,
) -> tuple[SafeString, SafeString]:
    """(rows HTML, notes HTML) of the reading page, built in Python.

    One string per row instead of a template loop: Django's template engine
    costs tens of microseconds per variable, and a 200-passage page has
    thousands. Every value from the database is escaped here (`html_escape`); the
    passage texts come through `render_text` (escaped there), Markdown through
    `render_markdown` (sanitised by nh3). `origin` (scheme://host) only goes
    into the copy-link buttons."""
    passages = list(sources["passages"])
    texts = {(p, v): text for p, v, text in sources["texts"]}
    theme_url = reverse("speeches:theme", kwargs={"slug": "SLUG"})
    themes: dict[int, list[str]] = defaultdict(list)
    for passage_id, name, slug in sources["themes"]:
        url = html_escape(theme_url.replace("SLUG", slug))
        themes[passage_id].append(f'<li><a href="{url}">{html_escape(name)}</a></li>')
    footnotes = list(sources["footnotes"])
    notes_by_version: dict[int, set[int]] = defaultdict(set)
    for version_id, number, *_ in footnotes:
        notes_by_version[version_id].add(number)
    annotations: dict[int, list[AnnotationRow]] = defaultdict(list)
    for row in sources["annotations"]:
        annotation = AnnotationRow(*row)
        annotations[annotation.passage_id].append(annotation)
    old_keys: dict[int, list[str]] = defaultdict(list)
    for old_key, passage_id in sources["redirects"]:
        old_keys[passage_id].append(old_key)
    matcher = TermMatcher(_terms(list(sources["terms"])))
    language_of = {v.pk: v.language for v in versions}

    parallel = len(shown) == 2
    passage_url = reverse("speeches:passage", kwargs={"key": "KEY"})
    origin = html_escape(origin)
    seen_refs: set[tuple[str, int]] = set()
    # What each shown version's cells share, worked out once instead of per row.
    cells = [
        _CellParts(
            pk=version.pk,
            code=version.code,
            language=version.language,
            notes=notes_by_version[version.pk],
            open=_cell_open(version, parallel=parallel, missing=False),
            missing=_cell_open(version, parallel=parallel, missing=True)
            + '<p class="no-text" lang="en">(No text in this version.)</p></div>',
        )
        for version in shown
    ]
    out: list[str] = []
    previous_turn = ""
    for pk, key, position, turn_speaker in passages:
        key = html_escape(key)
        url = passage_url.replace("KEY", key)
        out.append(f'<div class="row" id="p-{key}">\n')
        for old in old_keys.get(pk, ()):
            out.append(f'<span class="old-anchor" id="p-{html_escape(old)}"></span>')
        if turn_speaker and turn_speaker != previous_turn:
            out.append(f'<p class="turn-speaker">{html_escape(turn_speaker)}</p>')
        previous_turn = turn_speaker
        out.append(
            f'<div class="row-meta"><a class="pnum" href="{url}" '
            f'title="Permanent link to this passage">¶{position}</a> '
            f'<button type="button" class="copy-link" data-permalink="{origin}{url}" hidden>'
            f'Copy link<span class="visually-hidden"> to ¶{position}</span></button></div>\n'
        )
        passage_annotations = annotations.get(pk, [])
        for cell in cells:
            text = texts.get((pk, cell.pk))
            if text is None:
                out.append(cell.missing)
                continue
            html = render_text(
                text,
                code=cell.code,
                language=cell.language,
                notes=cell.notes,
                annotations=[a for a in passage_annotations if a.version_id == cell.pk]
                if passage_annotations
                else [],
                matcher=matcher,
                seen_refs=seen_refs,
            )
            out.append(f"{cell.open}<p>{html}</p></div>")
        passage_themes = themes.get(pk)
        if passage_themes or passage_annotations:
            out.append('\n<div class="row-extra">')
            if passage_themes:
                out.append(f'<ul class="tags" aria-label="Themes">{"".join(passage_themes)}</ul>')
            if passage_annotations:
                out.append(_annotations_html(passage_annotations, language_of))
            out.append("</div>")
        out.append("\n</div>\n")
    rows_html = mark_safe("".join(out))  # every database value above was escaped
    return rows_html, _notes_html(footnotes, shown)


class _CellParts(NamedTuple):
    pk: int
    code: str
    language: str
    notes: set[int]
    open: str  # the cell's opening markup when the passage has a text in this version
    missing: str  # the whole cell when it has none


def _cell_open(version: Version, *, parallel: bool, missing: bool) -> str:
    """The opening of one version's cell in a row (the same for every row)."""
    css = "cell missing" if missing else "cell"
    html = f'<div class="{css}" lang="{html_escape(version.language)}">'
    if parallel:
        html += f'<span class="cell-lang">{html_escape(language_name(version.language))}</span>'
    return html


def _annotations_html(annotations: list[AnnotationRow], language_of: dict[int, str]) -> str:
    out = ['<aside class="annotations" aria-label="Editors’ annotations"><ul>']
    for annotation in annotations:
        out.append(f'<li id="a-{annotation.pk}" class="annotation">')
        if annotation.exact:
            language = language_of.get(annotation.version_id)
            lang = f' lang="{html_escape(language)}"' if language else ""
            out.append(
                f'<p class="annotation-quote">On <q{lang}>{html_escape(annotation.exact)}</q>:</p>'
            )
        out.append(f'<div class="annotation-body">{render_markdown(annotation.body)}</div></li>')
    out.append("</ul></aside>")
    return "".join(out)


def _notes_html(footnotes: list[tuple], shown: list[Version]) -> SafeString:
    """The notes of the shown versions, one list per version, in the order shown."""
    kind_label = {kind: html_escape(str(label)) for kind, label in Footnote.Kind.choices}
    out: list[str] = []
    for version in shown:
        notes = [f for f in footnotes if f[0] == version.pk]
        if not notes:
            continue
        code = html_escape(version.code)
        original = " (original)" if version.is_original else ""
        out.append(
            f'<section class="notes-version" lang="{html_escape(version.language)}" '
            f'aria-labelledby="notes-{code}-h">\n'
            f'<h3 id="notes-{code}-h" lang="en">{html_escape(language_name(version.language))}'
            f'{original}</h3>\n<ol class="footnotes">'
        )
        for _, number, kind, body, passage_id in notes:
            label = kind_label.get(kind) or html_escape(kind)
            out.append(
                f'<li id="fn-{code}-{number}" value="{number}">\n'
                f'<span class="note-kind" lang="en">{label}.</span>\n'
                f'<div class="note-body">{render_markdown(body)}</div>\n'
            )
            if passage_id:
                out.append(
                    f'<a class="note-back" href="#fnref-{code}-{number}" role="doc-backlink" '
                    f'lang="en">↩ <span class="visually-hidden">Back to the text of note '
                    f"{number}</span></a>\n"
                )
            out.append("</li>")
        out.append("</ol>\n</section>\n")
    return mark_safe("".join(out))  # escaped or sanitised piece by piece above


# ------------------------------------------------------------------ the page


def article_sources(speech: Speech) -> dict[str, QuerySet]:
    """The rest of what the article shows, as model querysets for the template."""
    return {
        "corrections": Correction.objects.filter(version__speech=speech)
        .prefetch_related(Prefetch("passages", queryset=Passage.objects.order_by("position")))
        .order_by("-date", "pk"),
        "coverage": Coverage.objects.public().filter(speech=speech).order_by("-published_on"),
        "themes": speech.themes.all(),
        "collections": speech.collections.all(),
    }


@contextmanager
def _one_snapshot() -> Iterator[None]:
    """Every query inside reads one snapshot of the database (REPEATABLE READ,
    read only), so the article describes one state of the speech even when an
    edit commits halfway through the rendering. Inside an outer transaction
    (ATOMIC_REQUESTS, tests) that transaction decides."""
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


@dataclass
class ReadingArticle:
    versions: list[Version]  # for the citation, which the view builds around the article
    body: bytes  # everything in <article> but the citation, UTF-8

    @property
    def html(self) -> SafeString:
        # Safe: the body only ever comes from the template and the renderers
        # above, which escape every value.
        return mark_safe(self.body.decode())


# Where the view's template puts the article: the page is rendered around this
# marker and the article's bytes spliced in (`splice_article`), so 450 KB of
# HTML is not decoded, copied through the template engine and encoded again.
# Nothing else on the page can look like it: every other value there is
# escaped, and escaped text has no "<".
ARTICLE_SLOT = mark_safe("<!-- reading-article -->")


def splice_article(content: bytes, article: ReadingArticle) -> bytes:
    """The rendered page `content` with the article in place of ARTICLE_SLOT."""
    head, slot, tail = content.partition(ARTICLE_SLOT.encode())
    if not slot:
        raise ValueError("The page has no article slot.")
    return b"".join((head, article.body, tail))


def reading_article(
    speech: Speech, *, view: str | None, left: str | None, right: str | None, origin: str
) -> ReadingArticle:
    """The reading page's article, rendered in one snapshot.

    `speech` is a published speech with its speaker, as the view loaded it.
    The view keeps the whole page it builds around this in the page store
    (speeches/pagestore.py), so this runs once per edit, day and layout.
    `origin` is the request's scheme://host, for the copy-link buttons."""
    with _one_snapshot():
        versions = list(speech.versions.all())
        chosen, shown = _choose(versions, view=view, left=left, right=right)
        page = build_reading_page(
            speech, versions=versions, view=chosen, shown=shown, origin=origin
        )
        html = render_to_string("includes/_reading_body.html", {"speech": speech, "page": page})
    return ReadingArticle(versions=versions, body=html.encode())


def _choose(
    versions: list[Version], *, view: str | None, left: str | None, right: str | None
) -> tuple[str, list[Version]]:
    return choose_versions([v for v in versions if v.has_text], view=view, left=left, right=right)


def build_reading_page(
    speech: Speech, *, versions: list[Version], view: str, shown: list[Version], origin: str
) -> ReadingPage:
    """Everything the article shows, in a constant number of queries."""
    rows_html, notes_html = render_reading_body(
        fetch_body_sources(speech, [v.pk for v in shown]),
        versions=versions,
        shown=shown,
        origin=origin,
    )
    parts = article_sources(speech)
    version_by_id = {v.pk: v for v in versions}
    corrections = list(parts["corrections"])
    for correction in corrections:
        correction.version_obj = version_by_id.get(correction.version_id)
    return ReadingPage(
        speech=speech,
        versions=versions,
        text_versions=[v for v in versions if v.has_text],
        shown=shown,
        view=view,
        rows_html=rows_html,
        notes_html=notes_html,
        corrections=corrections,
        coverage=list(parts["coverage"]),
        themes=list(parts["themes"]),
        collections=list(parts["collections"]),
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
