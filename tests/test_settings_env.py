"""Settings come from the environment and fail loudly (run in fresh interpreters)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_settings(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    code = (
        "import archive.settings as s; "
        "print(s.DEBUG, s.DATABASES['default']['NAME'], ','.join(s.ALLOWED_HOSTS))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_embedded_database_defaults_to_debug():
    result = load_settings()
    assert result.returncode == 0, result.stderr
    debug, name, _ = result.stdout.split()
    assert (debug, name) == ("True", "archive")


def test_malformed_debug_flag_is_an_error():
    result = load_settings(DJANGO_DEBUG="yes")
    assert result.returncode != 0
    assert "DJANGO_DEBUG must be 'True' or 'False', not 'yes'" in result.stderr


def test_production_requires_a_secret_key():
    result = load_settings(DATABASE_URL="postgres://u:p@db:5432/archive")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr


def test_database_url_and_hosts_come_from_the_environment():
    result = load_settings(
        DATABASE_URL="postgres://u:p@db:5432/prod",
        DJANGO_SECRET_KEY="x" * 50,
        DJANGO_ALLOWED_HOSTS="archive.example, www.archive.example",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "prod", "archive.example,www.archive.example"]


def test_only_postgresql_is_accepted():
    result = load_settings(DATABASE_URL="sqlite:///db.sqlite3", DJANGO_SECRET_KEY="x" * 50)
    assert result.returncode != 0
    assert "PostgreSQL only" in result.stderr
