"""Align the paragraphs of several versions of one speech into passages.

Rules (DESIGN.md, "Import and export"), applied in this order:

1. Explicit labels win. A label (`{#key}`) present in two versions ties those
   paragraphs together; the labels common to two versions must come in the
   same order, otherwise alignment is impossible and ImportFormatError names the
   first paragraph out of order. Common labels cut the text into segments that
   are aligned independently by the rules below.
2. Same number of paragraphs in a segment: align by order.
3. Otherwise group the paragraphs into speaker turns (consecutive paragraphs
   with the same `turn_speaker`). Turns are matched by order, never by name,
   because names differ across languages ("Audrey Tang" / "唐鳳"). Inside a
   turn, equal counts align by order; differing counts use the length-based
   dynamic programme of Gale & Church (1993).
4. If the numbers of turns differ too, the dynamic programme runs over all the
   paragraphs of the segment.

The dynamic programme allows 1-1, 1-2, 2-1 beads and, at a high cost, 1-0 and
0-1 beads (a paragraph present in one version only). Besides lengths, it uses
lexical cues as Moore (2002) does, much simplified: numbers and Latin-script
words that both versions contain and that are rare (names, years, figures —
Chinese translations keep "2014", "ROOST", "J.D. Vance") should land in the
same passage. The expected length
ratio between two versions is estimated from the whole document (for en/zh it
is about 3 English characters per Chinese character), so no table of language
pairs is needed.

The first version in the input is the pivot: every other version is aligned
against it, and a passage boundary exists only where every version agrees that
one does (so a 2-1 bead in one version widens the passage for all versions).
Paragraphs joined into one passage are joined with a blank line ("\\n\\n").
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from speeches.importers.document import ImportFormatError, Paragraph, PassageDoc

# Bead costs are -log(prior probability) as in Gale & Church, except that
# deletions and insertions are made rarer than their 1% because a paragraph
# missing from a translation is much less common than one split in two.
_PRIOR_COST = {
    (1, 1): -math.log(0.89),
    (1, 2): -math.log(0.089 / 2),
    (2, 1): -math.log(0.089 / 2),
    (1, 0): -math.log(0.001),
    (0, 1): -math.log(0.001),
}
# Variance of the length difference per character. Gale & Church measured 6.8
# for European language pairs; translations between English and Chinese vary
# much more, and paragraphs are long, so a wider distribution keeps the prior
# from being swamped by length alone.
_VARIANCE = 40.0
_JOIN = "\n\n"
# Lexical cues: weight per token and the most tokens counted per bead.
_CUE_WEIGHT = 1.0
_CUE_CAP = 4
_CUE_TOKEN = re.compile(r"[A-Za-z][A-Za-z'’-]{2,}|\d+(?:[.,]\d+)*")


@dataclass(frozen=True)
class _Bead:
    """Paragraph index ranges [a0, a1) of the pivot and [b0, b1) of the other version."""

    a0: int
    a1: int
    b0: int
    b1: int


def _length_cost(la: float, lb: float, ratio: float) -> float:
    """-log P(match) for lengths la (pivot) and lb (other), Gale–Church style."""
    if la == 0 and lb == 0:
        return 0.0
    lb_in_a = lb / ratio
    mean = (la + lb_in_a) / 2
    z = abs(la - lb_in_a) / math.sqrt(_VARIANCE * mean)
    p = math.erfc(z / math.sqrt(2))  # two-tailed normal probability
    return -math.log(p) if p > 1e-300 else 700.0


@dataclass
class _Pair:
    """Two versions being aligned: paragraphs, lengths, cue tokens, length ratio."""

    pa: Sequence[Paragraph]
    pb: Sequence[Paragraph]
    la: list[int]
    lb: list[int]
    ta: list[frozenset[str]]
    tb: list[frozenset[str]]
    ratio: float


def _cue_cost(pair: _Pair, a0: int, a1: int, b0: int, b1: int) -> float:
    """Lexical cues (Moore-style, simplified): rare tokens that both versions
    share — numbers, names in Latin script inside Chinese text — should fall in
    the same bead. Each one found on both sides lowers the cost; each found on
    one side only raises it (both capped, so length still matters)."""
    a = frozenset().union(*pair.ta[a0:a1])
    b = frozenset().union(*pair.tb[b0:b1])
    if not a and not b:
        return 0.0
    shared = len(a & b)
    return _CUE_WEIGHT * (min(len(a ^ b), _CUE_CAP) - min(shared, _CUE_CAP))


def _dp(pair: _Pair, a_off: int, a_end: int, b_off: int, b_end: int) -> list[_Bead]:
    """Minimum-cost bead sequence between pivot [a_off, a_end) and other [b_off, b_end)."""
    a, b = pair.la[a_off:a_end], pair.lb[b_off:b_end]
    n, m = len(a), len(b)
    inf = float("inf")
    cost = [[inf] * (m + 1) for _ in range(n + 1)]
    back: list[list[tuple[int, int] | None]] = [[None] * (m + 1) for _ in range(n + 1)]
    cost[0][0] = 0.0
    for i in range(n + 1):
        row = cost[i]
        for j in range(m + 1):
            if i == 0 and j == 0:
                continue
            best = inf
            step = None
            for (di, dj), prior in _PRIOR_COST.items():
                if di > i or dj > j:
                    continue
                prev = cost[i - di][j - dj]
                if prev == inf:
                    continue
                c = prev + prior
                if di and dj:
                    la = sum(a[i - di : i])
                    lb = sum(b[j - dj : j])
                    c += _length_cost(la, lb, pair.ratio)
                    c += _cue_cost(pair, a_off + i - di, a_off + i, b_off + j - dj, b_off + j)
                if c < best:
                    best, step = c, (di, dj)
            row[j] = best
            back[i][j] = step
    beads: list[_Bead] = []
    i, j = n, m
    while i or j:
        di, dj = back[i][j]  # type: ignore[misc]
        beads.append(_Bead(a_off + i - di, a_off + i, b_off + j - dj, b_off + j))
        i, j = i - di, j - dj
    beads.reverse()
    return beads


def _by_order(a0: int, b0: int, count: int) -> list[_Bead]:
    return [_Bead(a0 + k, a0 + k + 1, b0 + k, b0 + k + 1) for k in range(count)]


def _turns(paragraphs: Sequence[Paragraph], start: int, end: int) -> list[tuple[int, int]]:
    """[start, end) cut into runs of consecutive paragraphs with the same speaker."""
    runs: list[tuple[int, int]] = []
    run_start = start
    for k in range(start + 1, end + 1):
        if k == end or paragraphs[k].turn_speaker != paragraphs[run_start].turn_speaker:
            runs.append((run_start, k))
            run_start = k
    return runs


def _align_segment(pair: _Pair, a_range: tuple[int, int], b_range: tuple[int, int]) -> list[_Bead]:
    (a0, a1), (b0, b1) = a_range, b_range
    pa, pb = pair.pa, pair.pb
    if all(p.label for p in pa[a0:a1]) and all(p.label for p in pb[b0:b1]):
        # Labels that are not shared mark passages present in one version only.
        return [_Bead(a, a + 1, b0, b0) for a in range(a0, a1)] + [
            _Bead(a1, a1, b, b + 1) for b in range(b0, b1)
        ]
    if a1 - a0 == b1 - b0:
        return _by_order(a0, b0, a1 - a0)
    if a0 == a1 or b0 == b1:
        return _dp(pair, a0, a1, b0, b1)
    turns_a, turns_b = _turns(pa, a0, a1), _turns(pb, b0, b1)
    if len(turns_a) != len(turns_b) or len(turns_a) == 1:
        return _dp(pair, a0, a1, b0, b1)
    beads: list[_Bead] = []
    for (ta0, ta1), (tb0, tb1) in zip(turns_a, turns_b, strict=True):
        if ta1 - ta0 == tb1 - tb0:
            beads.extend(_by_order(ta0, tb0, ta1 - ta0))
        else:
            beads.extend(_dp(pair, ta0, ta1, tb0, tb1))
    return beads


def _label_positions(code: str, paragraphs: Sequence[Paragraph]) -> dict[str, int]:
    positions: dict[str, int] = {}
    for index, paragraph in enumerate(paragraphs):
        if paragraph.label is None:
            continue
        if paragraph.label in positions:
            first = paragraphs[positions[paragraph.label]]
            raise ImportFormatError(
                f'version "{code}": label {{#{paragraph.label}}} is used twice '
                f"(first at line {first.line})",
                line=paragraph.line,
            )
        positions[paragraph.label] = index
    return positions


def _anchors(
    code_a: str,
    pa: Sequence[Paragraph],
    code_b: str,
    pb: Sequence[Paragraph],
) -> list[tuple[int, int]]:
    """Index pairs of paragraphs sharing a label; raises if their order differs."""
    pos_a = _label_positions(code_a, pa)
    pos_b = _label_positions(code_b, pb)
    common = sorted((pos_a[label], pos_b[label]) for label in pos_a.keys() & pos_b.keys())
    last_b = -1
    for _ia, ib in common:
        if ib < last_b:
            paragraph = pb[ib]
            raise ImportFormatError(
                f'version "{code_b}": label {{#{paragraph.label}}} is out of order: in version '
                f'"{code_a}" it comes after labels that "{code_b}" places after it, so the '
                "versions cannot be aligned",
                line=paragraph.line,
            )
        last_b = ib
    return common


def _text_length(paragraph: Paragraph) -> int:
    # Whitespace says little about content length across scripts.
    return sum(1 for ch in paragraph.text if not ch.isspace())


def _cue_tokens(
    pa: Sequence[Paragraph], pb: Sequence[Paragraph]
) -> tuple[list[frozenset[str]], list[frozenset[str]]]:
    """Per paragraph, the tokens usable as cues: numbers and Latin-script words
    found in both versions and in few paragraphs of each (names, figures)."""

    def tokens(paragraphs: Sequence[Paragraph]) -> list[frozenset[str]]:
        return [frozenset(t.lower() for t in _CUE_TOKEN.findall(p.text)) for p in paragraphs]

    ta, tb = tokens(pa), tokens(pb)
    count_a = Counter(t for s in ta for t in s)
    count_b = Counter(t for s in tb for t in s)
    limit_a, limit_b = max(3, len(pa) // 50), max(3, len(pb) // 50)
    usable = {
        t
        for t in count_a.keys() & count_b.keys()
        if count_a[t] <= limit_a and count_b[t] <= limit_b
    }
    return [s & usable for s in ta], [s & usable for s in tb]


def _align_pair(
    code_a: str, pa: Sequence[Paragraph], code_b: str, pb: Sequence[Paragraph]
) -> list[_Bead]:
    la = [_text_length(p) for p in pa]
    lb = [_text_length(p) for p in pb]
    ratio = (sum(lb) / sum(la)) if sum(la) and sum(lb) else 1.0
    pair = _Pair(pa, pb, la, lb, *_cue_tokens(pa, pb), ratio)
    beads: list[_Bead] = []
    prev_a = prev_b = 0
    for ia, ib in [*_anchors(code_a, pa, code_b, pb), (len(pa), len(pb))]:
        beads.extend(_align_segment(pair, (prev_a, ia), (prev_b, ib)))
        if ia < len(pa):
            beads.append(_Bead(ia, ia + 1, ib, ib + 1))
        prev_a, prev_b = ia + 1, ib + 1
    return beads


def align_versions(paragraphs: dict[str, list[Paragraph]]) -> list[PassageDoc]:
    """Align version code -> paragraphs into passages (see the module docstring).

    The first version is the pivot; its speaker names and labels win. Versions
    with no paragraphs contribute nothing. Raises ImportFormatError (with the
    line and the version code in the message) when alignment is impossible.
    """
    codes = [code for code, paras in paragraphs.items() if paras]
    if not codes:
        return []
    pivot_code = codes[0]
    pivot = paragraphs[pivot_code]
    n = len(pivot)
    beads_by_code = {
        code: _align_pair(pivot_code, pivot, code, paragraphs[code]) for code in codes[1:]
    }

    # A cut at pivot index k (0 < k < n) is a passage boundary when no bead of
    # any version spans across it.
    cuts = set(range(n + 1))
    for beads in beads_by_code.values():
        for bead in beads:
            cuts.difference_update(range(bead.a0 + 1, bead.a1))
    cut_list = sorted(cuts)

    passages: list[PassageDoc] = []
    # Per version, the beads not yet consumed.
    cursors = dict.fromkeys(beads_by_code, 0)

    def take(code: str, upto: int, *, inclusive_insertions: bool) -> list[int]:
        """Consume beads of `code` that lie in the pivot before `upto`."""
        beads = beads_by_code[code]
        taken: list[int] = []
        while cursors[code] < len(beads):
            bead = beads[cursors[code]]
            if bead.a1 > upto or (bead.a0 == bead.a1 == upto and not inclusive_insertions):
                break
            taken.extend(range(bead.b0, bead.b1))
            cursors[code] += 1
        return taken

    def emit(indices: dict[str, list[int]]) -> None:
        texts: dict[str, str] = {}
        label = None
        speaker = None
        themes: list[str] = []
        for code in codes:
            idx = indices.get(code, [])
            if not idx:
                continue
            paras = [paragraphs[code][k] for k in idx]
            texts[code] = _JOIN.join(p.text for p in paras)
            for p in paras:
                if label is None and p.label is not None:
                    label = p.label
                if speaker is None:
                    speaker = p.turn_speaker
                themes.extend(t for t in p.themes if t not in themes)
        if texts:
            passages.append(
                PassageDoc(texts=texts, turn_speaker=speaker or "", key=label, themes=themes)
            )

    for start, end in itertools.pairwise(cut_list):
        # Paragraphs present in other versions only, standing at this cut.
        emit({code: take(code, start, inclusive_insertions=True) for code in beads_by_code})
        group = {code: take(code, end, inclusive_insertions=False) for code in beads_by_code}
        group[pivot_code] = list(range(start, end))
        emit(group)
    emit({code: take(code, n, inclusive_insertions=True) for code in beads_by_code})
    return passages
