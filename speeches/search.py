"""Full-text search: the one entry point (`run_search`) behind /search/ and its CSV.

Design and measurements: docs/search.md and ../shared/research/search.md.

* Index. Every PassageText carries a stored, generated `search_vector`
  (migration 0003): the `english` configuration for English rows plus the
  character bigrams of any CJK they quote; for every other row (Chinese
  first), the `simple` configuration over `search_tokens`, which Python writes
  (textnorm: NFKC, Traditional→Simplified, lower case, CJK bigrams). Filter
  columns (public flag, speech, speaker, date, kind, language) are copied onto
  the row by PostgreSQL triggers. One partial GIN index per configuration,
  over the vector and the day number (btree_gin).
* Query. `parse()` reads a websearch-style query (words, "phrases", -exclude,
  OR) and never raises. Each term becomes two tsqueries built by PostgreSQL
  from parameters — never by pasting user text into tsquery syntax: an English
  one (`plainto/phraseto_tsquery('english')`, stemming) and a `simple` one in
  which a CJK chunk is a chain of its bigrams (`'网络' <-> '络强' <-> '强国'`),
  i.e. an exact substring search over normalised text.
* Bounded work (the frequent-word problem; the table in docs/search.md,
  "Bounded work: the rules as they stand"). A capped probe counts matches up
  to a cap and scores the rows it reads as it reads them (no second read by
  id). At most the cap: exact ranking of every match. Beyond it, the newest
  WINDOW matches are ranked. One-word (and two-word English phrase) queries
  that ANALYZE's statistics put far beyond the cap never build a bitmap of
  every match: a dense English word walks the date index; any other takes
  one GIN scan of (vector or word pairs, day) bounded by a date read from the
  date index (_walks, _probe_rows). English phrases go through the word-pairs
  index (migration 0008). With a speaker or a year range the probe reads the
  newest matches in date order. A wrong estimate falls back to the exact
  bitmap probe, so the statistics choose a plan, never the results.
* Safety. The whole search runs in one transaction with a local
  statement_timeout; a cancelled query becomes a friendly message.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import html
import io
import re
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import quote_plus, urlencode

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import signals
from django.db.models.base import ModelState
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from taggit.models import Tag

from speeches import textnorm
from speeches.citation import human_date
from speeches.models import (
    DAY_NUMBER_SQL,
    GLOSSARY_STAMP_SQL,
    Collection,
    Passage,
    PassageText,
    Speaker,
    Speech,
    Term,
    Version,
)

PAGE_SIZE = 20
# Exact counts, facets and ranking up to CAP matches. The probe that counts
# them reads one heap row per match (about 6 µs each when the page comes from
# the OS cache), so CAP bounds every query's cost; docs/search.md has the figures.
CAP = getattr(settings, "SEARCH_EXACT_CAP", 3_000)
WINDOW = 500  # frequent words: rank among the newest WINDOW matches
PHRASE_WINDOW = 500  # frequent phrases: rank among the first PHRASE_WINDOW matches
# Chinese runs of three or more characters (bigram chains, rechecked by
# position like phrases, but cheaply: 自主创新's 558 matches in 6 ms at 1M)
# are counted exactly further.
CHAIN_CAP = 1_000
MAX_PAGES = 50
MAX_QUERY_CHARS = 500
MAX_TERMS = 24
CSV_CAP = 1_000
TITLE_BOOST = 0.3
PHRASE_BOOST = 0.5
TITLE_MATCHES = 5
PASSAGES_PER_GROUP = 3
SNIPPET_CHARS = 320
RANK_FLAGS = 1 | 32  # divide by 1 + log(length); scale into [0, 1)

# Frequent words (docs/search.md, "Bounded work"): a one-lexeme query that
# PostgreSQL's statistics say matches far more than CAP rows walks the date
# index instead of building a GIN bitmap of every match; a walk visits at most
# WINDOW_SLACK times the rows the estimate predicts (see _probe). An English
# word in at least DENSE of the English rows is walked along the date B-tree,
# every other walked word is found by a GIN scan bounded by date. Measured at
# 1M: "people" (20% of the English rows) 5 ms walked, 8.6 ms by GIN; Chinese
# rows are wider (bigram vectors) and the newest of them (transcripts) hold
# the work reports' words less often than the average says, so a walk tests
# many rows per match: 人民 19.8 ms walked (WINDOW 1,000), 6-7 ms by GIN.
# A GIN window costs ~0.3 µs per row it spans (the cutoff's index-only scan
# and the days' posting lists), so a word or phrase in fewer than
# MIN_WINDOW_DENSITY of its arm's rows is not windowed: a word is walked, a
# phrase takes the bitmap of its pairs ("government of the people", in 0.3% of
# the English rows: a window of 650,000 rows took 69 ms, its pairs 12.5 ms).
WINDOW_SLACK = 4
DENSE = 0.15
MIN_WINDOW_DENSITY = 0.05

SORTS = ("relevance", "newest", "oldest")
TIMEOUT_MS = getattr(settings, "SEARCH_STATEMENT_TIMEOUT_MS", 3000)
QUERY_CANCELED = "57014"  # SQLSTATE of a statement cut by statement_timeout


# ================================================================== parsing


@dataclass(frozen=True)
class QueryTerm:
    """A word or a quoted phrase, as typed (control characters removed)."""

    text: str
    phrase: bool = False

    @property
    def has_cjk(self) -> bool:
        return textnorm.contains_cjk(self.text)


@dataclass(frozen=True)
class ParsedQuery:
    """AND of `groups` (each an OR of terms), minus every `excluded` term."""

    groups: tuple[tuple[QueryTerm, ...], ...] = ()
    excluded: tuple[QueryTerm, ...] = ()
    truncated: bool = False

    @property
    def is_empty(self) -> bool:
        return not self.groups

    @property
    def has_cjk(self) -> bool:
        return any(t.has_cjk for group in self.groups for t in group)

    def positive_terms(self) -> list[QueryTerm]:
        return [t for group in self.groups for t in group]


_SEARCHABLE = re.compile(r"[^\W_]", re.UNICODE)


def _clean(raw: str) -> str:
    """NFKC (full-width quotes and minus become ASCII), control characters out."""
    text = unicodedata.normalize("NFKC", raw or "")
    return "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp") else ch
        for ch in text
    )


def _lex(text: str) -> list[tuple[str, str, bool]]:
    """(kind, text, negated) tokens: kind is "word", "phrase" or "or"."""
    tokens: list[tuple[str, str, bool]] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        negated = False
        if text[i] == "-" and i + 1 < n and not text[i + 1].isspace():
            negated = True
            i += 1
        if text[i] in '"“”«»「」『』':
            end = i + 1
            while end < n and text[end] not in '"“”«»「」『』':
                end += 1
            tokens.append(("phrase", text[i + 1 : end], negated))
            i = end + 1
            continue
        end = i
        while end < n and not text[end].isspace() and text[end] != '"':
            end += 1
        word = text[i:end]
        i = end
        if not negated and word in ("OR", "|", "||"):
            tokens.append(("or", word, False))
        else:
            tokens.append(("word", word, negated))
    return tokens


def parse(raw: str) -> ParsedQuery:
    """Websearch-style parsing that never raises: words, "phrases", -exclude, OR.

    `a OR b c` means (a OR b) AND c. Operators of tsquery syntax (& | ! :* <->)
    and other punctuation are only separators; a term without a letter or digit
    is dropped. At most MAX_TERMS terms and MAX_QUERY_CHARS characters are read.
    """
    text = _clean(raw)
    truncated = len(text) > MAX_QUERY_CHARS
    text = text[:MAX_QUERY_CHARS]
    groups: list[list[QueryTerm]] = []
    excluded: list[QueryTerm] = []
    join_next = False
    count = 0
    for kind, value, negated in _lex(text):
        if kind == "or":
            join_next = bool(groups)
            continue
        if not _SEARCHABLE.search(value):
            continue
        if count >= MAX_TERMS:
            truncated = True
            break
        count += 1
        term = QueryTerm(" ".join(value.split()), phrase=kind == "phrase")
        if negated:
            excluded.append(term)
        elif join_next and groups:
            groups[-1].append(term)
        else:
            groups.append([term])
        join_next = False
    return ParsedQuery(tuple(tuple(g) for g in groups), tuple(excluded), truncated)


# ================================================================== tsquery building


def _quote_lexeme(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def simple_chain(text: str) -> str:
    """A `simple` tsquery (text form) matching `text` as a substring of the
    normalised, tokenised passage: Latin/digit words in sequence, each CJK run
    as its overlapping bigrams. The index puts each run's last character after
    its bigrams, so the token after a run of two or more characters sits two
    positions after its last bigram; a one-character run at the end of the
    chunk is a prefix (it may begin a longer run in the text). '' when nothing
    is searchable."""
    parts: list[str] = []
    tokens = [m.group(0) for m in textnorm.TOKEN.finditer(textnorm.normalize(text))]
    for index, token in enumerate(tokens):
        last = index == len(tokens) - 1
        if textnorm.CJK_RUN.fullmatch(token):
            if len(token) == 1:
                parts.append(_quote_lexeme(token) + (":*" if last else ""))
                parts.append("<->")
            else:
                for i in range(len(token) - 1):
                    parts.append(_quote_lexeme(token[i : i + 2]))
                    parts.append("<->")
                parts[-1] = "<2>"
        else:
            parts.append(_quote_lexeme(token))
            parts.append("<->")
    return " ".join(parts[:-1])


def _cjk_runs_and_rest(text: str) -> tuple[list[str], str]:
    runs = [m.group(0) for m in textnorm.CJK_RUN.finditer(text)]
    rest = textnorm.CJK_RUN.sub(" ", text)
    return runs, rest


@dataclass
class _Sql:
    """An SQL expression of type tsquery and its parameters."""

    sql: str
    params: list


def _and(parts: list[_Sql]) -> _Sql | None:
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    return _Sql("(" + " && ".join(p.sql for p in parts) + ")", [x for p in parts for x in p.params])


def _or(parts: list[_Sql]) -> _Sql | None:
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    return _Sql("(" + " || ".join(p.sql for p in parts) + ")", [x for p in parts for x in p.params])


def _simple_leaf(text: str) -> _Sql | None:
    chain = simple_chain(text)
    return _Sql("to_tsquery('simple', %s)", [chain]) if chain else None


_HYPHENS = re.compile(r"(?<=\w)[-‐‑‒–—](?=\w)")


def _english_text(term: QueryTerm) -> str:
    # Hyphens as spaces: PostgreSQL indexes "military-industrial" as the
    # compound plus its parts, so the parts alone find both spellings.
    return _HYPHENS.sub(" ", textnorm.normalize(term.text))


_PHRASE_TOKEN = re.compile(r"'((?:[^'\\]|'')+)'|<(\d+|-)>")


def _pairs(phrase_queries: list[str]) -> str:
    """The pairs-index tsquery (text) for English phrase tsqueries as
    phraseto_tsquery prints them ("'govern' <3> 'peopl'"): each lexeme with
    the next and their distance ('govern peopl 3', as speeches_word_pairs of
    migration 0008 lists them), all ANDed. A phrase of one lexeme, or one
    printed in any other shape, adds nothing."""
    pairs: list[str] = []
    for query in phrase_queries:
        tokens = list(_PHRASE_TOKEN.finditer(query))
        if "".join(m.group(0) + " " for m in tokens).strip() != query.strip():
            continue  # not a plain chain: no pairs (the plain match still applies)
        lexemes = [m.group(1).replace("''", "'") for m in tokens[::2]]
        gaps = [m.group(2) for m in tokens[1::2]]
        if any(m.group(1) is None for m in tokens[::2]) or any(g is None for g in gaps):
            continue
        for a, b, gap in zip(lexemes, lexemes[1:], gaps, strict=False):
            pairs.append(_quote_lexeme(f"{a} {b} {1 if gap == '-' else int(gap)}"))
    return " & ".join(dict.fromkeys(pairs))


def _english_leaf(term: QueryTerm) -> _Sql | None:
    """English rows: stemmed words; CJK runs as bigram chains (their CJK bigrams
    are indexed with `simple`)."""
    if not term.has_cjk:
        function = "phraseto_tsquery" if term.phrase else "plainto_tsquery"
        return _Sql(f"{function}('english', %s)", [_english_text(term)])
    runs, rest = _cjk_runs_and_rest(term.text)
    parts = [_simple_leaf(run) for run in runs]
    if _SEARCHABLE.search(rest):
        parts.append(_Sql("plainto_tsquery('english', %s)", [textnorm.normalize(rest)]))
    return _and(parts)


def _other_leaf(term: QueryTerm) -> _Sql | None:
    return _simple_leaf(term.text)


def _build(query: ParsedQuery, leaf, *, positive_only: bool = False) -> _Sql | None:
    groups = [_or([leaf(t) for t in group]) for group in query.groups]
    parts = list(groups)
    if not positive_only:
        for term in query.excluded:
            built = leaf(term)
            if built is not None:
                parts.append(_Sql("!!" + built.sql, built.params))
    if all(g is None for g in groups):
        return None
    return _and(parts)


# ================================================================== glossary


@dataclass(frozen=True)
class Expansion:
    term: Term
    matched: str
    added: tuple[str, ...]


def _words(text: str) -> tuple[str, ...]:
    return tuple(m.group(0) for m in textnorm.TOKEN.finditer(textnorm.normalize(text)))


def expand(query: ParsedQuery, terms: list[Term]) -> tuple[ParsedQuery, list[Expansion]]:
    """Add a confirmed glossary term's counterpart(s) as OR alternatives: a
    Chinese term equal to an entry's original also searches its translation
    and variants; an English word sequence equal to a translation or variant
    (typed as consecutive words or as one phrase) also searches the original."""
    if not terms or query.is_empty:
        return query, []
    by_original = {textnorm.normalize(t.original): t for t in terms if t.original.strip()}
    by_form: dict[tuple[str, ...], Term] = {}
    for t in terms:
        for form in [t.translation, *t.variant_list()]:
            words = _words(form)
            if words and not textnorm.contains_cjk(form):
                by_form.setdefault(words, t)
    groups = [list(g) for g in query.groups]
    expansions: list[Expansion] = []
    # Consecutive single-word groups that together spell a translation.
    i = 0
    while i < len(groups):
        for length in range(min(6, len(groups) - i), 1, -1):
            window = groups[i : i + length]
            if not all(len(g) == 1 and not g[0].phrase and not g[0].has_cjk for g in window):
                continue
            words = tuple(w for g in window for w in _words(g[0].text))
            entry = by_form.get(words)
            if entry is not None:
                joined = " ".join(g[0].text for g in window)
                groups[i : i + length] = [[QueryTerm(joined), QueryTerm(entry.original)]]
                expansions.append(Expansion(entry, joined, (entry.original,)))
                break
        i += 1
    done = {e.term.pk for e in expansions}
    for group in groups:
        for term in list(group):
            if term.has_cjk:
                entry = by_original.get(textnorm.normalize(term.text).replace(" ", ""))
                if entry is not None and entry.pk not in done:
                    done.add(entry.pk)
                    forms = tuple(
                        f for f in [entry.translation, *entry.variant_list()] if f.strip()
                    )
                    new = [QueryTerm(f, phrase=True) for f in forms]
                    if any(n not in group for n in new):
                        group.extend(n for n in new if n not in group)
                        expansions.append(Expansion(entry, term.text, forms))
            elif len(group) == 1:
                entry = by_form.get(_words(term.text))
                if entry is not None and entry.pk not in done:
                    done.add(entry.pk)
                    group.append(QueryTerm(entry.original))
                    expansions.append(Expansion(entry, term.text, (entry.original,)))
    expanded = ParsedQuery(tuple(tuple(g) for g in groups), query.excluded, query.truncated)
    return expanded, expansions


# ================================================================== request parameters


class InvalidSearch(ValueError):
    """A parameter we cannot honour (unknown speaker, malformed year…): a 400."""


@dataclass
class SearchParams:
    q: str = ""
    speaker: Speaker | None = None
    theme: Tag | None = None
    collection: Collection | None = None
    speech: Speech | None = None
    lang: str = ""
    kind: str = ""
    year_from: int | None = None
    year_to: int | None = None
    sort: str = "relevance"
    grouped: bool = False
    expand: bool = True
    page: int = 1

    def as_query(self, **changes) -> str:
        """The URL query string of this state (with some values changed)."""
        values = self._values()
        values.update(changes)
        return urlencode([(k, v) for k, v in values.items() if v not in ("", None)])

    def as_queries(self, name: str, keys: list[str]) -> list[str]:
        """`as_query(name=key, page="")` for each key (for "year": from and to
        both the key), the other parameters encoded once: a facet sidebar links
        up to 180 values, and encoding the whole state for each cost 0.3 ms."""
        names = ("from", "to") if name == "year" else (name,)
        head, tail, before = [], [], True
        for k, v in self._values().items():
            if k in names:
                before = False
            elif v not in ("", None) and k != "page":
                (head if before else tail).append((k, v))
        head_query, tail_query = urlencode(head), urlencode(tail)
        queries = []
        for key in keys:
            middle = ""
            if key not in ("", None):
                middle = "&".join(f"{n}={quote_plus(str(key))}" for n in names)
            queries.append("&".join(part for part in (head_query, middle, tail_query) if part))
        return queries

    def _values(self) -> dict:
        return {
            "q": self.q,
            "speaker": self.speaker.slug if self.speaker else "",
            "theme": self.theme.slug if self.theme else "",
            "collection": self.collection.slug if self.collection else "",
            "speech": self.speech.slug if self.speech else "",
            "lang": self.lang,
            "kind": self.kind,
            "from": self.year_from or "",
            "to": self.year_to or "",
            "sort": "" if self.sort == "relevance" else self.sort,
            "group": "speech" if self.grouped else "",
            "expand": "" if self.expand else "0",
            "page": self.page if self.page > 1 else "",
        }

    @property
    def newest_first(self) -> bool:
        """The probe reads the newest matches in date order (_newest_probe_rows):
        a speaker's or a year range's rows have their own date order."""
        return bool(self.speaker or self.year_from or self.year_to)

    @property
    def has_filters(self) -> bool:
        return bool(
            self.speaker
            or self.theme
            or self.collection
            or self.speech
            or self.lang
            or self.kind
            or self.year_from
            or self.year_to
        )


_LANG = re.compile(r"^[a-z]{2,3}$")
_YEAR = re.compile(r"^\d{4}$")


def _year(value: str, name: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not _YEAR.match(value) or not 1000 <= int(value) <= 2999:
        raise InvalidSearch(f"“{name}” must be a four-digit year, e.g. 2016.")
    return int(value)


def _single(get, name: str) -> str:
    """A parameter's value; a filter value with a NUL (which PostgreSQL text
    cannot hold) is refused. The query text is cleaned instead (see _clean)."""
    value = get.get(name, "")
    value = value if isinstance(value, str) else ""
    if name != "q" and "\x00" in value:
        raise InvalidSearch(f"The value of “{name}” is not one the archive understands.")
    return value


def _by_slug(queryset, slug: str):
    """The row with this (unique) slug, or None. get() rather than first(),
    whose ORDER BY (the model's ordering) costs more to compile than the
    lookup takes to run (a speaker: 0.57 → 0.41 ms)."""
    try:
        return queryset.get(slug=slug)
    except queryset.model.DoesNotExist:
        return None


def read_params(get) -> SearchParams:
    """Validate the query string (a QueryDict or dict); raises InvalidSearch."""
    p = SearchParams()
    p.q = _clean(_single(get, "q")).strip()
    speaker = _single(get, "speaker").strip()
    if speaker:
        p.speaker = _by_slug(Speaker.objects.all(), speaker)
        if p.speaker is None:
            raise InvalidSearch("There is no speaker with that name in the archive.")
    theme = _single(get, "theme").strip()
    if theme:
        p.theme = _by_slug(Tag.objects.all(), theme)
        if p.theme is None:
            raise InvalidSearch("There is no theme with that name.")
    collection = _single(get, "collection").strip()
    if collection:
        p.collection = _by_slug(Collection.objects.all(), collection)
        if p.collection is None:
            raise InvalidSearch("There is no collection with that name.")
    speech = _single(get, "speech").strip()
    if speech:
        p.speech = _by_slug(Speech.objects.public().select_related("speaker"), speech)
        if p.speech is None:
            raise InvalidSearch("There is no published speech with that address.")
    lang = _single(get, "lang").strip().lower()
    if lang:
        if not _LANG.match(lang):
            raise InvalidSearch("“lang” must be a language code such as en or zh.")
        p.lang = lang
    kind = _single(get, "kind").strip()
    if kind:
        if kind not in Speech.Kind.values:
            raise InvalidSearch("That kind of speech is not one the archive knows.")
        p.kind = kind
    p.year_from = _year(_single(get, "from"), "from")
    p.year_to = _year(_single(get, "to"), "to")
    if p.year_from and p.year_to and p.year_from > p.year_to:
        p.year_from, p.year_to = p.year_to, p.year_from
    sort = _single(get, "sort").strip() or "relevance"
    if sort not in SORTS:
        raise InvalidSearch("Results can be sorted by relevance, newest or oldest.")
    p.sort = sort
    p.grouped = _single(get, "group").strip() in ("speech", "1", "on")
    p.expand = _single(get, "expand").strip() not in ("0", "off", "no")
    page = _single(get, "page").strip() or "1"
    if not page.isascii() or not page.isdigit() or int(page) < 1 or len(page) > 6:
        raise InvalidSearch("The page number must be a whole number from 1.")
    p.page = int(page)
    return p


# ================================================================== results


def _url(name: str, **kwargs: str) -> str:
    """reverse() through a cached pattern (a results page builds 60+ URLs)."""
    pattern = _URL_PATTERNS.get(name)
    if pattern is None:
        placeholders = {key: f"__{key}__" for key in kwargs}
        pattern = _URL_PATTERNS[name] = reverse(name, kwargs=placeholders)
    for key, value in kwargs.items():
        pattern = pattern.replace(f"__{key}__", value)
    return pattern


_URL_PATTERNS: dict[str, str] = {}


@dataclass
class Hit:
    passage_text: PassageText
    score: float
    snippet: str = ""
    row: dict = field(default_factory=dict)  # what the template shows, as plain values

    def display(self) -> dict:
        """Plain values for the template (dict lookups render fastest)."""
        from speeches.reading import language_name

        speech, passage, version = self.speech, self.passage, self.passage_text.version
        speech_url = _url("speeches:speech", slug=speech.slug)
        self.row = {
            "title": speech.title,
            "speech_url": speech_url,
            "context_url": f"{speech_url}#p-{passage.key}",
            "passage_url": _url("speeches:passage", key=passage.key),
            "speaker": speech.speaker.name,
            "date": human_date(speech.delivered_on, speech.date_precision),
            "date_iso": speech.delivered_on.isoformat(),
            "position": passage.position,
            "language": version.language,
            "language_name": language_name(version.language),
            "snippet": self.snippet,
        }
        return self.row

    def html(self, *, compact: bool = False) -> SafeString:
        """The result's list item, built in Python from escaped values: the
        template engine resolving a dozen variables per hit cost about 1 ms a
        page (docs/search.md, "Measured")."""
        r = {k: v if k == "snippet" else html.escape(str(v)) for k, v in self.row.items()}
        links = (
            f'<a href="{r["context_url"]}">in context</a> · '
            f'<a href="{r["passage_url"]}" title="Permanent link to cite">cite ¶</a>'
        )
        meta = f"¶{r['position']} · {r['language_name']} · {links}"
        head = ""
        if not compact:
            head = f'<p class="hit-title"><a href="{r["speech_url"]}">{r["title"]}</a></p>'
            meta = f'{r["speaker"]} · <time datetime="{r["date_iso"]}">{r["date"]}</time> · {meta}'
        return mark_safe(  # every value above is escaped; the snippet was built escaped
            f'<li class="search-hit">{head}<p class="hit-snippet" lang="{r["language"]}">'
            f'{r["snippet"]}</p><p class="hit-meta">{meta}</p></li>'
        )

    @property
    def passage(self):
        return self.passage_text.passage

    @property
    def speech(self):
        return self.passage_text.passage.speech

    @property
    def passage_url(self) -> str:
        return _url("speeches:passage", key=self.passage.key)

    @property
    def context_url(self) -> str:
        return _url("speeches:speech", slug=self.speech.slug) + f"#p-{self.passage.key}"


def _round_figure(n: int) -> int:
    """Two significant figures: 182,781 → 180,000 (an estimate, said as one)."""
    if n < 100:
        return n
    scale = 10 ** (len(str(n)) - 2)
    return round(n / scale) * scale


@dataclass
class Group:
    speech: Speech
    hits: int
    best: list[Hit]

    def html(self, query: str) -> SafeString:
        """The group's list item (like Hit.html); `query` is the page's state."""
        from speeches.templatetags.archive import speech_iso_date

        speech = self.speech
        title, slug = html.escape(speech.title), html.escape(speech.slug)
        url = _url("speeches:speech", slug=speech.slug)
        date = human_date(speech.delivered_on, speech.date_precision)
        plural = "" if self.hits == 1 else "s"
        return mark_safe(  # every value is escaped; the hits' html is built escaped
            f'<li class="search-group"><h3><a href="{html.escape(url)}">{title}</a> '
            f'<span class="hit-count">{self.hits} passage{plural}</span></h3>'
            f'<p class="hit-meta">{html.escape(speech.speaker.name)} · '
            f'<time datetime="{speech_iso_date(speech)}">{html.escape(date)}</time> · '
            f'<a href="?{html.escape(query)}&amp;speech={slug}">search in this speech</a></p>'
            f"<ul>{''.join(hit.html(compact=True) for hit in self.best)}</ul></li>"
        )


@dataclass
class FacetValue:
    key: str
    label: str
    count: int
    url: str
    selected: bool = False


@dataclass
class SearchResult:
    params: SearchParams
    parsed: ParsedQuery = field(default_factory=ParsedQuery)
    hits: list[Hit] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    title_matches: list[Speech] = field(default_factory=list)
    recent: list[Speech] = field(default_factory=list)
    facets: dict[str, list[FacetValue]] = field(default_factory=dict)
    total: int = 0  # matching passage texts, capped at cap + 1
    cap: int = CAP
    total_speeches: int = 0
    capped: bool = False
    estimate: int = 0  # beyond the cap: PostgreSQL's estimate of the matches (0: none)
    sampled: str = ""  # "newest" when facets count the newest matches, not the first found
    approximate: str = ""  # why the ranking is approximate ("" when exact)
    expansions: list[Expansion] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    timed_out: bool = False
    stopwords_only: bool = False
    page: int = 1
    num_pages: int = 1

    @property
    def total_label(self) -> str:
        if self.capped and self.estimate > self.cap:
            return f"about {_round_figure(self.estimate):,}"
        if self.capped:
            return f"{self.cap:,}+"
        return f"{self.total:,}"

    @property
    def sample_label(self) -> str:
        """What the facet counts were taken over (when not every match)."""
        if self.sampled and self.estimate:
            return f"the {WINDOW:,} newest matches"
        if self.sampled:
            return f"the {self.cap:,} newest matches"
        return f"the first {self.cap:,} matches found"

    @property
    def cap_label(self) -> str:
        return f"{self.cap:,}"

    @property
    def has_next(self) -> bool:
        return self.page < self.num_pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def start_rank(self) -> int:
        return (self.page - 1) * PAGE_SIZE + 1

    # URLs of neighbouring states (every state of the page is a shareable URL).

    def url(self, **changes) -> str:
        return "?" + self.params.as_query(**changes)

    @property
    def sort_links(self) -> list[tuple[str, str, bool]]:
        labels = {"relevance": "Relevance", "newest": "Newest", "oldest": "Oldest"}
        return [
            (
                labels[s],
                self.url(sort=s if s != "relevance" else "", page=""),
                s == self.params.sort,
            )
            for s in SORTS
        ]

    @property
    def group_toggle_url(self) -> str:
        return self.url(group="" if self.params.grouped else "speech", page="")

    @property
    def expand_off_url(self) -> str:
        return self.url(expand="0", page="")

    @property
    def expand_on_url(self) -> str:
        return self.url(expand="", page="")

    @property
    def csv_url(self) -> str:
        return self.url(page="", group="") + "&format=csv"

    @property
    def next_url(self) -> str:
        return self.url(page=self.page + 1)

    @property
    def previous_url(self) -> str:
        return self.url(page=self.page - 1 if self.page > 2 else "")

    @property
    def active_filters(self) -> list[tuple[str, str]]:
        """(label, URL without that filter) for each filter in force."""
        p = self.params
        out = []
        if p.speech:
            out.append((f"In: {p.speech.title}", self.url(speech="", page="")))
        if p.speaker:
            out.append((f"Speaker: {p.speaker.name}", self.url(speaker="", page="")))
        if p.theme:
            out.append((f"Theme: {p.theme.name}", self.url(theme="", page="")))
        if p.collection:
            out.append((f"Collection: {p.collection.title}", self.url(collection="", page="")))
        if p.lang:
            from speeches.reading import language_name

            out.append((f"Language: {language_name(p.lang)}", self.url(lang="", page="")))
        if p.kind:
            out.append((f"Kind: {KIND_LABELS.get(p.kind, p.kind)}", self.url(kind="", page="")))
        if p.year_from or p.year_to:
            if p.year_from == p.year_to:
                label = f"Year: {p.year_from}"
            else:
                label = f"Years: {p.year_from or '…'}–{p.year_to or '…'}"
            out.append((label, self.url(page="", **{"from": "", "to": ""})))
        return out

    @property
    def hits_html(self) -> SafeString:
        return mark_safe("".join(hit.html() for hit in self.hits))  # built escaped

    @property
    def groups_html(self) -> SafeString:
        query = self.params.as_query()
        return mark_safe("".join(group.html(query) for group in self.groups))  # built escaped

    @property
    def facets_html(self) -> SafeString:
        """The facet sections, built in Python from escaped values (like
        Hit.html: a template loop over 100+ values cost about 1 ms a page)."""
        out = []
        for name, values in self.facets.items():
            if not values:
                continue
            items = [
                f"<li{_SELECTED[v.selected]}>"
                f'<a href="{html.escape(v.url)}">{html.escape(str(v.label))}</a> '
                f'<span class="count">{v.count}</span></li>'
                for v in values
            ]
            more = ""
            if len(items) > FACETS_SHOWN:
                more = (
                    f"<details><summary>{len(items) - FACETS_SHOWN} more</summary>"
                    f"<ul>{''.join(items[FACETS_SHOWN:])}</ul></details>"
                )
            out.append(
                f'<section class="facet"><h2>{FACET_TITLES[name]}</h2>'
                f"<ul>{''.join(items[:FACETS_SHOWN])}</ul>{more}</section>"
            )
        return mark_safe("".join(out))  # every value above is escaped

    @property
    def expansion_labels(self) -> list[str]:
        return [form for e in self.expansions for form in e.added]


# ================================================================== SQL


@dataclass
class _Compiled:
    q_en: str  # tsquery text for English rows ('' when none)
    q_other: str  # tsquery text for the other rows
    q_en_positive: str  # without exclusions: for highlighting
    q_near: str = ""  # the typed English words as one phrase: a proximity boost
    # The word pairs every English match must have (a tsquery over the
    # pairs index, see _pairs): '' when the query has no usable phrase.
    q_pairs: str = ""
    # ANALYZE's statistics for one-lexeme queries (see _walks): the share of
    # rows holding each lexeme, the share of English rows, the table's rows.
    lexeme_share: dict[str, float] = field(default_factory=dict)
    en_share: float = 0.0
    rows: float = 0.0
    pair_share: dict[str, float] = field(default_factory=dict)  # of the English rows

    @property
    def has_phrase(self) -> bool:
        return "<" in self.q_en or "<" in self.q_other


# Per-process caches of what changes rarely, each under a key that every
# change gives a new value: the confirmed glossary under its stamp (migration
# 0005: triggers on speeches_term renew it from a sequence, so no value comes
# back, not even after a rollback), and ANALYZE's statistics of the search
# column under the time of the table's last ANALYZE and its row estimate
# (statistics only choose a plan and the "about N" figure, never which rows
# match). Statement 1 of every search reads both keys; an entry is re-read
# only when its key moved.


# Frozen, and replaced whole: a thread (runserver's) reading the cache never
# sees one key with another key's values.
@dataclass(frozen=True)
class _GlossaryCache:
    stamp: int | None = None  # None: never read
    terms: tuple[Term, ...] = ()


@dataclass(frozen=True)
class _StatsCache:
    key: str | None = None  # None: never read
    lexemes: dict[str, float] = field(default_factory=dict)  # share of rows
    en: float = 0.0  # share of English rows
    rows: float = 0.0
    pairs: dict[str, float] = field(default_factory=dict)  # share of English rows


_GLOSSARY_CACHE = _GlossaryCache()
_STATS_CACHE = _StatsCache()

# The transaction's settings (the time budget; no JIT: every statement here is
# bounded, compiling would cost more than it saves) and the two cache keys.
# stats_fetch_consistency 'none': the ANALYZE time as it is now, not as a
# snapshot taken earlier in an enclosing transaction. No parallel workers: a
# bitmap over a few thousand rows made the planner start two, which cost more
# (~12 ms) than the scan they shared.
_SETTINGS_SQL = (
    "set_config('statement_timeout', %s, true), set_config('jit', 'off', true), "
    "set_config('stats_fetch_consistency', 'none', true), "
    "set_config('max_parallel_workers_per_gather', '0', true)"
)
_STATS_KEY_SQL = (
    "(SELECT concat_ws(' ', pg_stat_get_last_analyze_time(c.oid), "
    "pg_stat_get_last_autoanalyze_time(c.oid), c.reltuples) "
    "FROM pg_class c WHERE c.oid = 'speeches_passagetext'::regclass)"
)
_KEYS_SQL = f"({GLOSSARY_STAMP_SQL}), {_STATS_KEY_SQL}"

# ANALYZE's most common lexemes of the search column (their share of rows), the
# share of English rows, and the table's size: what the planner itself reads
# to estimate a match, read once per ANALYZE (see above).
# The most common lexemes of one statistics row and their share of rows.
_MCE_SQL = """(SELECT json_object_agg(m.lex, m.f)
     FROM pg_stats s, unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs)
          AS m(lex, f)
    WHERE s.schemaname = current_schema() AND {where} AND m.lex IS NOT NULL)"""
_STATS_SQL = f"""
SELECT {_STATS_KEY_SQL},
  {_MCE_SQL.format(where="s.tablename = 'speeches_passagetext' AND s.attname = 'search_vector'")},
  (SELECT m.f
     FROM pg_stats s, unnest(s.most_common_vals::text::text[], s.most_common_freqs) AS m(v, f)
    WHERE s.schemaname = current_schema() AND s.tablename = 'speeches_passagetext'
      AND s.attname = 'search_lang' AND m.v = 'en'),
  (SELECT reltuples FROM pg_class WHERE oid = 'speeches_passagetext'::regclass),
  {_MCE_SQL.format(where="s.tablename = 'passage_text_search_pairs'")}
