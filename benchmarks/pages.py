"""Public page rendering: the reading page and the passage page against /healthz.

    .venv/bin/python benchmarks/pages.py [--runs 21] [--folder tang-transcripts-zh-en]

Standalone: sets Django up itself and works in its own scratch database
(`bench_pages`) on the embedded server, or on the server named by DATABASE_URL,
and drops it at the end.

* Data: every speech of one corpus folder (default the bilingual Tang
  transcripts; `--folder` takes any folder `load_corpus` reads), imported with
  the project's importer and published; plus one synthetic 200-passage
  bilingual (zh-Hans/en) speech with a footnote, a theme and an annotation on
  every passage and a confirmed glossary term — the issue's target case.
* Each page is requested `--runs` times through Django's test client (full
  middleware, template rendering, no network) after one warm-up request; the
  figure is the median wall time per request, with the number of SQL queries.
* Baseline, same run: a bare `/healthz` request (one `SELECT 1`).
* Target: the 200-passage reading page under 10× the baseline, and the same
  query count for every reading page whatever its length.
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
SCRATCH = "bench_pages"
TARGET_RATIO = 10


def _scratch_url() -> tuple[str, str]:
    """(admin URL to create/drop the scratch database, the scratch database URL)."""
    import dj_database_url

    url = os.environ.get("DATABASE_URL", "")
    if not url:
        from archive import embedded_db

        url = embedded_db.start()
    parts = dj_database_url.parse(url)
    return _with_database(url, parts["NAME"]), _with_database(url, SCRATCH)


def _with_database(url: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _admin_execute(admin_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(
        admin_url.replace("postgres://", "postgresql://", 1), autocommit=True
    ) as c:
        c.execute(sql)


def _load_folder(folder: Path) -> int:
    from speeches.importers.corpus import corpus_items
    from speeches.importers.document import SpeechDocument
    from speeches.importers.writer import import_speech_document

    count = 0
    for item in corpus_items(folder):
        doc = item.load()
        if isinstance(doc, SpeechDocument):
            import_speech_document(doc, publish=True)
            count += 1
    return count


def _synthetic_speech(n_passages: int = 200):
    """A bilingual speech shaped like a DigiChina translation, fully decorated."""
    import datetime as dt

    from taggit.models import Tag

    from speeches.models import (
        Annotation,
        Footnote,
        Passage,
        PassageText,
        Speaker,
        Speech,
        TaggedPassage,
        Term,
        Version,
    )

    speaker, _ = Speaker.objects.get_or_create(
        slug="xi-jinping", defaults={"name": "Xi Jinping", "name_original": "习近平"}
    )
    speech = Speech.objects.create(
        title="Synthetic 200-passage speech",
        slug="bench-200",
        speaker=speaker,
        delivered_on=dt.date(2016, 4, 19),
        original_language="zh-Hans",
        status=Speech.Status.PUBLISHED,
    )
    zh = Version.objects.create(
        speech=speech, code="zh-Hans", language="zh-Hans", is_original=True, title="讲话"
    )
    en = Version.objects.create(speech=speech, code="en", language="en", title=speech.title)
    theme, _ = Tag.objects.get_or_create(name="Cyberspace", slug="cyberspace")
    Term.objects.get_or_create(
        original="网络强国",
        defaults={
            "slug": "wangluo-qiangguo",
            "pinyin": "wǎngluò qiángguó",
            "translation": "cyber superpower",
            "status": Term.Status.CONFIRMED,
        },
    )
    zh_text = "我们要建设网络强国，推动核心技术突破，加快推进国产自主可控替代计划。" * 3
    en_text = (
        "We must build a cyber superpower, promote breakthroughs in core technologies and "
        "speed up the plan for domestic, autonomous and controllable alternatives. "
    ) * 3
    for i in range(1, n_passages + 1):
        passage = Passage.objects.create(speech=speech, position=i)
        PassageText.objects.create(passage=passage, version=zh, text=zh_text)
        PassageText.objects.create(passage=passage, version=en, text=f"{en_text}[^{i}]")
        Footnote.objects.create(version=en, passage=passage, number=i, body=f"Note {i}.")
        Annotation.objects.create(passage=passage, version=en, body="Why.", exact="core")
        TaggedPassage.objects.create(content_object=passage, tag=theme)
    return speech


def _measure(client, url: str, runs: int) -> tuple[float, int, int]:
    """(median seconds, queries, bytes) of GET url."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(url)  # warm-up: template and regex caches
    assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - start)
    return statistics.median(times), len(queries), len(response.content)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--folder", default="tang-transcripts-zh-en")
    args = parser.parse_args()

    admin_url, scratch_url = _scratch_url()
    _admin_execute(admin_url, f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)")
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
        from django.db.models import Count
        from django.test import Client

        from speeches.management.commands.load_corpus import corpus_root
        from speeches.models import Speech

        call_command("migrate", verbosity=0)
        folder = Path(corpus_root()) / args.folder
        started = time.perf_counter()
        loaded = _load_folder(folder)
        synthetic = _synthetic_speech(200)
        print(f"Loaded {loaded} speeches from {folder} in {time.perf_counter() - started:.1f}s")

        longest = (
            Speech.objects.public()
            .exclude(pk=synthetic.pk)
            .annotate(n=Count("passages"))
            .order_by("-n", "pk")
            .first()
        )
        middle = longest.passages.order_by("position")[longest.n // 2]
        client = Client()
        cases = [
            ("/healthz (baseline)", "/healthz"),
            (f"reading page, longest speech ({longest.n} passages)", longest.get_absolute_url()),
            ("reading page, synthetic bilingual (200 passages)", synthetic.get_absolute_url()),
            (
                "reading page, synthetic, single column",
                synthetic.get_absolute_url() + "?view=single",
            ),
            ("passage page (middle of the longest)", middle.get_absolute_url()),
            ("home", "/"),
            ("speech list", "/speeches/"),
        ]
        results = {label: _measure(client, url, args.runs) for label, url in cases}
        baseline = results[cases[0][0]][0]
        debug = os.environ["DJANGO_DEBUG"]
        print(f"\nMedian of {args.runs} requests (Django test client, DEBUG={debug}):")
        print(f"{'page':<58} {'ms':>8} {'× base':>8} {'queries':>8} {'KiB':>7}")
        for label, (seconds, queries, size) in results.items():
            print(
                f"{label:<58} {seconds * 1000:8.2f} {seconds / baseline:8.1f} {queries:8d}"
                f" {size / 1024:7.0f}"
            )
        target = results[cases[2][0]][0] / baseline
        reading_queries = {results[label][1] for label, _ in cases[1:4]}
        verdict = "OK" if target < TARGET_RATIO else "MISSED"
        print(
            f"\n200-passage reading page: {target:.1f}× baseline "
            f"(target < {TARGET_RATIO}×): {verdict}"
        )
        print(f"Reading page queries across lengths: {sorted(reading_queries)} (target: one value)")
        connection.close()
    finally:
        _admin_execute(admin_url, f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
