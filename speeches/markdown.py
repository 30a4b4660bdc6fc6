"""Render editors' Markdown (introductions, footnotes, annotations, term notes) safely.

markdown-it-py's "js-default" preset is CommonMark with raw HTML disabled and
link validation on; mdit-py-plugins adds definition lists (tables are a core rule
we enable). The output then goes through nh3 (ammonia) with a small allowlist,
so even a bug in the parser cannot put a script, an event handler or a
`javascript:` URL on a public page. Links get `rel="noopener noreferrer nofollow"`.
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from mdit_py_plugins.deflist import deflist_plugin

ALLOWED_TAGS = {
    "p",
    "br",
    "em",
    "strong",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "dl",
    "dt",
    "dd",
    "sup",
    "sub",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("js-default").use(deflist_plugin).enable("table")


def _demote_headings(html: str) -> str:
    # Headings in editor text must not compete with the page's own h1/h2.
    for level in (2, 1):
        html = html.replace(f"<h{level}>", "<h3>").replace(f"</h{level}>", "</h3>")
    return html


@lru_cache(maxsize=8192)
def render_markdown(text: str) -> SafeString:
    """Markdown → sanitised HTML, safe to insert into a template.

    A pure function of the text, so it is memoised: the reading page renders
    hundreds of footnotes and annotations, and most are unchanged between requests."""
    if not text or not text.strip():
        return mark_safe("")
    html = _demote_headings(_parser().render(text))
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(clean)  # sanitised by nh3 just above


@lru_cache(maxsize=2048)
def render_markdown_inline(text: str) -> SafeString:
    """Inline Markdown (no paragraphs), for one-line notes such as corrections."""
    if not text or not text.strip():
        return mark_safe("")
    html = _parser().renderInline(text)
    clean = nh3.clean(
        html,
        tags={"em", "strong", "code", "a", "sup", "sub", "br"},
        attributes={"a": {"href", "title"}},
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(clean)  # sanitised by nh3 just above
