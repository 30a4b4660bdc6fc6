"""Public pages. Every read goes through a `.public()` queryset: drafts never show."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render

from speeches.models import Collection, Passage, PassageRedirect, SlugHistory, Speaker, Speech


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness plus one database round trip (the benchmarks' baseline)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return JsonResponse({"status": "ok"})


def home(request: HttpRequest) -> HttpResponse:
    recent = Speech.objects.public().for_list()[:12]
    speakers = Speaker.objects.filter(speeches__status=Speech.Status.PUBLISHED).distinct()[:30]
    return render(request, "speeches/home.html", {"recent": recent, "speakers": speakers})


def speech_list(request: HttpRequest) -> HttpResponse:
    speeches = Speech.objects.public().for_list()[:100]
    return render(request, "speeches/speech_list.html", {"speeches": speeches})


def speech_detail(request: HttpRequest, slug: str) -> HttpResponse:
    speech = Speech.objects.select_related("speaker").filter(slug=slug).first()
    if speech is None:
        old = SlugHistory.objects.select_related("speech").filter(old_slug=slug).first()
        if old is not None and old.speech.is_public:
            return redirect(old.speech, permanent=True)
    if speech is None or speech.status == Speech.Status.DRAFT:
        return render(request, "404.html", status=404)
    if speech.status == Speech.Status.WITHDRAWN:
        return render(request, "speeches/withdrawn.html", {"speech": speech}, status=410)
    versions = list(speech.versions.all())
    passages = speech.passages.prefetch_related("texts").order_by("position")
    return render(
        request,
        "speeches/speech_detail.html",
        {"speech": speech, "versions": versions, "passages": passages},
    )


def passage_detail(request: HttpRequest, key: str) -> HttpResponse:
    passage = Passage.objects.public().select_related("speech__speaker").filter(key=key).first()
    if passage is None:
        moved = PassageRedirect.objects.select_related("speech").filter(old_key=key).first()
        if moved is not None and moved.speech.is_public:
            if moved.passage_id is not None:
                return redirect("speeches:passage", key=moved.passage.key, permanent=True)
            return render(request, "speeches/passage_gone.html", {"gone": moved}, status=410)
        return render(request, "404.html", status=404)
    texts = passage.texts.select_related("version")
    return render(request, "speeches/passage_detail.html", {"passage": passage, "texts": texts})


def speaker_detail(request: HttpRequest, slug: str) -> HttpResponse:
    speaker = get_object_or_404(Speaker, slug=slug)
    speeches = speaker.speeches.public().for_list()
    return render(
        request, "speeches/speaker_detail.html", {"speaker": speaker, "speeches": speeches}
    )


def collection_detail(request: HttpRequest, slug: str) -> HttpResponse:
    collection = get_object_or_404(Collection, slug=slug)
    speeches = collection.speeches.public().for_list().order_by("delivered_on", "pk")
    return render(
        request, "speeches/collection_detail.html", {"collection": collection, "speeches": speeches}
    )
