"""Write one SpeechDocument to the database, in one transaction.

A first import writes the speech, its versions, passages, texts and footnotes
with one statement per table that also writes their "+" history rows
(`insert_rows_with_history`): row-by-row saves would cost an INSERT per row
plus one per history row, and on a corpus of short speeches the per-speech
round trips dominate (about ten per speech now, a few more with footnotes,
themes or collections). A long run passes an `ImportCache` so speakers and
collections are looked up once, and bulk corpus loads may pass
`durable=False` (see `import_speech_document`).

A re-import (a speech with the document's slug exists) updates the speech in
place and keeps passage keys stable, the way mySociety's parlparse matches
Hansard speeches between two versions of a day ("gidmatching"):

* passages are compared as whole sequences with difflib; unchanged passages
  keep their keys;
* inside a replaced block, a passage whose text is still similar (ratio ≥ 0.6)
  is "lightly edited" and keeps its key (the new text goes into history);
* an old passage whose text now lies in two or more new passages was split,
  and several old passages that now lie in one new passage were merged: their
  keys retire with a PassageRedirect (split / merged) to the new passage;
* any other old passage was removed: PassageRedirect(reason=removed) keeps
  its key answering 410;
* positions are renumbered (the unique constraint is deferred);
* when anything changed, one Correction is recorded on each version whose text
  changed, naming the touched passages; when nothing changed nothing is
  written, so re-importing the same file adds no history.

Annotations are never lost: an annotation on a changed passage is re-anchored
(flagged orphaned when its quote is gone), and one on a removed passage moves
to the passage that took its text (or the nearest one) and is flagged too
unless its quote is found there.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import psycopg
from django.db import connection, connections, models, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify
from pypinyin import Style, lazy_pinyin, pinyin
from simple_history.utils import bulk_update_with_history
from taggit.models import Tag

from speeches.anchoring import reanchor_annotations
from speeches.importers.document import ImportFormatError, SpeechDocument, TermCandidate
from speeches.models import (
    Annotation,
    Collection,
    CollectionItem,
    Correction,
    Footnote,
    Passage,
    PassageRedirect,
    PassageText,
    SlugHistory,
    Speaker,
    Speech,
    TaggedPassage,
    Term,
    Version,
)

LIGHT_EDIT_RATIO = 0.6  # parlparse's threshold for "the same speech, lightly edited"
CONTAINED = 0.8  # share of a text found inside another to call it moved there
BATCH = 2000

SPEECH_FIELDS = (
    "title",
    "delivered_on",
    "date_precision",
    "occasion",
    "place",
    "original_language",
    "kind",
    "nickname",
    "summary",
)
VERSION_FIELDS = (
    "language",
    "title",
    "is_original",
    "translators",
    "editor",
    "introduction",
    "source_name",
    "source_url",
    "licence",
    "published_on",
    "has_text",
)


@dataclass
class ImportResult:
    """What an import did (or, on a dry run, would have done)."""

    speech: Speech | None
    created: bool
    counts: dict[str, int] = field(default_factory=dict)
    redirects: list[PassageRedirect] = field(default_factory=list)
    correction: Correction | None = None  # the first one, when several versions changed
    corrections: list[Correction] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    dry_run: bool = False

    def summary(self) -> str:
        """One line for a command's output."""
        slug = self.speech.slug if self.speech else "?"
        verb = "created" if self.created else "updated"
        if self.dry_run:
            verb = f"would be {verb}"
        shown = ", ".join(f"{n} {name}" for name, n in self.counts.items() if n)
        return f"{slug}: {verb} ({shown or 'no changes'})"


class ImportCache:
    """Speakers and collections by slug, looked up once per run of imports.

    An entry is added only when the transaction that read or created the row
    commits (`transaction.on_commit`), so a rolled-back speech (a dry run, a
    bad file) never leaves a row behind in the cache that the database does
    not have. Meant for one command run: a speaker or collection an editor
    deletes meanwhile is not noticed, and the speech that names it then fails
    on its foreign key and is not written.
    """

    def __init__(self) -> None:
        self.speakers: dict[str, Speaker] = {}
        self.collections: dict[str, Collection] = {}

    def remember_speaker(self, speaker: Speaker) -> None:
        transaction.on_commit(lambda: self.speakers.__setitem__(speaker.slug, speaker))

    def remember_collection(self, collection: Collection) -> None:
        transaction.on_commit(lambda: self.collections.__setitem__(collection.slug, collection))


# ---------------------------------------------------------------- helpers


def clean_text(text: str) -> str:
    """Texts are stored as paragraphs, each stripped, separated by exactly one
    blank line (a line holding only whitespace is blank) — what the native
    format can express, so an export reads back identically."""
    paragraphs: list[str] = []
    current: list[str] = []
    for line in [*text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), ""]:
        if line.strip():
            current.append(line)
        elif current:
            paragraphs.append("\n".join(current).strip())
            current = []
    return "\n\n".join(paragraphs)


