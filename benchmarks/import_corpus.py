"""Import throughput: the archive's importer against a raw PostgreSQL COPY.

    .venv/bin/python benchmarks/import_corpus.py [--passages N] [--runs 3] [--full]

Standalone: sets Django up itself and works in its own scratch database
(`bench_import_corpus`) on the embedded server, or on the server named by
DATABASE_URL, and drops it at the end.

* Sample: from each of the four corpus folders under DEMO_CORPUS (default
  ../shared/corpus), the first documents, in the loaders' stable order, until
  that folder gives at least N passages (default 2,000). Parsed once, before
  timing.
* Importer: every sample document through `import_speech_document` (one
  transaction each, history rows and all) into empty tables, called as
  `load_corpus` calls it (one ImportCache for the run, `durable=False`);
  passages per second, median of the runs. The same with durable commits (as
  `import_speech` and the admin call it) is printed too.
* Baseline, same run, same texts: COPY of every passage text into a bare table
  with the same search columns as the real one — the stored generated search
  vector (its expression read from the catalog), the language/date/public
  filter columns and the same partial GIN and date indexes — in passages per
  second (all versions' texts, in one COPY and one commit). The CJK tokens
  the vector is built from are computed before timing: a raw COPY receives
  its data ready-made, while the importer pays for tokenising.
* Each run times the importer (both ways) and then the COPY, so a machine
  that gets busier or quieter during the benchmark affects both alike.
* The ratio importer / baseline is the figure to watch (target ≥ 0.2).
* `--full` also loads the whole corpus (parse + import) into empty tables
  once and reports the time and the passage count.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
SCRATCH = "bench_import_corpus"


def _scratch_url() -> tuple[str, str]:
    """(admin URL to create/drop the scratch database, the scratch database URL)."""
    import dj_database_url

    url = os.environ.get("DATABASE_URL", "")
    if not url:
        from archive import embedded_db

        url = embedded_db.start()
    parts = dj_database_url.parse(url)
    admin = _with_database(url, parts["NAME"])
    return admin, _with_database(url, SCRATCH)


def _with_database(url: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    split = urlsplit(url)
    return urlunsplit(split._replace(path=f"/{name}"))


def _admin_execute(admin_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(_libpq(admin_url), autocommit=True) as connection:
        connection.execute(sql)


def _libpq(url: str) -> str:
    # psycopg reads postgresql:// URLs, including ?host=/socket/dir.
    return url.replace("postgres://", "postgresql://", 1)


def _truncate_archive() -> None:
    from django.apps import apps
    from django.db import connection

    tables = {m._meta.db_table for m in apps.get_app_config("speeches").get_models()}
    tables |= {m._meta.db_table for m in apps.get_app_config("taggit").get_models()}
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(sorted(tables))} RESTART IDENTITY CASCADE")


def _sample(root: Path, per_corpus: int) -> list:
    from speeches.importers.corpus import CORPUS_NAMES, corpus_items

    documents = []
    for name in CORPUS_NAMES:
        folder = root / name
        if not folder.is_dir():
            print(f"  (skipped {name}: not found under {root})")
            continue
        count = 0
        for item in corpus_items(folder):
            doc = item.load()
            documents.append(doc)
            count += len(doc.passages)
            if count >= per_corpus:
                break
        print(f"  {name}: {count} passages")
    return documents


def _time_import(documents: list, *, durable: bool) -> float:
    from speeches.importers.writer import ImportCache, import_speech_document

    _truncate_archive()
    started = time.perf_counter()
    cache = ImportCache()
    for doc in documents:
        import_speech_document(doc, cache=cache, durable=durable)
    return time.perf_counter() - started


def _real_search_schema() -> tuple[str, list[str]]:
    """The search vector's generation expression and the search indexes of the
    real passage-text table, read from the catalog so that the baseline always
    carries exactly the same search columns as the importer writes."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d "
            "JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum "
            "WHERE d.adrelid = 'speeches_passagetext'::regclass AND a.attname = 'search_vector'"
        )
        expression = cursor.fetchone()[0]
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'speeches_passagetext' "
            "AND indexname LIKE 'passage_text_search%%'"
        )
        indexes = [row[0] for row in cursor.fetchall()]
    return expression, indexes


def _time_copy(rows: list[tuple]) -> float:
    """COPY (text, language, date, precomputed tokens) into a bare table with the
    real table's generated search vector and search indexes: the database work
    of indexing the same texts, without keys, history, triggers or constraints."""
    from django.db import connection

    expression, indexes = _real_search_schema()
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_copy")
        cursor.execute(
            "CREATE TABLE bench_copy (id bigserial PRIMARY KEY, text text NOT NULL, "
            "search_lang varchar(20) NOT NULL, search_public boolean NOT NULL, "
            "search_date date, search_speaker_id bigint, search_speech_id bigint, "
            "search_tokens text NOT NULL, "
            f"search_vector tsvector GENERATED ALWAYS AS ({expression}) STORED)"
        )
        for index in indexes:
            renamed = index.replace(" ON public.speeches_passagetext ", " ON bench_copy ")
            renamed = renamed.replace("INDEX passage_text_", "INDEX bench_copy_", 1)
            cursor.execute(renamed)
    raw = connection.connection  # the psycopg connection under Django's
    started = time.perf_counter()
    with (
        raw.transaction(),
        raw.cursor() as cursor,
        cursor.copy(
            "COPY bench_copy (text, search_lang, search_public, search_date, "
            "search_speech_id, search_tokens) FROM STDIN"
        ) as copy,
    ):
        for row in rows:
            copy.write_row(row)
    return time.perf_counter() - started


