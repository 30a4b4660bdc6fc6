"""Template helpers for the public pages. They format values the view already
loaded; none of them queries the database."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from urllib.parse import urlencode

from django import template
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator

from speeches import reading
from speeches.citation import human_date
from speeches.markdown import render_markdown, render_markdown_inline
from speeches.models import Speech

register = template.Library()


@register.filter
def markdown(text: str) -> SafeString:
    return render_markdown(text)


@register.filter
def markdown_inline(text: str) -> SafeString:
    return render_markdown_inline(text)


@register.filter
def speech_date(speech: Speech) -> str:
    """The speech's date at its known precision: 19 April 2016 / April 2016 / 2016."""
    return human_date(speech.delivered_on, speech.date_precision)


@register.filter
def speech_iso_date(speech: Speech) -> str:
    """A valid <time datetime> value at the date's precision (2016, 2016-04, 2016-04-19)."""
    date = speech.delivered_on
    if speech.date_precision == Speech.DatePrecision.YEAR:
        return f"{date.year:04d}"
    if speech.date_precision == Speech.DatePrecision.MONTH:
        return f"{date.year:04d}-{date.month:02d}"
    return date.isoformat()


@register.filter
def language_name(code: str) -> str:
    return reading.language_name(code)


@register.simple_tag
def search_url() -> str:
    """The search page, wherever the search app mounts it (DESIGN.md says /search/)."""
    for name in ("speeches:search", "search:search", "search"):
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return "/search/"


@register.simple_tag(takes_context=True)
def query_with(context: template.Context, **changes: object) -> str:
    """The current query string with some parameters replaced (None/"" drops one)."""
    request: HttpRequest = context["request"]
    params = {key: request.GET.getlist(key) for key in request.GET}
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = [str(value)]
    query = urlencode([(key, v) for key, values in params.items() for v in values])
    return f"?{query}" if query else "?"


@register.simple_tag
def options(choices: Iterable[tuple[object, object]], selected: object) -> SafeString:
    """`<option>`s for (value, label) pairs, the one equal to `selected` selected.

    Built in Python: a filter form lists hundreds of speakers, and a template
    loop resolving three variables per option cost about as much as the rest
    of the page."""
    current = str(selected)
    out = []
    for value, label in choices:
        value = str(value)
        mark = " selected" if value == current else ""
        out.append(f'<option value="{escape(value)}"{mark}>{escape(str(label))}</option>')
    return mark_safe("".join(out))  # every value escaped above


@register.filter
def speech_item(speech: Speech) -> SafeString:
    """One speech in a list (home, speech list, speaker page): title, speaker,
    date, kind, the languages it can be read in, summary.

    `speech` comes with its speaker and versions loaded (`for_list()`). Built
    in Python for the same reason as `options`: 50 template includes with a
    nested loop each were a third of the list page's time."""
    readable = [v.language for v in speech.versions.all() if v.has_text]
    languages = "".join(f" · {escape(reading.language_name(code))}" for code in readable)
    summary = (
        f'\n  <span class="speech-item-summary">'
        f"{escape(Truncator(speech.summary).words(40))}</span>"
        if speech.summary
        else ""
    )
    return mark_safe(  # every value escaped above
        f'<li class="speech-item">\n'
        f'  <a class="speech-item-title" href="{escape(speech.get_absolute_url())}">'
        f"{escape(speech.title)}</a>\n"
        f'  <span class="speech-item-meta">{escape(speech.speaker.name)} · '
        f'<time datetime="{speech_iso_date(speech)}">{escape(speech_date(speech))}</time> · '
        f"{escape(str(speech.get_kind_display()))}{languages}</span>{summary}\n</li>"
    )