"""

_GLOSSARY_SQL = (
    f"SELECT ({GLOSSARY_STAMP_SQL}), "
    "(SELECT json_agg(json_build_array(id, original, translation, variants)) "
    "FROM speeches_term WHERE status = %s)"
)

_ONE_LEXEME = re.compile(r"^'(?:[^']|'')+'$")


@dataclass
class _Keys:
    """The cache keys statement 1 read (None: not read)."""

    glossary: int | None = None
    stats: str | None = None


def _glossary(stamp: int | None) -> list[Term]:
    """The confirmed glossary, from the cache when `stamp` is its key."""
    global _GLOSSARY_CACHE
    cached = _GLOSSARY_CACHE
    if stamp is None or cached.stamp != stamp:
        with connection.cursor() as cursor:
            cursor.execute(_GLOSSARY_SQL, [Term.Status.CONFIRMED])
            read_stamp, rows = cursor.fetchone()
        terms = [
            _from_db(Term, {"id": pk, "original": o, "translation": t, "variants": v})
            for pk, o, t, v in rows or []
        ]
        # Stamp and terms come from one snapshot: they belong together.
        cached = _GLOSSARY_CACHE = _GlossaryCache(read_stamp, tuple(terms))
    return list(cached.terms)


def _statistics(key: str | None) -> _StatsCache:
    """ANALYZE's statistics of the search column, from the cache when `key` is its key."""
    global _STATS_CACHE
    cached = _STATS_CACHE
    if key is None or cached.key != key:
        with connection.cursor() as cursor:
            cursor.execute(_STATS_SQL)
            read_key, lexemes, en, rows, pairs = cursor.fetchone()
        cached = _STATS_CACHE = _StatsCache(
            key=read_key,
            lexemes={k: float(v) for k, v in (lexemes or {}).items()},
            en=float(en or 0.0),
            rows=float(rows or 0.0),
            pairs={k: float(v) for k, v in (pairs or {}).items()},
        )
    return cached