def _time_copy_minimal(rows: list[tuple]) -> float:
    """A second, harsher reference: the texts alone into a table with just a
    `to_tsvector('simple', text)` column and one GIN index (no CJK tokens, no
    English stemming, no filter columns)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_copy_minimal")
        cursor.execute(
            "CREATE TABLE bench_copy_minimal (id bigserial PRIMARY KEY, text text NOT NULL, "
            "search tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED)"
        )
        cursor.execute(
            "CREATE INDEX bench_copy_minimal_search ON bench_copy_minimal USING gin (search)"
        )
    raw = connection.connection
    started = time.perf_counter()
    with (
        raw.transaction(),
        raw.cursor() as cursor,
        cursor.copy("COPY bench_copy_minimal (text) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row((row[0],))
    return time.perf_counter() - started


def _copy_rows(documents: list) -> list[tuple]:
    """The baseline's input, prepared before timing (a raw COPY gets its data
    ready-made): one row per passage text, tokens computed by textnorm."""
    from speeches import textnorm

    rows = []
    for number, doc in enumerate(documents, start=1):
        for passage in doc.passages:
            for code, text in passage.texts.items():
                language = doc.version(code).language.split("-")[0].lower()
                tokens = textnorm.index_tokens(text)
                rows.append((text, language, True, doc.delivered_on, number, tokens))
    return rows


def _full_load(root: Path) -> tuple[float, int, int]:
    from speeches.importers.corpus import CORPUS_NAMES
    from speeches.importers.writer import ImportCache
    from speeches.management.commands.load_corpus import load_folder

    _truncate_archive()
    started = time.perf_counter()
    speeches = passages = 0
    cache = ImportCache()
    for name in CORPUS_NAMES:
        if (root / name).is_dir():
            counts = load_folder(root / name, cache=cache)
            speeches += counts["speeches"]
            passages += counts["passages"]
    return time.perf_counter() - started, speeches, passages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passages", type=int, default=2000, help="Sample size per corpus.")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--full", action="store_true", help="Also time the whole corpus.")
    args = parser.parse_args()

    admin_url, scratch_url = _scratch_url()
    _admin_execute(admin_url, f"DROP DATABASE IF EXISTS {SCRATCH}")
    _admin_execute(
        admin_url,
        f"CREATE DATABASE {SCRATCH} TEMPLATE template0 ENCODING 'UTF8' "
        "LOCALE_PROVIDER builtin BUILTIN_LOCALE 'C.UTF-8'",
    )
    os.environ["DATABASE_URL"] = scratch_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "archive.settings")
    os.environ.setdefault("DJANGO_DEBUG", "True")
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        from speeches.management.commands.load_corpus import corpus_root

        call_command("migrate", verbosity=0)
        root = corpus_root()
        print(f"Corpus: {root}")
        print(f"Sample (first documents of each folder, ≥ {args.passages} passages each):")
        documents = _sample(root, args.passages)
        passages = sum(len(doc.passages) for doc in documents)
        rows = _copy_rows(documents)
        print(f"  total: {len(documents)} speeches, {passages} passages, {len(rows)} texts")

        import_times, durable_times, copy_times, minimal_times = [], [], [], []
        for _ in range(args.runs):
            import_times.append(_time_import(documents, durable=False))
            durable_times.append(_time_import(documents, durable=True))
            copy_times.append(_time_copy(rows))
            minimal_times.append(_time_copy_minimal(rows))
        importer = passages / statistics.median(import_times)
        durable = passages / statistics.median(durable_times)
        baseline = passages / statistics.median(copy_times)
        runs = f"median of {args.runs}"
        print(f"Importer as load_corpus runs it ({runs}): {importer:,.0f} passages/s")
        print(f"Importer with durable commits ({runs}): {durable:,.0f} passages/s")
        print(f"COPY baseline ({runs}): {baseline:,.0f} passages/s")
        print(f"Ratio importer / COPY: {importer / baseline:.2f} (target ≥ 0.2)")
        print(f"Ratio with durable commits: {durable / baseline:.2f}")
        minimal = passages / statistics.median(minimal_times)
        print(
            f"Reference: COPY into a text + to_tsvector('simple') + GIN table: "
            f"{minimal:,.0f} passages/s (importer at {importer / minimal:.2f} of it)"
        )

        if args.full:
            seconds, speeches, full_passages = _full_load(root)
            print(
                f"Full corpus: {speeches} speeches, {full_passages} passages "
                f"in {seconds:.1f}s ({full_passages / seconds:,.0f} passages/s)"
            )
        connection.close()
    finally:
        _admin_execute(admin_url, f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
