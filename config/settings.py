"""Settings of the erasure service: one module, driven by environment variables.

Every variable is documented in README.md ("Configuration"). Bad values stop the process at
start-up (config.env). Nothing here exists only in production.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from config.env import env_bool, env_choice, env_float, env_int, env_list, env_str
from config.namespace_apis import NAME_PATTERN as NAMESPACE_API_NAME_PATTERN
from config.namespace_apis import namespace_apis_parse

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / ".data")) or BASE_DIR / ".data")

DEBUG = env_bool("DEBUG", False)

_secret = env_str("SECRET_KEY")
if not _secret:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it (or SECRET_KEY_FILE), or set DEBUG=true for a "
            "local, insecure development key."
        )
    _secret = "insecure-development-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY: str = _secret

# Key of the HMAC that subject identifiers are stored as (product.md, "Privacy of the
# service itself"). Set it once and never change it: the hashes cannot be re-keyed, and
# every process refuses to start against a database made with another key
# (erasure.hash_key_guard). It is not derived from SECRET_KEY, which Django lets rotate,
# and DEBUG never supplies one. Unset, nothing can be hashed (erasure.hashing says so).
SUBJECT_HASH_KEY: str = env_str("SUBJECT_HASH_KEY") or ""

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "procrastinate.contrib.django",
    "erasure",
    "webhooks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # The request id (and the actor) of every log line of a request (erasure.logs).
    "erasure.logs.RequestContextMiddleware",
    # Static files (the admin's CSS and JavaScript) from the web process itself, with or
    # without a proxy in front: compressed, with far-future headers for hashed names.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "django.template.context_processors.csp",
            ],
        },
    },
]

_database_url = env_str("DATABASE_URL")
if not _database_url:
    from config.embedded_postgres import database_url

    _database_url = database_url(DATA_DIR)
try:
    # Connections are kept for DATABASE_CONN_MAX_AGE seconds (0: one per request), and
    # checked before reuse.
    DATABASES = {
        "default": dj_database_url.parse(
            _database_url,
            conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
            conn_health_checks=True,
        )
    }
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL cannot be parsed: {exc}") from exc
# A socket directory given as `?host=/path` (the embedded server) belongs in HOST.
if not DATABASES["default"]["HOST"] and "host" in DATABASES["default"]["OPTIONS"]:
    DATABASES["default"]["HOST"] = DATABASES["default"]["OPTIONS"].pop("host")
# PostgreSQL's JIT compiler is off for our connections: our statements are short, and the
# first JIT in a connection loads LLVM (about 30 ms, measured on the completion's
# statement, whose work takes 1 ms). A `-c jit=...` in DATABASE_URL's `options` still wins.
_options = DATABASES["default"].setdefault("OPTIONS", {})
_options["options"] = " ".join(filter(None, ["-c jit=off", _options.get("options", "")]))
# The statements of a batch's claim and record are prepared once per connection
# (erasure.prepared); off for a pooler in transaction mode that cannot keep them.
DATABASE_PREPARED_STATEMENTS = env_bool("DATABASE_PREPARED_STATEMENTS", True)
if DATABASE_PREPARED_STATEMENTS:
    # Django turns psycopg's prepared statements off (None) unless asked. Only the cursors
    # of erasure.prepared ask: Django's own bind on the client and never prepare.
    _options.setdefault("prepare_threshold", 5)
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point to PostgreSQL (postgres://...)")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# One date format on every page, with the time zone (config/formats/en/formats.py).
FORMAT_MODULE_PATH = ["config.formats"]

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT") or BASE_DIR / "staticfiles")
# After `collectstatic`, hashed and compressed copies with a manifest, cached for a year;
# before it (the demo, the tests), the files as found in the apps, served by WhiteNoise all
# the same (config.staticfiles).
_collected = (STATIC_ROOT / "staticfiles.json").exists()
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "config.staticfiles.CollectedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = not _collected

# HTTPS: set HTTPS=true where the service is reached over TLS (secure cookies, HSTS, and a
# redirect of plain HTTP), and BEHIND_TLS_PROXY=true when a proxy terminates TLS and says so
# in X-Forwarded-Proto (trust that header from the proxy only).
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
HTTPS = env_bool("HTTPS", BEHIND_TLS_PROXY)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Load balancers probe the health checks over plain HTTP, behind the redirect to HTTPS.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
# /readyz: a worker heartbeat older than this means no worker is running.
READYZ_WORKER_MAX_AGE_SECONDS = env_float("READYZ_WORKER_MAX_AGE_SECONDS", 60.0, minimum=1.0)
# /metrics: with a token, for whoever sends it (Authorization: Bearer ...); without one,
# for loopback clients only.
METRICS_TOKEN: str = env_str("METRICS_TOKEN") or ""

# Content-Security-Policy on every page: only our own scripts and styles, inline ones by
# the nonce of the response (templates use `csp_nonce`); a few `style=""` attributes.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "style-src-attr": [CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["erasure.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["erasure.api.auth.HasScope"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "erasure.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Erasure service API",
    "DESCRIPTION": "Records and carries out data-subject erasure requests against "
    "vector-database namespaces, with a per-item audit trail.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Swagger UI from our own static files, not a CDN: the docs page works offline and
    # loads no third-party script next to an admin that handles erasure requests.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# The namespace API (../shared/docs/namespace-api.md). Unset URL: the local emulator, which
# `make run` starts on this address.
NAMESPACE_API_FLAVOR = env_choice("NAMESPACE_API_FLAVOR", "cloud", ["cloud", "onprem"])
NAMESPACE_API_URL: str = env_str("NAMESPACE_API_URL") or (
    "http://127.0.0.1:8765/v1" if NAMESPACE_API_FLAVOR == "cloud" else "http://127.0.0.1:8765"
)
NAMESPACE_API_KEY: str = env_str("NAMESPACE_API_KEY") or "emulator-key"
NAMESPACE_API_TIMEOUT = env_float("NAMESPACE_API_TIMEOUT", 30.0, minimum=0.1)
# The name the default API above goes by (namespaces and the certificate name it), and more
# APIs (other accounts, regions, an on-prem install): config/namespace_apis.py.
NAMESPACE_API_NAME = env_str("NAMESPACE_API_NAME") or "default"
if not NAMESPACE_API_NAME_PATTERN.match(NAMESPACE_API_NAME):
    raise ImproperlyConfigured(
        "NAMESPACE_API_NAME: 1-64 characters of a-z, 0-9, '_', '.', '-', starting with a "
        "letter or digit"
    )
NAMESPACE_APIS = namespace_apis_parse(
    env_str("NAMESPACE_APIS") or "", default_name=NAMESPACE_API_NAME
)

# Legal deadlines in days from receipt, per regulation; GDPR is one calendar month and is
# computed as such (erasure.deadlines), this value applies to the others.
ERASURE_DEADLINE_DAYS = {
    "ccpa": env_int("ERASURE_DEADLINE_DAYS_CCPA", 45, minimum=1),
    "lgpd": env_int("ERASURE_DEADLINE_DAYS_LGPD", 15, minimum=1),
    "other": env_int("ERASURE_DEADLINE_DAYS_OTHER", 30, minimum=1),
}

# Execution (erasure.services.execution): tries per item before it ends `failed`, and the
# first retry delay, doubled per try.
ERASURE_MAX_ATTEMPTS = env_int("ERASURE_MAX_ATTEMPTS", 5, minimum=1)
ERASURE_RETRY_BASE_SECONDS = env_float("ERASURE_RETRY_BASE_SECONDS", 2.0)
# How long a worker holds claimed items before another may take them over (a dead worker
# is noticed after this). Must exceed the longest batch: timeouts and Retry-After waits.
ERASURE_LEASE_SECONDS = env_float("ERASURE_LEASE_SECONDS", 600.0, minimum=1.0)
# Jobs that work on one request side by side (each claims its own dispatch-sized batches).
ERASURE_JOBS_PER_REQUEST = env_int("ERASURE_JOBS_PER_REQUEST", 4, minimum=1)
# Hours between periodic coverage scans of a namespace (a namespace may set its own); 0: none.
ERASURE_SCAN_INTERVAL_HOURS = env_float("ERASURE_SCAN_INTERVAL_HOURS", 24.0, minimum=0.0)
# Requests wait for a fresh scan of every text namespace with a subject field, except
# those whose last scan counted more items than this (0: no limit); those rely on the
# periodic scans.
ERASURE_REQUEST_SCAN_MAX_ITEMS = env_int("ERASURE_REQUEST_SCAN_MAX_ITEMS", 1_000_000, minimum=0)
# Days after completion at which a request's erased items are checked again (a namespace's
# own recheck_after_days wins; 0 turns re-checks off).
ERASURE_RECHECK_DAYS = env_int("ERASURE_RECHECK_DAYS", 30, minimum=0)
# The sweeper: a job is stalled when its worker's heartbeat is older than this; a request
# re-queued this many times without finishing is flagged for an operator.
ERASURE_STALLED_JOB_SECONDS = env_float("ERASURE_STALLED_JOB_SECONDS", 60.0, minimum=1.0)
ERASURE_MAX_WAKEUPS = env_int("ERASURE_MAX_WAKEUPS", 20, minimum=1)
# Hours between approval and execution during which a request can still be cancelled
# (a request or a webhook source may set its own).
ERASURE_GRACE_HOURS = env_float("ERASURE_GRACE_HOURS", 0.0, minimum=0.0)
# How long a request may stay in each non-terminal state before it is flagged as stuck
# (hours, from when it entered the state; a scheduled one from the end of its grace).
ERASURE_STATE_LIMIT_HOURS = {
    state: env_float(f"ERASURE_STATE_LIMIT_HOURS_{state.upper()}", default, minimum=0.0)
    for state, default in (
        ("received", 1.0),
        ("awaiting_approval", 72.0),
        ("approved", 1.0),
        ("scheduled", 1.0),
        ("running", 24.0),
        ("on_hold", 720.0),
    )
}
# Mappings registered for a subject whose last request has completed (data uploaded after
# the erasure): `erase` files a new, auto-approved request for the subject; `report` only
# counts them and records an audit event (erasure.services.mappings).
# The organisation that erases, as certificates and the admin name it.
ORGANISATION_NAME = env_str("ORGANISATION_NAME") or "Example Organisation"
ERASURE_LATE_MAPPINGS = env_choice("ERASURE_LATE_MAPPINGS", "erase", ["erase", "report"])
# Shared throttle of the namespace API (all workers): calls in flight and calls per second
# (0: no rate limit; Retry-After pauses apply regardless).
NAMESPACE_API_MAX_IN_FLIGHT = env_int("NAMESPACE_API_MAX_IN_FLIGHT", 8, minimum=1)
NAMESPACE_API_CALLS_PER_SECOND = env_float("NAMESPACE_API_CALLS_PER_SECOND", 0.0)

# The audit log (erasure.services.audit_log). AUDIT_SIGNING_KEY (or AUDIT_SIGNING_KEY_FILE)
# is a signed-note private key, "PRIVATE+KEY+<name>+<key id>+<key>", made by
# `manage.py audit_signing_key`; without one, events are still sequenced but no checkpoint
# is issued. AUDIT_LOG_ORIGIN names the log in its checkpoints (default: the key's name);
# set it once. Every checkpoint is also written to AUDIT_WITNESS_DIR and POSTed to each of
# AUDIT_WITNESS_URLS.
AUDIT_SIGNING_KEY: str = env_str("AUDIT_SIGNING_KEY") or ""
AUDIT_LOG_ORIGIN: str = env_str("AUDIT_LOG_ORIGIN") or ""
AUDIT_WITNESS_DIR: str = env_str("AUDIT_WITNESS_DIR") or ""
AUDIT_WITNESS_URLS: list[str] = env_list("AUDIT_WITNESS_URLS", [])
AUDIT_SEQUENCE_BATCH = env_int("AUDIT_SEQUENCE_BATCH", 10_000, minimum=1)

PROCRASTINATE_AUTODISCOVER_MODULE_NAME = "tasks"
PROCRASTINATE_WORKER_DEFAULTS = {
    "update_heartbeat_interval": env_float("ERASURE_WORKER_HEARTBEAT_SECONDS", 10.0, minimum=0.1),
}

# LOG_FORMAT=json: one JSON object per line, with the request id, the actor and the event
# (erasure.logs); plain: for people.
LOG_FORMAT = env_choice("LOG_FORMAT", "plain", ["plain", "json"])
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "erasure.logs.ContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "erasure.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # httpx logs every request line at INFO; the URLs carry namespace names only, but
        # one line per dispatch drowns the useful lines.
        "httpx": {"level": "WARNING"},
    },
}