def _compile(
    parsed: ParsedQuery, *, index_only: bool = False, begin: bool = False
) -> tuple[_Compiled, _Keys]:
    """Let PostgreSQL build the tsqueries from parameters (one round trip).
    `index_only` turns sequential scans off for the rest of the transaction
    (see _probe); `begin` also sets the transaction's settings and reads the
    cache keys (statement 1 of a search)."""
    en = _build(parsed, _english_leaf)
    other = _build(parsed, _other_leaf)
    en_pos = _build(parsed, _english_leaf, positive_only=True)
    near = None
    words = [g[0].text for g in parsed.groups if len(g) == 1 and not g[0].phrase]
    if len(words) >= 2 and len(words) == len(parsed.groups) and not parsed.has_cjk:
        near = _Sql("phraseto_tsquery('english', %s)", [textnorm.normalize(" ".join(words))])
    exprs, params = [], []
    for built in (en, other, en_pos, near):
        if built is None:
            exprs.append("''::tsquery")
        else:
            exprs.append(built.sql)
            params.extend(built.params)
    names = ("en", "other", "en_pos", "near")
    # Each group that is one English phrase: its tsquery, for the pairs index.
    phrases = [
        g[0]
        for g in parsed.groups
        if len(g) == 1 and g[0].phrase and not g[0].has_cjk and not parsed.excluded
    ]
    phrase_sql = (
        "ARRAY[" + ", ".join("phraseto_tsquery('english', %s)::text" for _ in phrases) + "]"
        if phrases
        else "NULL::text[]"
    )
    seqscan = "set_config('enable_seqscan', 'off', true)" if index_only else "NULL"
    extra = f"{_SETTINGS_SQL}, {_KEYS_SQL}" if begin else "NULL, NULL, NULL, NULL, NULL, NULL"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {extra}, q.en::text, q.other::text, q.en_pos::text, q.near::text, "
            f"{phrase_sql}, {seqscan} FROM "
            f"(SELECT {', '.join(f'({e}) AS {n}' for e, n in zip(exprs, names, strict=True))}) q",
            [
                *([str(TIMEOUT_MS)] if begin else []),
                *(_english_text(t) for t in phrases),
                *params,
            ],
        )
        row = cursor.fetchone()
        _, _, _, _, stamp, stats_key, q_en, q_other, q_en_pos, q_near, phrase_queries, _ = row
    c = _Compiled(q_en or "", q_other or "", q_en_pos or "", q_near or "")
    c.q_pairs = _pairs(phrase_queries or [])
    return c, _Keys(stamp, stats_key) if begin else _Keys()


