"""Write one CoverageDoc (an article about a speech) to the database.

Idempotent: an existing row with the same URL, or (without a URL) the same
outlet and title, is updated rather than duplicated. The article is tied to
the speech it discusses when the archive has one delivered on `about_date` by
a speaker whose name (or name in the original script) matches `about_speaker`;
otherwise it is stored unlinked, ready for an editor to attach. The article's
glossary candidates are recorded as Term candidates.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from speeches.importers.digichina import EXCERPT_LIMIT, make_excerpt
from speeches.importers.document import CoverageDoc, ImportFormatError
from speeches.importers.writer import record_term_candidates
from speeches.models import Coverage, Speech

FIELDS = ("outlet", "title", "url", "published_on", "kind", "excerpt")


def find_speech(doc: CoverageDoc) -> Speech | None:
    """The archived speech the article is about, when exactly one matches."""
    if doc.about_date is None:
        return None
    speeches = Speech.objects.filter(delivered_on=doc.about_date)
    if doc.about_speaker:
        speeches = speeches.filter(
            Q(speaker__name__iexact=doc.about_speaker) | Q(speaker__name_original=doc.about_speaker)
        )
    matches = list(speeches.order_by("pk")[:2])
    return matches[0] if len(matches) == 1 else None


def import_coverage(doc: CoverageDoc, *, dry_run: bool = False, user: Any = None) -> Coverage:
    """Create or update the Coverage row for `doc`, in one transaction.

    On a dry run everything is written and rolled back; the returned object
    shows what would have been stored. `user` is recorded in its history.
    """
    if not doc.outlet.strip() or not doc.title.strip():
        raise ImportFormatError("coverage needs an outlet and a title")
    if doc.kind not in Coverage.Kind.values:
        raise ImportFormatError(f"unknown coverage kind {doc.kind!r}")
    excerpt = doc.excerpt if len(doc.excerpt) <= EXCERPT_LIMIT else make_excerpt([doc.excerpt])
    with transaction.atomic():
        if doc.url:
            existing = Coverage.objects.select_for_update().filter(url=doc.url)
        else:
            existing = Coverage.objects.select_for_update().filter(
                url="", outlet=doc.outlet, title=doc.title
            )
        coverage = existing.order_by("pk").first() or Coverage()
        values = {
            "outlet": doc.outlet,
            "title": doc.title,
            "url": doc.url,
            "published_on": doc.published_on,
            "kind": doc.kind,
            "excerpt": excerpt,
        }
        speech = find_speech(doc)
        changed = coverage.pk is None or any(
            getattr(coverage, name) != value for name, value in values.items()
        )
        if speech is not None and coverage.speech_id != speech.pk:
            coverage.speech = speech
            changed = True
        if changed:
            for name, value in values.items():
                setattr(coverage, name, value)
            try:
                coverage.full_clean(exclude=["speech"])
            except ValidationError as exc:
                problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
                raise ImportFormatError(f"invalid coverage ({problems})") from exc
            coverage._history_user = user
            coverage.save()
        record_term_candidates(doc.term_candidates, speech=coverage.speech)
        if dry_run:
            transaction.set_rollback(True)
    return coverage
