"""W3C-style anchoring of annotations in passage texts.

An annotation on a span stores a TextQuoteSelector (`exact`, `prefix`,
`suffix`) plus a TextPositionSelector hint (`start`). After a text edit the
quote is looked up again: an exact match wins, disambiguated by how much of the
prefix and suffix still surround it and then by closeness to the old offset; if
the quote only differs in whitespace (re-wrapped lines, doubled spaces) it is
still found. When nothing matches, the annotation is flagged orphaned for
editors — it is never deleted, and it is un-flagged when a later edit (or a
revert) brings the quote back.
"""

from __future__ import annotations

import re

from speeches.models import Annotation, Passage, PassageText

CONTEXT_LENGTH = 32  # characters of prefix/suffix stored when an anchor is refreshed

_WHITESPACE = re.compile(r"\s+")


def _common_suffix_length(a: str, b: str) -> int:
    n = 0
    for x, y in zip(reversed(a), reversed(b), strict=False):
        if x != y:
            break
        n += 1
    return n


def _common_prefix_length(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _squeeze(text: str) -> tuple[str, list[int]]:
    """Collapse whitespace runs to one space; return the text and, for each of
    its characters, the offset of that character in the original."""
    out: list[str] = []
    offsets: list[int] = []
    pos = 0
    for match in _WHITESPACE.finditer(text):
        for i in range(pos, match.start()):
            out.append(text[i])
            offsets.append(i)
        out.append(" ")
        offsets.append(match.start())
        pos = match.end()
    for i in range(pos, len(text)):
        out.append(text[i])
        offsets.append(i)
    return "".join(out), offsets


def _occurrences(haystack: str, needle: str) -> list[int]:
    found = []
    start = haystack.find(needle)
    while start != -1:
        found.append(start)
        start = haystack.find(needle, start + 1)
    return found


def _best(
    text: str, candidates: list[tuple[int, int]], prefix: str, suffix: str, hint: int | None
) -> tuple[int, int]:
    def score(span: tuple[int, int]) -> tuple[int, int, int]:
        start, end = span
        context = _common_suffix_length(text[:start], prefix) + _common_prefix_length(
            text[end:], suffix
        )
        distance = abs(start - hint) if hint is not None else 0
        return (-context, distance, start)

    return min(candidates, key=score)


def locate_quote(
    text: str,
    *,
    exact: str,
    prefix: str = "",
    suffix: str = "",
    start_hint: int | None = None,
) -> tuple[int, int] | None:
    """Find the quote in `text`; return (start, end) offsets into `text`, or None.

    Among several occurrences the one whose surroundings best match `prefix`
    and `suffix` wins, then the one nearest `start_hint`, then the first.
    Whitespace differences (between or around words) are tolerated.
    """
    if not exact or not exact.strip():
        return None
    spans = [(s, s + len(exact)) for s in _occurrences(text, exact)]
    if spans:
        return _best(text, spans, prefix, suffix, start_hint)

    squeezed, offsets = _squeeze(text)
    needle = _WHITESPACE.sub(" ", exact).strip()
    if not needle:
        return None
    spans = []
    for s in _occurrences(squeezed, needle):
        e = s + len(needle)
        spans.append((offsets[s], offsets[e - 1] + 1))
    if not spans:
        return None
    squeezed_prefix = _WHITESPACE.sub(" ", prefix)
    squeezed_suffix = _WHITESPACE.sub(" ", suffix)
    # Score on the squeezed text so that re-wrapped context still counts.
    squeezed_spans = [(s, s + len(needle)) for s in _occurrences(squeezed, needle)]
    chosen = _best(
        squeezed,
        squeezed_spans,
        squeezed_prefix,
        squeezed_suffix,
        None if start_hint is None else _squeezed_offset(offsets, start_hint),
    )
    return spans[squeezed_spans.index(chosen)]


def _squeezed_offset(offsets: list[int], original: int) -> int:
    for i, offset in enumerate(offsets):
        if offset >= original:
            return i
    return len(offsets)


def reanchor_annotations(*, passage: Passage) -> int:
    """Re-locate every quoted annotation of `passage` in its version's text.

    Found: `start`, `exact` (as it now reads), `prefix` and `suffix` are
    refreshed and the orphan flag cleared. Not found (quote gone, or the
    version has no text here any more): flagged orphaned, everything else kept.
    Annotations on the whole passage (no quote) are left alone. Returns the
    number of annotations changed; each change is saved with history.
    """
    # A fresh query, not passage.texts.all(): the admin's passage may carry a
    # prefetched (now stale) copy of the texts.
    texts = dict(PassageText.objects.filter(passage=passage).values_list("version_id", "text"))
    changed = 0
    for annotation in Annotation.objects.filter(passage=passage).exclude(exact=""):
        text = texts.get(annotation.version_id)
        span = None
        if text is not None:
            span = locate_quote(
                text,
                exact=annotation.exact,
                prefix=annotation.prefix,
                suffix=annotation.suffix,
                start_hint=annotation.start,
            )
        if span is None:
            if annotation.is_orphaned:
                continue
            annotation.is_orphaned = True
            annotation._change_reason = "Quote no longer found in the text"
        else:
            start, end = span
            prefix_length = max(len(annotation.prefix), CONTEXT_LENGTH) if annotation.prefix else 0
            suffix_length = max(len(annotation.suffix), CONTEXT_LENGTH) if annotation.suffix else 0
            new = {
                "start": start,
                "exact": text[start:end],
                "prefix": text[max(0, start - prefix_length) : start][-64:],
                "suffix": text[end : end + suffix_length][:64],
                "is_orphaned": False,
            }
            if all(getattr(annotation, name) == value for name, value in new.items()):
                continue
            for name, value in new.items():
                setattr(annotation, name, value)
            annotation._change_reason = "Re-anchored after a text change"
        annotation.save()
        changed += 1
    return changed