def _filters(p: SearchParams) -> tuple[str, list]:
    sql, params = [], []
    if p.speaker:
        sql.append("t.search_speaker_id = %s")
        params.append(p.speaker.pk)
    if p.speech:
        sql.append("t.search_speech_id = %s")
        params.append(p.speech.pk)
    if p.lang:
        sql.append("t.search_lang = %s")
        params.append(p.lang)
    if p.kind:
        sql.append("t.search_kind = %s")
        params.append(p.kind)
    if p.year_from:
        sql.append("t.search_date >= %s")
        params.append(dt.date(p.year_from, 1, 1))
    if p.year_to:
        sql.append("t.search_date < %s")
        params.append(dt.date(p.year_to + 1, 1, 1))
    if p.theme:
        sql.append(
            "t.search_speech_id IN (SELECT content_object_id FROM speeches_taggedspeech "
            "WHERE tag_id = %s)"
        )
        params.append(p.theme.pk)
    if p.collection:
        sql.append(
            "t.search_speech_id IN (SELECT speech_id FROM speeches_collectionitem "
            "WHERE collection_id = %s)"
        )
        params.append(p.collection.pk)
    return "".join(f" AND {s}" for s in sql), params


def _vector_match(c: _Compiled, name: str, q: str) -> tuple[str, list]:
    """`t.search_vector @@ q` for one arm (SQL, params). With a phrase's word
    pairs, the English arm looks them up in the pairs index (migration 0008)
    and only rechecks those rows (`ts_match_vq`: `@@` in a form the vector's
    own GIN index cannot take, so the planner does not intersect its long
    posting lists as well)."""
    if name == "en" and c.q_pairs:
        return (
            "speeches_word_pairs(t.search_vector) @@ %s::tsquery "
            "AND ts_match_vq(t.search_vector, %s::tsquery)",
            [c.q_pairs, q],
        )
    return "t.search_vector @@ %s::tsquery", [q]


def _match(c: _Compiled, p: SearchParams) -> tuple[str, list]:
    """The WHERE clause: one arm per partial index, then the filters."""
    arms, params = [], []
    for name, condition, q in _arms(c):
        match, match_params = _vector_match(c, name, q)
        arms.append(f"(t.search_public AND {condition} AND {match})")
        params += match_params
    filters, filter_params = _filters(p)
    return "(" + " OR ".join(arms) + ")" + filters, params + filter_params


def _score(c: _Compiled, alias: str = "t", vector: str = "search_vector") -> tuple[str, list]:
    """Passage rank, plus a boost when the speech's title matches too, plus one
    when an English passage has the typed words next to each other, in order
    (a known quotation typed without quotes). `alias` names the row's table
    (or a subquery with the same column names, `vector` its search vector)."""
    v, lang, sid = f"{alias}.{vector}", f"{alias}.search_lang", f"{alias}.search_speech_id"
    sql = (
        f"(ts_rank_cd({v}, CASE WHEN {lang} = 'en' THEN %s::tsquery "
        f"ELSE %s::tsquery END, {RANK_FLAGS}) + CASE WHEN {sid} IN "
        "(SELECT id FROM speeches_speech WHERE status = 'published' "
        f"AND search_vector @@ %s::tsquery) THEN {TITLE_BOOST} ELSE 0 END"
    )
    params = [c.q_en or "", c.q_other or "", c.q_en or c.q_other]
    if c.q_near:
        sql += (
            f" + CASE WHEN {lang} = 'en' AND ts_match_vq({v}, %s::tsquery) "
            f"THEN {PHRASE_BOOST} ELSE 0 END"
        )
        params.append(c.q_near)
    return sql + ")", params


# The probe's rows: the filter columns the facets count, the score, and
# whether the row is among those the ranking orders (`ranked`).
_PROBE_COLUMNS = "x.id, x.sid, x.lang, x.spk, x.kind, x.d"
_INNER_COLUMNS = (
    "t.id, t.search_speech_id AS sid, t.search_lang AS lang, t.search_speaker_id AS spk, "
    "t.search_kind AS kind, t.search_date AS d, t.search_vector, t.search_lang, t.search_speech_id"
)

_FACETS_SQL = """
WITH m AS MATERIALIZED ({rows}),
per AS MATERIALIZED (SELECT sid, count(*) AS n FROM m GROUP BY sid),
-- The matched speeches' themes and collections, each read by one index scan
-- for all of them (a join per speech re-read the array of ids every time).
tags AS MATERIALIZED (
    SELECT content_object_id AS sid, tag_id FROM speeches_taggedspeech
     WHERE content_object_id = ANY(ARRAY(SELECT sid FROM per))),
items AS MATERIALIZED (
    SELECT speech_id AS sid, collection_id AS cid FROM speeches_collectionitem
     WHERE speech_id = ANY(ARRAY(SELECT sid FROM per)))
SELECT 'total', '', '', count(*) FROM m
UNION ALL SELECT 'walked', walk, walk, count(*) FROM m WHERE walk <> '' GROUP BY walk
UNION ALL SELECT 'speeches', '', '', count(*) FROM per
UNION ALL SELECT 'lang', lang, lang, count(*) FROM m GROUP BY lang
UNION ALL SELECT 'speaker', sp.slug, sp.name, c.n
  FROM (SELECT spk, count(*) AS n FROM m GROUP BY spk) c
  JOIN speeches_speaker sp ON sp.id = c.spk
 WHERE sp.id = ANY(ARRAY(SELECT DISTINCT spk FROM m))
UNION ALL SELECT 'kind', kind, kind, count(*) FROM m GROUP BY kind
UNION ALL SELECT 'year', y::text, y::text, count(*)
  FROM (SELECT extract(year FROM d)::int AS y FROM m) years GROUP BY y
UNION ALL SELECT 'theme', tg.slug, tg.name, sum(per.n)
  FROM tags JOIN per ON per.sid = tags.sid JOIN taggit_tag tg ON tg.id = tags.tag_id
 GROUP BY tg.slug, tg.name
UNION ALL SELECT 'collection', c.slug, c.title, sum(per.n)
  FROM items JOIN per ON per.sid = items.sid JOIN speeches_collection c ON c.id = items.cid
 GROUP BY c.slug, c.title
{ranking}"""

# One page ranked from the probe's rows ("id score,id score,…" in order).
_TOP_SQL = """
UNION ALL SELECT 'top', string_agg(id::text || ' ' || score::text, ',' ORDER BY {order}), '', 0
  FROM (SELECT id, score, d FROM m WHERE ranked ORDER BY {order} LIMIT %s OFFSET %s) top"""

# One page of speeches from the probe's rows: position, "speech id best,ids", hits.
_GROUPS_SQL = """
UNION ALL SELECT 'group', g.k::text, g.sid::text || ' ' || g.ids, g.n
  FROM (SELECT sid, count(*) AS n, string_agg(id::text, ',' ORDER BY score DESC, id) AS ids,
               row_number() OVER (ORDER BY {order}, sid) AS k
          FROM m WHERE ranked GROUP BY sid ORDER BY {order}, sid LIMIT %s OFFSET %s) g"""

_TOP_ORDER = {
    "relevance": "score DESC, d DESC, id",
    "newest": "d DESC, id DESC",
    "oldest": "d ASC, id ASC",
}
_GROUP_ORDER = {"relevance": "max(score) DESC", "newest": "max(d) DESC", "oldest": "min(d) ASC"}

_SPEECH_FACETS_SQL = """
WITH s AS MATERIALIZED (
    SELECT s.id, s.speaker_id, s.kind, s.delivered_on FROM speeches_speech s
     WHERE s.status = 'published' {filters}
)
SELECT 'total', '', '', count(*) FROM s
UNION ALL SELECT 'speaker', sp.slug, sp.name, count(*)
  FROM s JOIN speeches_speaker sp ON sp.id = s.speaker_id GROUP BY sp.slug, sp.name
UNION ALL SELECT 'kind', s.kind, s.kind, count(*) FROM s GROUP BY s.kind
UNION ALL SELECT 'year', y::text, y::text, count(*) FROM (
    SELECT extract(year FROM delivered_on)::int AS y FROM s) years GROUP BY y
UNION ALL SELECT 'theme', tg.slug, tg.name, count(*)
  FROM s JOIN speeches_taggedspeech ts ON ts.content_object_id = s.id
  JOIN taggit_tag tg ON tg.id = ts.tag_id GROUP BY tg.slug, tg.name
UNION ALL SELECT 'collection', c.slug, c.title, count(*)
  FROM s JOIN speeches_collectionitem ci ON ci.speech_id = s.id
  JOIN speeches_collection c ON c.id = ci.collection_id GROUP BY c.slug, c.title
"""