def clean_note(body: str) -> str:
    """Footnote bodies: lines stripped, at most one blank line between paragraphs."""
    lines = [line.strip() for line in body.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def slug_for(text: str, *, max_length: int = 200) -> str:
    """An ASCII slug; Chinese is spelt out in pinyin (习近平 -> xi-jin-ping)."""
    slug = slugify(" ".join(lazy_pinyin(text)))
    return slug[:max_length].strip("-")


def _tokens(text: str) -> list[str]:
    # Words for alphabetic scripts, single characters for CJK and punctuation:
    # comparing tokens instead of characters keeps difflib fast on long texts.
    return re.findall(r"[^\W\u3000-\u9fff\uf900-\ufaff]+|\S", text)


class _Texts:
    """Token lists cached per text, and the two measures the matcher needs."""

    def __init__(self) -> None:
        self._cache: dict[str, list[str]] = {}

    def tokens(self, text: str) -> list[str]:
        if text not in self._cache:
            self._cache[text] = _tokens(text)
        return self._cache[text]

    def ratio(self, a: str, b: str) -> float:
        matcher = difflib.SequenceMatcher(None, self.tokens(a), self.tokens(b), autojunk=False)
        if matcher.real_quick_ratio() < LIGHT_EDIT_RATIO:
            return 0.0
        if matcher.quick_ratio() < LIGHT_EDIT_RATIO:
            return 0.0
        return matcher.ratio()

    def contained(self, part: str, whole: str) -> float:
        """Share of `part`'s tokens found, in order, inside `whole`."""
        tp, tw = self.tokens(part), self.tokens(whole)
        if not tp:
            return 0.0
        matcher = difflib.SequenceMatcher(None, tp, tw, autojunk=False)
        return sum(block.size for block in matcher.get_matching_blocks()) / len(tp)


@dataclass
class Matching:
    """Old passage index -> new passage index, and what became of the others."""

    pairs: dict[int, int] = field(default_factory=dict)
    moved: dict[int, tuple[str, int]] = field(default_factory=dict)  # old -> (reason, new)
    removed: list[int] = field(default_factory=list)


def _match_block(
    old: list[str], new: list[str], i1: int, i2: int, j1: int, j2: int, texts: _Texts
) -> dict[int, int]:
    """Monotonic pairs with ratio ≥ LIGHT_EDIT_RATIO maximising the total ratio."""
    n, m = i2 - i1, j2 - j1
    band = max(10, abs(n - m) + 5) if n * m > 2500 else max(n, m)
    score = [[0.0] * (m + 1) for _ in range(n + 1)]
    take = [[False] * (m + 1) for _ in range(n + 1)]
    for a in range(1, n + 1):
        for b in range(1, m + 1):
            best = max(score[a - 1][b], score[a][b - 1])
            pick = False
            expected = (a - 1) * m / n if n else 0
            if abs((b - 1) - expected) <= band:
                r = texts.ratio(old[i1 + a - 1], new[j1 + b - 1])
                if r >= LIGHT_EDIT_RATIO and score[a - 1][b - 1] + r > best:
                    best, pick = score[a - 1][b - 1] + r, True
            score[a][b], take[a][b] = best, pick
    pairs: dict[int, int] = {}
    a, b = n, m
    while a and b:
        if take[a][b]:
            pairs[i1 + a - 1] = j1 + b - 1
            a, b = a - 1, b - 1
        elif score[a][b] == score[a - 1][b]:
            a -= 1
        else:
            b -= 1
    return pairs


def match_passages(old: list[str], new: list[str]) -> Matching:
    """Match old passage texts to new ones (see the module docstring)."""
    texts = _Texts()
    result = Matching()
    retired: set[int] = set()
    claimed: set[int] = set()  # new passages that took over retired (split/merged) text
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            result.pairs.update(zip(range(i1, i2), range(j1, j2), strict=True))
            continue
        if tag != "replace":
            continue
        # Splits: one old passage whose text now fills two or more new ones.
        for i in range(i1, i2):
            parts = [j for j in range(j1, j2) if texts.contained(new[j], old[i]) >= CONTAINED]
            if len(parts) >= 2 and sum(len(new[j]) for j in parts) >= CONTAINED * len(old[i]):
                result.moved[i] = ("split", parts[0])
                retired.add(i)
                claimed.update(parts)
        # Merges: two or more old passages that now lie in one new passage.
        for j in range(j1, j2):
            if j in claimed:
                continue
            parts = [
                i
                for i in range(i1, i2)
                if i not in retired and texts.contained(old[i], new[j]) >= CONTAINED
            ]
            if len(parts) >= 2:
                for i in parts:
                    result.moved[i] = ("merged", j)
                retired.update(parts)
                claimed.add(j)
        rest_old = [i for i in range(i1, i2) if i not in retired]
        rest_new = [j for j in range(j1, j2) if j not in claimed]
        sub_old = [old[i] for i in rest_old]
        sub_new = [new[j] for j in rest_new]
        for a, b in _match_block(sub_old, sub_new, 0, len(sub_old), 0, len(sub_new), texts).items():
            result.pairs[rest_old[a]] = rest_new[b]

    # Old passages left over: merged into a neighbour, or removed.
    new_of = dict(result.pairs)
    for i in range(len(old)):
        if i in new_of or i in result.moved:
            continue
        before = max((new_of[k] for k in new_of if k < i), default=0)
        after = min((new_of[k] for k in new_of if k > i), default=len(new) - 1)
        window = range(max(0, before), min(len(new), after + 1))
        best = max(window, key=lambda j: texts.contained(old[i], new[j]), default=None)
        if best is not None and texts.contained(old[i], new[best]) >= CONTAINED:
            result.moved[i] = ("merged", best)
        else:
            result.removed.append(i)
    return result


def _check_document(doc: SpeechDocument) -> None:
    where = doc.source_path
    codes = [v.code for v in doc.versions]
    if len(set(codes)) != len(codes):
        raise ImportFormatError(f"speech '{doc.slug}' has a version code twice", path=where)
    if not doc.slug:
        raise ImportFormatError("the speech has no slug", path=where)
    keys = [p.key for p in doc.passages if p.key]
    if len(set(keys)) != len(keys):
        duplicate = next(k for k in keys if keys.count(k) > 1)
        raise ImportFormatError(f"passage key {{#{duplicate}}} is used twice", path=where)
    for index, passage in enumerate(doc.passages):
        unknown = set(passage.texts) - set(codes)
        if unknown:
            raise ImportFormatError(
                f"passage {index + 1} has text for unknown version {sorted(unknown)[0]!r}",
                path=where,
            )
    for version in doc.versions:
        for footnote in version.footnotes:
            if footnote.passage_index is not None and not (
                0 <= footnote.passage_index < len(doc.passages)
            ):
                raise ImportFormatError(
                    f"footnote [^{footnote.number}] of version {version.code!r} points to "
                    f"passage {footnote.passage_index + 1}, which does not exist",
                    path=where,
                )


def _get_speaker(doc: SpeechDocument, user: Any, cache: ImportCache | None) -> Speaker:
    slug = doc.speaker_slug or slug_for(doc.speaker_name)
    if not slug:
        raise ImportFormatError("the speaker has no name", path=doc.source_path)
    speaker = cache.speakers.get(slug) if cache else None
    if speaker is not None and (speaker.name_original or not doc.speaker_name_original):
        return speaker
    speaker = Speaker.objects.filter(slug=slug).first()
    if speaker is None:
        speaker = Speaker(slug=slug, name=doc.speaker_name, name_original=doc.speaker_name_original)
        speaker._history_user = user
        speaker.save()
    elif doc.speaker_name_original and not speaker.name_original:
        speaker.name_original = doc.speaker_name_original
        speaker._history_user = user
        speaker.save()
    if cache is not None:
        cache.remember_speaker(speaker)
    return speaker


def _status(doc: SpeechDocument, publish: bool, existing: Speech | None) -> str:
    if publish:
        return Speech.Status.PUBLISHED
    if existing is not None and doc.status == Speech.Status.DRAFT:
        # A document's default "draft" never unpublishes a speech on re-import.
        return existing.status
    return doc.status or Speech.Status.DRAFT


def _explicit_keys(doc: SpeechDocument, speech: Speech | None) -> None:
    """Explicit keys must not belong to another speech, nor be retired."""
    keys = [p.key for p in doc.passages if p.key]
    if not keys:
        return
    others = Passage.objects.filter(key__in=keys)
    if speech is not None:
        others = others.exclude(speech=speech)
    taken = others.values_list("key", flat=True).first()
    if taken is None:
        taken = PassageRedirect.objects.filter(old_key__in=keys).values_list("old_key", flat=True)
        taken = taken.first()
    if taken is not None:
        raise ImportFormatError(
            f"passage key {{#{taken}}} already belongs to another passage (or a retired one); "
            "remove the label to get a fresh key",
            path=doc.source_path,
        )


def _tag(names: list[str]) -> list[Tag]:
    found = {tag.name: tag for tag in Tag.objects.filter(name__in=names)}
    # Tag.save() makes the slug unique, so new tags are created one by one.
    return [found.get(name) or Tag.objects.create(name=name) for name in names]


def _add_passage_themes(pairs: list[tuple[Passage, list[str]]], user: Any) -> int:
    """Add themes to passages (never removes: editors tag passages in the admin)."""
    wanted = [(p, name) for p, names in pairs for name in names]
    if not wanted:
        return 0
    tags = {t.name: t for t in _tag(sorted({name for _, name in wanted}))}
    existing = set(
        TaggedPassage.objects.filter(content_object__in=[p for p, _ in wanted]).values_list(
            "content_object_id", "tag_id"
        )
    )
    rows = []
    for passage, name in wanted:
        pair = (passage.pk, tags[name].pk)
        if pair not in existing:
            existing.add(pair)
            rows.append(TaggedPassage(content_object=passage, tag=tags[name]))
    insert_with_history(rows, unique=("content_object_id", "tag_id"), user=user)
    return len(rows)


def _add_collections(
    speech: Speech, slugs: list[str], user: Any, *, created: bool, cache: ImportCache | None
) -> int:
    added = 0
    for slug in slugs:
        collection = cache.collections.get(slug) if cache else None
        if collection is None:
            collection = Collection.objects.filter(slug=slug).first()
        if collection is None:
            collection = Collection(slug=slug, title=slug.replace("-", " ").capitalize())
            collection._history_user = user
            collection.save()
        if cache is not None:
            cache.remember_collection(collection)
        # A speech created just now is in no collection yet.
        if not created and collection.items.filter(speech=speech).exists():
            continue
        last = collection.items.aggregate(last=Max("position"))["last"] or 0
        item = CollectionItem(collection=collection, speech=speech, position=last + 1)
        item._history_user = user
        item.save()
        added += 1
    return added


def record_term_candidates(candidates: list[TermCandidate], *, speech: Speech | None = None) -> int:
    """Add glossary candidates; returns how many new terms were created.

    An existing term is never downgraded: a confirmed term stays as the editors
    left it; a candidate only gains the new translation as a variant.
    """
    created = 0
    originals = {c.original.strip() for c in candidates} - {""}
    terms = (
        {t.original: t for t in Term.objects.filter(original__in=originals)} if originals else {}
    )
    for candidate in candidates:
        original = candidate.original.strip()
        translation = candidate.translation.strip()
        if not original:
            continue
        term = terms.get(original)
        if term is None:
            base = slug_for(original) or slugify(original, allow_unicode=True) or "term"
            slug, n = base, 2
            while Term.objects.filter(slug=slug).exists():
                slug, n = f"{base}-{n}", n + 1
            terms[original] = Term.objects.create(
                original=original,
                slug=slug,
                pinyin=" ".join(s[0] for s in pinyin(original, style=Style.TONE)),
                translation=translation,
                status=Term.Status.CANDIDATE,
                first_seen_in=speech,
            )
            created += 1
        elif (
            term.status == Term.Status.CANDIDATE
            and translation
            and translation != term.translation
            and translation not in term.variant_list()
        ):
            term.variants = "\n".join([*term.variant_list(), translation])
            term.save()
    return created


# ---------------------------------------------------------------- first import


@dataclass(frozen=True)
class _HistoryTable:
    """How to fill a model's history table from the rows just inserted."""

    table: str
    columns: list[str]
    values: list[str]  # SQL for each column: a column of `inserted`, or a parameter
    params: list[str]  # which value each %s in `values` stands for: "now" or "user"
    copied: list[str]  # the columns of `inserted` that `values` reads


_HISTORY_TABLES: dict[type[models.Model], _HistoryTable] = {}


def _history_table(model: type[models.Model]) -> _HistoryTable:
    # Cached: every `model.history` access builds a manager (inspect.getmembers).
    if model not in _HISTORY_TABLES:
        history = model.history.model
        quote = connection.ops.quote_name
        fixed = {"history_type": "'+'", "history_change_reason": "NULL"}
        parameters = {"history_date": "now", "history_user_id": "user"}
        columns, values, params, copied = [], [], [], []
        for f in history._meta.concrete_fields:
            if f.attname == "history_id" or f.generated:
                continue
            columns.append(quote(f.column))
            if f.attname in parameters:
                values.append("%s")
                params.append(parameters[f.attname])
            elif f.attname in fixed:
                values.append(fixed[f.attname])
            else:
                values.append(f"inserted.{quote(f.column)}")
                copied.append(quote(f.column))
        _HISTORY_TABLES[model] = _HistoryTable(
            quote(history._meta.db_table), columns, values, params, copied
        )
    return _HISTORY_TABLES[model]


def _derived(f: models.Field) -> bool:
    """Does save() compute this field's value (its own pre_save, e.g. search
    tokens of a text)? Dates are not counted: auto_now is handled apart."""
    return type(f).pre_save is not models.Field.pre_save and not isinstance(
        f, models.DateField | models.TimeField
    )


@dataclass(frozen=True)
class _InsertPlan:
    """The statement insert_rows_with_history runs for one shape of rows."""

    sql: str
    constant: list[models.Field]  # the same value for every row: timestamps, defaults
    given: list[models.Field]  # one array parameter each: the rows' values, then per_row
    per_row: list[models.Field]  # missing but computed per row: derived, callable default
    history_params: list[str]


_INSERT_PLANS: dict[tuple[Any, ...], _InsertPlan] = {}


def _insert_plan(
    model: type[models.Model], attnames: tuple[str, ...], returning: tuple[str, ...]
) -> _InsertPlan:
    key = (model, attnames, returning)
    if key in _INSERT_PLANS:
        return _INSERT_PLANS[key]
    meta = model._meta
    quote = connection.ops.quote_name
    fields = [f for f in meta.concrete_fields if not f.primary_key and not f.generated]
    per_row = [
        f
        for f in fields
        if f.attname not in attnames and (_derived(f) or (f.has_default() and callable(f.default)))
    ]
    given = [f for f in fields if f.attname in attnames] + per_row
    constant = [f for f in fields if f not in given]
    history = _history_table(model)
    column_of = {f.attname: f.column for f in meta.concrete_fields}
    # Only what the history rows and the caller need comes back (not, e.g., a
    # generated search vector).
    wanted = [quote(column_of[name]) for name in returning]
    kept = list(dict.fromkeys([*history.copied, *wanted]))
    sql = (
        f"WITH inserted AS (INSERT INTO {quote(meta.db_table)} "
        f"({', '.join(quote(f.column) for f in [*constant, *given])}) "
        f"SELECT {', '.join(['%s'] * len(constant) + ['*'])} FROM unnest("
        f"{', '.join(f'%s::{f.cast_db_type(connection)}[]' for f in given)}) "
        f"RETURNING {', '.join(kept)}), history AS (INSERT INTO {history.table} "
        f"({', '.join(history.columns)}) SELECT {', '.join(history.values)} FROM inserted) "
        f"SELECT {', '.join(wanted)} FROM inserted"
    )
    _INSERT_PLANS[key] = _InsertPlan(sql, constant, given, per_row, history.params)
    return _INSERT_PLANS[key]


def insert_rows_with_history(
    model: type[models.Model],
    rows: list[dict[str, Any]],
    *,
    user: Any,
    returning: Sequence[str] = ("id",),
) -> list[tuple[Any, ...]]:
    """INSERT rows (dicts by attribute name, e.g. `speech_id`) and their "+"
    history rows; returns the `returning` attributes of every new row.

    One statement per BATCH rows writes both tables (a data-modifying WITH):
    the rows simple_history's bulk_create_with_history writes (no signals, one
    history row per row, one history_date for all), in one round trip instead
    of two and without model instances. Each column travels as one array
    parameter (`unnest`), so the statement's text is the same whatever the
    number of rows; hence for columns of scalar types only (not arrays or
    JSON). Fields missing from the rows get what save() would give them:
    auto_now ones the current time, those save() derives from others (their
    pre_save) the derived value, the others their default (a callable one
    called per row); generated columns are left to PostgreSQL. The returned
    rows come in no promised order: map them by a unique attribute
    (`returning=("id", "key")`).
    """
    if not rows:
        return []
    plan = _insert_plan(model, tuple(rows[0]), tuple(returning))
    now = timezone.now()
    db = connections[connection.alias]  # the wrapper itself: `connection` is a per-access proxy
    constants = [
        f.get_db_prep_save(now if _auto_now(f) else f.get_default(), db) for f in plan.constant
    ]
    known = {"now": now, "user": getattr(user, "pk", None)}
    history_params = [known[name] for name in plan.history_params]
    given, per_row = plan.given, plan.per_row
    result: list[tuple[Any, ...]] = []
    db.ensure_connection()
    # psycopg's own Cursor binds parameters on the server: the arrays travel as
    # parameters instead of being quoted into the SQL text (Django's cursor
    # binds client-side). Errors still become Django's (IntegrityError, …).
    with db.wrap_database_errors, psycopg.Cursor(db.connection) as cursor:
        for begin in range(0, len(rows), BATCH):
            batch = rows[begin : begin + BATCH]
            if per_row:
                batch = [_complete(row, per_row) for row in batch]
            columns = [[f.get_db_prep_save(row[f.attname], db) for row in batch] for f in given]
            cursor.execute(plan.sql, [*constants, *columns, *history_params])
            result.extend(cursor.fetchall())
    return result


def _complete(row: dict[str, Any], fields: list[models.Field]) -> dict[str, Any]:
    """The row with `fields` added as save() would: the default, then pre_save
    (which reads and sets attributes: a namespace of the row serves)."""
    instance = SimpleNamespace(**row)
    for f in fields:
        setattr(instance, f.attname, f.get_default())
    return {**row, **{f.attname: f.pre_save(instance, True) for f in fields}}


def _auto_now(f: models.Field) -> bool:
    return getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)


