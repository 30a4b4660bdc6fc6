"""Helpers the benchmarks share: scratch databases, gunicorn on loopback, HTTP.

Not a benchmark itself (`make bench` skips files starting with `_`). The
benchmarks run as scripts from the repository root, so this is imported as a
top-level module (`import _common`): Python puts the script's own folder,
benchmarks/, first on sys.path.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"

# ------------------------------------------------------------------ scratch databases


def server_url() -> str:
    """DATABASE_URL, else the embedded server's URL (started if needed)."""
    url = os.environ.get("DATABASE_URL", "")
    if url:
        return url
    from archive import embedded_db

    return embedded_db.start()


def scratch_urls(name: str, url: str | None = None) -> tuple[str, str]:
    """(admin URL to create/drop the scratch database, the scratch database URL)."""
    url = url or server_url()
    admin = urlsplit(url).path.lstrip("/")
    return with_database(url, admin), with_database(url, name)


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def libpq(url: str) -> str:
    # psycopg reads postgresql:// URLs, including ?host=/socket/dir.
    return url.replace("postgres://", "postgresql://", 1)


def admin_execute(admin_url: str, sql: str, params: list | None = None) -> list[tuple]:
    """One statement in autocommit (CREATE/DROP DATABASE refuse a transaction)."""
    import psycopg

    with psycopg.connect(libpq(admin_url), autocommit=True) as connection:
        cursor = connection.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def create_database(admin_url: str, name: str) -> None:
    """Drop `name` if it exists and create it empty, with the archive's locale."""
    admin_execute(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin_execute(
        admin_url,
        f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' "
        "LOCALE_PROVIDER builtin BUILTIN_LOCALE 'C.UTF-8'",
    )


def database_exists(admin_url: str, name: str) -> bool:
    rows = admin_execute(admin_url, "SELECT 1 FROM pg_database WHERE datname = %s", [name])
    return bool(rows)


def production_env(database_url: str, **extra: str) -> None:
    """Production settings for this process and the servers it starts."""
    import secrets

    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "archive.settings",
            "DJANGO_DEBUG": "False",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": f"{HOST},localhost,testserver",
            "DJANGO_SECURE_SSL_REDIRECT": "False",  # plain HTTP on loopback
            "LOG_LEVEL": "WARNING",
            **extra,
        }
    )


# ------------------------------------------------------------------ gunicorn and HTTP


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Response(NamedTuple):
    status: int
    headers: http.client.HTTPMessage
    body: bytes


def http_request(
    port: int, url: str, timeout: float = 30, headers: dict[str, str] | None = None
) -> Response:
    """One GET over a fresh connection (gunicorn's sync workers close every
    connection, so there is nothing to keep alive)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("GET", url, headers=headers or {})
        response = connection.getresponse()
        return Response(response.status, response.headers, response.read())
    finally:
        connection.close()


def http_get(port: int, url: str) -> bytes:
    """The body of one GET; anything but 200 is an error."""
    response = http_request(port, url)
    if response.status != 200:
        raise RuntimeError(f"GET {url} answered {response.status}")
    return response.body


def start_server(port: int, log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """gunicorn with the project's gunicorn.conf.py on HOST:port; `env` overrides
    its environment (e.g. WEB_CONCURRENCY). Returns once /healthz answers 200."""
    env = {**os.environ, "HOST": HOST, "PORT": str(port), **(env or {})}
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "archive.wsgi"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        try:
            http_get(port, "/healthz")
            return server
        except (OSError, RuntimeError, http.client.HTTPException):
            time.sleep(0.2)
    stop_server(server)
    raise RuntimeError(f"gunicorn did not start; its log:\n{log_path.read_text()[-3000:]}")


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]
