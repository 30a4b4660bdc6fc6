"""sitemap.xml: every public page a search engine (or Google Scholar) should know.

Passages are listed too: `/p/<key>/` pages carry `citation_*` meta tags and are
the unit researchers cite. Drafts and withdrawn speeches never appear.
"""

from __future__ import annotations

from django.contrib.sitemaps import Sitemap
from django.db.models import Exists, OuterRef, QuerySet
from django.urls import reverse
from taggit.models import Tag

from speeches.models import Collection, Passage, Speaker, Speech, Term


class StaticSitemap(Sitemap):
    changefreq = "daily"

    def items(self) -> list[str]:
        return [
            "speeches:home",
            "speeches:speech_list",
            "speeches:speaker_list",
            "speeches:theme_list",
            "speeches:glossary",
            "speeches:collection_list",
        ]

    def location(self, item: str) -> str:
        return reverse(item)


class SpeechSitemap(Sitemap):
    changefreq = "monthly"
    priority = 0.8

    def items(self) -> QuerySet[Speech]:
        return Speech.objects.public().only("slug", "updated_at").order_by("pk")

    def lastmod(self, item: Speech):
        return item.updated_at


class PassageSitemap(Sitemap):
    changefreq = "monthly"
    priority = 0.4
    limit = 10000

    def items(self) -> QuerySet[Passage]:
        return Passage.objects.public().only("key", "updated_at").order_by("pk")

    def lastmod(self, item: Passage):
        return item.updated_at


class SpeakerSitemap(Sitemap):
    def items(self) -> QuerySet[Speaker]:
        return Speaker.objects.filter(
            Exists(Speech.objects.public().filter(speaker=OuterRef("pk")))
        ).order_by("pk")


class CollectionSitemap(Sitemap):
    def items(self) -> QuerySet[Collection]:
        return Collection.objects.filter(
            Exists(Speech.objects.public().filter(collections=OuterRef("pk")))
        ).order_by("pk")


class ThemeSitemap(Sitemap):
    def items(self) -> QuerySet[Tag]:
        return Tag.objects.filter(
            Exists(Passage.objects.public().filter(themes=OuterRef("pk")))
            | Exists(Speech.objects.public().filter(themes=OuterRef("pk")))
        ).order_by("pk")

    def location(self, item: Tag) -> str:
        return reverse("speeches:theme", kwargs={"slug": item.slug})


class TermSitemap(Sitemap):
    def items(self) -> QuerySet[Term]:
        return Term.objects.public().order_by("pk")

    def location(self, item: Term) -> str:
        return reverse("speeches:term", kwargs={"slug": item.slug})


SITEMAPS = {
    "pages": StaticSitemap,
    "speeches": SpeechSitemap,
    "passages": PassageSitemap,
    "speakers": SpeakerSitemap,
    "collections": CollectionSitemap,
    "themes": ThemeSitemap,
    "glossary": TermSitemap,
}