def _speech_filters(p: SearchParams) -> tuple[str, list]:
    sql, params = [], []
    if p.speaker:
        sql.append("s.speaker_id = %s")
        params.append(p.speaker.pk)
    if p.speech:
        sql.append("s.id = %s")
        params.append(p.speech.pk)
    if p.kind:
        sql.append("s.kind = %s")
        params.append(p.kind)
    if p.year_from:
        sql.append("s.delivered_on >= %s")
        params.append(dt.date(p.year_from, 1, 1))
    if p.year_to:
        sql.append("s.delivered_on < %s")
        params.append(dt.date(p.year_to + 1, 1, 1))
    if p.lang:
        sql.append(
            "EXISTS (SELECT 1 FROM speeches_version v WHERE v.speech_id = s.id AND v.has_text "
            "AND lower(split_part(v.language, '-', 1)) = %s)"
        )
        params.append(p.lang)
    if p.theme:
        sql.append(
            "s.id IN (SELECT content_object_id FROM speeches_taggedspeech WHERE tag_id = %s)"
        )
        params.append(p.theme.pk)
    if p.collection:
        sql.append(
            "s.id IN (SELECT speech_id FROM speeches_collectionitem WHERE collection_id = %s)"
        )
        params.append(p.collection.pk)
    return "".join(f" AND {s}" for s in sql), params


KIND_LABELS = dict(Speech.Kind.choices)
FACET_ORDER = ("lang", "speaker", "kind", "year", "theme", "collection")
FACET_LIMIT = 30
FACETS_SHOWN = 12  # the rest of a facet's values behind "N more"
_SELECTED = {True: ' class="selected"', False: ""}
FACET_TITLES = {
    "lang": "Language",
    "speaker": "Speaker",
    "kind": "Kind",
    "year": "Year",
    "theme": "Theme",
    "collection": "Collection",
}


def _facets(rows, p: SearchParams) -> dict[str, list[FacetValue]]:
    """Facet values with counts and links; the FACET_LIMIT largest of each
    facet (and the selected one), years in date order."""
    from speeches.reading import language_name

    current = {
        "lang": p.lang,
        "speaker": p.speaker.slug if p.speaker else "",
        "kind": p.kind,
        "theme": p.theme.slug if p.theme else "",
        "collection": p.collection.slug if p.collection else "",
        "year": str(p.year_from) if p.year_from and p.year_from == p.year_to else "",
    }
    grouped: dict[str, list[tuple[str, str, int]]] = {name: [] for name in FACET_ORDER}
    for name, key, label, count in rows:
        if name in grouped and key is not None:
            grouped[name].append((key, label, int(count)))
    facets: dict[str, list[FacetValue]] = {}
    for name, values in grouped.items():
        values.sort(key=lambda v: (-v[2], v[1].lower()))
        kept = values[:FACET_LIMIT] + [v for v in values[FACET_LIMIT:] if v[0] == current[name]]
        if name == "year":
            kept.sort(key=lambda v: v[0], reverse=True)
        facets[name] = []
        queries = p.as_queries(name, [key for key, _, _ in kept])
        for (key, label, count), query in zip(kept, queries, strict=True):
            url = "?" + query
            if name == "kind":
                label = str(KIND_LABELS.get(key, key))
            elif name == "lang":
                label = language_name(key)
            facets[name].append(FacetValue(key, label, count, url, current[name] == key))
    return facets


@dataclass
class _Probe:
    """What the capped probe found: whether it hit the cap, matches per
    language arm (among those it saw), the rows each walked arm found, and the
    page ranked from the probe's own rows: (id, score) in order, or for the
    grouped view (speech id, hits, best passage ids)."""

    capped: bool
    lang_counts: dict[str, int]
    walked: dict[str, int] = field(default_factory=dict)
    newest: bool = False  # the rows are the newest matches (a filtered probe)
    top: list[tuple[int, float]] = field(default_factory=list)
    groups: list[tuple[int, int, list[int]]] = field(default_factory=list)


@dataclass
class _Walk:
    """How a walked arm finds its newest matches: among its `rows` newest rows,
    tested one by one along the date B-tree when the word is `dense` (a walk
    that stops at WINDOW + 1 matches), else by one GIN scan bounded by date."""

    rows: int
    dense: bool


def _walks(c: _Compiled, p: SearchParams) -> dict[str, int]:
    """Arms whose probe takes their newest matches only (a walk along the date
    index or a date-bounded GIN scan, see _probe), with their estimated matches.

    Only a one-lexeme arm without filters (what ANALYZE's statistics estimate
    well: within 10% at 1M for frequent words), English words in the English
    arm and Chinese bigrams in the other, when the estimate is far above CAP
    (at least 3 × CAP); or a two-word English phrase whose one word pair the
    pairs index's statistics put at 3 × PHRASE_WINDOW and in at least
    MIN_WINDOW_DENSITY of the English rows. Such a query is capped and ranked
    among its newest WINDOW matches: the bitmap probe would only add the
    bitmap of every match and CAP heap rows before it. A wrong estimate costs
    time, never results: a walk stops after WINDOW_SLACK × 4 times the rows it
    expected to visit, a window widens once, and then the bitmap probe runs."""
    if p.has_filters or not c.rows:
        return {}
    if c.has_phrase:
        # A two-word English phrase: its one pair's share (the pairs index's
        # own statistics) estimates it as well as a word's.
        pair = c.q_pairs[1:-1].replace("''", "'")
        estimate = c.pair_share.get(pair, 0.0) * c.rows * c.en_share
        dense_enough = estimate >= MIN_WINDOW_DENSITY * c.rows * c.en_share
        if _ONE_LEXEME.match(c.q_pairs) and estimate >= 3 * PHRASE_WINDOW and dense_enough:
            return {"en": int(estimate)}
        return {}
    walks = {}
    for name, _condition, q in _arms(c):
        estimate = _estimate(c, name, q)
        if estimate >= 3 * CAP:
            walks[name] = int(estimate)
    return walks


def _estimate(c: _Compiled, name: str, q: str) -> float:
    """ANALYZE's estimate of an arm's matches when its query is one lexeme of
    that arm's kind (an English word, a Chinese bigram), else 0."""
    if not c.lexeme_share or not _ONE_LEXEME.match(q):
        return 0.0
    lexeme = q[1:-1].replace("''", "'")
    if textnorm.contains_cjk(lexeme) != (name == "other"):
        return 0.0
    return c.lexeme_share.get(lexeme, 0.0) * c.rows


def _probe_rows(
    c: _Compiled, p: SearchParams, walks: dict[str, _Walk], cap: int
) -> tuple[str, list]:
    """The probe's rows (SQL and parameters): the first `cap` + 1 matches of the
    GIN bitmaps, and for each walked arm its newest WINDOW + 1 matches among
    its `rows` newest rows; each with its score (read while the row is at
    hand) and whether the ranking orders it: the first `cap` of a bitmap (every
    match, or the first of a frequent phrase), the first WINDOW of a walk."""
    score, score_params = _score(c, "x")
    # Only the rows the ranking orders are scored (a capped probe sees more).
    outer = (
        f"SELECT {_PROBE_COLUMNS}, {{walk}} AS walk, "
        f"CASE WHEN {{ranked}} THEN {score} END AS score, {{ranked}} AS ranked"
    )
    if not walks and p.newest_first:
        return _newest_probe_rows(c, p, cap, outer, score_params)
    # Word pairs take the arms one by one (below): under an OR of the arms the
    # planner rechecks every row against both, the pairs function included
    # (0.5 ms a row).
    if not walks and not c.q_pairs:
        match, match_params = _match(c, p)
        # The first `cap` rows are scored as they stream past. Beyond the cap
        # words are ranked among their newest matches (_candidates), so there
        # the scores are wasted (~1 µs a row); deciding first (count(*) OVER
        # ()) made PostgreSQL store every row with its vector before scoring
        # any: 强国's 1,665 Chinese rows, 11.7 → 8.1 ms without it.
        ranked = f"row_number() OVER () <= {cap}"
        sql = (
            outer.format(walk="''", ranked=ranked)
            + f" FROM (SELECT {_INNER_COLUMNS} FROM {_TABLE} WHERE {match} LIMIT %s) x"
        )
        return sql, [*score_params, *match_params, cap + 1]
    filters, filter_params = _filters(p)
    parts, params = [], []
    # A phrase's first `cap` matches are ranked (as in the plain probe above).
    ranked = f"row_number() OVER () <= {cap}" if c.has_phrase else "true"
    for name, condition, q in _arms(c):
        walk = walks.get(name)
        if walk and walk.dense:
            # A dense word: test the newest rows one after the other along the
            # date B-tree (`ts_match_vq` is `@@` in a form GIN cannot take),
            # stopping at WINDOW + 1 matches.
            parts.append(
                "("
                + outer.format(walk=f"'{name}'", ranked=f"row_number() OVER () <= {WINDOW}")
                + f" FROM (SELECT w.* FROM (SELECT {_INNER_COLUMNS} FROM {_TABLE} "
                f"WHERE t.search_public AND {condition}{filters} "
                f"ORDER BY t.search_date DESC, t.id DESC LIMIT {walk.rows}) w "
                f"WHERE ts_match_vq(w.search_vector, %s::tsquery) LIMIT {WINDOW + 1}) x)"
            )
            params += [*score_params, *filter_params, q]
        elif walk:
            # A sparser word (or a frequent phrase's pair): one scan of the arm's
            # GIN index (vector or pairs, with the day) for the matches no older
            # than the arm's `rows`-th newest row, sorted (`+ 0`: not along the
            # date B-tree, row after row). Should the newest rows hold fewer
            # than the average promised (经济 among the newest transcripts), a
            # wider window runs in the same statement (gated: not run at all
            # otherwise) instead of a second probe statement.
            match, match_params = _vector_match(c, name, q)
            window = (
                f"SELECT {_INNER_COLUMNS} FROM {_TABLE} "
                f"WHERE t.search_public AND {condition} AND {match} "
                f"AND {DAY_NUMBER_SQL.format(date='t.search_date')} >= {{cutoff}}"
                f"{filters} ORDER BY t.search_date + 0 DESC, t.id DESC LIMIT {WINDOW + 1}"
            )
            first = window.format(cutoff=_cutoff(name, walk.rows))
            # The wider window: as many rows again as the first one's matches
            # say hold 1.5 × (WINDOW + 1), at that density.
            grown = (
                f"(SELECT ceil({walk.rows} * {1.5 * (WINDOW + 1)} "
                "/ GREATEST(count(*), 1))::bigint FROM w)"
            )
            wider = window.format(cutoff=_cutoff(name, grown))
            parts.append(
                "("
                + outer.format(walk=f"'{name}'", ranked=f"row_number() OVER () <= {WINDOW}")
                + f" FROM (WITH w AS MATERIALIZED ({first}) "
                f"SELECT * FROM w WHERE (SELECT count(*) FROM w) > {WINDOW} UNION ALL "
                f"SELECT * FROM ({wider}) w2 WHERE (SELECT count(*) FROM w) <= {WINDOW}) x)"
            )
            params += [*score_params, *match_params, *filter_params]
            params += [*match_params, *filter_params]
        else:
            match, match_params = _vector_match(c, name, q)
            parts.append(
                "("
                + outer.format(walk="''", ranked=ranked)
                + f" FROM (SELECT {_INNER_COLUMNS} FROM {_TABLE} WHERE t.search_public "
                f"AND {condition} AND {match}{filters} LIMIT {cap + 1}) x)"
            )
            params += [*score_params, *match_params, *filter_params]
    return " UNION ALL ".join(parts), params