def insert_with_history(
    objs: Sequence[models.Model], *, unique: tuple[str, ...], user: Any
) -> None:
    """insert_rows_with_history for unsaved model instances (all of one model):
    each field's value is what bulk_create would write (pre_save: timestamps,
    derived fields), and the instances get their primary keys. `unique` names
    attributes that tell the new rows apart (e.g. ("version_id", "number"))."""
    if not objs:
        return
    model = type(objs[0])
    fields = [f for f in model._meta.concrete_fields if not f.primary_key and not f.generated]
    rows = [{f.attname: f.pre_save(obj, True) for f in fields} for obj in objs]
    returned = insert_rows_with_history(model, rows, user=user, returning=("id", *unique))
    pk_of = {tuple(found): pk for pk, *found in returned}
    for obj in objs:
        obj.pk = pk_of[tuple(getattr(obj, name) for name in unique)]
        obj._state.adding = False
        obj._state.db = connection.alias


def _update_with_history(objs: Sequence[models.Model], names: list[str], user: Any) -> None:
    """bulk_update_with_history of `names`, plus the fields save() derives
    (pre_save, e.g. search tokens of a text), which bulk_update would skip."""
    if not objs:
        return
    model = type(objs[0])
    derived = [f for f in model._meta.concrete_fields if _derived(f) and not f.generated]
    for obj in objs:
        for f in derived:
            f.pre_save(obj, False)
    names = [*names, *(f.name for f in derived if f.name not in names)]
    bulk_update_with_history(objs, model, names, batch_size=BATCH, default_user=user)


