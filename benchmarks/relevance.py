"""Search relevance on a judged query set: recall@20 and MRR, against a naive baseline.

    .venv/bin/python benchmarks/relevance.py [--keep] [--reuse] [--verbose]

Standalone: sets Django up itself and works in its own scratch database
(`bench_relevance`), dropped at the end unless --keep (--reuse takes a kept one).

* Data: every document of the four corpus folders under DEMO_CORPUS (default
  ../shared/corpus), imported with the project's importer and published, plus
  the confirmed glossary terms the en/zh pairs below rely on.
* Judged set (JUDGED, 50+ queries): English known-item quotations from the
  presidential speeches, Chinese terms from the work reports, Simplified
  queries for Traditional text (and the reverse) in the Tang transcripts and
  the reports, and en/zh pairs from the Tang transcripts. Each query names the
  string(s) whose passages must be found; the judgements are those passages,
  found by a plain substring test over the texts (normalised: NFKC, one
  script, lower case) — independent of the search engine.
* Metrics: recall@20 (relevant passages in the top 20 over min(20, number
  relevant)) and MRR (1 / rank of the first relevant passage), means over the
  queries. Targets: recall@20 ≥ 0.95, MRR ≥ 0.8.
* Baseline, same run, same data: the naive query — `websearch_to_tsquery
  ('english', q)` over a stored `to_tsvector('english', text)` with a GIN index,
  ranked by `ts_rank`, public passages only; no Chinese handling, no glossary.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(BASE_DIR / "benchmarks"))
import _common  # noqa: E402  (benchmarks/, first on sys.path when run as a script)

SCRATCH = "bench_relevance"
K = 20
TARGET_RECALL = 0.95
TARGET_MRR = 0.8

# (class, query as typed, strings whose passages are relevant)
JUDGED: list[tuple[str, str, tuple[str, ...]]] = [
    # English known items (Miller Center presidential speeches)
    ("en known item", '"a date which will live in infamy"', ("will live in infamy",)),
    ("en known item", "ask not what your country can do for you", ("ask not what your country",)),
    (
        "en known item",
        '"the only thing we have to fear is fear itself"',
        ("fear is fear itself",),
    ),
    ("en known item", "tear down this wall", ("tear down this wall",)),
    ("en known item", '"thousand points of light"', ("thousand points of light",)),
    ("en known item", "malice toward none", ("malice toward none",)),
    (
        "en known item",
        '"government of the people, by the people"',
        ("government of the people, by the people",),
    ),
    ("en known item", '"read my lips"', ("read my lips",)),
    ("en known item", '"evil empire"', ("evil empire",)),
    ("en known item", '"axis of evil"', ("axis of evil",)),
    ("en known item", "military-industrial complex", ("military-industrial complex",)),
    ("en known item", '"arsenal of democracy"', ("arsenal of democracy",)),
    ("en known item", '"peace dividend"', ("peace dividend",)),
    ("en known item", '"era of big government is over"', ("era of big government is over",)),
    ("en known item", '"the torch has been passed"', ("the torch has been passed",)),
    ("en known item", "we choose to go to the moon", ("we choose to go to the moon",)),
    ("en known item", "ich bin ein berliner", ("ich bin ein berliner",)),
    ("en known item", '"win one for the gipper"', ("win one for the gipper",)),
    ("en known item", "economic royalists", ("economic royalists",)),
    ("en known item", '"crisis of confidence"', ("crisis of confidence",)),
    ("en known item", '"silent majority"', ("silent majority",)),
    ("en known item", '"new world order"', ("new world order",)),
    # Chinese terms (PRC government work reports, Simplified)
    ("zh term", "网络强国", ("网络强国",)),
    ("zh term", "自主创新", ("自主创新",)),
    ("zh term", "高质量发展", ("高质量发展",)),
    ("zh term", "供给侧结构性改革", ("供给侧结构性改革",)),
    ("zh term", "一带一路", ("一带一路",)),
    ("zh term", "乡村振兴", ("乡村振兴",)),
    ("zh term", "共同富裕", ("共同富裕",)),
    ("zh term", "依法治国", ("依法治国",)),
    ("zh term", "大众创业", ("大众创业",)),
    ("zh term", "放管服", ("放管服",)),
    ("zh term", "精准扶贫", ("精准扶贫",)),
    ("zh term", "碳达峰", ("碳达峰",)),
    ("zh term", "新质生产力", ("新质生产力",)),
    ("zh term", "人民公社", ("人民公社",)),
    ("zh term", "西部大开发", ("西部大开发",)),
    # Cross-script: Simplified queries, Traditional texts (Tang) and the reverse (reports)
    ("zh cross-script", "太阳花", ("太陽花",)),
    ("zh cross-script", "审议", ("審議",)),
    ("zh cross-script", "社会创新", ("社會創新",)),
    ("zh cross-script", "零时政府", ("零時政府",)),
    ("zh cross-script", "人工智慧", ("人工智慧",)),
    ("zh cross-script", "数位", ("數位",)),
    ("zh cross-script", "網絡強國", ("网络强国",)),
    ("zh cross-script", "高質量發展", ("高质量发展",)),
    ("zh cross-script", "鄉村振興", ("乡村振兴",)),
    # en/zh pairs (Tang transcripts), through the confirmed glossary terms below
    ("en/zh pair", '"Sunflower Movement"', ("sunflower movement", "太陽花學運")),
    ("en/zh pair", "太阳花学运", ("sunflower movement", "太陽花學運")),
    ("en/zh pair", '"civic tech"', ("civic tech", "公民科技")),
    ("en/zh pair", "公民科技", ("civic tech", "公民科技")),
    ("en/zh pair", '"open government"', ("open government", "開放政府")),
    ("en/zh pair", "黑客松", ("hackathon", "hackathons", "黑客松")),
    ("en/zh pair", "disinformation", ("disinformation", "假訊息")),
]

TERMS = [
    # original, translation, variants
    ("太阳花学运", "Sunflower Movement", ""),
    ("公民科技", "civic tech", ""),
    ("开放政府", "open government", ""),
    ("黑客松", "hackathon", "hackathons"),
    ("假讯息", "disinformation", ""),
]


def _setup_data() -> None:
    from django.db import connection

    from speeches.importers.writer import ImportCache
    from speeches.management.commands.load_corpus import CORPUS_NAMES, corpus_root, load_folder
    from speeches.models import Term

    cache = ImportCache()
    started = time.perf_counter()
    for name in CORPUS_NAMES:
        load_folder(Path(corpus_root()) / name, publish=True, cache=cache)
    print(f"Imported the corpus in {time.perf_counter() - started:.0f}s")
    for original, translation, variants in TERMS:
        Term.objects.create(
            original=original,
            slug=f"term-{Term.objects.count() + 1}",
            translation=translation,
            variants=variants,
            status=Term.Status.CONFIRMED,
        )
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE speeches_passagetext ADD COLUMN naive_vector tsvector "
            "GENERATED ALWAYS AS (to_tsvector('english', text)) STORED"
        )
        cursor.execute(
            "CREATE INDEX naive_vector_gin ON speeches_passagetext USING gin (naive_vector)"
        )
        cursor.execute("ANALYZE speeches_passagetext")


def _oracle_form(text: str) -> str:
    """Normalised (NFKC, one script, lower case), punctuation as single spaces."""
    from speeches import textnorm

    return " " + " ".join(re.sub(r"[\W_]+", " ", textnorm.normalize(text)).split()) + " "


def _judgements() -> dict[str, set[int]]:
    """For each relevant string, the public passage texts containing it: a CJK
    string as a substring, anything else as whole words (so "civic tech"
    counts "civic-tech", not "civic technology")."""
    from speeches import textnorm
    from speeches.models import PassageText

    needles = {s for _, _, strings in JUDGED for s in strings}
    found: dict[str, set[int]] = {s: set() for s in needles}
    forms = {}
    for s in needles:
        form = _oracle_form(s)
        forms[s] = form.strip() if textnorm.contains_cjk(s) else form
    rows = PassageText.objects.public().values_list("id", "text").iterator(chunk_size=5000)
    for pk, text in rows:
        norm = _oracle_form(text)
        for s, needle in forms.items():
            if needle in norm:
                found[s].add(pk)
    return found


def ours(q: str) -> list[int]:
    from speeches import search

    result = search.run_search(search.read_params({"q": q}))
    return [hit.passage_text.pk for hit in result.hits]


def naive(q: str) -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.id FROM speeches_passagetext t, websearch_to_tsquery('english', %s) q "
            "WHERE t.search_public AND t.naive_vector @@ q "
            "ORDER BY ts_rank(t.naive_vector, q) DESC, t.id LIMIT %s",
            [q, K],
        )
        return [row[0] for row in cursor.fetchall()]


def score(ranked: list[int], relevant: set[int]) -> tuple[float, float]:
    top = ranked[:K]
    recall = len([i for i in top if i in relevant]) / min(K, len(relevant))
    rr = next((1 / (rank + 1) for rank, i in enumerate(top) if i in relevant), 0.0)
    return recall, rr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="One line per query.")
    args = parser.parse_args()

    admin_url, scratch_url = _common.scratch_urls(SCRATCH)
    reuse = args.reuse and _common.database_exists(admin_url, SCRATCH)
    if not reuse:
        _common.create_database(admin_url, SCRATCH)
    _common.production_env(scratch_url, DB_STATEMENT_TIMEOUT_MS="0")
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        if not reuse:
            _setup_data()
        judged = _judgements()
        classes: dict[str, dict[str, list[float]]] = {}
        print(f"{len(JUDGED)} judged queries")
        failures = 0
        for cls, q, strings in JUDGED:
            relevant = set().union(*(judged[s] for s in strings))
            if not relevant:
                print(f"  no relevant passage for {q!r}: judged set broken")
                failures += 1
                continue
            r_ours, rr_ours = score(ours(q), relevant)
            r_naive, rr_naive = score(naive(q), relevant)
            bucket = classes.setdefault(cls, {"r": [], "rr": [], "nr": [], "nrr": []})
            bucket["r"].append(r_ours)
            bucket["rr"].append(rr_ours)
            bucket["nr"].append(r_naive)
            bucket["nrr"].append(rr_naive)
            if args.verbose:
                print(
                    f"  {cls:<16} {q[:40]:<42} rel={len(relevant):>4} "
                    f"R@20 {r_ours:.2f} RR {rr_ours:.2f} | naive R@20 {r_naive:.2f} "
                    f"RR {rr_naive:.2f}"
                )
        print(
            f"\n{'class':<16} {'n':>3} {'R@20':>6} {'MRR':>6} {'naive R@20':>11} {'naive MRR':>10}"
        )
        everything = {"r": [], "rr": [], "nr": [], "nrr": []}
        for cls, bucket in classes.items():
            for key in everything:
                everything[key] += bucket[key]
            print(
                f"{cls:<16} {len(bucket['r']):>3} {statistics.mean(bucket['r']):>6.3f} "
                f"{statistics.mean(bucket['rr']):>6.3f} {statistics.mean(bucket['nr']):>11.3f} "
                f"{statistics.mean(bucket['nrr']):>10.3f}"
            )
        recall, mrr = statistics.mean(everything["r"]), statistics.mean(everything["rr"])
        print(
            f"{'all':<16} {len(everything['r']):>3} {recall:>6.3f} {mrr:>6.3f} "
            f"{statistics.mean(everything['nr']):>11.3f} "
            f"{statistics.mean(everything['nrr']):>10.3f}"
        )
        print(f"Targets: recall@20 ≥ {TARGET_RECALL}, MRR ≥ {TARGET_MRR}")
        if recall < TARGET_RECALL or mrr < TARGET_MRR:
            print("MISSED: relevance target")
            failures += 1
        # Like the other benchmarks: figures and misses are printed, `make bench`
        # goes on to the next script.
        return 0
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            _common.admin_execute(admin_url, f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)")


if __name__ == "__main__":
    sys.exit(main())
