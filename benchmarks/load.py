"""Load and faults: 20 concurrent users on gunicorn + PostgreSQL with the whole corpus.

    .venv/bin/python benchmarks/load.py [--duration 120] [--users 20] [--rebuild]

Standalone and loopback only. Everything runs on a SEPARATE embedded
PostgreSQL cluster under var/bench (ARCHIVE_VAR_DIR), so the fault phase can
restart it without disturbing the development database or anyone's test run;
it is stopped at the end. With DATABASE_URL set, that server is used instead
and the fault phase is skipped (we do not restart someone else's server).

* Data: `manage.py load_corpus --all --publish` (every folder under
  DEMO_CORPUS, default ../shared/corpus) into the scratch database
  `bench_load`, then VACUUM ANALYZE. The database is kept and reused by the
  next run when it is complete (a marker written after the load, carrying a
  fingerprint of the corpus files' names, sizes and dates; `migrate` brings
  a kept database's schema up to date); `--rebuild` reloads it.
* Server: gunicorn with the project's gunicorn.conf.py as production runs it:
  sync workers from the CPU count (2 × cores + 1), `max_requests` recycling
  with jitter, DEBUG False, statement_timeout 5 s, JSON access logs at INFO.
  Rate limiting stays ON with its limits raised to 10^9 requests a minute, so
  the limiter's cache work is part of every figure and a 429 would be counted.
* Client: `--users` threads (default 20), each a user that requests, reads the
  whole body and immediately requests again (a closed loop, no think time; a
  fresh connection each time, as sync workers close it; `Accept-Encoding:
  gzip` as browsers send it). Request URLs:
  reading pages of every public speech and passage pages of 5,000 passages,
  uniformly at random, and 30 searches (rare and frequent words, phrases,
  Chinese, filters, grouping, page 2).
* Phases, one run: FIRST VISITS — every reading and passage URL once (each
  page rendered and stored in PostgreSQL by speeches/pagestore.py, as the
  first reader after an edit or a deploy gets it; reported, counted for
  errors); warm-up (5 s, not counted); /healthz and each page type
  ALONE, in interleaved slices of duration/20 (6 s), three rounds, each round
  in another order — so whatever else the machine does weighs on all four
  alike; then the MIXED load (--duration, default 120 s: 40 % reading, 40 %
  passage, 20 % search). Reported per page type: requests/s held,
  p50/p95/p99 latency, 5xx and 429 rates.
* Targets (issue 5): zero 5xx (and no failed connection) in every load phase;
  at 20 users, reading and passage pages hold at least 1/3 of the /healthz
  throughput and search at least 1/10 — each type's throughput measured with
  all users on that type (its "alone" phase); the mixed phase gives the
  latencies and errors of the types side by side.
* Faults (embedded only): the mixed load plus /healthz runs while the bench
  cluster is stopped (`pg_ctl stop -m fast`), left down 3 s and started
  again. Targets: every answer is 200 or a 503 page with Retry-After (no 500,
  no traceback), no request takes longer than the 5 s statement timeout (no
  hang), and the app answers 200 again within 5 s of the database's return,
  by itself. Reported: the 503 window and the recovery time.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import multiprocessing
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
import _common  # noqa: E402  (benchmarks/, first on sys.path when run as a script)

BENCH_VAR_DIR = BASE_DIR / "var" / "bench"
SCRATCH = "bench_load"
MARKER = "speech-archive load benchmark, complete:"
TIMEOUT_S = 30  # the client's; gunicorn's worker timeout is 30 s too
STATEMENT_TIMEOUT_MS = 5000  # the production default (archive/settings.py)
WARMUP_S = 5
ALONE_ROUNDS = 3
PASSAGE_SAMPLE = 5000
MIX = {"reading": 0.4, "passage": 0.4, "search": 0.2}
TARGETS = {"reading": 3, "passage": 3, "search": 10}  # at least 1/N of /healthz
FAULT_BEFORE_S, FAULT_DOWN_S, FAULT_AFTER_S = 5.0, 3.0, 10.0
RECOVERY_TARGET_S = 5.0
# What every browser sends: stored pages then go out as stored (gzip).
BROWSER = {"Accept-Encoding": "gzip, deflate, br"}

SEARCHES: list[dict[str, str]] = [
    {"q": "infamy"},
    {"q": "hydroelectric"},
    {"q": "people"},
    {"q": "nations"},
    {"q": "freedom"},
    {"q": "economy"},
    {"q": "terrorism"},
    {"q": "refugees"},
    {"q": "nuclear weapons"},
    {"q": "climate"},
    {"q": '"climate change"'},
    {"q": '"united nations"'},
    {"q": '"government of the people"'},
    {"q": "sustainable development goals"},
    {"q": "发展"},
    {"q": "人民"},
    {"q": "改革"},
    {"q": "经济"},
    {"q": "高质量发展"},
    {"q": "网络强国"},
    {"q": "自主创新"},
    {"q": "太阳花"},
    {"q": "民主"},
    {"q": "people", "lang": "en", "from": "2015", "to": "2020"},
    {"q": "发展", "from": "1990", "to": "2000"},
    {"q": "climate", "lang": "en", "from": "2019", "to": "2020"},
    {"q": "people", "group": "speech"},
    {"q": "发展", "group": "speech"},
    {"q": "peace", "page": "2"},
    {"q": "security council"},
]


# ------------------------------------------------------------------ data


def corpus_fingerprint(corpus: Path, names: list[str]) -> str:
    """What the loaded data depends on: the corpus files' names, sizes and
    modification times (reading 50 MB to hash it is not needed). New migrations
    do not need a reload: `migrate` runs on the kept database first."""
    digest = hashlib.sha256()
    for name in names:
        for path in sorted((corpus / name).rglob("*")):
            if path.is_file():
                stat = path.stat()
                line = f"{path.relative_to(corpus)}:{stat.st_size}:{stat.st_mtime_ns}\n"
                digest.update(line.encode())
    return digest.hexdigest()[:20]


def loaded_marker(admin_url: str) -> str:
    rows = _common.admin_execute(
        admin_url,
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
        [SCRATCH],
    )
    return (rows[0][0] or "") if rows else ""


def load_data() -> None:
    """The whole corpus through the project's own command, then statistics."""
    from django.core.management import call_command
    from django.db import connection

    started = time.perf_counter()
    call_command("load_corpus", all=True, publish=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"Loaded the corpus in {time.perf_counter() - started:.0f}s")


