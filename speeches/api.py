"""The read-only JSON API (django-ninja): `/api/…`, schema at `/api/openapi.json`,
interactive docs at `/api/docs`.

Every read goes through the same `.public()` querysets as the HTML pages, so a
draft never appears, and permanence follows the pages: an old passage key
answers 301 to the current one, a passage removed by an edit answers 410, a
withdrawn speech answers 410 with what a citation needs. Every response is
described in the schema (tests/test_api_schema.py checks that with schemathesis),
and every endpoint runs a constant number of queries (tests/test_api.py).

CORS (`Access-Control-Allow-Origin: *`) and per-client rate limits are added
by archive.middleware, not here, so that they also cover errors.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from typing import Annotated, Any, Literal

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.urls import reverse
from ninja import Field, NinjaAPI, Path, Query, Schema, Status
from ninja.errors import ValidationError
from ninja.renderers import JSONRenderer
from taggit.models import Tag

from speeches.exporters import version_metadata
from speeches.filters import SORTS, SpeechFilter
from speeches.models import (
    Annotation,
    Correction,
    Footnote,
    Passage,
    PassageRedirect,
    PassageText,
    SlugHistory,
    Speech,
    TaggedPassage,
    Term,
    Version,
)
from speeches.views import _public_speakers, _public_themes

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

# Path and query values are bounded and printable: PostgreSQL rejects NUL bytes
# in text, and an unbounded value is never a valid slug or key anyway.
SlugParam = Annotated[str, Path(pattern=r"^[-A-Za-z0-9_]{1,200}$")]
KeyParam = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,32}$")]
FilterText = Annotated[str | None, Query(None, max_length=200, pattern=r"^[^\x00-\x1f]*$")]
SpeechKind = Literal[tuple(Speech.Kind.values)]  # type: ignore[valid-type]
SortName = Literal[tuple(SORTS)]  # type: ignore[valid-type]


class UnicodeJSONRenderer(JSONRenderer):
    """UTF-8 JSON: Chinese text stays readable (and a third of the size of \\u escapes)."""

    json_dumps_params = {"ensure_ascii": False}


api = NinjaAPI(
    title="Speech Archive API",
    version="1",
    description=(
        "Read-only access to the published speeches, their versions (original and "
        "translations), passages with permanent keys, footnotes, themes, speakers and "
        "glossary terms. Drafts never appear. Responses are UTF-8 JSON; list endpoints "
        "are paginated with `page` and `page_size`. A bulk dump of the whole archive "
        "is produced by `manage.py dump_archive`."
    ),
    urls_namespace="api",
    renderer=UnicodeJSONRenderer(),
)


# ------------------------------------------------------------------ schemas


class ErrorOut(Schema):
    detail: str


class ValidationErrorOut(Schema):
    detail: list[dict[str, Any]]


class GoneOut(Schema):
    detail: str
    status: Literal["withdrawn", "removed"]
    speech: str = Field(description="Slug of the speech the resource belonged to.")
    speech_title: str
    reason: str = Field(description="Why it was withdrawn or removed, when recorded.")
    url: str = Field(description="The HTML page with the tombstone and citation.")


class SpeakerRef(Schema):
    slug: str
    name: str
    name_original: str


class PageLinks(Schema):
    count: int
    page: int
    pages: int
    page_size: int
    next: str | None
    previous: str | None


class SpeechSummary(Schema):
    slug: str
    title: str
    speaker: SpeakerRef
    delivered_on: dt.date
    date_precision: str
    kind: str
    original_language: str
    languages: list[str] = Field(description="Languages of the versions that have a text.")
    nickname: str
    summary: str
    themes: list[str] = Field(description="Theme slugs.")
    url: str
    api_url: str


class SpeechPage(PageLinks):
    items: list[SpeechSummary]


class FootnoteOut(Schema):
    number: int
    kind: str
    body: str = Field(description="Markdown.")
    passage: str | None = Field(description="Key of the passage where the marker stands.")


class CorrectionOut(Schema):
    date: dt.date
    description: str = Field(description="Markdown.")
    passages: list[str]


class VersionOut(Schema):
    code: str
    language: str
    is_original: bool
    title: str
    translators: str
    editor: str
    introduction: str = Field(description="Markdown.")
    source_name: str
    source_url: str
    licence: str
    published_on: dt.date | None
    has_text: bool
    footnotes: list[FootnoteOut]
    corrections: list[CorrectionOut]


class AnnotationOut(Schema):
    passage: str
    version: str | None = Field(description="Code of the version the quote is anchored in.")
    body: str = Field(description="Markdown.")
    exact: str
    prefix: str
    suffix: str
    start: int | None
    is_orphaned: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class PassageOut(Schema):
    key: str
    position: int
    turn_speaker: str
    themes: list[str]
    texts: dict[str, str] = Field(description="Text by version code.")
    old_keys: list[str] = Field(description="Retired keys that redirect to this passage.")
    url: str


class SpeechDetail(Schema):
    slug: str
    title: str
    speaker: SpeakerRef
    delivered_on: dt.date
    date_precision: str
    occasion: str
    place: str
    original_language: str
    kind: str
    nickname: str
    summary: str
    published_at: dt.datetime | None
    themes: list[str]
    collections: list[str]
    url: str
    versions: list[VersionOut]
    passages: list[PassageOut]
    annotations: list[AnnotationOut]


class SpeechRef(Schema):
    slug: str
    title: str
    url: str
    api_url: str


class PassageTextOut(Schema):
    version: str
    language: str
    is_original: bool
    text: str


class PassageDetail(Schema):
    key: str
    position: int
    turn_speaker: str
    speech: SpeechRef
    texts: list[PassageTextOut]
    footnotes: list[FootnoteOut]
    themes: list[str]
    annotations: list[AnnotationOut]
    previous: str | None
    next: str | None
    url: str


class ThemeOut(Schema):
    slug: str
    name: str
    speeches: int
    passages: int
    url: str


class ThemePage(PageLinks):
    items: list[ThemeOut]


class SpeakerOut(Schema):
    slug: str
    name: str
    name_original: str
    roles: str
    bio: str
    speeches: int
    url: str


class SpeakerPage(PageLinks):
    items: list[SpeakerOut]


class TermOut(Schema):
    slug: str
    original: str
    pinyin: str
    translation: str
    variants: list[str]
    note: str = Field(description="Markdown.")
    url: str


class TermPage(PageLinks):
    items: list[TermOut]


# Shared response declarations: every status an endpoint can answer is in the schema.
LIST_ERRORS: dict[int, Any] = {404: ErrorOut, 422: ValidationErrorOut, 429: ErrorOut}
DETAIL_ERRORS: dict[int, Any] = {
    301: None,
    404: ErrorOut,
    410: GoneOut,
    422: ValidationErrorOut,
    429: ErrorOut,
}


class ApiError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return api.create_response(request, {"detail": exc.detail}, status=exc.status)


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    # Plain JSON-able details (ninja's may carry non-serialisable context values).
    detail = [
        {"loc": list(error.get("loc", [])), "msg": str(error.get("msg", "")), "type": error["type"]}
        for error in exc.errors
    ]
    return api.create_response(request, {"detail": detail}, status=422)


# ------------------------------------------------------------------ helpers


def _abs(request: HttpRequest, path: str) -> str:
    return request.build_absolute_uri(path)


def _page(
    request: HttpRequest, items: QuerySet, page: int, page_size: int
) -> tuple[list[Any], dict[str, Any]]:
    """One page of `items` and the links around it; a page past the end is a 404
    (page 1 always exists, possibly empty), like the HTML lists."""
    count = items.count()
    pages = max(1, math.ceil(count / page_size))
    if page > pages:
        raise ApiError(404, f"No page {page}: there are {pages}.")
    start = (page - 1) * page_size
    rows = list(items[start : start + page_size])

    def link(number: int) -> str:
        query = request.GET.copy()
        query["page"] = str(number)
        return _abs(request, f"{request.path}?{query.urlencode()}")

    return rows, {
        "count": count,
        "page": page,
        "pages": pages,
        "page_size": page_size,
        "next": link(page + 1) if page < pages else None,
        "previous": link(page - 1) if page > 1 else None,
    }


PageNumber = Annotated[int, Query(1, ge=1, le=1_000_000)]
PageSize = Annotated[int, Query(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)]


def _speaker_ref(speech: Speech) -> dict[str, str]:
    speaker = speech.speaker
    return {"slug": speaker.slug, "name": speaker.name, "name_original": speaker.name_original}


def _speech_api_url(request: HttpRequest, slug: str) -> str:
    return _abs(request, reverse("api:speech", kwargs={"slug": slug}))


def _gone_speech(request: HttpRequest, speech: Speech) -> HttpResponse:
    body = {
        "detail": "This speech was withdrawn from the archive.",
        "status": "withdrawn",
        "speech": speech.slug,
        "speech_title": speech.title,
        "reason": speech.withdrawn_reason,
        "url": _abs(request, speech.get_absolute_url()),
    }
    return api.create_response(request, body, status=410)


def _with_query(request: HttpRequest, url: str) -> str:
    query = request.META.get("QUERY_STRING", "")
    return f"{url}?{query}" if query else url


def _annotation_out(annotation: Annotation, key: str) -> dict[str, Any]:
    return {
        "passage": key,
        "version": annotation.version.code if annotation.version else None,
        "body": annotation.body,
        "exact": annotation.exact,
        "prefix": annotation.prefix,
        "suffix": annotation.suffix,
        "start": annotation.start,
        "is_orphaned": annotation.is_orphaned,
        "created_at": annotation.created_at,
        "updated_at": annotation.updated_at,
    }


# ------------------------------------------------------------------ speeches


@api.get(
    "/speeches/",
    response={200: SpeechPage, **LIST_ERRORS},
    url_name="speech_list",
    summary="Published speeches, newest first, with the list page's filters",
)
def speech_list(
    request: HttpRequest,
    speaker: FilterText = None,
    theme: FilterText = None,
    year: Annotated[int | None, Query(None, ge=1, le=9999)] = None,
    lang: FilterText = None,
    kind: Annotated[SpeechKind | None, Query(None)] = None,
    collection: FilterText = None,
    sort: Annotated[SortName, Query("date")] = "date",
    page: PageNumber = 1,
    page_size: PageSize = DEFAULT_PAGE_SIZE,
):
    """Filters take the slugs and codes used in the site's URLs (`speaker=xi-jinping`,
    `theme=…`, `year=2016`, `lang=zh` matches zh-Hans and zh-Hant, `kind=interview`,
    `collection=…`); unknown values match nothing."""
    data = {
        "speaker": speaker,
        "theme": theme,
        "year": year,
        "lang": lang,
        "kind": kind,
        "collection": collection,
        "sort": sort,
    }
    base = Speech.objects.public().select_related("speaker").prefetch_related("themes")
    base = base.prefetch_related(
        Prefetch(
            "versions",
            queryset=Version.objects.filter(has_text=True).only(
                "pk", "speech_id", "language", "is_original", "code"
            ),
        )
    )
    filterset = SpeechFilter({k: v for k, v in data.items() if v is not None}, queryset=base)
    speeches, links = _page(request, filterset.qs.order_by(*SORTS[sort]), page, page_size)
    items = [
        {
            "slug": s.slug,
            "title": s.title,
            "speaker": _speaker_ref(s),
            "delivered_on": s.delivered_on,
            "date_precision": s.date_precision,
            "kind": s.kind,
            "original_language": s.original_language,
            "languages": sorted({v.language for v in s.versions.all()}),
            "nickname": s.nickname,
            "summary": s.summary,
            "themes": sorted(tag.slug for tag in s.themes.all()),
            "url": _abs(request, s.get_absolute_url()),
            "api_url": _speech_api_url(request, s.slug),
        }
        for s in speeches
    ]
    return Status(200, {**links, "items": items})


@api.get(
    "/speeches/{slug}/",
    response={200: SpeechDetail, **DETAIL_ERRORS},
    url_name="speech",
    summary="One speech: metadata, versions, passages with keys, notes, annotations",
)
def speech_detail(request: HttpRequest, slug: SlugParam):
    """An old slug answers 301 to the current one; a withdrawn speech answers 410."""
    speech = Speech.objects.select_related("speaker").filter(slug=slug).first()
    if speech is None:
        old = SlugHistory.objects.select_related("speech").filter(old_slug=slug).first()
        if old is not None and old.speech.status != Speech.Status.DRAFT:
            url = reverse("api:speech", kwargs={"slug": old.speech.slug})
            return HttpResponsePermanentRedirect(_with_query(request, url))
        raise ApiError(404, "No such speech.")
    if speech.status == Speech.Status.DRAFT:
        raise ApiError(404, "No such speech.")
    if speech.status == Speech.Status.WITHDRAWN:
        return _gone_speech(request, speech)
    return Status(200, _speech_detail(request, speech))


def _speech_detail(request: HttpRequest, speech: Speech) -> dict[str, Any]:
    """The whole speech in a fixed number of queries, whatever its length."""
    versions = list(speech.versions.order_by("-is_original", "code", "pk"))
    code_of = {v.pk: v.code for v in versions}
    passages = list(
        speech.passages.order_by("position", "pk").only(
            "pk", "speech_id", "key", "position", "turn_speaker"
        )
    )
    key_of = {p.pk: p.key for p in passages}
    texts: dict[int, dict[str, str]] = defaultdict(dict)
    for passage_id, version_id, text in PassageText.objects.filter(
        passage__speech=speech
    ).values_list("passage_id", "version_id", "text"):
        texts[passage_id][code_of[version_id]] = text
    themes: dict[int, list[str]] = defaultdict(list)
    for passage_id, tag_slug in (
        TaggedPassage.objects.filter(content_object__speech=speech)
        .order_by("tag__slug")
        .values_list("content_object_id", "tag__slug")
    ):
        themes[passage_id].append(tag_slug)
    old_keys: dict[int, list[str]] = defaultdict(list)
    for old_key, passage_id in (
        PassageRedirect.objects.filter(speech=speech, passage__isnull=False)
        .order_by("old_key")
        .values_list("old_key", "passage_id")
    ):
        old_keys[passage_id].append(old_key)
    footnotes: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for f in Footnote.objects.filter(version__speech=speech).order_by("version_id", "number"):
        footnotes[f.version_id].append(
            {
                "number": f.number,
                "kind": f.kind,
                "body": f.body,
                "passage": key_of.get(f.passage_id),
            }
        )
    corrections: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for c in (
        Correction.objects.filter(version__speech=speech)
        .prefetch_related(Prefetch("passages", queryset=Passage.objects.order_by("position")))
        .order_by("date", "pk")
    ):
        corrections[c.version_id].append(
            {
                "date": c.date,
                "description": c.description,
                "passages": [p.key for p in c.passages.all()],
            }
        )
    annotations = [
        _annotation_out(a, key_of[a.passage_id])
        for a in Annotation.objects.public()
        .filter(passage__speech=speech)
        .select_related("version")
        .order_by("passage__position", "start", "pk")
    ]
    passage_url = reverse("speeches:passage", kwargs={"key": "KEY"})
    return {
        "slug": speech.slug,
        "title": speech.title,
        "speaker": _speaker_ref(speech),
        "delivered_on": speech.delivered_on,
        "date_precision": speech.date_precision,
        "occasion": speech.occasion,
        "place": speech.place,
        "original_language": speech.original_language,
        "kind": speech.kind,
        "nickname": speech.nickname,
        "summary": speech.summary,
        "published_at": speech.published_at,
        "themes": sorted(tag.slug for tag in speech.themes.all()),
        "collections": list(
            speech.collection_items.order_by("collection__slug").values_list(
                "collection__slug", flat=True
            )
        ),
        "url": _abs(request, speech.get_absolute_url()),
        "versions": [
            {
                **version_metadata(v),
                "footnotes": footnotes[v.pk],
                "corrections": corrections[v.pk],
            }
            for v in versions
        ],
        "passages": [
            {
                "key": p.key,
                "position": p.position,
                "turn_speaker": p.turn_speaker,
                "themes": themes[p.pk],
                "texts": texts[p.pk],
                "old_keys": old_keys[p.pk],
                "url": _abs(request, passage_url.replace("KEY", p.key)),
            }
            for p in passages
        ],
        "annotations": annotations,
    }


# ------------------------------------------------------------------ passages


@api.get(
    "/passages/{key}/",
    response={200: PassageDetail, **DETAIL_ERRORS},
    url_name="passage",
    summary="One passage in every version, with its notes and neighbours",
)
def passage_detail(request: HttpRequest, key: KeyParam):
    """A retired key answers 301 to the passage that holds its text now; a passage
    removed by an edit, or one of a withdrawn speech, answers 410."""
    if key != key.lower():
        url = reverse("api:passage", kwargs={"key": key.lower()})
        return HttpResponsePermanentRedirect(_with_query(request, url))
    passage = Passage.objects.select_related("speech__speaker").filter(key=key).first()
    if passage is None:
        return _moved_passage(request, key)
    if passage.speech.status == Speech.Status.DRAFT:
        raise ApiError(404, "No such passage.")
    if passage.speech.status == Speech.Status.WITHDRAWN:
        return _gone_speech(request, passage.speech)
    return Status(200, _passage_detail(request, passage))


def _moved_passage(request: HttpRequest, key: str) -> HttpResponse:
    moved = (
        PassageRedirect.objects.select_related("speech", "passage__speech", "correction")
        .filter(old_key=key)
        .first()
    )
    if moved is None or moved.speech.status == Speech.Status.DRAFT:
        raise ApiError(404, "No such passage.")
    if moved.speech.status == Speech.Status.WITHDRAWN:
        return _gone_speech(request, moved.speech)
    if moved.passage is not None:
        if moved.passage.speech.status != Speech.Status.PUBLISHED:
            raise ApiError(404, "No such passage.")
        url = reverse("api:passage", kwargs={"key": moved.passage.key})
        return HttpResponsePermanentRedirect(_with_query(request, url))
    body = {
        "detail": "This passage was removed when the text was corrected.",
        "status": "removed",
        "speech": moved.speech.slug,
        "speech_title": moved.speech.title,
        "reason": moved.correction.description if moved.correction else "",
        "url": _abs(request, reverse("speeches:passage", kwargs={"key": key})),
    }
    return api.create_response(request, body, status=410)


def _passage_detail(request: HttpRequest, passage: Passage) -> dict[str, Any]:
    speech = passage.speech
    versions = {v.pk: v for v in speech.versions.all()}
    texts = sorted(
        PassageText.objects.filter(passage=passage).values_list("version_id", "text"),
        key=lambda row: (not versions[row[0]].is_original, versions[row[0]].code),
    )
    neighbours = Passage.objects.filter(speech=speech).values_list("key", flat=True)
    previous = neighbours.filter(position__lt=passage.position).order_by("-position").first()
    following = neighbours.filter(position__gt=passage.position).order_by("position").first()
    annotations = (
        Annotation.objects.public()
        .filter(passage=passage)
        .select_related("version")
        .order_by("start", "pk")
    )
    return {
        "key": passage.key,
        "position": passage.position,
        "turn_speaker": passage.turn_speaker,
        "speech": {
            "slug": speech.slug,
            "title": speech.title,
            "url": _abs(request, speech.get_absolute_url()),
            "api_url": _speech_api_url(request, speech.slug),
        },
        "texts": [
            {
                "version": versions[version_id].code,
                "language": versions[version_id].language,
                "is_original": versions[version_id].is_original,
                "text": text,
            }
            for version_id, text in texts
        ],
        "footnotes": [
            {"number": f.number, "kind": f.kind, "body": f.body, "passage": passage.key}
            for f in passage.footnotes.order_by("version_id", "number")
        ],
        "themes": sorted(passage.themes.values_list("slug", flat=True)),
        "annotations": [_annotation_out(a, passage.key) for a in annotations],
        "previous": previous,
        "next": following,
        "url": _abs(request, passage.get_absolute_url()),
    }


# ------------------------------------------------------------------ indexes


@api.get(
    "/themes/",
    response={200: ThemePage, **LIST_ERRORS},
    url_name="theme_list",
    summary="Themes used by published speeches or passages, with counts",
)
def theme_list(request: HttpRequest, page: PageNumber = 1, page_size: PageSize = DEFAULT_PAGE_SIZE):
    themes: QuerySet[Tag] = _public_themes()
    rows, links = _page(request, themes, page, page_size)
    theme_url = reverse("speeches:theme", kwargs={"slug": "SLUG"})
    items = [
        {
            "slug": t.slug,
            "name": t.name,
            "speeches": t.n_speeches,
            "passages": t.n_passages,
            "url": _abs(request, theme_url.replace("SLUG", t.slug)),
        }
        for t in rows
    ]
    return Status(200, {**links, "items": items})


@api.get(
    "/speakers/",
    response={200: SpeakerPage, **LIST_ERRORS},
    url_name="speaker_list",
    summary="Speakers with at least one published speech",
)
def speaker_list(
    request: HttpRequest, page: PageNumber = 1, page_size: PageSize = DEFAULT_PAGE_SIZE
):
    rows, links = _page(request, _public_speakers().order_by("name", "pk"), page, page_size)
    items = [
        {
            "slug": s.slug,
            "name": s.name,
            "name_original": s.name_original,
            "roles": s.roles,
            "bio": s.bio,
            "speeches": s.n_speeches,
            "url": _abs(request, s.get_absolute_url()),
        }
        for s in rows
    ]
    return Status(200, {**links, "items": items})


@api.get(
    "/terms/",
    response={200: TermPage, **LIST_ERRORS},
    url_name="term_list",
    summary="Confirmed glossary terms",
)
def term_list(request: HttpRequest, page: PageNumber = 1, page_size: PageSize = DEFAULT_PAGE_SIZE):
    terms = Term.objects.public().order_by("original", "pk")
    rows, links = _page(request, terms, page, page_size)
    term_url = reverse("speeches:term", kwargs={"slug": "SLUG"})
    items = [
        {
            "slug": t.slug,
            "original": t.original,
            "pinyin": t.pinyin,
            "translation": t.translation,
            "variants": t.variant_list(),
            "note": t.note,
            "url": _abs(request, term_url.replace("SLUG", t.slug)),
        }
        for t in rows
    ]
    return Status(200, {**links, "items": items})


# ------------------------------------------------------------------ search


class SearchSpeaker(Schema):
    slug: str
    name: str


class SearchHitOut(Schema):
    rank: int
    score: float = Field(description="Relevance (0 when sorted by date).")
    passage: str = Field(description="The passage's permanent key.")
    position: int = Field(description="Paragraph number (¶) in the speech.")
    version: str
    language: str
    text: str
    snippet: str = Field(
        description="HTML: the text around the first match, escaped, matches in <mark>."
    )
    speech: SpeechRef
    speaker: SearchSpeaker
    delivered_on: dt.date
    date_precision: str
    url: str = Field(description="The passage's page (to cite).")
    context_url: str = Field(description="The passage in its speech.")


class SearchPage(Schema):
    query: str
    count: int = Field(description="Matching passage texts; exact when `count_exact`.")
    count_exact: bool
    count_label: str = Field(description="As the site says it: 1,234 / 3,000+ / about 180,000.")
    ordering: str = Field(description="Why the order is approximate; empty when exact.")
    also_searched: list[str] = Field(description="Glossary counterparts searched too.")
    messages: list[str]
    timed_out: bool = Field(description="The search was too expensive; no items.")
    page: int
    pages: int
    page_size: int
    next: str | None
    previous: str | None
    items: list[SearchHitOut]


@api.get(
    "/search/",
    response={200: SearchPage, **LIST_ERRORS},
    url_name="search",
    summary="Full-text search of the published passages (the /search/ page's engine)",
)
def search(
    request: HttpRequest,
    q: Annotated[str, Query("", max_length=2000)] = "",
    speaker: FilterText = None,
    theme: FilterText = None,
    collection: FilterText = None,
    speech: FilterText = None,
    lang: Annotated[str | None, Query(None, pattern=r"^[A-Za-z]{2,3}$")] = None,
    kind: Annotated[SpeechKind | None, Query(None)] = None,
    year_from: Annotated[int | None, Query(None, alias="from", ge=1000, le=2999)] = None,
    year_to: Annotated[int | None, Query(None, alias="to", ge=1000, le=2999)] = None,
    sort: Annotated[Literal["relevance", "newest", "oldest"], Query("relevance")] = "relevance",
    expand: Annotated[bool, Query(True)] = True,
    page: PageNumber = 1,
):
    """The query language of /search/ (words, "phrases", -exclude, OR; Chinese as
    exact substrings, Traditional = Simplified), the same filters (slugs and
    codes as in the site's URLs; an unknown one answers 404), 20 results a page,
    at most 50 pages.
    `expand=false` searches only what was typed (no glossary counterparts)."""
    from speeches import search as engine

    values = {
        "q": q,
        "speaker": speaker or "",
        "theme": theme or "",
        "collection": collection or "",
        "speech": speech or "",
        "lang": lang or "",
        "kind": kind or "",
        "from": str(year_from or ""),
        "to": str(year_to or ""),
        "sort": sort,
        "expand": "" if expand else "0",
        "page": str(page),
    }
    if page > engine.MAX_PAGES:
        raise ApiError(404, f"No page {page}: a search has at most {engine.MAX_PAGES}.")
    try:
        params = engine.read_params(values)
    except engine.InvalidSearch as error:  # an unknown speaker, theme, collection or speech
        raise ApiError(404, str(error)) from error
    result = engine.run_search(params)
    if page > result.num_pages:
        raise ApiError(404, f"No page {page}: there are {result.num_pages}.")

    def link(number: int) -> str:
        query = request.GET.copy()
        query["page"] = str(number)
        return _abs(request, f"{request.path}?{query.urlencode()}")

    items = []
    for rank, hit in enumerate(result.hits, start=result.start_rank):
        pt, speech_obj = hit.passage_text, hit.speech
        items.append(
            {
                "rank": rank,
                "score": round(hit.score, 6),
                "passage": hit.passage.key,
                "position": hit.passage.position,
                "version": pt.version.code,
                "language": pt.version.language,
                "text": pt.text,
                "snippet": str(hit.snippet),
                "speech": {
                    "slug": speech_obj.slug,
                    "title": speech_obj.title,
                    "url": _abs(request, speech_obj.get_absolute_url()),
                    "api_url": _speech_api_url(request, speech_obj.slug),
                },
                "speaker": {"slug": speech_obj.speaker.slug, "name": speech_obj.speaker.name},
                "delivered_on": speech_obj.delivered_on,
                "date_precision": speech_obj.date_precision,
                "url": _abs(request, hit.passage_url),
                "context_url": _abs(request, hit.context_url),
            }
        )
    body = {
        "query": params.q,
        "count": min(result.total, result.cap) if result.capped else result.total,
        "count_exact": not result.capped,
        "count_label": result.total_label,
        "ordering": result.approximate,
        "also_searched": result.expansion_labels,
        "messages": result.messages,
        "timed_out": result.timed_out,
        "page": page,
        "pages": result.num_pages,
        "page_size": engine.PAGE_SIZE,
        "next": link(page + 1) if page < result.num_pages else None,
        "previous": link(page - 1) if page > 1 else None,
        "items": items,
    }
    return Status(200, body)
