"""Rendered public pages, stored in PostgreSQL and shared by every web process.

The reading page and the passage page are the archive's most requested and
most expensive pages (a 200-passage bilingual speech takes ~25 ms to render).
Each one rendered is stored here under a key that names everything it shows:

* the speech's content stamp and status and the glossary's stamp, which
  PostgreSQL triggers renew on any change to a row these pages show
  (migration 0005) — an edit of any kind shows on the very next request;
* the code that rendered it (`render_version()`: a digest of the templates,
  the Python sources and the static files' manifest), so a deploy never serves
  markup or asset URLs of the previous release;
* the day (the citation block names the date of access) and the request's
  origin (absolute URLs in the citation and the copy-link buttons);
* the query parameters that change the page (the reading page's layout and
  version pickers). A request with any other parameter is rendered, not stored.

Why PostgreSQL and not the cache: with a per-process cache every gunicorn
worker renders every page once for itself and forgets it on restart
(`max_requests` recycles workers); memcached would share it but is not there
in development, refuses values over 1 MB, and loses everything on restart.
Here a page is rendered once per edit and day, for every process, and a hit
is one indexed read. A row is only ever read under its exact key, so a stale
row is never served; rows of an older generation of the same speech are
deleted whenever a newer one is stored, so the table holds about one
generation of the pages people actually read.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import NamedTuple

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_vary_headers

from speeches.models import GLOSSARY_STAMP_SQL, Speech

log = logging.getLogger(__name__)

# As Django's GZipMiddleware reads Accept-Encoding.
ACCEPTS_GZIP = re.compile(r"\bgzip\b")

# A parameter value worth a stored page: version codes and layout names.
# Anything else (long, odd characters) is rendered each time, so no client can
# fill the table with variants of one page.
TAME_VALUE = re.compile(r"[A-Za-z0-9-]{1,32}\Z")

# The sources whose change changes a page's markup (relative to BASE_DIR).
RENDER_SOURCES = ("templates", "speeches", "archive")
RENDER_SUFFIXES = {".html", ".py"}


@functools.cache
def render_version() -> str:
    """A digest of the code that renders the pages, computed once per process."""
    digest = hashlib.blake2b(digest_size=8)
    base = Path(settings.BASE_DIR)
    for folder in RENDER_SOURCES:
        for path in sorted((base / folder).rglob("*")):
            if path.suffix in RENDER_SUFFIXES and "migrations" not in path.parts:
                digest.update(str(path.relative_to(base)).encode())
                digest.update(path.read_bytes())
    # Hashed static file names (whitenoise's manifest) appear in every page.
    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    if manifest.is_file():
        digest.update(manifest.read_bytes())
    return digest.hexdigest()


class Slot(NamedTuple):
    """Where one rendering of one page is stored."""

    key: str
    speech_id: int
    generation: str


# What a page's key is made of, found by its URL in one indexed query (the
# ORM's version of these joins cost more to compile than to run, on every hit).
_GLOSSARY = f"({GLOSSARY_STAMP_SQL})"
LOOKUPS = {
    "reading": (
        f"SELECT s.id, s.id, s.status, s.content_version, {_GLOSSARY}"
        " FROM speeches_speech s WHERE s.slug = %s"
    ),
    "passage": (
        f"SELECT p.id, s.id, s.status, s.content_version, {_GLOSSARY}"
        " FROM speeches_passage p JOIN speeches_speech s ON s.id = p.speech_id"
        " WHERE p.key = %s"
    ),
}


def slot_for(
    request: HttpRequest, *, kind: str, lookup: str, params: Iterable[str] = ()
) -> Slot | None:
    """The slot of this request's page, or None when it must not be stored:
    the request has a query parameter other than `params` (those that change
    the page) or an odd value, or `lookup` (a slug or a passage key, per
    `kind`) names nothing published. The view then answers as it would
    anyway (404, 410, a redirect, or a page rendered and not stored)."""
    allowed = set(params)
    if any(name not in allowed for name in request.GET):
        return None
    values = []
    for name in sorted(allowed):
        value = request.GET.get(name, "")
        if len(request.GET.getlist(name)) > 1 or (value and not TAME_VALUE.match(value)):
            return None
        values.append(f"{name}={value}")
    with connection.cursor() as cursor:
        cursor.execute(LOOKUPS[kind], [lookup])
        row = cursor.fetchone()
    if row is None:
        return None
    pk, speech_id, status, content_version, glossary = row
    # Only published pages; without the glossary's stamp row nothing can be trusted.
    if status != Speech.Status.PUBLISHED or glossary is None:
        return None
    generation = (
        f"{status}.{content_version}.{glossary}.{render_version()}.{timezone.localdate():%Y%m%d}"
    )
    origin = f"{request.scheme}://{request.get_host()}"
    key = hashlib.blake2b(
        "|".join([kind, str(pk), generation, "&".join(values), origin]).encode(), digest_size=32
    ).hexdigest()
    return Slot(key=key, speech_id=speech_id, generation=generation)


def stored_response(slot: Slot, request: HttpRequest) -> HttpResponse | None:
    """What to answer from the store: 304 when the client already holds this
    page (its ETag is the page's key), else the stored page, else None."""
    answer = get_conditional_response(request, etag=_etag(slot))
    if answer is None:
        return fetch(slot, request)
    mark(slot, answer)
    return answer


def mark(slot: Slot, response: HttpResponse) -> None:
    """The headers every answer for a slot carries (stored, 304, or rendered
    and kept): the ETag — weak, as the page goes out gzipped or
    not — and Vary, since caches must keep the two encodings apart."""
    response.headers["ETag"] = _etag(slot)
    patch_vary_headers(response, ("Accept-Encoding",))


def _etag(slot: Slot) -> str:
    return f'W/"{slot.key[:32]}"'


def fetch(slot: Slot, request: HttpRequest) -> HttpResponse | None:
    """The stored page, or None. Pages are stored gzipped: a client that
    accepts gzip (every browser) gets those bytes as they are, 5-10× fewer
    than the HTML, and the server skips decompressing them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT body FROM speeches_storedpage WHERE key = %s", [slot.key])
        row = cursor.fetchone()
    if row is None:
        return None
    body = bytes(row[0])
    if ACCEPTS_GZIP.search(request.headers.get("accept-encoding", "")):
        response = HttpResponse(body, content_type="text/html; charset=utf-8")
        response.headers["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(gzip.decompress(body), content_type="text/html; charset=utf-8")
    mark(slot, response)
    return response


def keep(slot: Slot, response: HttpResponse) -> None:
    """A page the view rendered: stored under `slot`, and marked like a stored one."""
    store(slot, response.content)
    mark(slot, response)


def store(slot: Slot, content: bytes) -> None:
    """Keep `content` under `slot`, and drop its speech's older generations.

    Best effort: a failure (a read-only standby, a speech deleted meanwhile)
    is logged and the page is still served."""
    body = gzip.compress(content, compresslevel=1, mtime=0)
    try:
        with _savepoint(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO speeches_storedpage (key, speech_id, generation, body, stored_at)"
                " VALUES (%s, %s, %s, %s, now())"
                " ON CONFLICT (key) DO UPDATE SET body = EXCLUDED.body, stored_at = now()",
                [slot.key, slot.speech_id, slot.generation, body],
            )
            # SKIP LOCKED: two processes cleaning the same speech never wait
            # for (or deadlock on) each other; what one skips the next removes.
            cursor.execute(
                "DELETE FROM speeches_storedpage WHERE key IN ("
                " SELECT key FROM speeches_storedpage"
                " WHERE speech_id = %s AND generation <> %s FOR UPDATE SKIP LOCKED)",
                [slot.speech_id, slot.generation],
            )
    except DatabaseError:
        log.warning("stored page not kept", exc_info=True)


@contextmanager
def _savepoint() -> Iterator[None]:
    # Inside a transaction (tests, ATOMIC_REQUESTS) a failed statement must
    # not break the rest of it; in autocommit each statement stands alone and
    # a savepoint would only add round trips.
    with transaction.atomic() if connection.in_atomic_block else nullcontext():
        yield