def url_pools(rng: random.Random) -> dict[str, list[str]]:
    from django.urls import reverse

    from speeches.models import Passage, Speech

    public = Speech.objects.public()
    slugs = list(public.order_by("pk").values_list("slug", flat=True))
    keys = list(
        Passage.objects.filter(speech__in=public).order_by("pk").values_list("key", flat=True)
    )
    keys = rng.sample(keys, min(PASSAGE_SAMPLE, len(keys)))
    return {
        "healthz": ["/healthz"],
        "reading": [reverse("speeches:speech", args=[slug]) for slug in slugs],
        "passage": [reverse("speeches:passage", args=[key]) for key in keys],
        "search": [reverse("speeches:search") + "?" + urlencode(q) for q in SEARCHES],
    }


# ------------------------------------------------------------------ the load


@dataclass(slots=True)
class Result:
    kind: str
    start: float  # time.perf_counter()
    end: float
    status: int  # 0: the connection failed or timed out
    retry_after: str
    body_ok: bool  # a 503 says "unavailable"; other statuses: True

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass
class Phase:
    name: str
    results: list[Result] = field(default_factory=list)
    elapsed: float = 0.0
    client_cpu: float = 0.0  # CPU seconds this process used (the client threads)


def run_load(
    port: int,
    pools: dict[str, list[str]],
    weights: dict[str, float],
    users: int,
    *,
    seconds: float | None = None,
    stop: threading.Event | None = None,
    name: str = "",
    seed: int = 0,
) -> Phase:
    """`users` threads in a closed loop until `seconds` pass or `stop` is set."""
    stop = stop or threading.Event()
    phase = Phase(name)
    kinds, shares = list(weights), list(weights.values())

    def user(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        while not stop.is_set():
            kind = rng.choices(kinds, shares)[0]
            url = rng.choice(pools[kind])
            start = time.perf_counter()
            try:
                response = _common.http_request(port, url, timeout=TIMEOUT_S, headers=BROWSER)
                status, body = response.status, response.body
                retry_after = response.headers.get("Retry-After", "")
            except (OSError, http.client.HTTPException):
                status, body, retry_after = 0, b"", ""
            ok = status != 503 or b"unavailable" in body.lower()
            # list.append is atomic under the GIL: no lock needed.
            phase.results.append(Result(kind, start, time.perf_counter(), status, retry_after, ok))

    threads = [threading.Thread(target=user, args=(n,), daemon=True) for n in range(users)]
    return _run_users(phase, threads, stop, seconds)


def first_visits(port: int, pools: dict[str, list[str]], users: int) -> dict[str, Phase]:
    """Every reading and passage URL of the pools requested once, by `users`
    threads: each is rendered and stored (speeches/pagestore.py) unless an
    earlier run stored it today with this code. Returns a phase per kind."""
    kinds = ("reading", "passage")
    return {kind: _visit_each_once(port, kind, pools[kind], users) for kind in kinds}


def _visit_each_once(port: int, kind: str, urls: list[str], users: int) -> Phase:
    todo = list(urls)
    random.Random(7).shuffle(todo)
    phase = Phase(f"{kind}, first visits")
    lock = threading.Lock()

    def user() -> None:
        while True:
            with lock:
                if not todo:
                    return
                url = todo.pop()
            start = time.perf_counter()
            try:
                status = _common.http_request(port, url, timeout=TIMEOUT_S, headers=BROWSER).status
            except (OSError, http.client.HTTPException):
                status = 0
            phase.results.append(Result(kind, start, time.perf_counter(), status, "", True))

    threads = [threading.Thread(target=user, daemon=True) for _ in range(users)]
    return _run_users(phase, threads)


def _run_users(
    phase: Phase,
    threads: list[threading.Thread],
    stop: threading.Event | None = None,
    seconds: float | None = None,
) -> Phase:
    """Start the users, stop them after `seconds` (else let them finish), and
    record the phase's wall time and the client's own CPU time."""
    started, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.start()
    if stop is not None and seconds is not None:
        stop.wait(seconds)
        stop.set()
    for thread in threads:
        thread.join()
    phase.elapsed = time.perf_counter() - started
    phase.client_cpu = time.process_time() - cpu
    return phase


@dataclass
class Stats:
    n: int
    rps: float
    p50: float
    p95: float
    p99: float
    server_errors: int  # 5xx
    limited: int  # 429
    failed: int  # no HTTP answer, or another 4xx

    @property
    def error_rate(self) -> float:
        return self.server_errors / self.n if self.n else 0.0


def stats(phase: Phase, kind: str | None = None) -> Stats:
    rows = [r for r in phase.results if kind is None or r.kind == kind]
    ms = [r.seconds * 1000 for r in rows] or [0.0]
    return Stats(
        n=len(rows),
        rps=len(rows) / phase.elapsed,
        p50=_common.percentile(ms, 0.50),
        p95=_common.percentile(ms, 0.95),
        p99=_common.percentile(ms, 0.99),
        server_errors=sum(r.status >= 500 for r in rows),
        limited=sum(r.status == 429 for r in rows),
        failed=sum(r.status == 0 or (400 <= r.status < 500 and r.status != 429) for r in rows),
    )


def merged(name: str, *phases: Phase) -> Phase:
    total = Phase(name)
    for phase in phases:
        total.results += phase.results
        total.elapsed += phase.elapsed
        total.client_cpu += phase.client_cpu
    return total


def print_table(rows: list[tuple[str, Stats]]) -> None:
    print(
        f"{'':<22} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'5xx':>5} {'5xx %':>6} {'429':>5} {'failed':>6}"
    )
    for label, s in rows:
        print(
            f"{label:<22} {s.n:>8} {s.rps:>8.1f} {s.p50:>8.1f} {s.p95:>8.1f} {s.p99:>8.1f} "
            f"{s.server_errors:>5} {s.error_rate:>6.1%} {s.limited:>5} {s.failed:>6}"
        )


# ------------------------------------------------------------------ faults


@dataclass
class FaultReport:
    phase: Phase
    stop_issued: float
    stopped: float
    start_issued: float
    back: float  # the first new connection succeeded

    def line(self, label: str, t: float) -> str:
        return f"  {label:<46} {t - self.stop_issued:+7.2f} s"


def fault_phase(port: int, pools: dict[str, list[str]], users: int, admin_url: str) -> FaultReport:
    """The mixed load plus /healthz while the bench cluster stops and starts."""
    from archive import embedded_db

    weights = {"healthz": 0.25, **{k: v * 0.75 for k, v in MIX.items()}}
    stop = threading.Event()
    holder: list[Phase] = []
    runner = threading.Thread(
        target=lambda: holder.append(
            run_load(port, pools, weights, users, stop=stop, name="faults", seed=99)
        )
    )
    runner.start()
    try:
        time.sleep(FAULT_BEFORE_S)
        stop_issued = time.perf_counter()
        embedded_db.stop()  # pg_ctl stop -m fast -w
        stopped = time.perf_counter()
        time.sleep(FAULT_DOWN_S)
        start_issued = time.perf_counter()
        starter = threading.Thread(target=embedded_db.start)  # pg_ctl start -w
        starter.start()
        back = _wait_until_accepting(admin_url)
        starter.join()
        time.sleep(FAULT_AFTER_S)
    finally:
        stop.set()
        runner.join()
    return FaultReport(holder[0], stop_issued, stopped, start_issued, back)


def _wait_until_accepting(admin_url: str) -> float:
    """The moment a new connection first succeeds (polled every 10 ms): pg_ctl's
    own wait polls more coarsely, so its return is later than the real one."""
    import psycopg

    deadline = time.perf_counter() + 60
    while time.perf_counter() < deadline:
        try:
            psycopg.connect(_common.libpq(admin_url), connect_timeout=1).close()
            return time.perf_counter()
        except psycopg.OperationalError:
            time.sleep(0.01)
    raise RuntimeError("the bench cluster did not come back within 60 s")


def report_faults(report: FaultReport) -> list[str]:
    """Print the fault phase; return the targets it missed."""
    results = sorted(report.phase.results, key=lambda r: r.end)
    statuses = Counter(r.status for r in results)
    unavailable = [r for r in results if r.status == 503]
    bad = [r for r in results if r.status not in (200, 503)]
    failures_after = [r for r in results if r.status != 200 and r.end > report.back]
    recovery = max((r.end - report.back for r in failures_after), default=0.0)
    first_ok_after = next(
        (r.end for r in results if r.status == 200 and r.start > report.start_issued), None
    )
    slowest = max(results, key=lambda r: r.seconds)
    print(f"\nFault phase: {len(results)} requests, statuses {dict(sorted(statuses.items()))}")
    print(report.line("pg_ctl stop -m fast issued", report.stop_issued))
    print(report.line("server stopped", report.stopped))
    print(report.line("pg_ctl start issued", report.start_issued))
    print(report.line("first new connection accepted again", report.back))
    if unavailable:
        print(report.line("first 503 answered", unavailable[0].end))
        print(report.line("last 503 answered", unavailable[-1].end))
        window = unavailable[-1].end - unavailable[0].end
        print(
            f"  503 window: {window:.2f} s for {report.back - report.stop_issued:.2f} s "
            f"of database outage (stop issued → accepting again)"
        )
    if first_ok_after is not None:
        print(report.line("first 200 of a request sent after the start", first_ok_after))
    print(
        f"  recovery: last non-200 answer {recovery:.2f} s after the database's return "
        f"(target ≤ {RECOVERY_TARGET_S:.0f} s)"
    )
    print(
        f"  slowest request: {slowest.seconds * 1000:.0f} ms ({slowest.kind}, {slowest.status}) "
        f"(target < the {STATEMENT_TIMEOUT_MS / 1000:.0f} s statement timeout: no hang)"
    )
    missed = []
    if not unavailable:
        missed.append("faults: no 503 seen while the database was down")
    if bad:
        missed.append(
            f"faults: {len(bad)} answers neither 200 nor 503: {Counter(r.status for r in bad)}"
        )
    malformed = [r for r in unavailable if not r.body_ok or not r.retry_after]
    if malformed:
        missed.append(f"faults: {len(malformed)} 503s without the page or Retry-After")
    if slowest.seconds * 1000 >= STATEMENT_TIMEOUT_MS:
        missed.append(f"faults: a request took {slowest.seconds:.1f} s")
    if recovery > RECOVERY_TARGET_S:
        missed.append(f"faults: recovered {recovery:.1f} s after the database returned")
    return missed


# ------------------------------------------------------------------ main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=120, help="Mixed phase, seconds.")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--rebuild", action="store_true", help="Reload the corpus.")
    args = parser.parse_args()
    if args.duration < 10 or args.users < 1:
        parser.error("--duration must be at least 10 and --users at least 1")

    embedded = not os.environ.get("DATABASE_URL")
    if embedded:
        # Before archive.embedded_db is imported: it reads the variable once.
        os.environ["ARCHIVE_VAR_DIR"] = str(BENCH_VAR_DIR)
    admin_url, scratch_url = _common.scratch_urls(SCRATCH)
    # This process loads data without a statement timeout; the server gets the default.
    _common.production_env(scratch_url, DB_STATEMENT_TIMEOUT_MS="0")
    server = None
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        from speeches.management.commands.load_corpus import CORPUS_NAMES, corpus_root

        wanted = f"{MARKER} {corpus_fingerprint(corpus_root(), list(CORPUS_NAMES))}"
        reuse = not args.rebuild and loaded_marker(admin_url) == wanted
        if not reuse:
            _common.create_database(admin_url, SCRATCH)
        call_command("migrate", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        if reuse:
            print(f"Reusing the loaded database {SCRATCH} (--rebuild reloads it)")
        else:
            load_data()
            _common.admin_execute(admin_url, f"COMMENT ON DATABASE {SCRATCH} IS '{wanted}'")
        pools = url_pools(random.Random(5))
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM speeches_passage")
            passages = cursor.fetchone()[0]
        connection.close()  # the server gets its own connections

        port = _common.free_port()
        for old in Path(tempfile.gettempdir()).glob("bench_load_gunicorn_*.log"):
            old.unlink()  # one run's access log is 10-20 MB: keep only the latest
        log_path = Path(tempfile.gettempdir()) / f"bench_load_gunicorn_{port}.log"
        workers = os.environ.get("WEB_CONCURRENCY") or str(multiprocessing.cpu_count() * 2 + 1)
        server = _common.start_server(
            port,
            log_path,
            {
                "DB_STATEMENT_TIMEOUT_MS": str(STATEMENT_TIMEOUT_MS),
                "LOG_LEVEL": "INFO",
                "RATE_LIMIT_ENABLED": "True",
                "RATE_LIMIT_SEARCH": "1000000000/60",
                "RATE_LIMIT_API": "1000000000/60",
            },
        )
        print(
            f"{len(pools['reading'])} public speeches, {passages:,} passages; gunicorn: "
            f"{workers} sync workers on {multiprocessing.cpu_count()} CPUs, {args.users} users; "
            "rate limits on, raised to 10^9 a minute for this client; "
            f"load average before: {os.getloadavg()[0]:.1f}"
        )
        missed = measure(port, pools, args)
        if embedded:
            missed += report_faults(fault_phase(port, pools, args.users, admin_url))
        else:
            print("\nFault phase skipped: DATABASE_URL names a server we must not restart.")
        print(
            f"\nLoad average after: {os.getloadavg()[0]:.1f} (other work on the machine shows here)"
        )
        for line in missed:
            print(f"MISSED: {line}")
        if not missed:
            print("Every target met.")
        print(f"gunicorn log: {log_path}")
        return 0  # like the other benchmarks: misses are printed, `make bench` goes on
    finally:
        if server is not None:
            _common.stop_server(server)
        if embedded:
            from django.db import connections

            from archive import embedded_db

            connections.close_all()
            embedded_db.stop()  # the kept data stays under var/bench for the next run


def measure(port: int, pools: dict[str, list[str]], args: argparse.Namespace) -> list[str]:
    users, duration = args.users, args.duration
    started = time.perf_counter()
    firsts = first_visits(port, pools, users)
    print(
        f"\nFirst visits: every reading and passage URL of the pools once, {users} users "
        f"({time.perf_counter() - started:.0f} s). A page not stored yet today is rendered "
        "and stored here; a run later the same day (same code, same data) finds them stored:"
    )
    print_table([(phase.name, stats(phase)) for phase in firsts.values()])
    run_load(port, pools, {**MIX, "healthz": 0.2}, users, seconds=WARMUP_S, seed=1)
    # /healthz and each page type alone, in interleaved slices: whatever else the
    # machine does meanwhile weighs on all four alike.
    kinds = ["healthz", *MIX]
    slice_s = max(2.0, duration / 20)
    slices: dict[str, list[Phase]] = {kind: [] for kind in kinds}
    for round_ in range(ALONE_ROUNDS):
        for i in range(len(kinds)):
            kind = kinds[(round_ + i) % len(kinds)]  # a different order each round
            phase = run_load(
                port, pools, {kind: 1}, users, seconds=slice_s, name=kind, seed=10 * round_ + i
            )
            slices[kind].append(phase)
    alone = {kind: merged(kind, *slices[kind]) for kind in MIX}
    health = merged("/healthz", *slices["healthz"])
    mixed = run_load(port, pools, MIX, users, seconds=duration, name="mixed", seed=100)
    base = stats(health)

    print(
        f"\nMixed load, {duration:.0f} s, {users} users "
        f"({', '.join(f'{k} {v:.0%}' for k, v in MIX.items())}):"
    )
    print_table(
        [(kind, stats(mixed, kind)) for kind in MIX]
        + [("all (mixed)", stats(mixed)), ("/healthz (same users)", base)]
    )
    print(
        f"\nEach type alone, {users} users, {ALONE_ROUNDS} × {slice_s:.0f} s interleaved "
        "with the others:"
    )
    print_table([(kind, stats(phase)) for kind, phase in alone.items()] + [("/healthz", base)])
    for phase in (health, *alone.values(), mixed):
        print(
            f"  client CPU during {phase.name}: {phase.client_cpu / phase.elapsed:.2f} "
            "CPU-seconds per second"
        )

    print("\nTargets:")
    missed = []
    for phase in (*firsts.values(), health, *alone.values(), mixed):
        s = stats(phase)
        verdict = "MEETS" if s.server_errors == 0 and s.failed == 0 else "MISSES"
        print(f"  {phase.name}: {s.server_errors} 5xx, {s.failed} failed (target 0): {verdict}")
        if verdict == "MISSES":
            missed.append(f"{phase.name}: {s.server_errors} 5xx, {s.failed} failed")
    for kind, divisor in TARGETS.items():
        s = stats(alone[kind])
        ratio = s.rps / base.rps
        verdict = "MEETS" if ratio >= 1 / divisor else "MISSES"
        print(
            f"  {kind}: {s.rps:.1f} req/s = 1/{base.rps / s.rps:.1f} of /healthz "
            f"({base.rps:.1f} req/s) (target ≥ 1/{divisor}): {verdict}"
        )
        if verdict == "MISSES":
            missed.append(f"{kind}: 1/{base.rps / s.rps:.1f} of /healthz, target 1/{divisor}")
    return missed


if __name__ == "__main__":
    sys.exit(main())