def _newest_probe_rows(
    c: _Compiled, p: SearchParams, cap: int, outer: str, score_params: list
) -> tuple[str, list]:
    """With a speaker or a year range, the probe's rows are the newest `cap` + 1
    matches: each language arm in date order (the speaker's (speaker, date, id)
    B-tree or the arm's date B-tree, walked newest first, each row tested as it
    comes, or a bitmap and a sort when the word is rare), merged. Beyond the
    cap, the first WINDOW of them are the newest matches the ranking orders,
    as for a frequent word, without a second walk (_candidates). A word the
    statistics call frequent is always walked (`ts_match_vq`: `@@` in a form
    GIN cannot take): the planner's own estimate for a bigram is off by 10×
    (发展 1990–2000: its bitmap and sort of every match took 24 ms)."""
    filters, filter_params = _filters(p)
    parts, params = [], []
    for name, condition, q in _arms(c):
        order = "t.search_date DESC"
        if _estimate(c, name, q) >= 3 * CAP:
            match, match_params = "ts_match_vq(t.search_vector, %s::tsquery)", [q]
        else:
            match, match_params = _vector_match(c, name, q)
            if _ONE_LEXEME.match(q):
                # A word the statistics call rare in this arm (a Chinese bigram
                # in the English arm: the column's statistics say 2.6%, the
                # arm holds none): its bitmap, sorted (`+ 0`), not a walk of
                # every row in the range (88,848 rows, 71 ms).
                order = "t.search_date + 0 DESC"
        parts.append(
            f"(SELECT {_INNER_COLUMNS} FROM {_TABLE} WHERE t.search_public AND {condition} "
            f"AND {match}{filters} ORDER BY {order}, t.id DESC LIMIT {cap + 1})"
        )
        params += [*match_params, *filter_params]
    sql = (
        outer.format(
            walk="''",
            ranked=f"row_number() OVER (ORDER BY x.d DESC, x.id DESC) <= "
            f"CASE WHEN count(*) OVER () > {cap} THEN {WINDOW} ELSE {cap} END",
        )
        + f" FROM ({' UNION ALL '.join(parts)} ORDER BY d DESC, id DESC LIMIT {cap + 1}) x"
    )
    return sql, [*score_params, *params]


_COLUMNS = "t.id, t.search_vector, t.search_lang, t.search_speech_id, t.search_date"
_TABLE = "speeches_passagetext t"


# Each arm's rows: one partial GIN index (and date B-tree) per configuration.
_ARM_CONDITIONS = {"en": "search_lang = 'en'", "other": "search_lang <> 'en'"}


def _cutoff(name: str, rows: int | str) -> str:
    """SQL for the day number (the GIN indexes' second column, models.SEARCH_DAY)
    of an arm's `rows`-th newest public row, read from its date B-tree alone
    (an index-only scan, ~75 ns a row); no bound when the arm has fewer rows.
    `rows`: a number, or SQL for one (a scalar subquery)."""
    offset = rows if isinstance(rows, str) else str(int(rows))
    return (
        f"COALESCE((SELECT {DAY_NUMBER_SQL.format(date='c.search_date')} "
        "FROM speeches_passagetext c "
        f"WHERE c.search_public AND c.{_ARM_CONDITIONS[name]} "
        f"ORDER BY c.search_date DESC, c.id DESC OFFSET {offset} LIMIT 1), -2147483648)"
    )


def _arms(c: _Compiled) -> list[tuple[str, str, str]]:
    """(name, language condition, tsquery) for each partial index to search."""
    arms = []
    if c.q_en:
        arms.append(("en", f"t.{_ARM_CONDITIONS['en']}", c.q_en))
    if c.q_other:
        arms.append(("other", f"t.{_ARM_CONDITIONS['other']}", c.q_other))
    return arms


def _candidates(
    c: _Compiled,
    p: SearchParams,
    probe: _Probe,
    *,
    date_order: str = "",
    window: int = 0,
) -> tuple[str, list, str]:
    """The rows to rank beyond the cap when the probe's own rows will not do
    (SQL, params, why approximate): words over CAP that the probe found through
    the bitmap, and date sorts over CAP. The probe ranks every other case
    itself (see _probe_rows).

    Per language arm, a dense arm (at least WINDOW of the probe's matches)
    walks its date index from the newest row and stops after WINDOW matches:
    `ts_match_vq(…)` is `@@` in a form the GIN index cannot take, so the
    planner reads the date-ordered B-tree instead of building a bitmap of every
    match. A sparse arm takes its matches from the GIN bitmap (at most
    PHRASE_WINDOW). With `date_order` ("DESC"/"ASC") the walk gives the exact
    date order and each arm keeps its first `window` rows in that order."""
    window = window or WINDOW
    filters, filter_params = _filters(p)
    direction = date_order or "DESC"
    order = f"ORDER BY t.search_date {direction}, t.id {direction}"
    parts, params = [], []
    for name, condition, q in _arms(c):
        dense = probe.lang_counts.get(name, 0) >= WINDOW and not c.has_phrase
        # One English lexeme and no filter: PostgreSQL's estimate of the match
        # is good (ANALYZE's own statistics), so the planner chooses between
        # the walk and a bitmap plus a top-N sort — at 110k texts the bitmap
        # took "freedom" (3,276 matches) from 22 to 4 ms, at 1M both plans cost
        # the same. Several lexemes: the planner underestimates their AND (at
        # 1M "climate change" 46 ms by bitmap, 11 ms walked); Chinese bigrams:
        # it misjudges the non-English share (at 1M 经济 20 ms by its choice,
        # 13 ms walked). Those keep the forced walk.
        walk = dense and not (name == "en" and _ONE_LEXEME.match(q) and not p.has_filters)
        operator, match_params = (
            ("ts_match_vq(t.search_vector, %s::tsquery)", [q])
            if walk
            else _vector_match(c, name, q)
        )
        limit = window if dense or date_order else PHRASE_WINDOW
        tail = f"{order} LIMIT {limit}" if dense or date_order else f"LIMIT {limit}"
        parts.append(
            f"(SELECT {_COLUMNS} FROM {_TABLE} WHERE t.search_public AND {condition} "
            f"AND {operator}{filters} {tail})"
        )
        params += [*match_params, *filter_params]
    why = "" if date_order else f"most relevant among the {WINDOW:,} newest matches"
    return " UNION ALL ".join(parts), params, why


def _lang_counts(facets: dict[str, list[FacetValue]]) -> dict[str, int]:
    counts = {"en": 0, "other": 0}
    for value in facets.get("lang", []):
        counts["en" if value.key == "en" else "other"] += value.count
    return counts


def _ranking(
    c: _Compiled,
    p: SearchParams,
    probe: _Probe,
    *,
    limit: int,
    offset: int,
) -> tuple[str, list, str]:
    """One page of (id, score, k) in rank order k, when the probe could not
    rank it: SQL, parameters and why the order is approximate ("" when exact)."""
    if p.sort in ("newest", "oldest"):
        direction = "DESC" if p.sort == "newest" else "ASC"
        # Each arm keeps enough rows in date order for this page.
        sql, params, _ = _candidates(c, p, probe, date_order=direction, window=offset + limit)
        order = f"search_date {direction}, id {direction}"
        return (
            f"SELECT x.id, 0::float8 AS score, row_number() OVER (ORDER BY {order}) AS k "
            f"FROM (SELECT t.id, t.search_date FROM ({sql}) t "
            f"ORDER BY {order} LIMIT %s OFFSET %s) x",
            [*params, limit, offset],
            "",
        )
    sql, params, approximate = _candidates(c, p, probe)
    score, score_params = _score(c)
    order = "score DESC, search_date DESC, id"
    return (
        f"SELECT x.id, x.score, row_number() OVER (ORDER BY {order}) AS k FROM ("
        f"SELECT t.id, {score} AS score, t.search_date FROM ({sql}) t "
        f"ORDER BY {order} LIMIT %s OFFSET %s) x",
        [*score_params, *params, limit, offset],
        approximate,
    )


def _grouped(
    c: _Compiled,
    p: SearchParams,
    probe: _Probe,
    *,
    limit: int,
    offset: int,
) -> tuple[list[tuple[int, int, list[int]]], str]:
    """(speech id, hits, best passage text ids) of one page of speeches, when
    the probe could not rank them."""
    sql, params, approximate = _candidates(c, p, probe)
    score, score_params = _score(c)
    order = _GROUP_ORDER[p.sort].replace("(d)", "(search_date)")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT sid, count(*), (array_agg(id ORDER BY score DESC, id))[1:%s] FROM ("
            f"SELECT t.id, t.search_speech_id AS sid, t.search_date, {score} AS score "
            f"FROM ({sql}) t) scored "
            f"GROUP BY sid ORDER BY {order}, sid LIMIT %s OFFSET %s",
            [PASSAGES_PER_GROUP, *score_params, *params, limit, offset],
        )
        return cursor.fetchall(), approximate


# One page in one statement: the ranked rows with everything a result shows,
# the "Speeches with this in the title" box, and the words of the page's English
# texts that PostgreSQL's stemmer maps to a query lexeme (for highlighting).
# Each table is read by primary key in a LATERAL subquery that `OFFSET 0` keeps
# from being merged into one join: the plan is the same chain of primary-key
# lookups, but the planner no longer searches the join orders of six relations
# (planning that join took 0.50 ms, this one 0.11 ms; measured with EXPLAIN).
_PAGE_SQL = """
WITH ranked AS MATERIALIZED ({ranked}),
page AS MATERIALIZED (
    SELECT r.id, r.score, r.k, t.text, t.search_lang,
           v.id AS v_id, v.language, v.code, v.title AS v_title,
           p.id AS p_id, p.key, p.position,
           s.id AS s_id, s.slug, s.title, s.delivered_on, s.date_precision, s.kind, s.status,
           sp.id AS sp_id, sp.name, sp.slug AS sp_slug
      FROM ranked r
     CROSS JOIN LATERAL (SELECT t.text, t.search_lang, t.version_id, t.passage_id
                           FROM speeches_passagetext t WHERE t.id = r.id OFFSET 0) t
     CROSS JOIN LATERAL (SELECT v.id, v.language, v.code, v.title
                           FROM speeches_version v WHERE v.id = t.version_id OFFSET 0) v
     CROSS JOIN LATERAL (SELECT p.id, p.key, p.position, p.speech_id
                           FROM speeches_passage p WHERE p.id = t.passage_id OFFSET 0) p
     CROSS JOIN LATERAL (SELECT s.id, s.slug, s.title, s.delivered_on, s.date_precision,
                                s.kind, s.status, s.speaker_id
                           FROM speeches_speech s WHERE s.id = p.speech_id OFFSET 0) s
     CROSS JOIN LATERAL (SELECT sp.id, sp.name, sp.slug
                           FROM speeches_speaker sp WHERE sp.id = s.speaker_id OFFSET 0) sp
)
SELECT page.*, {titles} AS titles, {marks} AS marks FROM page ORDER BY k
"""

# A page the probe ranked: its ids and scores, in order.
_RANKED_IDS_SQL = """
SELECT r.id, r.score, r.k FROM unnest(%s::bigint[], %s::float8[]) WITH ORDINALITY AS r(id, score, k)
"""

# The best TITLE_MATCHES speeches first, then their speakers: joining every
# matching speech to its speaker before the LIMIT hashed the whole speaker
# table, and a window function numbered them all (EXPLAIN ANALYZE: "people",
# 252 titles, 0.57 → 0.31 ms; "nations" 1.24 → 0.69 ms).
_TITLES_SQL = """(
SELECT json_agg(json_build_array(x.id, x.slug, x.title, x.delivered_on, x.date_precision,
                                 sp.id, sp.name, sp.slug)
                ORDER BY x.rank DESC, x.delivered_on DESC, x.id)
  FROM (SELECT s.id, s.slug, s.title, s.delivered_on, s.date_precision, s.speaker_id,
               ts_rank_cd(s.search_vector, %s::tsquery) AS rank
          FROM speeches_speech s
         WHERE s.status = 'published' AND s.search_vector @@ %s::tsquery {filters}
         ORDER BY rank DESC, s.delivered_on DESC, s.id LIMIT %s) x
  JOIN speeches_speaker sp ON sp.id = x.speaker_id)"""

