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
* the whole article but the citation is cached (`reading_article`), keyed on a
  digest of every database row it shows, computed by PostgreSQL in one query
  (`content_digest`), plus the speech, speaker and version rows the request
  loaded anyway. An edit of any kind shows on the very next request; nothing
  needs invalidating, old entries just expire.

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
import hashlib
import logging
import re
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html import escape as html_escape  # Django's escape() minus a costly lazy-string check
from typing import NamedTuple

from django.core.cache import cache
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
                    f'<a class="term" href="{html_escape(href)}" '
                    f'title="{html_escape(term_title(term))}">',
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

    The renderer reads exactly these, and the cache key digests exactly these
    (`page_digest`), so nothing the body shows can change without the key
    changing. Add a source here, never a query elsewhere in the renderer."""
    return {
        "passages": Passage.objects.filter(speech=speech)
        .order_by("position", "pk")
        .values_list("pk", "key", "position", "turn_speaker"),
        "texts": PassageText.objects.filter(
            passage__speech=speech, version_id__in=shown_ids
        ).values_list("passage_id", "version_id", "text"),
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


def _terms(rows: list[tuple]) -> list[Term]:
    # Unsaved instances: TermMatcher reads attributes and variant_list().
    return [Term(**dict(zip(TERM_FIELDS, row, strict=True))) for row in rows]


def render_reading_body(
    sources: dict[str, QuerySet],
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
        for version in shown:
            text = texts.get((pk, version.pk))
            out.append(_cell_open(version, parallel=parallel, missing=text is None))
            if text is None:
                out.append('<p class="no-text" lang="en">(No text in this version.)</p></div>')
                continue
            html = render_text(
                text,
                code=version.code,
                language=version.language,
                notes=notes_by_version[version.pk],
                annotations=[a for a in passage_annotations if a.version_id == version.pk],
                matcher=matcher,
                seen_refs=seen_refs,
            )
            out.append(f"<p>{html}</p></div>")
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
    kind_label = dict(Footnote.Kind.choices)
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
            label = html_escape(str(kind_label.get(kind, kind)))
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


# ------------------------------------------------------------------ the page and its cache

# Bump when the markup the reading page caches changes (render_reading_body(),
# includes/_reading_body.html): a shared cache (memcached) outlives a deploy,
# and the key sees data, not code.
BODY_CACHE_VERSION = 1
BODY_CACHE_SECONDS = 60 * 60 * 24


def article_sources(speech: Speech) -> dict[str, QuerySet]:
    """The rest of what the cached article shows, as model querysets for the
    template; their digest reads every column (`values_list()`)."""
    return {
        "corrections": Correction.objects.filter(version__speech=speech)
        .prefetch_related(Prefetch("passages", queryset=Passage.objects.order_by("position")))
        .order_by("-date", "pk"),
        "coverage": Coverage.objects.public().filter(speech=speech).order_by("-published_on"),
        "themes": speech.themes.all(),
        "collections": speech.collections.all(),
    }


def _digested(speech: Speech, shown_ids: list[int]) -> list[QuerySet]:
    correction_passages = Correction.passages.through.objects.filter(
        correction__version__speech=speech
    ).values_list("correction_id", "passage__key", "passage__position")
    return [
        *body_sources(speech, shown_ids).values(),
        *(queryset.values_list() for queryset in article_sources(speech).values()),
        correction_passages,
    ]


def content_digest(querysets: Iterable[QuerySet]) -> str:
    """An md5 of every row the querysets return, computed by PostgreSQL in one query.

    Each row is cast to text (`r::text`, every column), rows are sorted (their
    order comes from columns such as `position`, which are in the rows) and
    hashed per source. Any insert, update or delete that changes a value the
    page reads changes the digest — including bulk_update() and
    QuerySet.update(), which leave `updated_at` alone (the re-import writer and
    services use both), and deletions, which no max(updated_at) can see.
    PostgreSQL still reads the rows, but answers with 32 characters instead of
    sending hundreds of texts for Python to turn into objects."""
    sql, params = _digest_query(querysets)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def _digest_query(querysets: Iterable[QuerySet]) -> tuple[str, list]:
    selects: list[str] = []
    params: list = []
    for queryset in querysets:
        try:
            sql, query_params = queryset.order_by().query.sql_with_params()
        except EmptyResultSet:  # e.g. version_id__in=[]: no rows, nothing to digest
            selects.append("''")
            continue
        selects.append(
            f"(SELECT md5(coalesce(string_agg(r::text, ',' ORDER BY r::text), '')) FROM ({sql}) r)"
        )
        params.extend(query_params)
    return f"SELECT md5(concat_ws(',', {', '.join(selects)}))", params


# Stand-ins for the speech's and the shown versions' primary keys (real ones
# are positive) in the digest query compiled once per process.
_SPEECH_PLACEHOLDER = -1_000_001
_VERSION_PLACEHOLDERS = (-2_000_001, -2_000_002)


@functools.cache
def _compiled_digest(n_shown: int) -> tuple[str, tuple]:
    """The page digest query for a speech showing `n_shown` versions, compiled
    once: building and compiling its twelve querysets costs more Python time
    than PostgreSQL takes to run it, and only the primary keys change."""
    speech = Speech(pk=_SPEECH_PLACEHOLDER)
    sql, params = _digest_query(_digested(speech, list(_VERSION_PLACEHOLDERS[:n_shown])))
    return sql, tuple(params)


def page_digest(speech: Speech, shown_ids: list[int]) -> str:
    """content_digest() of everything the cached article shows (`_digested`)."""
    sql, params = _compiled_digest(len(shown_ids))
    stand_ins = _VERSION_PLACEHOLDERS[: len(shown_ids)]
    real = {_SPEECH_PLACEHOLDER: speech.pk, **dict(zip(stand_ins, shown_ids, strict=True))}
    with connection.cursor() as cursor:
        cursor.execute(sql, [real.get(p, p) if type(p) is int else p for p in params])
        return cursor.fetchone()[0]


def _loaded_values(instance) -> tuple:
    """Every loaded column of a model instance (deferred ones would cost a query)."""
    deferred = instance.get_deferred_fields()
    return tuple(
        getattr(instance, field.attname)
        for field in instance._meta.concrete_fields
        if field.attname not in deferred
    )


def _cache_key(
    speech: Speech, versions: list[Version], shown: list[Version], origin: str, digest: str
) -> str:
    """The digest plus what this request loaded itself and the article shows:
    the speech, its speaker and its versions (every loaded column), which
    versions are shown, and the origin in the copy-link buttons. The speech's
    status is among its columns: a body is never reused across a publication
    change, even an identical one."""
    facts = repr(
        (
            _loaded_values(speech),
            _loaded_values(speech.speaker),
            [_loaded_values(v) for v in versions],
            [v.pk for v in shown],
            origin,
            digest,
        )
    )
    hashed = hashlib.sha256(facts.encode()).hexdigest()
    return f"reading-page:{BODY_CACHE_VERSION}:{speech.pk}:{hashed}"


@contextmanager
def _one_snapshot() -> Iterator[None]:
    """Every query inside reads one snapshot of the database (REPEATABLE READ,
    read only), so an article and the digest it is stored under describe the
    same data even when an edit commits halfway through the rendering. Inside
    an outer transaction (ATOMIC_REQUESTS, tests) that transaction decides."""
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def _cache_get(key: str) -> bytes | None:
    try:
        return cache.get(key)
    except Exception:  # any cache backend failure: render instead, but say so
        log.warning("reading page cache unavailable; rendering uncached", exc_info=True)
        return None


def _cache_set(key: str, value: bytes) -> None:
    try:
        cache.set(key, value, BODY_CACHE_SECONDS)
    except Exception:  # as above: a broken cache must not break reading
        log.warning("reading page cache unavailable; not stored", exc_info=True)


@dataclass
class ReadingArticle:
    versions: list[Version]  # for the citation, which the view builds per request
    html: SafeString  # everything in <article> but the citation


def reading_article(
    speech: Speech, *, view: str | None, left: str | None, right: str | None, origin: str
) -> ReadingArticle:
    """The reading page's article, from the cache when nothing it shows has changed.

    A hit costs two queries: the versions and the digest.
    A miss renders in one snapshot and stores the article under that snapshot's
    digest, so the first request after an edit — any edit: a text, a footnote,
    an annotation, a theme on a passage or a theme's name, a redirect, a
    glossary term, a correction, coverage — misses and shows it. `origin` is
    the request's scheme://host, for the copy-link buttons."""
    versions = list(speech.versions.all())
    text_versions = [v for v in versions if v.has_text]
    view, shown = choose_versions(text_versions, view=view, left=left, right=right)
    shown_ids = [v.pk for v in shown]
    key = _cache_key(speech, versions, shown, origin, page_digest(speech, shown_ids))
    compressed = _cache_get(key)
    if compressed is not None:
        html = zlib.decompress(compressed).decode()
    else:
        with _one_snapshot():
            digest = page_digest(speech, shown_ids)
            page = build_reading_page(
                speech, versions=versions, view=view, shown=shown, origin=origin
            )
            html = render_to_string("includes/_reading_body.html", {"speech": speech, "page": page})
        # Compressed: a 200-passage article is ~450 KB of very repetitive HTML
        # (5-25× smaller, ~0.5 ms each way), and every gunicorn worker keeps its
        # own LocMemCache (memcached also refuses values over 1 MB).
        key = _cache_key(speech, versions, shown, origin, digest)
        _cache_set(key, zlib.compress(html.encode(), 1))
    # Safe: the cache only ever holds the output of the template and the
    # renderers above, which escape every value.
    return ReadingArticle(versions=versions, html=mark_safe(html))


def build_reading_page(
    speech: Speech, *, versions: list[Version], view: str, shown: list[Version], origin: str
) -> ReadingPage:
    """Everything the article shows, in a constant number of queries (uncached)."""
    rows_html, notes_html = render_reading_body(
        body_sources(speech, [v.pk for v in shown]), versions=versions, shown=shown, origin=origin
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
