"""Public pages. Every read goes through `.public()` (or an explicit status check):
a draft never shows, and its URLs answer 404 exactly like URLs that never existed.

Permanence (DESIGN.md, "URLs"): an old slug or an old passage key answers 301 to
the current URL (keeping the query string); a passage removed by an edit answers
410 naming the speech and the correction; a withdrawn speech — and each of its
passages — answers 410 with a tombstone that keeps the citation.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponsePermanentRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe
from taggit.models import Tag

from speeches import glossary, pagestore
from speeches.citation import Citation, build_citation
from speeches.filters import SORTS, SpeechFilter
from speeches.models import (
    Collection,
    CollectionItem,
    Passage,
    PassageRedirect,
    SlugHistory,
    Speaker,
    Speech,
    Term,
    Version,
)
from speeches.reading import (
    ARTICLE_SLOT,
    build_passage_page,
    is_chinese,
    language_name,
    reading_article,
    splice_article,
)
from speeches.search import InvalidSearch, read_params, run_search, to_csv

LIST_PAGE_SIZE = 50
# The reading page's query parameters: its layout and version pickers.
READING_PARAMS = ("view", "left", "right")
THEME_PAGE_SIZE = 25
TERM_PAGE_SIZE = 50

CITE_FORMATS = {
    # format name → (content type, file extension)
    "csl": ("application/vnd.citationstyles.csl+json; charset=utf-8", "json"),
    "bibtex": ("application/x-bibtex; charset=utf-8", "bib"),
    "ris": ("application/x-research-info-systems; charset=utf-8", "ris"),
}
CITE_ALIASES = {
    "json": "csl",
    "csl-json": "csl",
    "csl": "csl",
    "bib": "bibtex",
    "bibtex": "bibtex",
    "ris": "ris",
}


# ------------------------------------------------------------------ helpers


def _speech_url(slug: str) -> str:
    return reverse("speeches:speech", kwargs={"slug": slug})


def _passage_url(key: str) -> str:
    return reverse("speeches:passage", kwargs={"key": key})


def _paginate(request: HttpRequest, items, per_page: int):
    """A bad or out-of-range page number is a 404 (STYLE.md, 8)."""
    paginator = Paginator(items, per_page)
    try:
        return paginator.page(request.GET.get("page") or 1)
    except (EmptyPage, PageNotAnInteger) as exc:
        raise Http404("No such page.") from exc


def _query_without_page(request: HttpRequest) -> str:
    params = [(k, v) for k, values in request.GET.lists() for v in values if k != "page" and v]
    return urlencode(params)


def _with_query(url: str, request: HttpRequest) -> str:
    query = request.META.get("QUERY_STRING", "")
    return f"{url}?{query}" if query else url


def _not_found(request: HttpRequest) -> HttpResponse:
    return render(request, "404.html", status=404)


def _cited_version(versions: list[Version]) -> Version | None:
    """The text a citation names: an English (non-Chinese) translation, else the original."""
    translations = [v for v in versions if not v.is_original and v.has_text]
    original = next((v for v in versions if v.is_original), None)
    return next((v for v in translations if not is_chinese(v.language)), None) or original


def _speech_citation(request: HttpRequest, speech: Speech, versions: list[Version]) -> Citation:
    original = next((v for v in versions if v.is_original), None)
    return build_citation(
        speech=speech,
        url=request.build_absolute_uri(speech.get_absolute_url()),
        accessed=timezone.localdate(),
        version=_cited_version(versions),
        original=original,
    )


def _withdrawn(request: HttpRequest, speech: Speech) -> HttpResponse:
    versions = list(speech.versions.all())
    citation = _speech_citation(request, speech, versions)
    return render(
        request,
        "speeches/withdrawn.html",
        {"speech": speech, "citation": citation, "meta_tags": citation.meta_tags()},
        status=410,
    )


def _one_or_none(queryset: QuerySet):
    """The row of a query on a unique column, or None."""
    try:
        return queryset.get()
    except queryset.model.DoesNotExist:
        return None


def _find_speech(
    request: HttpRequest, slug: str, url_for: Callable[[str], str]
) -> Speech | HttpResponse:
    """The public speech at `slug`, or the response to send instead.

    `url_for(slug)` is where an old slug redirects to (the same view, new slug)."""
    # get(), not first(): the slug is unique, and first()'s ORDER BY (the
    # model's ordering through the speaker join) cost more to compile than
    # the whole query takes to run.
    speech = _one_or_none(Speech.objects.select_related("speaker").filter(slug=slug))
    if speech is None:
        old = SlugHistory.objects.select_related("speech").filter(old_slug=slug).first()
        if old is not None and old.speech.status != Speech.Status.DRAFT:
            return HttpResponsePermanentRedirect(_with_query(url_for(old.speech.slug), request))
        return _not_found(request)
    if speech.status == Speech.Status.DRAFT:
        return _not_found(request)
    if speech.status == Speech.Status.WITHDRAWN:
        return _withdrawn(request, speech)
    return speech


def _find_passage(
    request: HttpRequest, key: str, url_for: Callable[[str], str]
) -> Passage | HttpResponse:
    """The public passage at `key`, or the redirect / tombstone / 404 to send instead.

    `url_for(key)` is where an old key redirects to (the same view, current key)."""
    if key != key.lower():
        return HttpResponsePermanentRedirect(_with_query(url_for(key.lower()), request))
    passage = _one_or_none(Passage.objects.select_related("speech__speaker").filter(key=key))
    if passage is None:
        moved = (
            PassageRedirect.objects.select_related(
                "speech__speaker", "passage__speech", "correction__version"
            )
            .filter(old_key=key)
            .first()
        )
        if moved is None or moved.speech.status == Speech.Status.DRAFT:
            return _not_found(request)
        if moved.speech.status == Speech.Status.WITHDRAWN:
            return _withdrawn(request, moved.speech)
        if moved.passage is not None:
            if moved.passage.speech.status != Speech.Status.PUBLISHED:
                return _not_found(request)
            return HttpResponsePermanentRedirect(_with_query(url_for(moved.passage.key), request))
        return render(request, "speeches/passage_gone.html", {"gone": moved}, status=410)
    if passage.speech.status == Speech.Status.DRAFT:
        return _not_found(request)
    if passage.speech.status == Speech.Status.WITHDRAWN:
        return _withdrawn(request, passage.speech)
    return passage


def _citation_response(citation: Citation, fmt: str, filename: str) -> HttpResponse:
    content_type, extension = CITE_FORMATS[fmt]
    body = {"csl": citation.csl_json, "bibtex": citation.bibtex, "ris": citation.ris}[fmt]()
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'inline; filename="{filename}.{extension}"'
    return response


def _public_themes() -> QuerySet[Tag]:
    """Themes used by at least one published speech or passage, with counts."""
    published = Speech.Status.PUBLISHED
    return (
        Tag.objects.annotate(
            n_passages=Count(
                "speeches_taggedpassage_items",
                filter=Q(speeches_taggedpassage_items__content_object__speech__status=published),
                distinct=True,
            ),
            n_speeches=Count(
                "speeches_taggedspeech_items",
                filter=Q(speeches_taggedspeech_items__content_object__status=published),
                distinct=True,
            ),
        )
        .filter(Q(n_passages__gt=0) | Q(n_speeches__gt=0))
        .order_by("name", "pk")
    )


def _public_speakers() -> QuerySet[Speaker]:
    return Speaker.objects.filter(
        Exists(Speech.objects.public().filter(speaker=OuterRef("pk")))
    ).annotate(n_speeches=Count("speeches", filter=Q(speeches__status=Speech.Status.PUBLISHED)))


# ------------------------------------------------------------------ service pages


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness plus one database round trip (the benchmarks' baseline)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return JsonResponse({"status": "ok"})


@require_safe
def robots_txt(request: HttpRequest) -> HttpResponse:
    lines = [
        "User-agent: *",
        "Disallow: /admin/",
        "Disallow: /search/",
        "Allow: /",
        "",
        f"Sitemap: {request.build_absolute_uri(reverse('sitemap'))}",
        "",
    ]
    return HttpResponse("\n".join(lines), content_type="text/plain; charset=utf-8")


# ------------------------------------------------------------------ browsing


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    recent = list(Speech.objects.public().for_list()[:10])
    themes = sorted(
        _public_themes().order_by("-n_passages", "-n_speeches", "name")[:24],
        key=lambda tag: tag.name.lower(),
    )
    speakers = list(_public_speakers().order_by("-n_speeches", "name")[:12])
    collections = list(
        Collection.objects.filter(
            Exists(Speech.objects.public().filter(collections=OuterRef("pk")))
        )[:8]
    )
    counts = {
        "speeches": Speech.objects.public().count(),
        "terms": Term.objects.public().count(),
    }
    return render(
        request,
        "speeches/home.html",
        {
            "recent": recent,
            "themes": themes,
            "speakers": speakers,
            "collections": collections,
            "counts": counts,
        },
    )


@require_safe
def speech_list(request: HttpRequest) -> HttpResponse:
    base = Speech.objects.public().for_list()
    filterset = SpeechFilter(request.GET or None, queryset=base)
    speeches = filterset.qs
    if not (
        filterset.is_bound and filterset.form.is_valid() and filterset.form.cleaned_data.get("sort")
    ):
        speeches = speeches.order_by(*SORTS["date"])
    page = _paginate(request, speeches, LIST_PAGE_SIZE)
    years = Speech.objects.public().dates("delivered_on", "year", order="DESC")
    languages = sorted(
        set(
            Version.objects.filter(speech__status=Speech.Status.PUBLISHED, has_text=True)
            .values_list("language", flat=True)
            .distinct()
        )
    )
    return render(
        request,
        "speeches/speech_list.html",
        {
            "page": page,
            "filter": filterset,
            "selected": {key: request.GET.get(key, "") for key in SpeechFilter.base_filters},
            # (value, label) pairs for the {% options %} tag.
            "speakers": Speaker.objects.filter(
                Exists(Speech.objects.public().filter(speaker=OuterRef("pk")))
            )
            .order_by("name", "pk")
            .values_list("slug", "name"),
            "themes": _public_themes().values_list("slug", "name"),
            "years": [(d.year, d.year) for d in years],
            "languages": [(code, language_name(code)) for code in languages],
            "kinds": Speech.Kind.choices,
            "collections": list(
                Collection.objects.filter(
                    Exists(Speech.objects.public().filter(collections=OuterRef("pk")))
                ).values_list("slug", "title")
            ),
            "sorts": [
                ("date", "Newest first"),
                ("oldest", "Oldest first"),
                ("title", "Title"),
                ("added", "Recently added"),
            ],
            "query": _query_without_page(request),
            "filtered": any(request.GET.get(k) for k in SpeechFilter.base_filters if k != "sort"),
        },
    )


@require_safe
def speech_detail(request: HttpRequest, slug: str) -> HttpResponse:
    slot = pagestore.slot_for(request, kind="reading", lookup=slug, params=READING_PARAMS)
    stored = pagestore.stored_response(slot, request) if slot else None
    if stored is not None:
        return stored
    found = _find_speech(request, slug, _speech_url)
    if isinstance(found, HttpResponse):
        return found
    article = reading_article(
        found,
        view=request.GET.get("view"),
        left=request.GET.get("left"),
        right=request.GET.get("right"),
        origin=f"{request.scheme}://{request.get_host()}",
    )
    citation = _speech_citation(request, found, article.versions)
    response = render(
        request,
        "speeches/speech_detail.html",
        {
            "speech": found,
            "article": ARTICLE_SLOT,  # the article's bytes go in after rendering
            "citation": citation,
            "meta_tags": citation.meta_tags(),
            "canonical": request.build_absolute_uri(found.get_absolute_url()),
        },
    )
    response.content = splice_article(response.content, article)
    if slot:
        pagestore.keep(slot, response)
    return response


@require_safe
def speech_cite(request: HttpRequest, slug: str, fmt: str) -> HttpResponse:
    found = _find_speech(
        request, slug, lambda new: reverse("speeches:speech_cite", kwargs={"slug": new, "fmt": fmt})
    )
    if isinstance(found, HttpResponse):
        return found
    fmt = CITE_ALIASES.get(fmt)
    if fmt is None:
        raise Http404("Unknown citation format.")
    citation = _speech_citation(request, found, list(found.versions.all()))
    return _citation_response(citation, fmt, found.slug)


@require_safe
def speech_export(request: HttpRequest, slug: str, fmt: str) -> HttpResponse:
    """`/speeches/<slug>.json` (lossless) and `.md` (the native import format).

    The native format is one Markdown file per version; `.md` serves the version
    named by `?version=<code>` (default: the original), since one response is one file.
    """
    speech = Speech.objects.select_related("speaker").filter(slug=slug).first()
    if speech is None:
        old = SlugHistory.objects.select_related("speech").filter(old_slug=slug).first()
        if old is not None and old.speech.status == Speech.Status.PUBLISHED:
            url = reverse(f"speeches:export_{fmt}", kwargs={"slug": old.speech.slug})
            return HttpResponsePermanentRedirect(_with_query(url, request))
        raise Http404("No such speech.")
    if speech.status == Speech.Status.WITHDRAWN:
        return _withdrawn(request, speech)
    if speech.status != Speech.Status.PUBLISHED:
        raise Http404("No such speech.")
    from speeches import exporters  # the importers' counterpart; imported lazily

    if fmt == "json":
        response = JsonResponse(
            exporters.export_json(speech), json_dumps_params={"ensure_ascii": False, "indent": 2}
        )
        response["Content-Disposition"] = f'inline; filename="{speech.slug}.json"'
        return response
    files = exporters.export_native(speech)
    wanted = request.GET.get("version")
    versions = list(speech.versions.all())
    code = wanted or next(
        (v.code for v in versions if v.is_original), versions[0].code if versions else ""
    )
    name = _pick_export_file(files, code)
    if name is None:
        raise Http404("No such version.")
    response = HttpResponse(files[name], content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response


def _pick_export_file(files: dict[str, str], code: str) -> str | None:
    if not files:
        return None
    for name in sorted(files):
        stem = name.rsplit(".", 1)[0]
        if (
            stem == code
            or stem.endswith(f".{code}")
            or stem.endswith(f"-{code}")
            or stem.endswith(f"_{code}")
        ):
            return name
    return None


@require_safe
def passage_detail(request: HttpRequest, key: str) -> HttpResponse:
    slot = pagestore.slot_for(request, kind="passage", lookup=key)
    stored = pagestore.stored_response(slot, request) if slot else None
    if stored is not None:
        return stored
    found = _find_passage(request, key, _passage_url)
    if isinstance(found, HttpResponse):
        return found
    fmt = request.GET.get("format")
    if fmt:
        return _passage_cite_response(request, found, fmt)
    page = build_passage_page(found)
    citation = build_citation(
        speech=found.speech,
        url=request.build_absolute_uri(found.get_absolute_url()),
        accessed=timezone.localdate(),
        passage=found,
        version=page.cited_version,
        original=page.original,
        keywords=[tag.name for tag in page.themes],
    )
    response = render(
        request,
        "speeches/passage_detail.html",
        {
            "speech": found.speech,
            "page": page,
            "passage": found,
            "citation": citation,
            "meta_tags": citation.meta_tags(),
            "canonical": request.build_absolute_uri(found.get_absolute_url()),
        },
    )
    if slot:
        pagestore.keep(slot, response)
    return response


def _passage_cite_response(request: HttpRequest, passage: Passage, fmt: str) -> HttpResponse:
    fmt = CITE_ALIASES.get(fmt)
    if fmt is None:
        raise Http404("Unknown citation format.")
    versions = list(passage.speech.versions.all())
    citation = build_citation(
        speech=passage.speech,
        url=request.build_absolute_uri(passage.get_absolute_url()),
        accessed=timezone.localdate(),
        passage=passage,
        version=_cited_version(versions),
        original=next((v for v in versions if v.is_original), None),
        keywords=list(passage.themes.names()),
    )
    return _citation_response(citation, fmt, f"{passage.speech.slug}-p{passage.position}")


@require_safe
def passage_cite(request: HttpRequest, key: str, fmt: str) -> HttpResponse:
    found = _find_passage(
        request, key, lambda new: reverse("speeches:passage_cite", kwargs={"key": new, "fmt": fmt})
    )
    if isinstance(found, HttpResponse):
        return found
    return _passage_cite_response(request, found, fmt)


@require_safe
def speaker_list(request: HttpRequest) -> HttpResponse:
    return render(
        request, "speeches/speaker_list.html", {"speakers": _public_speakers().order_by("name")}
    )


@require_safe
def speaker_detail(request: HttpRequest, slug: str) -> HttpResponse:
    speaker = get_object_or_404(Speaker, slug=slug)
    speeches = speaker.speeches.public().for_list().order_by("-delivered_on", "-pk")
    page = _paginate(request, speeches, LIST_PAGE_SIZE)
    if not page.object_list and page.number == 1:
        raise Http404("No published speeches.")
    return render(
        request,
        "speeches/speaker_detail.html",
        {"speaker": speaker, "page": page, "query": _query_without_page(request)},
    )


@require_safe
def collection_list(request: HttpRequest) -> HttpResponse:
    collections = Collection.objects.annotate(
        n_speeches=Count("speeches", filter=Q(speeches__status=Speech.Status.PUBLISHED))
    ).filter(n_speeches__gt=0)
    return render(request, "speeches/collection_list.html", {"collections": collections})


@require_safe
def collection_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """A series shown as a timeline: published speeches by date, grouped by year."""
    collection = get_object_or_404(Collection, slug=slug)
    items = list(
        CollectionItem.objects.filter(collection=collection, speech__status=Speech.Status.PUBLISHED)
        .select_related("speech__speaker")
        .order_by("speech__delivered_on", "position", "pk")
    )
    years: dict[int, list[Speech]] = {}
    for item in items:
        years.setdefault(item.speech.delivered_on.year, []).append(item.speech)
    return render(
        request,
        "speeches/collection_detail.html",
        {"collection": collection, "years": list(years.items()), "count": len(items)},
    )


@require_safe
def theme_list(request: HttpRequest) -> HttpResponse:
    return render(request, "speeches/theme_list.html", {"themes": _public_themes()})


@require_safe
def theme_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """Passages tagged with a theme, each in context (its speech, ¶, all versions)."""
    theme = get_object_or_404(Tag, slug=slug)
    passages = (
        Passage.objects.public()
        .filter(themes=theme)
        .select_related("speech__speaker")
        .prefetch_related("texts__version")
        .order_by("-speech__delivered_on", "speech_id", "position")
    )
    speeches = list(
        Speech.objects.public()
        .filter(themes=theme)
        .select_related("speaker")
        .order_by("-delivered_on", "-pk")[:50]
    )
    page = _paginate(request, passages, THEME_PAGE_SIZE)
    if not page.object_list and not speeches:
        raise Http404("No public passage has this theme.")
    return render(
        request,
        "speeches/theme_detail.html",
        {"theme": theme, "page": page, "speeches": speeches, "query": _query_without_page(request)},
    )


@require_safe
def glossary_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "speeches/glossary_list.html",
        {"terms": Term.objects.public().order_by("pinyin", "original")},
    )


@require_safe
def term_detail(request: HttpRequest, slug: str) -> HttpResponse:
    term = get_object_or_404(Term.objects.public(), slug=slug)
    page = _paginate(request, glossary.occurrences(term), TERM_PAGE_SIZE)
    rows = [
        {"text": text, "snippet": glossary.snippet(text.text, term, text.version.language)}
        for text in page.object_list
    ]
    return render(
        request,
        "speeches/term_detail.html",
        {
            "term": term,
            "page": page,
            "rows": rows,
            "summary": glossary.summarise(term),
            "query": _query_without_page(request),
        },
    )


# ------------------------------------------------------------------ search


@require_safe
def search(request: HttpRequest) -> HttpResponse:
    """Full-text search (speeches/search.py). Any query text answers a page; a
    parameter we cannot honour answers 400 with the reason; `format=csv`
    downloads the ranked list (up to search.CSV_CAP rows)."""
    try:
        params = read_params(request.GET)
    except InvalidSearch as error:
        return render(request, "speeches/search_invalid.html", {"message": str(error)}, status=400)
    if request.GET.get("format") == "csv":
        result = run_search(params, csv_mode=True)
        response = HttpResponse(
            to_csv(result, request.build_absolute_uri("/").rstrip("/")),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = 'attachment; filename="search-results.csv"'
        return response
    result = run_search(params)
    return render(
        request,
        "speeches/search.html",
        {"result": result, "params": params, "meta_tags": [("robots", "noindex")]},
    )
