"""Public page rendering: the reading page and the passage page against /healthz.

    .venv/bin/python benchmarks/pages.py [--runs 21] [--folder tang-transcripts-zh-en]

Standalone: sets Django up itself and works in its own scratch database
(`bench_pages`) on the embedded server, or on the server named by DATABASE_URL,
and drops it at the end.

* Settings as in production: DEBUG False, a throwaway DJANGO_SECRET_KEY, static
  files collected (whitenoise's manifest storage), the default cache.
* Data: every speech of one corpus folder (default the bilingual Tang
  transcripts; `--folder` takes any folder `load_corpus` reads), imported with
  the project's importer and published; plus one synthetic 200-passage
  bilingual (zh-Hans/en) speech with a footnote, a theme and an annotation on
  every passage and a confirmed glossary term — the issue's target case.
  Then ANALYZE: a database that has just been loaded has no planner
  statistics yet, and production ones do (autovacuum).
* Primary figure: real HTTP. The app runs under gunicorn (the project's
  gunicorn.conf.py, one sync worker) on a free loopback port; each page is
  requested once to warm up, then `--runs` times; the figure is the median wall
  time of one request (connect, request, whole body) as the client sees it.
* Secondary figure: the same requests through Django's test client in this
  process (full middleware, no network), with the number of SQL queries.
* Reading pages and the passage page are measured twice. "rendered": before
  every run an edit changes the first passage's text (a unique suffix, saved
  like an editor's edit); the edit renews the speech's content stamp
  (migration 0005), so the page is rendered from the database and stored —
  what the first reader after an edit gets; the suffix must then appear on the
  page. "stored": repeated requests, served from the page store
  (speeches/pagestore.py: one query for the speech or passage with the
  glossary stamp, one for the stored page) — what every later reader gets,
  from any worker; the stored page must be byte-identical to the page the
  last rendered request built.
* Baseline, same run, same server: a bare `/healthz` request (one `SELECT 1`),
  `--runs` of them right before each page's requests; "× base" is the page's
  median over the median of its own baseline block, so a machine that gets
  busier halfway through the run shifts both.
* Target: the 200-passage reading page under 10× the baseline, and the same
  query count for every reading page whatever its length.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
import _common  # noqa: E402  (benchmarks/, first on sys.path when run as a script)

SCRATCH = "bench_pages"
TARGET_RATIO = 10


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


# ------------------------------------------------------------------ the two clients


def _start_server(port: int, log_path: Path) -> subprocess.Popen:
    """gunicorn with the project's config, one sync worker, no worker recycling."""
    return _common.start_server(
        port, log_path, {"WEB_CONCURRENCY": "1", "GUNICORN_MAX_REQUESTS": "0"}
    )


class Timing(NamedTuple):
    page_ms: float  # median
    base_ms: float  # median of the /healthz requests taken right before the page's
    body: bytes  # of the last request

    @property
    def ratio(self) -> float:
        return self.page_ms / self.base_ms


def _measure(
    fetch: Callable[[str], bytes],
    url: str,
    runs: int,
    before: Callable[[], str] | None = None,
) -> Timing:
    """`runs` /healthz requests, then `runs` requests of `url`, each block after
    one warm-up request: the baseline is taken right before the page, so on a
    machine whose load changes during the run both see the same moment (and in
    blocks, not alternated, so the page's own aftermath — garbage collection,
    freed memory — never lands on the baseline). `before` runs untimed ahead of
    each page request and returns text the page must then contain."""
    base_times = _timed(fetch, "/healthz", runs)
    fetch(url)
    page_times = []
    body = b""
    for _ in range(runs):
        expected = before() if before else ""
        start = time.perf_counter()
        body = fetch(url)
        page_times.append(time.perf_counter() - start)
        if expected and expected.encode() not in body:
            raise RuntimeError(f"an edit did not show on the next request: {expected!r}")
    return Timing(statistics.median(page_times) * 1000, statistics.median(base_times) * 1000, body)


def _timed(fetch: Callable[[str], bytes], url: str, runs: int) -> list[float]:
    fetch(url)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fetch(url)
        times.append(time.perf_counter() - start)
    return times


class Editor:
    """ "Rendered" runs: a fresh edit of a passage (a speech's first one, in
    the version the reading page shows on the left) before each request."""

    def __init__(self) -> None:
        self.count = 0

    def for_speech(self, speech) -> Callable[[], str]:
        return self.for_passage(speech.passages.order_by("position").first())

    def for_passage(self, passage) -> Callable[[], str]:
        from speeches.models import PassageText

        speech = passage.speech
        original = speech.versions.filter(is_original=True).first() or speech.versions.first()
        text = PassageText.objects.get(passage=passage, version=original)

        base = text.text

        def edit() -> str:
            self.count += 1
            marker = f"(bench edit {self.count})"
            text.text = f"{base} {marker}"
            text.save()  # save(): the search columns follow the text
            return marker

        return edit


