"""Request plumbing that every page shares (order in settings.MIDDLEWARE):

- `RequestContextMiddleware` (outermost): a request id (the client's
  `X-Request-ID` when it is sane, else a fresh one) echoed in the response and
  put on every log line, plus one structured access-log line per request.
- `ApiCorsMiddleware`: the read-only API may be read from any origin
  (`Access-Control-Allow-Origin: *` on GET/HEAD, and preflight answers).
- `RateLimitMiddleware`: per-client fixed-window limits on /api/ and /search/,
  429 with `Retry-After`, counted in Django's cache (see its docstring).
- `DatabaseGuardMiddleware` (innermost): a URL with a NUL byte (which
  PostgreSQL refuses in text) is a 400; editors' admin requests lift the
  public `statement_timeout`; a database outage answers 503 instead of a
  traceback, JSON for the API and /healthz, a short page elsewhere.
"""

from __future__ import annotations

import logging
import math
import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.template.loader import render_to_string

from archive.logging import REQUEST_ID

access_log = logging.getLogger("archive.request")
log = logging.getLogger(__name__)

GetResponse = Callable[[HttpRequest], HttpResponse]
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
DB_RETRY_AFTER_SECONDS = 5


def client_ip(request: HttpRequest) -> str:
    """The client's address. Behind N trusted proxies (DJANGO_TRUSTED_PROXY_COUNT),
    the Nth address from the right of X-Forwarded-For — the ones to its left are
    whatever the client claimed, so they are never trusted. Also django-axes'
    AXES_CLIENT_IP_CALLABLE, so lockouts and rate limits agree on who is who."""
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if proxies:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    # No address at all only happens for synthetic requests (e.g. a test's
    # force_login); axes needs a parseable address even then.
    return request.META.get("REMOTE_ADDR", "") or "0.0.0.0"


class RequestContextMiddleware:
    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        claimed = request.headers.get("X-Request-ID", "")
        request_id = claimed if _SANE_REQUEST_ID.match(claimed) else uuid.uuid4().hex
        request.request_id = request_id
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            access_log.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "client": client_ip(request),
                },
            )
            return response
        finally:
            REQUEST_ID.reset(token)


API_PREFIX = "/api/"
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "X-Request-ID, Retry-After",
}


class ApiCorsMiddleware:
    """Open CORS for the read-only API. No credentials are involved (the API
    ignores cookies), so the wildcard origin is safe."""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            response = HttpResponse(status=204)
            response["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
            response["Access-Control-Allow-Headers"] = "Accept, Accept-Language, X-Request-ID"
            response["Access-Control-Max-Age"] = "86400"
            response["Access-Control-Allow-Origin"] = "*"
            return response
        response = self.get_response(request)
        if request.method in ("GET", "HEAD"):
            for name, value in CORS_HEADERS.items():
                response[name] = value
        return response


class RateLimitMiddleware:
    """At most N requests per window per client on each limited path prefix
    (settings.RATE_LIMITS: prefix → (requests, seconds)); beyond, 429 with
    `Retry-After` = seconds until the window ends.

    Why not django-ratelimit: its system check (E003) rejects LocMemCache, which
    is the right cache for one development process, and it does not set
    Retry-After. This is a fixed-window counter in Django's cache: `add` then
    `incr`, both atomic in memcached (shared by every gunicorn worker in
    docker-compose, CACHE_URL) and in LocMemCache (one process, behind a lock).
    If the cache is unreachable the request is let through: a broken cache must
    not take the archive down.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if getattr(settings, "RATE_LIMIT_ENABLED", False):
            for prefix, (limit, period) in getattr(settings, "RATE_LIMITS", {}).items():
                if request.path.startswith(prefix):
                    retry_after = self._over_limit(request, prefix, limit, period)
                    if retry_after:
                        return self._too_many(request, prefix, retry_after)
                    break
        return self.get_response(request)

    def _over_limit(self, request: HttpRequest, prefix: str, limit: int, period: int) -> int:
        """0 when the request may go on, else the seconds to wait."""
        now = time.time()
        window = int(now // period)
        key = f"ratelimit:{prefix}:{client_ip(request)}:{window}"
        try:
            cache.add(key, 0, timeout=period + 1)
            try:
                count = cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, timeout=period + 1)
                count = 1
        except Exception:  # any cache backend failure: fail open, but say so
            log.warning("rate limit cache unavailable; request let through", exc_info=True)
            return 0
        if count <= limit:
            return 0
        return max(1, math.ceil((window + 1) * period - now))

    def _too_many(self, request: HttpRequest, prefix: str, retry_after: int) -> HttpResponse:
        message = f"Too many requests; try again in {retry_after} seconds."
        if prefix.startswith(API_PREFIX):
            response: HttpResponse = JsonResponse({"detail": message}, status=429)
        else:
            response = HttpResponse(
                render_to_string("429.html", {"retry_after": retry_after}, request=request),
                status=429,
            )
        response["Retry-After"] = str(retry_after)
        access_log.warning(
            "rate limited", extra={"path": request.path, "client": client_ip(request)}
        )
        return response


class DatabaseGuardMiddleware:
    """Public requests run under the connection's `statement_timeout` (set in
    settings.DATABASES, so it costs no query); editors' admin requests lift it
    for their duration, because publishing or re-importing a long speech may
    legitimately take longer.

    Any OperationalError or InterfaceError escaping a view — the database is
    down, restarting, or refused the connection — answers 503 with
    `Retry-After`; Django reconnects by itself on a later request
    (CONN_HEALTH_CHECKS), so the site recovers as soon as the server is back.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _has_nul(request) and not request.path.startswith(OWN_INPUT_CHECKS):
            # PostgreSQL refuses NUL in text, so any lookup with it would be a 500;
            # no URL of ours contains one. (The API and search check their own input.)
            return HttpResponseBadRequest(
                "Bad request: NUL bytes are not allowed in URLs.", content_type="text/plain"
            )
        if not (_statement_timeout_ms() and request.path.startswith(_admin_prefix())):
            return self.get_response(request)
        lifted = _set_statement_timeout("0")
        try:
            return self.get_response(request)
        finally:
            if lifted:
                _set_statement_timeout(None)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        log.error("database unavailable: %s", exception, exc_info=exception)
        return service_unavailable(request)


def service_unavailable(request: HttpRequest) -> HttpResponse:
    detail = "The archive's database is unavailable; please retry shortly."
    if request.path.startswith(API_PREFIX) or request.path.rstrip("/") == "/healthz":
        response: HttpResponse = JsonResponse(
            {"status": "unavailable", "detail": detail}, status=503
        )
    else:
        response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(DB_RETRY_AFTER_SECONDS)
    return response


OWN_INPUT_CHECKS = (API_PREFIX, "/search/")


def _has_nul(request: HttpRequest) -> bool:
    if "\x00" in request.path:
        return True
    return any("\x00" in key or "\x00" in value for key, value in request.GET.items())


def _statement_timeout_ms() -> int:
    return getattr(settings, "STATEMENT_TIMEOUT_MS", 0)


def _admin_prefix() -> str:
    return "/admin/"


def _set_statement_timeout(value: str | None) -> bool:
    """SET (value) or RESET (None) on this request's connection; False if it failed
    (e.g. the database is down: the view's own query will report that)."""
    try:
        with connection.cursor() as cursor:
            if value is None:
                cursor.execute("RESET statement_timeout")
            else:
                cursor.execute("SELECT set_config('statement_timeout', %s, false)", [value])
    except DatabaseError:
        return False
    return True
