"""Text normalisation shared by search indexing, search queries and the glossary.

Chinese is normalised in Python (PostgreSQL has no Chinese parser on our
servers): NFKC folds full-width forms (ＡＢＣ１２３ → ABC123, full-width
punctuation), OpenCC folds Traditional into Simplified so that 太陽花 and
太阳花 are one, and text is lower-cased. CJK runs are then cut into
overlapping character bigrams (plus the run's last character as a unigram so a
one-character query still finds run-final characters), the scheme Lucene's
CJKAnalyzer uses; a query's bigram chain then behaves as an exact substring
search (see ../shared/research/search.md).
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
import uuid

# CJK Unified Ideographs (+ Extension A, compatibility ideographs) and the
# iteration mark 々/〇; kana and hangul are included so Japanese/Korean quotes
# inside a text still produce searchable tokens.
_CJK = (
    "\u3005\u3007\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
    "\U00020000-\U0003134f"  # extensions B–H: OpenCC maps some characters there
)
CJK_RUN = re.compile(f"[{_CJK}]+")
# A token is a CJK run or a run of other letters/digits ("13亿" is two tokens).
TOKEN = re.compile(f"[{_CJK}]+|[^\\W_{_CJK}]+", re.UNICODE)


@functools.cache
def _t2s():
    import opencc

    return opencc.OpenCC("t2s.json")


def contains_cjk(text: str) -> bool:
    return CJK_RUN.search(text) is not None


# Full-width ASCII (！…～) and the ideographic space: each character's NFKC
# form is one ASCII character.
_FULL_WIDTH = re.compile("[\uff01-\uff5e\u3000]")


def _half_width(match: re.Match) -> str:
    char = match.group(0)
    return " " if char == "\u3000" else chr(ord(char) - 0xFEE0)


def _nfkc(text: str) -> str:
    """unicodedata.normalize("NFKC", text), faster for Chinese text.

    Its full-width punctuation (，（）！) fails NFKC's quick check, and then the
    whole text is decomposed and composed again: 30 µs for 300 characters, the
    largest cost of highlighting a page of Chinese results. Replacing those
    characters by their NFKC form first gives the same result (NFKC starts by
    decomposing every character, and theirs is that one ASCII character), after
    which the quick check passes in most texts (20 texts: 0.60 → 0.08 ms)."""
    text = _FULL_WIDTH.sub(_half_width, text)
    if unicodedata.is_normalized("NFKC", text):
        return text
    return unicodedata.normalize("NFKC", text)


def normalize(text: str) -> str:
    """NFKC + Traditional→Simplified + lower case. Length-preserving for CJK
    characters in practice (t2s maps character to character)."""
    text = _nfkc(text)
    if contains_cjk(text):
        text = _t2s().convert(text)
    return text.lower()


def cjk_bigrams(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)] + [run[-1]]


def search_tokens(text: str) -> list[str]:
    """Index-side tokens: CJK bigrams (+ final unigram) and Latin/digit words."""
    tokens: list[str] = []
    for match in TOKEN.finditer(normalize(text)):
        chunk = match.group(0)
        if CJK_RUN.fullmatch(chunk):
            tokens.extend(cjk_bigrams(chunk))
        else:
            tokens.append(chunk)
    return tokens


def cjk_tokens_only(text: str) -> list[str]:
    """Bigrams of the CJK runs only (English rows index just their embedded Chinese)."""
    tokens: list[str] = []
    for match in CJK_RUN.finditer(normalize(text)):
        tokens.extend(cjk_bigrams(match.group(0)))
    return tokens


# ---------------------------------------------------------------- index columns
# The search columns derived from a text in Python (the rest is PostgreSQL's:
# see migration 0003). Kept here, free of Django, so that models, services and
# the importers' fast paths all compute them with the same two functions.

# A regular expression (PostgreSQL ARE) matching every token that is not CJK in
# a `search_tokens` string: an English row's vector keeps only its CJK tokens
# from that column (its words come from the `english` configuration).
NON_CJK_TOKENS_RE = f"[^ {_CJK}]+"


def index_tokens(text: str, *, cjk_only: bool = False) -> str:
    """The `search_tokens` column: tokens joined by spaces, in text order, so
    that PostgreSQL's parser gives each token its position (phrases need them)."""
    tokens = cjk_tokens_only(text) if cjk_only else search_tokens(text)
    return " ".join(tokens)


def text_digest(text: str) -> uuid.UUID:
    """md5 of the UTF-8 text as a UUID: PostgreSQL's `md5(text)::uuid`. Stored
    beside the tokens, it lets a CHECK constraint prove they were computed from
    the current text."""
    return uuid.UUID(hashlib.md5(text.encode("utf-8")).hexdigest())
