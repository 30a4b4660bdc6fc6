"""Atom feeds of newly published speeches: all, per speaker, per theme.

Only published speeches appear (`.public()`), newest publication first; a
speech without a publication time (imported as published) is dated by the day
it was delivered.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.syndication.views import Feed
from django.db.models import Exists, F, OuterRef, QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from taggit.models import Tag

from speeches.citation import human_date
from speeches.models import Passage, Speaker, Speech

FEED_SIZE = 50


def _newest(queryset: QuerySet[Speech]) -> QuerySet[Speech]:
    return queryset.select_related("speaker").order_by(
        F("published_at").desc(nulls_last=True), "-delivered_on", "-pk"
    )[:FEED_SIZE]


class SpeechFeed(Feed):
    feed_type = Atom1Feed
    title = "Speech Archive: new speeches"
    subtitle = "Speeches and their translations, newly published in the archive."

    def link(self) -> str:
        return reverse("speeches:speech_list")

    def feed_url(self) -> str:
        return reverse("speeches:feed")

    def items(self) -> QuerySet[Speech]:
        return _newest(Speech.objects.public())

    def item_title(self, item: Speech) -> str:
        return item.title

    def item_description(self, item: Speech) -> str:
        when = human_date(item.delivered_on, item.date_precision)
        lead = f"{item.speaker.name}, {when}" + (f", {item.occasion}" if item.occasion else "")
        return f"{lead}. {item.summary}".strip()

    def item_author_name(self, item: Speech) -> str:
        return item.speaker.name

    def item_pubdate(self, item: Speech) -> dt.datetime:
        if item.published_at is not None:
            return item.published_at
        return dt.datetime.combine(item.delivered_on, dt.time(), tzinfo=dt.UTC)

    def item_updateddate(self, item: Speech) -> dt.datetime:
        return item.updated_at


class SpeakerFeed(SpeechFeed):
    def get_object(self, request: HttpRequest, slug: str) -> Speaker:
        # A speaker known only from drafts does not exist publicly.
        public = Speech.objects.public().filter(speaker=OuterRef("pk"))
        return get_object_or_404(Speaker.objects.filter(Exists(public)), slug=slug)

    def title(self, obj: Speaker) -> str:
        return f"Speech Archive: new speeches by {obj.name}"

    def link(self, obj: Speaker) -> str:
        return obj.get_absolute_url()

    def feed_url(self, obj: Speaker) -> str:
        return reverse("speeches:speaker_feed", kwargs={"slug": obj.slug})

    def items(self, obj: Speaker) -> QuerySet[Speech]:
        return _newest(Speech.objects.public().filter(speaker=obj))


class ThemeFeed(SpeechFeed):
    """Speeches tagged with the theme, or with at least one passage tagged with it."""

    def get_object(self, request: HttpRequest, slug: str) -> Tag:
        # A theme used only in drafts does not exist publicly.
        used = Exists(Speech.objects.public().filter(themes=OuterRef("pk"))) | Exists(
            Passage.objects.public().filter(themes=OuterRef("pk"))
        )
        return get_object_or_404(Tag.objects.filter(used), slug=slug)

    def title(self, obj: Tag) -> str:
        return f"Speech Archive: new speeches on {obj.name}"

    def link(self, obj: Tag) -> str:
        return reverse("speeches:theme", kwargs={"slug": obj.slug})

    def feed_url(self, obj: Tag) -> str:
        return reverse("speeches:theme_feed", kwargs={"slug": obj.slug})

    def items(self, obj: Tag) -> QuerySet[Speech]:
        tagged = Speech.objects.filter(themes=obj).values("pk")
        with_passages = Speech.objects.filter(passages__themes=obj).values("pk")
        return _newest(Speech.objects.public().filter(pk__in=tagged.union(with_passages)))
