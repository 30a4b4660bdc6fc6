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
  with the same search columns — a text column, a stored generated
  `to_tsvector('simple', text)` column and a GIN index — in passages per
  second (the passages' texts, all versions, in one COPY and one commit).
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


def _time_copy(texts: list[str]) -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_copy")
        cursor.execute(
            "CREATE TABLE bench_copy (id bigserial PRIMARY KEY, text text NOT NULL, "
            "search tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED)"
        )
        cursor.execute("CREATE INDEX bench_copy_search ON bench_copy USING gin (search)")
    raw = connection.connection  # the psycopg connection under Django's
    started = time.perf_counter()
    with (
        raw.transaction(),
        raw.cursor() as cursor,
        cursor.copy("COPY bench_copy (text) FROM STDIN") as copy,
    ):
        for text in texts:
            copy.write_row((text,))
    return time.perf_counter() - started


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
        texts = [text for doc in documents for p in doc.passages for text in p.texts.values()]
        print(f"  total: {len(documents)} speeches, {passages} passages, {len(texts)} texts")

        import_times, durable_times, copy_times = [], [], []
        for _ in range(args.runs):
            import_times.append(_time_import(documents, durable=False))
            durable_times.append(_time_import(documents, durable=True))
            copy_times.append(_time_copy(texts))
        importer = passages / statistics.median(import_times)
        durable = passages / statistics.median(durable_times)
        baseline = passages / statistics.median(copy_times)
        runs = f"median of {args.runs}"
        print(f"Importer as load_corpus runs it ({runs}): {importer:,.0f} passages/s")
        print(f"Importer with durable commits ({runs}): {durable:,.0f} passages/s")
        print(f"COPY baseline ({runs}): {baseline:,.0f} passages/s")
        print(f"Ratio importer / COPY: {importer / baseline:.2f} (target ≥ 0.2)")
        print(f"Ratio with durable commits: {durable / baseline:.2f}")

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