class _NewPassages(Sequence[Passage]):
    """Passages just inserted, built as model instances only when asked for
    (footnotes, themes and corrections need a few; the texts need none)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self._rows = rows
        self._cache: dict[int, Passage] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index not in self._cache:
            passage = Passage(**self._rows[index])
            passage._state.adding = False
            passage._state.db = connection.alias
            self._cache[index] = passage
        return self._cache[index]


def _create(doc: SpeechDocument, speech: Speech, user: Any, result: ImportResult) -> None:
    versions: dict[str, Version] = {}
    for vdoc in doc.versions:
        version = Version(speech=speech, code=vdoc.code)
        for name in VERSION_FIELDS:
            setattr(version, name, getattr(vdoc, name))
        versions[vdoc.code] = version
    insert_with_history(list(versions.values()), unique=("code",), user=user)

    explicit = [p.key for p in doc.passages if p.key]
    fresh = iter(Passage.objects.allocate_keys(len(doc.passages) - len(explicit)))
    rows = [
        {
            "speech_id": speech.pk,
            "key": pdoc.key or next(fresh),
            "position": position,
            "turn_speaker": pdoc.turn_speaker,
        }
        for position, pdoc in enumerate(doc.passages, start=1)
    ]
    id_of = dict(
        (key, pk)
        for pk, key in insert_rows_with_history(Passage, rows, user=user, returning=("id", "key"))
    )
    texts = []
    for row, pdoc in zip(rows, doc.passages, strict=True):
        row["id"] = id_of[row["key"]]
        for code, text in pdoc.texts.items():
            cleaned = clean_text(text)
            if cleaned:
                texts.append(
                    {"passage_id": row["id"], "version_id": versions[code].pk, "text": cleaned}
                )
    insert_rows_with_history(PassageText, texts, user=user)
    passages = _NewPassages(rows)
    result.counts["passages"] = len(passages)
    result.counts["texts"] = len(texts)
    result.counts["footnotes"] = _sync_footnotes(doc, versions, passages, user, created=True)
    result.counts["passage themes"] = _add_passage_themes(
        [(passages[i], d.themes) for i, d in enumerate(doc.passages) if d.themes], user
    )
    _add_corrections(doc, versions, passages, set(), user, result)


def _sync_footnotes(
    doc: SpeechDocument,
    versions: dict[str, Version],
    passages: Sequence[Passage],
    user: Any,
    *,
    created: bool = False,
) -> int:
    """Make each version's footnotes match the document; returns rows written."""
    existing: dict[tuple[int, int], Footnote] = {}
    if not created:  # a speech created just now has no footnotes yet
        existing = {
            (f.version_id, f.number): f
            for f in Footnote.objects.filter(version__in=list(versions.values()))
        }
    create: list[Footnote] = []
    update: list[Footnote] = []
    keep: set[int] = set()
    for vdoc in doc.versions:
        version = versions[vdoc.code]
        for fdoc in vdoc.footnotes:
            passage = passages[fdoc.passage_index] if fdoc.passage_index is not None else None
            footnote = existing.get((version.pk, fdoc.number))
            if footnote is None:
                create.append(
                    Footnote(
                        version=version,
                        number=fdoc.number,
                        kind=fdoc.kind,
                        body=clean_note(fdoc.body),
                        passage=passage,
                    )
                )
                continue
            keep.add(footnote.pk)
            new = (fdoc.kind, clean_note(fdoc.body), passage.pk if passage else None)
            if (footnote.kind, footnote.body, footnote.passage_id) != new:
                footnote.kind, footnote.body, footnote.passage = new[0], new[1], passage
                update.append(footnote)
    gone = [f for f in existing.values() if f.pk not in keep]
    for footnote in gone:
        footnote._history_user = user
        footnote.delete()
    _update_with_history(update, ["kind", "body", "passage"], user)
    insert_with_history(create, unique=("version_id", "number"), user=user)
    return len(create) + len(update) + len(gone)


