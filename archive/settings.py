"""Settings for Speech Archive, read from the environment (names in DESIGN.md).

`DATABASE_URL` unset means the embedded development server under `var/`
(started on demand), and only then does `DJANGO_DEBUG` default to True.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw not in ("True", "False"):
        raise ImproperlyConfigured(f"{name} must be 'True' or 'False', not {raw!r}.")
    return raw == "True"


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DATABASE_URL = os.environ.get("DATABASE_URL", "")
USING_EMBEDDED_DB = not DATABASE_URL
DEBUG = env_bool("DJANGO_DEBUG", default=USING_EMBEDDED_DB)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required when DJANGO_DEBUG is False.")
    SECRET_KEY = "django-insecure-development-only-key"

ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"] if DEBUG else []
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.sitemaps",
    "taggit",
    "simple_history",
    "ninja",
    "csp",
    "axes",
    "speeches",
]

MIDDLEWARE = [
    "archive.middleware.RequestContextMiddleware",
    "archive.middleware.ApiCorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "archive.middleware.RateLimitMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "archive.middleware.DatabaseGuardMiddleware",
    # django-axes wants to be last.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "archive.urls"
WSGI_APPLICATION = "archive.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if USING_EMBEDDED_DB:
    from archive import embedded_db

    DATABASE_URL = embedded_db.database_url()

DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
}
if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
    raise ImproperlyConfigured(
        "Speech Archive runs on PostgreSQL only; DATABASE_URL must be postgres://…"
    )
# Parallel test runs (e.g. several developers' suites on one server) need distinct names.
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TEST_DATABASE_NAME", "test_archive")}

# A costly query must not pin a web worker: connections opened by the web app
# carry a statement_timeout from the start, which costs no query.
# archive.middleware.DatabaseGuardMiddleware lifts it for editors' admin requests;
# management commands (imports, dumps, migrations) run without one, and so does
# the test suite unless DB_STATEMENT_TIMEOUT_MS is set (its fixtures may build
# large tables in one statement; tests/test_security.py checks the web setting).
_MANAGEMENT_COMMAND = (
    len(sys.argv) > 1
    and Path(sys.argv[0]).name in ("manage.py", "django-admin", "__main__.py")
    and sys.argv[1] not in ("runserver", "testserver")
)
STATEMENT_TIMEOUT_MS = int(
    os.environ.get("DB_STATEMENT_TIMEOUT_MS", "0" if "pytest" in sys.modules else "5000")
)
if _MANAGEMENT_COMMAND:
    STATEMENT_TIMEOUT_MS = 0
if STATEMENT_TIMEOUT_MS:
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["options"] = (
        _options.get("options", "") + f" -c statement_timeout={STATEMENT_TIMEOUT_MS}"
    ).strip()
# A database host that does not answer at all (down, or cut off by the network)
# must not hold a web worker until the kernel gives up on TCP (minutes): after
# 5 s the request fails and answers 503 (archive.middleware.DatabaseGuardMiddleware).
DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "var" / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

TAGGIT_CASE_INSENSITIVE = True

# One JSON object per line with the request id (archive/logging.py);
# LOG_FORMAT=text gives plain lines for reading in a terminal.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'json' or 'text', not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "archive.logging.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "archive.logging.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# ---------------------------------------------------------------- caching, limits

# CACHE_URL=memcached://host:11211 (docker-compose) shares rate-limit counters
# between gunicorn workers; unset, a per-process LocMemCache, which is exact
# for one development process.
CACHE_URL = os.environ.get("CACHE_URL", "")
if CACHE_URL.startswith("memcached://"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
            "LOCATION": CACHE_URL.removeprefix("memcached://"),
            # A dead memcached must not stall requests (rate limiting fails open).
            "OPTIONS": {"connect_timeout": 0.5, "timeout": 0.5, "no_delay": True},
        }
    }
elif CACHE_URL in ("", "locmem://"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    raise ImproperlyConfigured(f"CACHE_URL must be memcached://host:port, not {CACHE_URL!r}.")


def env_rate(name: str, default: str) -> tuple[int, int]:
    """'120/60' → at most 120 requests per 60 seconds."""
    raw = os.environ.get(name) or default
    try:
        requests, seconds = (int(part) for part in raw.split("/"))
    except ValueError:
        raise ImproperlyConfigured(f"{name} must look like 120/60, not {raw!r}.") from None
    if requests < 1 or seconds < 1:
        raise ImproperlyConfigured(f"{name}: both numbers must be positive.")
    return requests, seconds


# Per client address (archive.middleware.client_ip); path prefix → (requests, seconds).
# Off by default in the test suite, where every request comes from one address;
# tests/test_security.py turns it on to test it.
RATE_LIMIT_ENABLED = env_bool("RATE_LIMIT_ENABLED", "pytest" not in sys.modules)
RATE_LIMITS = {
    "/api/": env_rate("RATE_LIMIT_API", "120/60"),
    "/search/": env_rate("RATE_LIMIT_SEARCH", "60/60"),
}
# Reverse proxies in front of the app whose X-Forwarded-For may be trusted.
TRUSTED_PROXY_COUNT = int(os.environ.get("DJANGO_TRUSTED_PROXY_COUNT", "0"))

# ---------------------------------------------------------------- security

# Admin login brute force (django-axes): 5 failures for one username from one
# address lock that pair out for an hour; a cool-off, never a permanent lock.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = dt.timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "60")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "archive.middleware.client_ip"
# Lockouts are still logged; the start-up banner on every command is not.
AXES_VERBOSE = False

# Content-Security-Policy (django-csp 4): same-origin resources only, no inline
# script anywhere (the admin and the API docs need none), never framed.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # data: for the small SVG icons inside the admin's and Swagger UI's CSS.
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