# ------------------------------------------------------------------ main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--folder", default="tang-transcripts-zh-en")
    args = parser.parse_args()
    if args.runs < 11:
        parser.error("--runs must be at least 11")

    admin_url, scratch_url = _common.scratch_urls(SCRATCH)
    _common.create_database(admin_url, SCRATCH)
    _common.production_env(scratch_url)  # for this process and the server it starts
    server = None
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django.db.models import Count
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        from speeches.management.commands.load_corpus import corpus_root
        from speeches.models import Speech

        call_command("migrate", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        folder = Path(corpus_root()) / args.folder
        started = time.perf_counter()
        loaded = _load_folder(folder)
        synthetic = _synthetic_speech(200)
        print(f"Loaded {loaded} speeches from {folder} in {time.perf_counter() - started:.1f}s")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # planner statistics, as autovacuum keeps them in production
        longest = (
            Speech.objects.public()
            .exclude(pk=synthetic.pk)
            .annotate(n=Count("passages"))
            .order_by("-n", "pk")
            .first()
        )
        middle = longest.passages.order_by("position")[longest.n // 2]
        connection.close()  # the server gets its own connections

        port = _common.free_port()
        log_path = Path(tempfile.gettempdir()) / f"bench_pages_gunicorn_{port}.log"
        server = _start_server(port, log_path)
        client = Client()

        queries: list[int] = []

        def in_process(url: str) -> bytes:
            with CaptureQueriesContext(connection) as captured:
                response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            queries.append(len(captured))
            return response.content

        def over_http(url: str) -> bytes:
            return _common.http_get(port, url)

        editor = Editor()
        synthetic_url = synthetic.get_absolute_url()
        reading = [
            (f"reading page, longest speech ({longest.n} passages)", longest),
            ("reading page, synthetic bilingual (200 passages)", synthetic),
            ("reading page, synthetic, single column", synthetic),
        ]
        urls = {
            reading[0][0]: longest.get_absolute_url(),
            reading[1][0]: synthetic_url,
            reading[2][0]: synthetic_url + "?view=single",
        }
        # label → (url, edit before each run or None)
        cases: list[tuple[str, str, Callable[[], str] | None]] = [
            ("/healthz (baseline)", "/healthz", None)
        ]
        for label, speech in reading:
            cases.append((f"{label}, rendered", urls[label], editor.for_speech(speech)))
            cases.append((f"{label}, stored", urls[label], None))
        passage_label = "passage page (middle of the longest)"
        cases += [
            (f"{passage_label}, rendered", middle.get_absolute_url(), editor.for_passage(middle)),
            (f"{passage_label}, stored", middle.get_absolute_url(), None),
            ("home", "/", None),
            ("speech list", "/speeches/", None),
        ]

        rows = []
        rendered_bodies: dict[str, bytes] = {}
        for label, url, before in cases:
            http = _measure(over_http, url, args.runs, before)
            client_run = _measure(in_process, url, args.runs, before)
            rows.append((label, http, client_run, queries[-1]))
            if label.endswith(", rendered"):
                rendered_bodies[url] = client_run.body
            elif label.endswith(", stored") and client_run.body != rendered_bodies[url]:
                # Served from the store, the page must be the page a rendering built.
                raise RuntimeError(f"{label}: the stored page differs from a fresh one")
        print(
            f"\nMedian of {args.runs} requests after a warm-up. HTTP: gunicorn, 1 sync worker, "
            "DEBUG=False; client: Django's test client in this process.\n"
            "× base: against the /healthz requests taken right before that page's."
        )
        print(
            f"{'page':<62} {'HTTP ms':>8} {'× base':>7} {'client ms':>10} {'× base':>7} "
            f"{'queries':>8} {'KiB':>5}"
        )
        for label, http, client_run, n_queries in rows:
            print(
                f"{label:<62} {http.page_ms:8.2f} {http.ratio:7.1f} {client_run.page_ms:10.2f} "
                f"{client_run.ratio:7.1f} {n_queries:8d} {len(http.body) / 1024:5.0f}"
            )
        by_label = {row[0]: row for row in rows}
        print()
        for state in ("rendered", "stored"):
            http = by_label[f"{reading[1][0]}, {state}"][1]
            verdict = "MEETS" if http.ratio < TARGET_RATIO else "MISSES"
            print(
                f"200-passage reading page, {state}, over HTTP: {http.ratio:.1f}× baseline "
                f"({http.page_ms:.2f} ms vs {http.base_ms:.2f} ms): {verdict} the target "
                f"(< {TARGET_RATIO}×)"
            )
        for state in ("rendered", "stored"):
            counts = sorted({by_label[f"{label}, {state}"][3] for label, _ in reading})
            print(f"Reading page queries across lengths, {state}: {counts} (target: one value)")
    finally:
        if server is not None:
            _common.stop_server(server)
        _common.admin_execute(admin_url, f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
