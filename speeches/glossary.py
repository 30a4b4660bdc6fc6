"""Glossary occurrences: where a confirmed term appears, in either language.

Occurrences are found, not typed in (DESIGN.md). A Chinese text counts when it
contains the term in any script (网络强国 / 網絡強國 / 網路強國, via OpenCC); any
other text counts when it contains the preferred translation or a variant as a
whole phrase (case-insensitive, plural -s/-es allowed). Both are PostgreSQL
regular expressions over public PassageText only, so a draft never shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db.models import Count, Min, Q, QuerySet
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from speeches.models import PassageText, Term
from speeches.reading import chinese_forms, is_chinese, translation_forms

SNIPPET_CONTEXT = 90


def _pg_alternation(forms: list[str]) -> str:
    # PostgreSQL AREs treat a backslash before a non-alphanumeric character as a
    # literal, like Python's re.escape output.
    return "(" + "|".join(re.escape(form) for form in forms) + ")"


def occurrence_filter(term: Term) -> Q:
    zh = Q(
        version__language__istartswith="zh",
        text__regex=_pg_alternation(chinese_forms(term.original)),
    )
    forms = translation_forms(term)
    if not forms:
        return zh
    # \m and \M are PostgreSQL's start- and end-of-word anchors.
    other = ~Q(version__language__istartswith="zh") & Q(
        text__iregex=r"\m" + _pg_alternation(forms) + r"(s|es)?\M"
    )
    return zh | other


def occurrences(term: Term) -> QuerySet[PassageText]:
    """Public passage texts containing the term, oldest speech first."""
    return (
        PassageText.objects.public()
        .filter(occurrence_filter(term))
        .select_related("version", "passage__speech__speaker")
        .order_by("passage__speech__delivered_on", "passage__speech_id", "passage__position", "pk")
    )


@dataclass(frozen=True)
class OccurrenceSummary:
    passages: int
    speeches: int
    first_date: object  # datetime.date | None


def summarise(term: Term) -> OccurrenceSummary:
    row = (
        PassageText.objects.public()
        .filter(occurrence_filter(term))
        .aggregate(
            passages=Count("passage_id", distinct=True),
            speeches=Count("passage__speech_id", distinct=True),
            first=Min("passage__speech__delivered_on"),
        )
    )
    return OccurrenceSummary(row["passages"], row["speeches"], row["first"])


def snippet(text: str, term: Term, language: str) -> SafeString:
    """Keyword in context: the first match with some text either side, marked."""
    if is_chinese(language):
        pattern = re.compile("|".join(map(re.escape, chinese_forms(term.original))))
    else:
        pattern = re.compile(
            r"(?<![\w-])(?:"
            + "|".join(map(re.escape, translation_forms(term)))
            + r")(?:s|es)?(?![\w-])",
            re.IGNORECASE,
        )
    match = pattern.search(text)
    if match is None:
        return mark_safe(escape(text[: SNIPPET_CONTEXT * 2]))
    start = max(0, match.start() - SNIPPET_CONTEXT)
    end = min(len(text), match.end() + SNIPPET_CONTEXT)
    before = ("…" if start > 0 else "") + text[start : match.start()]
    after = text[match.end() : end] + ("…" if end < len(text) else "")
    return mark_safe(  # every piece is escaped
        f"{escape(before)}<mark>{escape(match.group(0))}</mark>{escape(after)}"
    )