def _add_corrections(
    doc: SpeechDocument,
    versions: dict[str, Version],
    passages: Sequence[Passage],
    existing: set[tuple[int, Any, str]],
    user: Any,
    result: ImportResult,
) -> None:
    """The document's own corrections, skipping those already recorded."""
    for vdoc in doc.versions:
        for cdoc in vdoc.corrections:
            version = versions[vdoc.code]
            if (version.pk, cdoc.date, cdoc.description) in existing:
                continue
            correction = Correction(version=version, date=cdoc.date, description=cdoc.description)
            correction._history_user = user
            correction.save()
            if cdoc.passage_indexes:
                correction.passages.set([passages[i] for i in cdoc.passage_indexes])
            result.counts["corrections"] = result.counts.get("corrections", 0) + 1


# ---------------------------------------------------------------- re-import


def _signature(texts: dict[str, str], codes: list[str]) -> str:
    return "\x1e".join(texts.get(code, "") for code in codes)


def _reimport(doc: SpeechDocument, speech: Speech, user: Any, result: ImportResult) -> None:
    counts = result.counts
    versions = {v.code: v for v in speech.versions.all()}
    previous_codes = set(versions)
    for vdoc in doc.versions:
        version = versions.get(vdoc.code) or Version(speech=speech, code=vdoc.code)
        changed = [n for n in VERSION_FIELDS if getattr(version, n) != getattr(vdoc, n)]
        if version.pk is None or changed:
            for name in VERSION_FIELDS:
                setattr(version, name, getattr(vdoc, name))
            version._history_user = user
            version.save()
            counts["versions"] = counts.get("versions", 0) + 1
            if vdoc.code not in previous_codes:
                result.messages.append(f"added version {vdoc.code}")
        versions[vdoc.code] = version

    doc_codes = [v.code for v in doc.versions]
    old_passages = list(speech.passages.order_by("position", "pk"))
    old_texts: dict[int, dict[str, PassageText]] = {p.pk: {} for p in old_passages}
    for text in PassageText.objects.filter(passage__speech=speech).select_related("version"):
        old_texts[text.passage_id][text.version.code] = text
    common = [c for c in doc_codes if c in previous_codes]
    new_texts = [
        {c: clean_text(t) for c, t in p.texts.items() if clean_text(t)} for p in doc.passages
    ]

    # Explicit keys pin passages; difflib matches the rest.
    old_index = {p.key: i for i, p in enumerate(old_passages)}
    pinned = {
        old_index[p.key]: j for j, p in enumerate(doc.passages) if p.key and p.key in old_index
    }
    free_old = [i for i in range(len(old_passages)) if i not in pinned]
    pinned_new = set(pinned.values())
    free_new = [j for j in range(len(doc.passages)) if j not in pinned_new]
    old_sig = [
        _signature({c: t.text for c, t in old_texts[old_passages[i].pk].items()}, common)
        for i in free_old
    ]
    new_sig = [_signature(new_texts[j], common) for j in free_new]
    matching = match_passages(old_sig, new_sig)
    pairs = dict(pinned)
    pairs.update({free_old[a]: free_new[b] for a, b in matching.pairs.items()})
    moved = {free_old[a]: (reason, free_new[b]) for a, (reason, b) in matching.moved.items()}
    removed = [free_old[a] for a in matching.removed]
    old_of_new = {j: i for i, j in pairs.items()}

    # Passages in their new order: matched ones keep their rows, others are new.
    explicit_new = [doc.passages[j].key for j in range(len(doc.passages)) if j not in old_of_new]
    fresh = iter(Passage.objects.allocate_keys(sum(1 for k in explicit_new if not k)))
    final: list[Passage] = []
    to_create: list[Passage] = []
    to_update: list[Passage] = []
    for j, pdoc in enumerate(doc.passages):
        position = j + 1
        if j in old_of_new:
            passage = old_passages[old_of_new[j]]
            if passage.position != position or passage.turn_speaker != pdoc.turn_speaker:
                passage.position, passage.turn_speaker = position, pdoc.turn_speaker
                to_update.append(passage)
        else:
            passage = Passage(
                speech=speech,
                key=pdoc.key or next(fresh),
                position=position,
                turn_speaker=pdoc.turn_speaker,
            )
            to_create.append(passage)
        final.append(passage)
    # Renumbering may swap positions: the unique constraint is deferred to commit.
    insert_with_history(to_create, unique=("key",), user=user)
    _update_with_history(to_update, ["position", "turn_speaker"], user)

    # Texts of matched passages: update, add or drop per version in the document.
    changed_versions: dict[str, set[int]] = {}
    text_create: list[PassageText] = []
    text_update: list[PassageText] = []
    text_delete: list[PassageText] = []
    changed_passages: set[int] = set()
    for j, passage in enumerate(final):
        olds = old_texts.get(passage.pk, {}) if j in old_of_new else {}
        for code in doc_codes:
            new = new_texts[j].get(code)
            old = olds.get(code)
            if old is not None and new is None:
                text_delete.append(old)
            elif old is None and new is not None:
                text_create.append(PassageText(passage=passage, version=versions[code], text=new))
            elif old is not None and old.text != new:
                old.text = new
                text_update.append(old)
            else:
                continue
            if j in old_of_new and code in previous_codes:
                # A text added in a new version is not a change to the passage.
                changed_passages.add(passage.pk)
                changed_versions.setdefault(code, set()).add(passage.pk)
    for text in text_delete:
        text._history_user = user
        text.delete()
    _update_with_history(text_update, ["text"], user)
    insert_with_history(text_create, unique=("passage_id", "version_id"), user=user)

    added = [p for j, p in enumerate(final) if j not in old_of_new]
    gone = [old_passages[i] for i in [*moved, *removed]]
    for j, p in enumerate(final):
        if j not in old_of_new:
            for code in common:
                if code in new_texts[j]:
                    changed_versions.setdefault(code, set()).add(p.pk)
    for p in gone:
        for code in old_texts[p.pk]:
            if code in common:
                changed_versions.setdefault(code, set())

    n_changed = len(changed_passages)
    n_moved = len(moved)
    counts["passages changed"] = n_changed
    counts["passages added"] = len(added)
    counts["passages removed"] = len(removed)
    counts["passages merged/split"] = n_moved
    counts["texts"] = len(text_create) + len(text_update) + len(text_delete)

    # One correction per version whose text changed.
    if changed_versions and (n_changed or added or gone):
        description = (
            f"Re-import: {n_changed} changed, {len(added)} added, {len(removed)} removed, "
            f"{n_moved} merged/split."
        )
        touched = {p.pk: p for p in final if p.pk in changed_passages or p in added}
        for _reason, j in moved.values():
            touched[final[j].pk] = final[j]
        for code in [c for c in doc_codes if c in changed_versions]:
            correction = Correction(
                version=versions[code], date=timezone.localdate(), description=description
            )
            correction._history_user = user
            correction.save()
            correction.passages.set(list(touched.values()))
            result.corrections.append(correction)
        result.correction = result.corrections[0]
        counts["corrections"] = counts.get("corrections", 0) + len(result.corrections)

    # Retire keys of passages that are gone; keep older redirects resolving.
    new_redirects: list[PassageRedirect] = []
    for i, (reason, j) in moved.items():
        new_redirects.append(
            PassageRedirect(
                old_key=old_passages[i].key,
                passage=final[j],
                speech=speech,
                reason=reason,
                correction=result.correction,
                old_position=old_passages[i].position,
            )
        )
    for i in removed:
        new_redirects.append(
            PassageRedirect(
                old_key=old_passages[i].key,
                passage=None,
                speech=speech,
                reason=PassageRedirect.Reason.REMOVED,
                correction=result.correction,
                old_position=old_passages[i].position,
            )
        )
    target_of = {old_passages[i].pk: final[j] for i, (_, j) in moved.items()}
    for p in gone:
        target = target_of.get(p.pk)
        if target is None:
            PassageRedirect.objects.filter(passage=p).update(
                passage=None, reason=PassageRedirect.Reason.REMOVED
            )
        else:
            PassageRedirect.objects.filter(passage=p).update(passage=target)
    PassageRedirect.objects.bulk_create(new_redirects)
    result.redirects = new_redirects

    # Annotations: those on gone passages move to the passage that took their
    # text (or the nearest one); then every quoted annotation on a passage whose
    # text changed, or that received one, is re-anchored by speeches.anchoring
    # (refreshed when its quote is found, flagged orphaned when not).
    recheck = set(changed_passages)
    moved_annotations: set[int] = set()
    for p in gone:
        target = target_of.get(p.pk) or _nearest(final, old_passages, old_of_new, p)
        for annotation in Annotation.objects.filter(passage=p):
            annotation.passage = target
            # A note on the whole passage (or on no version) no longer says
            # what it is about once its passage is gone: flag it for editors.
            annotation.is_orphaned = not annotation.exact or annotation.version_id is None
            annotation._history_user = user
            annotation.save()
            moved_annotations.add(annotation.pk)
            recheck.add(target.pk)
            counts["annotations moved"] = counts.get("annotations moved", 0) + 1
    counts["annotations orphaned"] = _reanchor(
        [p for p in final if p.pk in recheck], ignore=moved_annotations
    )
    for p in gone:
        p._history_user = user
        p.delete()

    counts["footnotes"] = _sync_footnotes(doc, versions, final, user)
    counts["passage themes"] = _add_passage_themes(
        [(p, d.themes) for p, d in zip(final, doc.passages, strict=True)], user
    )
    existing = set(
        Correction.objects.filter(version__speech=speech).values_list(
            "version_id", "date", "description"
        )
    )
    _add_corrections(doc, versions, final, existing, user, result)