# Words split like _WORD (letters and digits), lower-cased like str.lower().
# Only words that begin like a query lexeme go through the stemmer: the
# Snowball English stemmer rewrites endings, never the first two letters.
# The words are picked out by one regular expression per text (a word begins
# at the start or after a non-alphanumeric character): splitting every text
# into all its words first cost 0.4 ms a long passage ("infamy": 6.5 of the
# page statement's 9 ms).
_MARKS_SQL = """(
SELECT array_agg(w)
  FROM (SELECT DISTINCT m[1] AS w FROM page g, regexp_matches(lower(g.text), %s, 'g') AS m
         WHERE g.search_lang = 'en') words
 WHERE to_tsvector('english', w) @@ to_tsquery('simple', %s))"""


def _marks_pattern(prefixes: list[str]) -> str:
    """The regular expression for _MARKS_SQL: whole words that begin with one
    of `prefixes` (letters and digits only, so nothing needs escaping)."""
    return f"(?:^|[^[:alnum:]])((?:{'|'.join(prefixes)})[[:alnum:]]*)"


def _from_db(model, values: dict, **related):
    """A model instance from some of its columns (the others load on access, as
    after Model.from_db), with `related` objects set on its foreign keys.

    Built without Model.__init__, which walks every field of the model to skip
    the missing ones: a page builds 100 to 300 instances (each text with its
    passage, version, speech and speaker), and this cut the page's Python from
    0.7 to 0.2 ms (grouped: 1.8 to 0.6 ms). A model with an init signal
    receiver (none today) goes through Model.from_db, so the receiver runs."""
    if signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model):
        names = [f.attname for f in model._meta.concrete_fields if f.attname in values]
        instance = model.from_db("default", names, [values[name] for name in names])
        for name, target in related.items():
            setattr(instance, name, target)
        return instance
    instance = model.__new__(model)
    instance._state = ModelState()
    instance._state.adding = False
    instance._state.db = "default"
    attnames = _attnames(model)
    instance.__dict__.update((k, v) for k, v in values.items() if k in attnames)
    for name, target in related.items():
        # What assigning through the descriptor does (`passage.speech = speech`).
        fk = model._meta.get_field(name)
        instance.__dict__[fk.attname] = target.pk
        fk.set_cached_value(instance, target)
    return instance


@functools.cache
def _attnames(model) -> frozenset[str]:
    return frozenset(f.attname for f in model._meta.concrete_fields)


def _speech(values: dict, cache: dict[int, Speech]) -> Speech:
    speech = cache.get(values["id"])
    if speech is None:
        speaker = _from_db(Speaker, values.pop("speaker"))
        speech = cache[values["id"]] = _from_db(Speech, values, speaker=speaker)
    return speech


@dataclass
class _Page:
    texts: list[tuple[PassageText, float]]
    titles: list[Speech]
    marks: set[str]


def _fetch_page(
    ranked: str,
    params: list,
    c: _Compiled,
    p: SearchParams,
    *,
    decorate: bool,
) -> _Page:
    """Run one page's statement; `decorate` adds the title box and the words to
    mark (the HTML page's first page), which the CSV export does not need."""
    titles, marks = "NULL::json", "NULL::text[]"
    extra: list = []
    if decorate and not p.speech and p.page == 1:
        filters, filter_params = _speech_filters(p)
        q = c.q_en or c.q_other
        titles = _TITLES_SQL.format(filters=filters)
        extra += [q, q, *filter_params, TITLE_MATCHES]
    lexemes = {m.group(1).replace("''", "'") for m in _LEXEME.finditer(c.q_en_positive)}
    lexemes = {x for x in lexemes if not textnorm.contains_cjk(x)}
    prefixes = sorted({x[:2] for x in lexemes})
    if decorate and prefixes and all(x.isalnum() for x in prefixes):
        marks = _MARKS_SQL
        extra.append(_marks_pattern(prefixes))
        extra.append(" | ".join(_quote_lexeme(x) for x in sorted(lexemes)))
    with connection.cursor() as cursor:
        cursor.execute(
            _PAGE_SQL.format(ranked=ranked, titles=titles, marks=marks),
            [*params, *extra],
        )
        rows = cursor.fetchall()
    speeches: dict[int, Speech] = {}
    texts = []
    for row in rows:
        (id_, score, _k, text, lang, v_id, language, code, v_title, p_id, key, position) = row[:12]
        (s_id, slug, title, delivered_on, precision, kind, status, sp_id, name, sp_slug) = row[
            12:22
        ]
        speaker = {"id": sp_id, "name": name, "slug": sp_slug}
        speech = _speech(
            {
                "id": s_id,
                "slug": slug,
                "title": title,
                "delivered_on": delivered_on,
                "date_precision": precision,
                "kind": kind,
                "status": status,
                "speaker": speaker,
            },
            speeches,
        )
        passage = _from_db(Passage, {"id": p_id, "key": key, "position": position}, speech=speech)
        version = _from_db(
            Version,
            {"id": v_id, "language": language, "code": code, "title": v_title},
            speech=speech,
        )
        passage_text = _from_db(
            PassageText,
            {"id": id_, "text": text, "search_lang": lang},
            passage=passage,
            version=version,
        )
        texts.append((passage_text, float(score)))
    page = _Page(texts, [], set())
    if rows:
        found_titles, found_marks = rows[0][22], rows[0][23]
        for s_id, slug, title, delivered_on, precision, sp_id, name, sp_slug in found_titles or []:
            values = {
                "id": s_id,
                "slug": slug,
                "title": title,
                "delivered_on": dt.date.fromisoformat(delivered_on),
                "date_precision": precision,
                "speaker": {"id": sp_id, "name": name, "slug": sp_slug},
            }
            page.titles.append(_speech(values, {}))
        page.marks = set(found_marks or [])
    return page


# ================================================================== highlighting


_LEXEME = re.compile(r"'((?:[^']|'')*)'")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def _normalised_with_offsets(text: str) -> tuple[str, list[int]]:
    """The normalised text and, for each of its characters, the offset of the
    original character it came from (normalisation may change lengths)."""
    norm = textnorm.normalize(text)
    if len(norm) == len(text):
        return norm, list(range(len(text)))
    # Character by character (Chinese text with an ellipsis … comes here).
    pieces = [_normalised_char(ch) for ch in text]
    offsets = [index for index, piece in enumerate(pieces) for _ in piece]
    return "".join(pieces), offsets


@functools.lru_cache(maxsize=8192)
def _normalised_char(ch: str) -> str:
    """textnorm.normalize of one character, remembered: normalising each
    character of a 300-character text anew cost 0.3 ms."""
    return textnorm.normalize(ch)


@functools.lru_cache(maxsize=256)
def _words_pattern(words: frozenset[str]) -> re.Pattern:
    """Any of `words` as a whole word (bounded like _WORD), in any case."""
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![^\W_])(?:{alternatives})(?![^\W_])", re.IGNORECASE)


@functools.lru_cache(maxsize=256)
def _lower_words_pattern(words: frozenset[str]) -> re.Pattern:
    """Any of `words` (lower case), longest first, as found in lower-cased text."""
    return re.compile("|".join(sorted(words, key=len, reverse=True)))


def _english_spans(text: str, words: set[str]) -> list[tuple[int, int]]:
    """Spans of `words` in `text` as whole words (bounded like _WORD), in any case.

    A case-insensitive pattern with look-arounds cannot start from a literal, so
    it tries every position of the text (people, grouped page: 0.55 ms for 58
    texts). When lower-casing keeps every character in place and the words are
    ASCII letters and digits, the text is lower-cased once, searched with a
    plain pattern and the word boundaries checked on the matches (0.12 ms):
    the same spans, because lower-casing (and re.IGNORECASE for ASCII) never
    turns a letter or digit into anything else, so a match that fails a
    boundary cannot hide one that passes."""
    if not words:
        return []
    lowered = text.lower()
    if len(lowered) != len(text) or not all(w.isascii() and w.isalnum() for w in words):
        pattern = _words_pattern(frozenset(words))
        return [m.span() for m in pattern.finditer(text) if m.group(0).lower() in words]
    spans = []
    for m in _lower_words_pattern(frozenset(words)).finditer(lowered):
        start, end = m.span()
        if (start == 0 or not text[start - 1].isalnum()) and (
            end == len(text) or not text[end].isalnum()
        ):
            spans.append((start, end))
    return spans


