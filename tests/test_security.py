"""Hardening: production settings pass `check --deploy`; security headers and
CSP on the main pages; admin brute-force lockout with a cool-off (django-axes);
per-client rate limits; statement_timeout for public requests; 503 instead of
a traceback when the database is unreachable; request ids in logs."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import secrets
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from archive import embedded_db
from archive.logging import JsonFormatter, RequestIdFilter
from speeches.markdown import ALLOWED_TAGS, render_markdown, render_markdown_inline
from speeches.models import Speech
from tests.factories import make_bilingual_speech

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def production_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "PYTEST", "TEST_DATABASE"))
    }
    env.update(
        DJANGO_DEBUG="False",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="archive.example.org",
        DATABASE_URL=os.environ.get("DATABASE_URL") or embedded_db.database_url(),
    )
    env.update(extra)
    return env


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


# ---------------------------------------------------------------- production settings


def test_check_deploy_passes_with_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_on_a_weak_production_setup():
    env = production_env(DJANGO_SECRET_KEY="short", DJANGO_SECURE_SSL_REDIRECT="False")
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "security.W009" in result.stderr and "security.W008" in result.stderr


PRODUCTION_HEADERS = """
from django.test import Client
client = Client()
response = client.get("/admin/login/", secure=True, HTTP_HOST="archive.example.org")
cookie = response.cookies["csrftoken"]
print({"status": response.status_code, "hsts": response.get("Strict-Transport-Security"),
       "secure": bool(cookie["secure"]), "redirect": Client().get(
           "/robots.txt", HTTP_HOST="archive.example.org").status_code})