def _reanchor(passages: list[Passage], *, ignore: set[int]) -> int:
    """Re-anchor the quoted annotations of `passages`; returns how many of them,
    apart from those in `ignore`, lost their quote (were not orphaned before)."""
    if not passages:
        return 0
    quoted = Annotation.objects.filter(passage__in=passages).exclude(exact="")
    before = {
        pk: (passage_id, orphaned)
        for pk, passage_id, orphaned in quoted.values_list("pk", "passage_id", "is_orphaned")
    }
    annotated = {passage_id for passage_id, _ in before.values()}
    for passage in passages:
        if passage.pk in annotated:
            reanchor_annotations(passage=passage)
    if not before:
        return 0
    now_orphaned = quoted.filter(is_orphaned=True).values_list("pk", flat=True)
    return sum(1 for pk in now_orphaned if pk not in ignore and not before[pk][1])


def _nearest(
    final: list[Passage], old: list[Passage], old_of_new: dict[int, int], gone: Passage
) -> Passage:
    """The surviving passage closest before (else after) a removed one."""
    if not final:
        raise ImportFormatError(
            f"cannot remove every passage of '{gone.speech_id}': its annotations would be lost"
        )
    survivors = [(old[old_of_new[j]].position, final[j]) for j in old_of_new]
    before = [p for pos, p in survivors if pos < gone.position]
    if before:
        return max(before, key=lambda p: p.position)
    return final[0]