def highlight_spans(
    text: str, needles: list[str], english_words: set[str]
) -> list[tuple[int, int]]:
    """Spans (start, end) of the original text to mark: CJK needles and words
    as substrings of the normalised text, English words by their lexeme."""
    needles = [n for n in needles if n]
    # Normalising (NFKC, OpenCC) a whole passage costs; English words need not.
    norm, offsets = _normalised_with_offsets(text) if needles else ("", [])
    spans: list[tuple[int, int]] = []
    for needle in needles:
        word_like = not textnorm.contains_cjk(needle)
        start = norm.find(needle)
        while start != -1:
            end = start + len(needle)
            whole = not word_like or (
                (start == 0 or not norm[start - 1].isalnum())
                and (end >= len(norm) or not norm[end].isalnum())
            )
            if whole:
                spans.append((offsets[start], offsets[end - 1] + 1))
            start = norm.find(needle, start + 1)
    if english_words:
        spans.extend(_english_spans(text, english_words))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def snippet(text: str, spans: list[tuple[int, int]], width: int = SNIPPET_CHARS) -> SafeString:
    """A window of the text around its first marked span; every piece escaped."""
    if len(text) <= width:
        begin, end = 0, len(text)
    else:
        first = spans[0][0] if spans else 0
        begin = max(0, first - width // 4)
        end = min(len(text), begin + width)
        begin = max(0, end - width)
        # Do not cut a word in two when a space is near.
        space = text.rfind(" ", max(0, begin - 15), begin + 1)
        if begin and space > 0:
            begin = space + 1
    out, pos = [], begin
    for start, stop in spans:
        if stop <= begin or start >= end:
            continue
        start, stop = max(start, begin), min(stop, end)
        out.append(html.escape(text[pos:start], quote=False))
        out.append("<mark>" + html.escape(text[start:stop], quote=False) + "</mark>")
        pos = stop
    out.append(html.escape(text[pos:end], quote=False))
    prefix = "…" if begin > 0 else ""
    suffix = "…" if end < len(text) else ""
    return mark_safe(prefix + "".join(out) + suffix)  # built from escaped pieces


def _needles(parsed: ParsedQuery) -> list[str]:
    """Normalised strings to mark as substrings: CJK runs and the Latin words
    of CJK terms (English words are marked by lexeme instead)."""
    needles: list[str] = []
    for term in parsed.positive_terms():
        norm = textnorm.normalize(term.text)
        needles.extend(m.group(0) for m in textnorm.CJK_RUN.finditer(norm))
        needles.extend(w for w in _WORD.findall(textnorm.CJK_RUN.sub(" ", norm)))
    return sorted(set(needles), key=len, reverse=True)


def _attach_snippets(hits: list[Hit], parsed: ParsedQuery, english: set[str]) -> None:
    needles = _needles(parsed)
    for hit in hits:
        text = hit.passage_text.text
        is_en = hit.passage_text.search_lang == "en"
        local_needles = [n for n in needles if textnorm.contains_cjk(n)] if is_en else needles
        spans = highlight_spans(text, local_needles, english if is_en else set())
        hit.snippet = snippet(text, spans)
        hit.display()


# ================================================================== entry point


def _begin() -> None:
    """Set this transaction's limits (an empty query: no tsqueries to build)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {_SETTINGS_SQL}", [str(TIMEOUT_MS)])


def _recent(p: SearchParams, result: SearchResult) -> None:
    """Empty query: recent public speeches under the filters, with facets."""
    filters, params = _speech_filters(p)
    with connection.cursor() as cursor:
        cursor.execute(_SPEECH_FACETS_SQL.format(filters=filters), params)
        rows = cursor.fetchall()
        cursor.execute(
            f"SELECT s.id FROM speeches_speech s WHERE s.status = 'published' {filters} "
            "ORDER BY s.delivered_on DESC, s.id DESC LIMIT %s",
            [*params, PAGE_SIZE],
        )
        ids = [row[0] for row in cursor.fetchall()]
    result.total_speeches = next((int(r[3]) for r in rows if r[0] == "total"), 0)
    result.facets = _facets([r for r in rows if r[0] != "total"], p)
    by_id = Speech.objects.select_related("speaker").in_bulk(ids)
    result.recent = [by_id[i] for i in ids if i in by_id]


def _probe(
    c: _Compiled, p: SearchParams, result: SearchResult, *, limit: int, offset: int
) -> _Probe:
    """Run the capped probe: one statement for the counts, the facets and the
    page ranked from the rows it saw (see _search for when that page stands)."""
    walks = _walks(c, p)
    if p.grouped:
        ranking = _GROUPS_SQL.format(order=_GROUP_ORDER[p.sort])
    else:
        ranking = _TOP_SQL.format(order=_TOP_ORDER[p.sort])
    # A walked arm's window: enough of its newest rows to hold WINDOW_SLACK
    # times WINDOW matches at the word's average density. The newest rows may
    # hold fewer (人民 is rarer in the newest transcripts than on average):
    # then a wider window runs within the statement (_probe_rows); still
    # short, the exact bitmap probe runs.
    arm_rows = {"en": c.rows * c.en_share, "other": c.rows * (1 - c.en_share)}
    windows = {}
    for name, estimate in walks.items():
        rows = int(WINDOW_SLACK * (WINDOW + 1) * arm_rows[name] / estimate) + 1
        # A phrase is never walked row by row (positions rechecked each time).
        dense = not c.has_phrase and (
            estimate < MIN_WINDOW_DENSITY * arm_rows[name]
            or (name == "en" and estimate >= DENSE * arm_rows[name])
        )
        # A walk stops at WINDOW + 1 matches: a longer leash costs nothing
        # unless the newest rows hold the word less often than the average
        # ("nations": twice the expected rows, then a second statement).
        windows[name] = _Walk(rows=rows * 4 if dense else rows, dense=dense)
    with connection.cursor() as cursor:
        for _attempt in range(2):
            rows_sql, params = _probe_rows(c, p, windows, result.cap)
            cursor.execute(
                _FACETS_SQL.format(rows=rows_sql, ranking=ranking), [*params, limit, offset]
            )
            rows = cursor.fetchall()
            walked = {r[1]: int(r[3]) for r in rows if r[0] == "walked"}
            short = [name for name in windows if walked.get(name, 0) <= WINDOW]
            if not short:
                break
            # Fewer matches than the statistics promised: count them exactly.
            walks, walked, windows = {}, {}, {}
        counts = {r[0]: int(r[3]) for r in rows if r[0] in ("total", "speeches")}
    result.total = counts.get("total", 0)
    result.total_speeches = counts.get("speeches", 0)
    result.capped = result.total > result.cap or bool(walks)
    result.facets = _facets([r for r in rows if r[0] in FACET_ORDER], p)
    probe = _Probe(result.capped, _lang_counts(result.facets), walked, newest=p.newest_first)
    if probe.newest and probe.capped:
        result.sampled = "newest"
    top = next((r[1] for r in rows if r[0] == "top"), None) or ""
    for item in top.split(",") if top else []:
        id_, score = item.split(" ")
        probe.top.append((int(id_), float(score)))
    groups = sorted((int(r[1]), r[2], int(r[3])) for r in rows if r[0] == "group")
    for _k, ids, hits in groups:
        sid, best = ids.split(" ")
        best_ids = [int(i) for i in best.split(",")[:PASSAGES_PER_GROUP]]
        probe.groups.append((int(sid), hits, best_ids))
    if walks:
        # Beyond CAP, the total is PostgreSQL's estimate (ANALYZE's sample).
        result.estimate = sum(walks.values()) + result.total - sum(walked.values())
        result.sampled = "newest"
    return probe


def _search(p: SearchParams, result: SearchResult, *, csv_mode: bool) -> None:
    typed = result.parsed
    # Statement 1 builds the tsqueries with the glossary this process has, and
    # reads the glossary's stamp: only when that moved is the glossary read
    # and the query built again.
    glossary = _GLOSSARY_CACHE  # one snapshot of the cache for this search
    parsed, result.expansions = expand(typed, list(glossary.terms)) if p.expand else (typed, [])
    # With a filter, the matches cluster (one speaker, some years): a sequential
    # scan "until enough rows" can then read most of the table, so this search
    # goes through the indexes (local to its transaction).
    c, keys = _compile(parsed, index_only=p.has_filters, begin=True)
    if p.expand and (keys.glossary is None or keys.glossary != glossary.stamp):
        fresh, result.expansions = expand(typed, _glossary(keys.glossary))
        if fresh != parsed:
            parsed = fresh
            c, _ = _compile(parsed)
    result.parsed = parsed
    limit = CSV_CAP if csv_mode else PAGE_SIZE
    grouped = p.grouped and not csv_mode
    one_word = len(parsed.groups) == 1 and len(parsed.groups[0]) == 1 and not parsed.excluded
    if one_word:
        stats = _statistics(keys.stats)
        c.lexeme_share, c.en_share, c.rows = stats.lexemes, stats.en, stats.rows
        c.pair_share = stats.pairs
    if not c.q_en and not c.q_other:
        result.stopwords_only = True
        return
    if not c.q_en and not parsed.has_cjk:
        result.stopwords_only = True
        return
    # Phrases are rechecked row by row (positions), so their probe stops sooner.
    # With a speaker or years, the probe reads the newest matches in order and
    # stops at WINDOW + 1 (counting on to CAP along the speaker's rows cost 20
    # ms for "people" at 1M).
    english_phrase = any(t.phrase and not t.has_cjk for g in parsed.groups for t in g)
    if c.has_phrase:
        result.cap = PHRASE_WINDOW if english_phrase else CHAIN_CAP
    else:
        result.cap = WINDOW if p.newest_first else CAP
    offset = 0 if csv_mode else (p.page - 1) * limit
    probe = _probe(c, p, result, limit=limit, offset=offset)
    if result.total == 0:
        return
    units = result.total_speeches if grouped else result.total
    result.num_pages = max(1, min(MAX_PAGES, -(-min(units, result.cap) // PAGE_SIZE)))
    if not csv_mode and p.page > result.num_pages:
        result.messages.append("There are no results on that page.")
        return
    # The probe's rows are the candidates when they are every match, the
    # newest matches of a walked arm, or the first matches of a frequent
    # phrase; by date beyond the cap, or words beyond the cap found through the
    # bitmap, the candidates are read again (_candidates).
    by_relevance = grouped or p.sort == "relevance"
    newest = bool(probe.walked) or probe.newest
    from_probe = (
        not probe.capped
        or (by_relevance and (newest or c.has_phrase))
        or (p.sort == "newest" and probe.newest)
    )
    if newest and by_relevance and probe.capped:
        result.approximate = f"most relevant among the {WINDOW:,} newest matches"
    elif probe.capped and c.has_phrase and by_relevance:
        result.approximate = f"most relevant among the first {result.cap:,} matches found"
    if grouped:
        if from_probe:
            groups = probe.groups
        else:
            groups, result.approximate = _grouped(c, p, probe, limit=limit, offset=offset)
        if result.approximate:
            result.approximate = "speeches of the " + result.approximate.split(" among the ")[1]
        ids = [i for _, _, best in groups for i in best]
        page = _fetch_page(_RANKED_IDS_SQL, [ids, [0.0] * len(ids)], c, p, decorate=True)
        texts = {pt.pk: pt for pt, _ in page.texts}
        for _sid, hits, best in groups:
            best_hits = [Hit(texts[i], 0.0) for i in best if i in texts]
            if best_hits:
                result.groups.append(Group(best_hits[0].speech, int(hits), best_hits))
        all_hits = [h for g in result.groups for h in g.best]
    else:
        if from_probe:
            ranked = _RANKED_IDS_SQL
            params = [[i for i, _ in probe.top], [score for _, score in probe.top]]
        else:
            ranked, params, result.approximate = _ranking(c, p, probe, limit=limit, offset=offset)
        page = _fetch_page(ranked, params, c, p, decorate=not csv_mode)
        result.hits = [Hit(pt, score) for pt, score in page.texts]
        all_hits = result.hits
    if not csv_mode:
        _attach_snippets(all_hits, parsed, page.marks)
        result.title_matches = page.titles


def run_search(p: SearchParams, *, csv_mode: bool = False) -> SearchResult:
    """The search behind /search/: never raises for any query text; a query
    over the time budget comes back with `timed_out` set."""
    result = SearchResult(params=p, parsed=parse(p.q), page=p.page)
    if result.parsed.truncated:
        result.messages.append(
            f"Only the first {MAX_TERMS} terms (and {MAX_QUERY_CHARS} characters) were searched."
        )
    if result.parsed.is_empty and p.q and result.parsed.excluded:
        result.messages.append("Add a word to search for: exclusions alone match nothing.")
    # Inside an enclosing transaction the local settings would outlive this
    # search, so they are put back; on their own, COMMIT ends them.
    nested = connection.in_atomic_block
    try:
        with transaction.atomic():
            if result.parsed.is_empty:
                _begin()
                _recent(p, result)
            else:
                _search(p, result, csv_mode=csv_mode)
            if nested:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT set_config(name, reset_val, true) FROM pg_settings WHERE name IN "
                        "('statement_timeout', 'jit', 'enable_seqscan', 'stats_fetch_consistency', "
                        "'max_parallel_workers_per_gather')"
                    )
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) != QUERY_CANCELED:
            raise
        result.timed_out = True
        result.hits, result.groups, result.title_matches = [], [], []
    return result


# ================================================================== CSV


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "|", "%")


def csv_cell(value: object) -> str:
    """A spreadsheet-safe cell: text that a spreadsheet would run as a
    formula gets a leading apostrophe (OWASP's CSV injection advice)."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


CSV_HEADER = [
    "rank",
    "speech",
    "speaker",
    "date",
    "language",
    "paragraph",
    "passage_url",
    "in_context_url",
    "text",
]


def to_csv(result: SearchResult, base_url: str) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    for rank, hit in enumerate(result.hits, start=1):
        pt = hit.passage_text
        writer.writerow(
            [
                csv_cell(x)
                for x in (
                    rank,
                    hit.speech.title,
                    hit.speech.speaker.name,
                    hit.speech.delivered_on.isoformat(),
                    pt.version.language,
                    hit.passage.position,
                    base_url + hit.passage_url,
                    base_url + hit.context_url,
                    pt.text,
                )
            ]
        )
    return buffer.getvalue()


# ================================================================== consistency


_DRIFT_SQL = """
SELECT t.id FROM speeches_passagetext t
  JOIN speeches_passage p ON p.id = t.passage_id
  JOIN speeches_speech s ON s.id = p.speech_id
  JOIN speeches_version v ON v.id = t.version_id
 WHERE t.search_speech_id IS DISTINCT FROM s.id
    OR t.search_speaker_id IS DISTINCT FROM s.speaker_id
    OR t.search_date IS DISTINCT FROM s.delivered_on
    OR t.search_kind IS DISTINCT FROM s.kind
    OR t.search_public IS DISTINCT FROM (s.status = 'published')
    OR t.search_lang IS DISTINCT FROM lower(split_part(v.language, '-', 1))
    OR t.search_source IS DISTINCT FROM md5(t.text)::uuid
 ORDER BY t.id
"""


def drifted_texts() -> list[int]:
    """Ids of passage texts whose search columns disagree with their sources
    (always empty, by construction; tests and ops checks call it to prove so).
    Tokens are covered by `search_source`: only textnorm.index_tokens writes
    the two together."""
    with connection.cursor() as cursor:
        cursor.execute(_DRIFT_SQL)
        return [row[0] for row in cursor.fetchall()]


def matching_ids(p: SearchParams, *, limit: int = CAP) -> list[int]:
    """Ids of passage texts matching the query and filters (any order, at most
    `limit`), without glossary expansion: for recall tests and benchmarks."""
    parsed = parse(p.q)
    if parsed.is_empty:
        return []
    c, _ = _compile(parsed)
    if not c.q_en and not c.q_other:
        return []
    match, params = _match(c, p)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT t.id FROM speeches_passagetext t WHERE {match} LIMIT %s", [*params, limit]
        )
        return [row[0] for row in cursor.fetchall()]