"""


def test_production_serves_hsts_and_secure_cookies_and_redirects_to_https(tmp_path):
    # Production serves hashed static files from a manifest: collect them first,
    # as the Dockerfile does (a fresh checkout has none).
    env = production_env(DJANGO_STATIC_ROOT=str(tmp_path / "static"))
    collected = run_manage("collectstatic", "--noinput", env=env)
    assert collected.returncode == 0, collected.stderr
    result = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", PRODUCTION_HEADERS],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    seen = eval(result.stdout.strip().splitlines()[-1])  # our own dict literal
    assert seen["status"] == 200
    assert seen["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert seen["secure"] is True
    assert seen["redirect"] == 301  # plain http → https


# ---------------------------------------------------------------- headers and CSP


def _main_pages() -> list[str]:
    speech = make_bilingual_speech(3)
    passage = speech.passages.first()
    return [
        "/",
        "/speeches/",
        speech.get_absolute_url(),
        passage.get_absolute_url(),
        "/admin/login/",
        "/api/speeches/",
        f"/api/speeches/{speech.slug}/",
        "/api/docs",
    ]


def _csp(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in policy.split(";") if part.strip())
    }


@pytest.mark.django_db
def test_security_headers_on_the_main_pages(client):
    for url in _main_pages():
        response = client.get(url)
        assert response.status_code == 200, url
        csp = _csp(response)
        assert csp["default-src"] == ["'self'"], url
        assert csp["script-src"] == ["'self'"], url  # no 'unsafe-inline', no CDN
        assert csp["frame-ancestors"] == ["'none'"], url
        assert csp["object-src"] == ["'none'"], url
        assert response["X-Frame-Options"] == "DENY", url
        assert response["X-Content-Type-Options"] == "nosniff", url
        assert response["Referrer-Policy"] == "same-origin", url
        assert response["Cross-Origin-Opener-Policy"] == "same-origin", url
        assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"]), url


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


@pytest.mark.django_db
def test_no_page_relies_on_inline_script(client, admin_client):
    for url in _main_pages():
        html = client.get(url).content.decode()
        assert not INLINE_SCRIPT.search(html), url
        assert not EVENT_HANDLER.search(html), url
    speech = Speech.objects.first()
    for url in ("/admin/", f"/admin/speeches/speech/{speech.pk}/change/"):
        html = admin_client.get(url).content.decode()
        assert not INLINE_SCRIPT.search(html), url
        assert not EVENT_HANDLER.search(html), url


# ---------------------------------------------------------------- admin brute force


def _login(client, username: str, password: str, ip: str = "10.0.0.1"):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password},
        REMOTE_ADDR=ip,
    )


@pytest.mark.django_db
def test_admin_login_locks_after_five_failures_then_cools_off(client, settings):
    settings.AXES_COOLOFF_TIME = dt.timedelta(seconds=1)
    User.objects.create_user("editor", password="right-horse-battery", is_staff=True)
    User.objects.create_user("other", password="other-horse-battery", is_staff=True)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, "editor", "wrong").status_code == 200  # the form again
    assert _login(client, "editor", "wrong").status_code == 429
    locked = _login(client, "editor", "right-horse-battery")
    assert locked.status_code == 429  # even the right password, while locked
    # Per username and address: others are not locked out with them.
    assert _login(client, "other", "other-horse-battery").status_code == 302
    client.logout()
    assert _login(client, "editor", "right-horse-battery", ip="10.0.0.2").status_code == 302
    client.logout()
    time.sleep(1.5)  # the cool-off (1 s here; an hour in production) passes
    assert _login(client, "editor", "right-horse-battery").status_code == 302


def test_lockout_is_a_cool_off_not_permanent(settings):
    cool_off = settings.AXES_COOLOFF_TIME
    assert cool_off == dt.timedelta(hours=1)
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


# ---------------------------------------------------------------- rate limits


@pytest.fixture
def small_limits(settings):
    settings.RATE_LIMIT_ENABLED = True
    settings.RATE_LIMITS = {"/api/": (3, 60), "/search/": (2, 60)}
    cache.clear()
    yield
    cache.clear()


@pytest.mark.django_db
def test_api_rate_limit_answers_429_with_retry_after(client, small_limits):
    for _ in range(3):
        assert client.get("/api/themes/", REMOTE_ADDR="10.1.1.1").status_code == 200
    limited = client.get("/api/themes/", REMOTE_ADDR="10.1.1.1")
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert limited.json()["detail"].startswith("Too many requests")
    assert limited["Access-Control-Allow-Origin"] == "*"  # a browser client can read it
    # Another client is not affected, nor are other pages.
    assert client.get("/api/themes/", REMOTE_ADDR="10.1.1.2").status_code == 200
    assert client.get("/speeches/", REMOTE_ADDR="10.1.1.1").status_code == 200


@pytest.mark.django_db
def test_search_rate_limit_answers_429_page(client, small_limits):
    for _ in range(2):
        assert client.get("/search/?q=x", REMOTE_ADDR="10.2.2.2").status_code != 429
    limited = client.get("/search/?q=x", REMOTE_ADDR="10.2.2.2")
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) >= 1
    assert "Too many requests" in limited.content.decode()


@pytest.mark.django_db
def test_rate_limit_trusts_only_the_configured_proxies(client, small_limits, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # Behind one proxy, the client is the last X-Forwarded-For entry; what the
    # client itself claims (the entries before it) changes nothing.
    for claimed in ("1.1.1.1", "2.2.2.2", "3.3.3.3"):
        forwarded = f"{claimed}, 10.9.9.9"
        response = client.get("/api/themes/", HTTP_X_FORWARDED_FOR=forwarded)
        assert response.status_code == 200
    assert client.get("/api/themes/", HTTP_X_FORWARDED_FOR="4.4.4.4, 10.9.9.9").status_code == 429
    assert client.get("/api/themes/", HTTP_X_FORWARDED_FOR="10.9.9.8").status_code == 200


# ---------------------------------------------------------------- statement_timeout


WEB_PROCESS = """
import django
django.setup()
from django.conf import settings
from django.db import connection
print(settings.RATE_LIMIT_ENABLED)
with connection.cursor() as cursor:
    cursor.execute("SHOW statement_timeout")
    print(cursor.fetchone()[0])
    try:
        cursor.execute("SELECT pg_sleep(0.5)")
        print("completed")
    except Exception as exc:
        print(type(exc).__name__)