# ---------------------------------------------------------------- entry point


def _apply_speech_fields(doc: SpeechDocument, speech: Speech, speaker: Speaker) -> bool:
    changed = False
    for name in SPEECH_FIELDS:
        if getattr(speech, name) != getattr(doc, name):
            setattr(speech, name, getattr(doc, name))
            changed = True
    if speech.speaker_id != speaker.pk:
        speech.speaker = speaker
        changed = True
    return changed


def import_speech_document(
    doc: SpeechDocument,
    *,
    publish: bool = False,
    dry_run: bool = False,
    user: Any = None,
    cache: ImportCache | None = None,
    durable: bool = True,
) -> ImportResult:
    """Create or update the speech `doc` describes, in one transaction.

    `dry_run` does all the work and then rolls it back, so the counts are
    exactly those a real run would give. Bad input raises ImportFormatError
    and writes nothing. A run of many imports passes one `cache`.

    `durable=False` is for bulk corpus loads only: the transaction commits
    with `synchronous_commit = off`, so the commit does not wait for its WAL
    record to reach the disk (on a small speech that wait is a large share of
    the time). A crash of the server can then lose the speeches committed in
    the last few hundred milliseconds (wal_writer_delay, at most three times
    it), never half a speech nor anything older: the database stays
    consistent, and re-running the idempotent load writes them again. Inside
    an outer transaction the setting applies to all of it.
    """
    _check_document(doc)
    with transaction.atomic():
        if not durable:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        speech = Speech.objects.select_for_update().filter(slug=doc.slug).first()
        if speech is None:
            old = SlugHistory.objects.filter(old_slug=doc.slug).select_related("speech").first()
            if old is not None:
                raise ImportFormatError(
                    f"slug '{doc.slug}' is an old slug of speech '{old.speech.slug}'; "
                    "import under the current slug",
                    path=doc.source_path,
                )
        _explicit_keys(doc, speech)
        speaker = _get_speaker(doc, user, cache)
        created = speech is None
        result = ImportResult(speech=None, created=created, dry_run=dry_run)
        status = _status(doc, publish, speech)
        if speech is None:
            speech = Speech(slug=doc.slug, status=status)
            _apply_speech_fields(doc, speech, speaker)
        changed = _apply_speech_fields(doc, speech, speaker) or speech.status != status
        if status == Speech.Status.PUBLISHED and speech.published_at is None:
            speech.published_at = timezone.now()
            changed = True
        speech.status = status
        if created:
            insert_with_history([speech], unique=("slug",), user=user)
            _create(doc, speech, user, result)
        else:
            if changed:
                speech._history_user = user
                speech.save()
                result.counts["speech fields"] = 1
            _reimport(doc, speech, user, result)
        result.speech = speech
        # A new speech has no themes yet: only ask for them when there are some.
        current = [] if created or not doc.themes else speech.themes.names()
        if doc.themes and sorted(current) != sorted(set(doc.themes)):
            speech.themes.set(doc.themes)
            result.counts["themes"] = len(doc.themes)
        result.counts["collections"] = _add_collections(
            speech, doc.collections, user, created=created, cache=cache
        )
        result.counts["terms"] = record_term_candidates(doc.term_candidates, speech=speech)
        if dry_run:
            transaction.set_rollback(True)
    return result


__all__ = [
    "ImportCache",
    "ImportResult",
    "Matching",
    "import_speech_document",
    "insert_rows_with_history",
    "insert_with_history",
    "match_passages",
    "record_term_candidates",
]
