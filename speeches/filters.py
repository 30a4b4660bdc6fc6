"""The speech list's filters and sort (django-filter), over public speeches only."""

from __future__ import annotations

import django_filters
from django.db.models import F, QuerySet

from speeches.models import Speech

SORTS = {
    "date": ("-delivered_on", "-pk"),
    "oldest": ("delivered_on", "pk"),
    "title": ("title", "pk"),
    "added": (F("published_at").desc(nulls_last=True), "-pk"),
}


class SpeechFilter(django_filters.FilterSet):
    """Every filter takes the slug or code that appears in URLs, so filtered list
    URLs are readable and stable (`/speeches/?speaker=xi-jinping&year=2016`).
    Unknown values simply match nothing; a malformed year is ignored."""

    speaker = django_filters.CharFilter(field_name="speaker__slug")
    theme = django_filters.CharFilter(method="filter_theme")
    # Bounded: PostgreSQL dates stop at year 9999; an out-of-range year is
    # invalid (so ignored), never a database error.
    year = django_filters.NumberFilter(
        field_name="delivered_on__year", min_value=1, max_value=9999, decimal_places=0
    )
    lang = django_filters.CharFilter(method="filter_lang")
    kind = django_filters.ChoiceFilter(choices=Speech.Kind.choices)
    collection = django_filters.CharFilter(method="filter_collection")
    sort = django_filters.ChoiceFilter(
        choices=[(key, key) for key in SORTS], method="filter_sort", empty_label=None
    )

    class Meta:
        model = Speech
        fields: list[str] = []

    def filter_theme(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(pk__in=Speech.objects.filter(themes__slug=value).values("pk"))

    def filter_lang(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # zh matches zh-Hans and zh-Hant; zh-Hant only itself.
        return queryset.filter(
            pk__in=Speech.objects.filter(
                versions__language__iregex=r"^" + _escape(value) + r"(-|$)", versions__has_text=True
            ).values("pk")
        )

    def filter_collection(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(pk__in=Speech.objects.filter(collections__slug=value).values("pk"))

    def filter_sort(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.order_by(*SORTS.get(value, SORTS["date"]))


def _escape(value: str) -> str:
    return "".join(ch if ch.isalnum() else "\\" + ch for ch in value)