"""


def test_web_processes_have_rate_limits_and_a_statement_timeout():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "archive.settings", "LOG_LEVEL": "WARNING"}
    env.pop("DB_STATEMENT_TIMEOUT_MS", None)
    shown = subprocess.run(
        [PYTHON, "-c", WEB_PROCESS], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )
    assert shown.stdout.split() == ["True", "5s", "completed"], shown.stderr
    env["DB_STATEMENT_TIMEOUT_MS"] = "100"
    cut = subprocess.run(
        [PYTHON, "-c", WEB_PROCESS], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )
    assert cut.stdout.split() == ["True", "100ms", "OperationalError"], cut.stderr


@pytest.mark.django_db
def test_admin_requests_lift_the_statement_timeout(client, admin_client, settings):
    settings.STATEMENT_TIMEOUT_MS = 5000
    with CaptureQueriesContext(connection) as public:
        client.get("/speeches/")
    assert not any("statement_timeout" in q["sql"] for q in public.captured_queries)
    with CaptureQueriesContext(connection) as admin:
        assert admin_client.get("/admin/speeches/speech/").status_code == 200
    sql = [q["sql"] for q in admin.captured_queries]
    assert "statement_timeout" in sql[0] and sql[-1] == "RESET statement_timeout"


def test_management_commands_run_without_statement_timeout():
    show = (
        "from django.db import connection\n"
        "with connection.cursor() as c:\n"
        "    c.execute('SHOW statement_timeout'); print(c.fetchone()[0])"
    )
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    result = run_manage("shell", "-c", show, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "0"


# ---------------------------------------------------------------- database outage


@pytest.fixture
def database_down():
    """The app's connection points at a socket directory with no server: every
    query fails to connect, as when PostgreSQL is down or restarting."""
    connection.close()
    saved = dict(connection.settings_dict)
    connection.settings_dict["HOST"] = "/nonexistent-socket-dir"
    connection.settings_dict["OPTIONS"] = {**saved.get("OPTIONS", {}), "connect_timeout": 2}
    yield
    connection.close()
    connection.settings_dict.clear()
    connection.settings_dict.update(saved)


@pytest.mark.django_db(transaction=True)
def test_database_outage_answers_503_not_a_traceback(client, database_down):
    page = client.get("/speeches/")
    assert page.status_code == 503
    assert page["Retry-After"] == "5"
    assert "Temporarily unavailable" in page.content.decode()
    assert "Traceback" not in page.content.decode()
    for url in ("/healthz", "/api/speeches/"):
        response = client.get(url)
        assert response.status_code == 503, url
        assert response.json()["status"] == "unavailable", url


@pytest.mark.django_db(transaction=True)
def test_recovers_by_itself_when_the_database_returns(client):
    make_bilingual_speech(1)
    connection.close()
    saved = connection.settings_dict["HOST"]
    connection.settings_dict["HOST"] = "/nonexistent-socket-dir"
    try:
        assert client.get("/healthz").status_code == 503
    finally:
        connection.settings_dict["HOST"] = saved
    assert client.get("/healthz").status_code == 200
    assert client.get("/api/speeches/").json()["count"] == 1


# ---------------------------------------------------------------- request ids and logs


@pytest.mark.django_db
def test_request_id_is_honoured_or_generated_and_logged(client, caplog):
    caplog.set_level(logging.INFO, logger="archive.request")
    response = client.get("/healthz", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"
    [record] = [r for r in caplog.records if r.name == "archive.request"]
    assert (record.status, record.path) == (200, "/healthz")
    caplog.clear()
    generated = client.get("/healthz", HTTP_X_REQUEST_ID="no spaces or <tags> allowed")
    assert re.fullmatch(r"[0-9a-f]{32}", generated["X-Request-ID"])


def test_log_lines_are_json_with_the_request_id():
    from archive.logging import REQUEST_ID

    record = logging.LogRecord("archive.request", logging.INFO, __file__, 1, "GET %s", ("/",), None)
    record.status = 200
    token = REQUEST_ID.set("req-42")
    try:
        RequestIdFilter().filter(record)
    finally:
        REQUEST_ID.reset(token)
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "req-42"
    assert (line["level"], line["logger"], line["message"], line["status"]) == (
        "INFO",
        "archive.request",
        "GET /",
        200,
    )


# ---------------------------------------------------------------- sanitised Markdown

PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    '<iframe src="https://evil.example"></iframe>',
    "<a href='javascript:alert(1)'>x</a>",
    "[link](javascript:alert(1))",
    "[link](JaVaScRiPt:alert(1))",
    "[link](java\tscript:alert(1))",
    "[link](&#106;avascript:alert(1))",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![img](javascript:alert(1))",
    "![img](data:image/svg+xml,<svg onload=alert(1)>)",
    "[ref]\n\n[ref]: javascript:alert(1)",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<object data=x></object><embed src=x>",
    "<style>body{}</style>",
    "<a href=vbscript:msgbox(1)>v</a>",
    '" onmouseover="alert(1)',
    "<details open ontoggle=alert(1)>",
    "`<script>`",
    "<",
    ">",
    "&",
    "*",
    "\n\n",
    "    ",
    "# ",
    "> ",
    "- ",
    "1. ",
    "| a | b |\n|---|---|\n| ",
    "Term\n: ",
    "[^1]",
]
FORBIDDEN_TAGS = {
    "script", "iframe", "frame", "frameset", "object", "embed", "style", "svg", "math",
    "form", "input", "button", "base", "meta", "link", "img", "video", "audio", "details",
}  # fmt: skip
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster"}


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append((tag, attrs))

    handle_startendtag = handle_starttag


def _assert_safe(html: str) -> None:
    collector = _Collector()
    collector.feed(html)
    collector.close()
    for tag, attrs in collector.tags:
        assert tag not in FORBIDDEN_TAGS and tag in ALLOWED_TAGS, (tag, html)
        for name, value in attrs:
            assert not name.startswith("on"), (name, html)
            if name in URL_ATTRIBUTES and value is not None:
                scheme = re.sub(r"[\x00-\x20]", "", value).lower().split(":", 1)
                assert len(scheme) == 1 or scheme[0] in ("http", "https", "mailto"), (value, html)


markdown_input = st.lists(st.sampled_from(PAYLOADS) | st.text(max_size=20), max_size=12).map(
    "".join
)


@given(markdown_input)
@hypothesis_settings(max_examples=400, deadline=None)
def test_editor_markdown_never_lets_active_content_through(source):
    """Annotations, footnotes, introductions, corrections and term notes all go
    through these two functions (speeches/markdown.py)."""
    _assert_safe(render_markdown(source))
    _assert_safe(render_markdown_inline(source))


@pytest.mark.django_db
def test_urls_with_nul_bytes_are_a_400_not_a_500(client):
    speech = make_bilingual_speech(1)
    for url in (
        "/speeches/?speaker=%00",
        "/speeches/?theme=a%00b",
        "/themes/%00/",
        "/glossary/a%00/",
        "/p/ab%00/",
        f"/speeches/{speech.slug}/?left=%00",
    ):
        assert client.get(url).status_code == 400, url
    assert client.get("/api/passages/ab%00/").status_code == 422  # the API's own validation


@pytest.mark.django_db
def test_django_request_log_lines_carry_the_request_id(client, caplog):
    caplog.set_level(logging.WARNING, logger="django.request")
    response = client.get("/speeches/?speaker=%00", HTTP_X_REQUEST_ID="trace-7")
    assert response["X-Request-ID"] == "trace-7"
    [record] = [r for r in caplog.records if r.name == "django.request"]
    RequestIdFilter().filter(record)
    assert record.request_id == "trace-7"
