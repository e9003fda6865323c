"""Django settings, read from the environment (see README "Configuration").

Every value comes through ``console.env.Env``, which raises ``ConfigError`` with one line
naming the variable; ``manage.py`` prints that line alone and exits 2.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from csp import constants as csp

from console.datadir import secure_data_dir
from console.engine_addresses import ANY_NETWORK, DEFAULT_ENGINE_PORTS, parse_networks, parse_ports
from console.env import ConfigError, Env, parse_database_url
from console.sso.config import authentication_backends, mozilla_settings, oidc_config

BASE_DIR = Path(__file__).resolve().parent.parent
env = Env.from_os()

PRODUCTION = env.boolean("CONSOLE_PRODUCTION", False)
DEBUG = env.boolean("CONSOLE_DEBUG", False)
DATA_DIR = env.path("CONSOLE_DATA_DIR", BASE_DIR / "data")
secure_data_dir(DATA_DIR)

# Known placeholder keys that must never run a production console.
_INSECURE_KEYS = {"", "change-me", "changeme", "secret", "dev"}


def _secret_key() -> str:
    explicit = env.optional("CONSOLE_SECRET_KEY")
    if explicit is not None:
        if PRODUCTION and (explicit in _INSECURE_KEYS or explicit.startswith("django-insecure")):
            raise ConfigError(
                "CONSOLE_SECRET_KEY is a placeholder; set a real secret in production"
            )
        return explicit
    if PRODUCTION:
        raise ConfigError("CONSOLE_SECRET_KEY must be set when CONSOLE_PRODUCTION=1")
    key_file = DATA_DIR / "secret_key"
    if key_file.is_file():
        return key_file.read_text().strip()
    key = secrets.token_urlsafe(50)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env.strings("CONSOLE_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.strings("CONSOLE_CSRF_TRUSTED_ORIGINS", [])

DATABASES = {
    "default": parse_database_url(
        env.string("DATABASE_URL", f"sqlite:///{DATA_DIR / 'console.sqlite3'}")
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Celery workers, agents and the web process write concurrently: wait instead of
    # failing with "database is locked", and let readers run beside the writer (WAL).
    DATABASES["default"]["OPTIONS"] = {
        "timeout": env.number("CONSOLE_SQLITE_TIMEOUT", 20.0, minimum=0.1),
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not Django's in-memory default: tests run real Celery workers and agents as
    # subprocesses, which must see the test database (they get its path in DATABASE_URL).
    # The pid keeps two test sessions sharing a data dir apart.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Unset REDIS_URL means "embedded": ``manage.py up`` starts a private redis-server on a unix
# socket in the data dir (nothing listens on the network) and hands this URL to its children.
EMBEDDED_REDIS = env.optional("REDIS_URL") is None
EMBEDDED_REDIS_SOCKET = DATA_DIR / "redis" / "redis.sock"
if EMBEDDED_REDIS and len(str(EMBEDDED_REDIS_SOCKET)) > 100:
    raise ConfigError(
        f"CONSOLE_DATA_DIR={DATA_DIR} is too long for the embedded Redis socket; "
        "use a shorter data dir or set REDIS_URL"
    )
REDIS_URL = env.optional("REDIS_URL") or f"unix://{EMBEDDED_REDIS_SOCKET}"
# Prefixes every key the console writes, so several consoles (or test runs) can share
# one Redis without taking each other's jobs.
REDIS_PREFIX = env.string("CONSOLE_REDIS_PREFIX", "")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "console",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "console.middleware.RejectNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "console.urls"
ASGI_APPLICATION = "console.asgi.application"

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
                # The banner naming services that keep failing: the console stays up
                # around a crash-looping one, so it must say so on every page.
                "console.services.service_status.failing_services",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
# Single sign-on (console.sso): on when CONSOLE_OIDC_CLIENT_ID is set; see docs/sso.md.
CONSOLE_OIDC = oidc_config(env)
CONSOLE_LOCAL_LOGIN = env.boolean("CONSOLE_LOCAL_LOGIN", True)
AUTHENTICATION_BACKENDS = authentication_backends(CONSOLE_OIDC, CONSOLE_LOCAL_LOGIN)
globals().update(mozilla_settings(CONSOLE_OIDC))
LOGIN_REDIRECT_URL_FAILURE = "/sso/refused/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every start otherwise
# Served from the source folders without collectstatic, so `manage.py up` needs no build step.
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
# A production console runs behind a TLS proxy: it takes the proxy's
# "X-Forwarded-Proto: https" as an HTTPS request (the proxy must set it and drop a
# client's), redirects plain HTTP to HTTPS, and sends HSTS with HTTPS answers.
TLS_PROXY = env.boolean("CONSOLE_TLS_PROXY", PRODUCTION)
if TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.boolean("CONSOLE_SSL_REDIRECT", PRODUCTION)
SECURE_HSTS_SECONDS = env.integer(
    "CONSOLE_HSTS_SECONDS", 365 * 24 * 3600 if PRODUCTION else 0, minimum=0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.boolean("CONSOLE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env.boolean("CONSOLE_HSTS_PRELOAD", False)
# Browsers' preload lists are for public sites that ask to be listed; a console opts in.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# The pages load only their own vendored scripts and styles (no CDN, no inline script:
# data reaches them through json_script), talk to their own origin (fetch and the
# websockets: CSP 3's 'self' covers ws:/wss: to the same host), and are never framed.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF],
        "style-src": [csp.SELF],
        # The memory bars' segment widths are style attributes (partials/segment.html):
        # an attribute cannot run script, and every value in one is escaped.
        "style-src-attr": [csp.UNSAFE_INLINE],
        "img-src": [csp.SELF, "data:"],
        "connect-src": [csp.SELF],
        "font-src": [csp.SELF],
        "object-src": [csp.NONE],
        "base-uri": [csp.SELF],
        "form-action": [csp.SELF],
        "frame-ancestors": [csp.NONE],
    }
}
# Django's 403 page, audited: without it a refused form would leave no trace.
CSRF_FAILURE_VIEW = "console.web.csrf.csrf_failure"
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION

REST_FRAMEWORK = {
    # Token first: DRF takes the 401 challenge from the first class (session has none).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "console.api.tokens.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "EXCEPTION_HANDLER": "console.api.errors.exception_handler",
    # JSON nested past 32 levels is a 400, not a RecursionError's 500 (console.jsondepth).
    "DEFAULT_PARSER_CLASSES": [
        "console.api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
}
# REST tokens are stored as SHA-512 digests (a copied database holds no usable token) and
# sent as "Authorization: Token <key>"; they last until reissued (manage.py issue_token).
REST_KNOX = {"TOKEN_TTL": None, "AUTO_REFRESH": False, "AUTH_HEADER_PREFIX": "Token"}
SPECTACULAR_SETTINGS = {
    "TITLE": "vLLM Console API",
    "DESCRIPTION": "Register vLLM engines, put them to sleep, wake them, and read the history.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Served from the sidecar package, never a CDN: consoles run on air-gapped clusters.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Instances, jobs and a cancel's refusal each have a "state": name their enums once.
    "ENUM_NAME_OVERRIDES": {
        "InstanceStateEnum": "console.models.InstanceState",
        "JobStateEnum": "console.models.JobState",
    },
}

# A page's membership of its groups lapses after this long unless its consumer renews it
# (console.realtime.consumers renews it every quarter of it): a page whose web process died
# without its disconnect drops out within this long, where channels_redis's default (a
# day) kept sending it every publication, logging "channels over capacity" each time.
CONSOLE_WS_GROUP_EXPIRY_SECONDS = 120
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [REDIS_URL],
            "prefix": f"{REDIS_PREFIX}asgi",
            "group_expiry": CONSOLE_WS_GROUP_EXPIRY_SECONDS,
        },
    }
}

# kombu spells a unix-socket Redis "redis+socket://"; redis-py (Channels) spells it "unix://".
CELERY_BROKER_URL = (
    "redis+socket://" + REDIS_URL.removeprefix("unix://")
    if REDIS_URL.startswith("unix://")
    else REDIS_URL
)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "control"
# Jobs (run_job) go to ``control`` or to their GPU host's agent; every other task (evidence,
# reconcile rounds, the idle policy, schedules, rollups, alert deliveries) to ``background``,
# which ``manage.py up`` and compose give a worker of its own: a storm of failing alert
# targets or slow evidence never takes the threads a job needs (DESIGN.md: the critical
# path is sacred). A queue named when a task is sent overrides these routes.
CELERY_TASK_ROUTES = {
    "console.tasks.run_job": {"queue": "control"},
    "console.tasks.*": {"queue": "background"},
}
# Longer than the longest job's hard time limit, so an unacknowledged job is not
# redelivered to a second worker while the first is still running it.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "global_keyprefix": REDIS_PREFIX}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# Engines: the console's view of vLLM.
ENGINE_HTTP_TIMEOUT = env.number("CONSOLE_ENGINE_TIMEOUT", 10.0, minimum=0.1)
# Where instances' base URLs may point: the console sends them the engine's API key, so
# not to another local service such as Redis or PostgreSQL (console.engine_addresses).
CONSOLE_ENGINE_PORTS = parse_ports(
    "CONSOLE_ENGINE_PORTS", env.string("CONSOLE_ENGINE_PORTS", DEFAULT_ENGINE_PORTS)
)
CONSOLE_ENGINE_NETWORKS = parse_networks(
    "CONSOLE_ENGINE_NETWORKS", env.string("CONSOLE_ENGINE_NETWORKS", ANY_NETWORK)
)
# How long a job waits for the agent to report the log lines and samples its action caused.
CONSOLE_JOB_EVIDENCE_WAIT = env.number("CONSOLE_JOB_EVIDENCE_WAIT", 3.0, minimum=0.0)
# Host RAM kept free when deciding whether a level-1 sleep's weight backup fits.
CONSOLE_HOST_RAM_HEADROOM_GIB = env.number("CONSOLE_HOST_RAM_HEADROOM_GIB", 4.0, minimum=0.0)
# A first level-1 backup is expected to pin this many times the weights (per-allocation
# power-of-two rounding: 1.143 measured for Llama-3-8B's tensors); later ones are measured.
CONSOLE_PINNED_BACKUP_FACTOR = env.number("CONSOLE_PINNED_BACKUP_FACTOR", 1.15, minimum=1.0)
CONSOLE_RECONCILE_SECONDS = env.number("CONSOLE_RECONCILE_SECONDS", 5.0, minimum=0.5)
# Gateway: how long /v1 requests wait for a wake, how many may wait per model,
# how long a sleep waits for requests in flight, how often the idle policy looks.
CONSOLE_GATEWAY_HOLD_SECONDS = env.number("CONSOLE_GATEWAY_HOLD_SECONDS", 120.0, minimum=0.1)
CONSOLE_GATEWAY_MAX_HELD = env.integer("CONSOLE_GATEWAY_MAX_HELD", 256, minimum=1)
CONSOLE_GATEWAY_DRAIN_SECONDS = env.number("CONSOLE_GATEWAY_DRAIN_SECONDS", 30.0, minimum=0.0)
CONSOLE_GATEWAY_UPSTREAM_TIMEOUT = env.number(
    "CONSOLE_GATEWAY_UPSTREAM_TIMEOUT", 600.0, minimum=1.0
)
CONSOLE_GATEWAY_IDLE_CHECK_SECONDS = env.number(
    "CONSOLE_GATEWAY_IDLE_CHECK_SECONDS", 2.0, minimum=0.2
)
CELERY_BEAT_SCHEDULE = {
    "reconcile-instances": {
        "task": "console.tasks.reconcile_instances",
        "schedule": CONSOLE_RECONCILE_SECONDS,
        "options": {"expires": CONSOLE_RECONCILE_SECONDS * 2},
    },
    "gateway-idle-policy": {
        "task": "console.tasks.gateway_idle_policy",
        "schedule": CONSOLE_GATEWAY_IDLE_CHECK_SECONDS,
        "options": {"expires": CONSOLE_GATEWAY_IDLE_CHECK_SECONDS * 2},
    },
}
# History and live data: raw 1-s samples are kept this long, then only their
# minute and hour rollups; the link bandwidth that wake efficiency is measured against
# (pinned host -> device on PCIe Gen5 x16); the console's own /metrics is open only when
# CONSOLE_METRICS_PUBLIC=1, else it needs "Authorization: Bearer <CONSOLE_METRICS_TOKEN>".
CONSOLE_RAW_RETENTION_HOURS = env.number("CONSOLE_RAW_RETENTION_HOURS", 48.0, minimum=1.0)
CONSOLE_LINK_GBPS = env.number("CONSOLE_LINK_GBPS", 52.0, minimum=0.1)
CONSOLE_METRICS_PUBLIC = env.boolean("CONSOLE_METRICS_PUBLIC", False)
CONSOLE_METRICS_TOKEN = env.optional("CONSOLE_METRICS_TOKEN")
CONSOLE_ENGINE_SCRAPE_SECONDS = env.number("CONSOLE_ENGINE_SCRAPE_SECONDS", 5.0, minimum=0.5)
CELERY_BEAT_SCHEDULE["gateway-history"] = {
    "task": "console.tasks.gateway_history",
    "schedule": 60.0,
    "options": {"expires": 120.0},
}
CELERY_BEAT_SCHEDULE["key-usage"] = {
    "task": "console.tasks.key_usage",
    "schedule": 60.0,
    "options": {"expires": 120.0},
}
CELERY_BEAT_SCHEDULE["history-rollup"] = {
    "task": "console.tasks.history_rollup",
    "schedule": 60.0,
    "options": {"expires": 120.0},
}
# Instances' schedules (console.jobs.schedule_policy): a window start or timed sleep is
# acted on at the first round after its minute, so rounds come well within a minute.
CELERY_BEAT_SCHEDULE["instance-schedules"] = {
    "task": "console.tasks.instance_schedules",
    "schedule": 20.0,
    "options": {"expires": 40.0},
}
SIM_GPU_DIR = env.path("CONSOLE_SIM_GPU_DIR", DATA_DIR / "simgpu")
# Alerts (console.notifications): attempts per delivery and the first retry's delay (it
# doubles); a wake slower than this is alerted; GPU memory or host RAM at this share of its
# total is alerted, at most once per quiet period per GPU or host (vLLM itself takes 90%).
CONSOLE_ALERT_ATTEMPTS = env.integer("CONSOLE_ALERT_ATTEMPTS", 5, minimum=1)
CONSOLE_ALERT_BACKOFF_SECONDS = env.number("CONSOLE_ALERT_BACKOFF_SECONDS", 10.0, minimum=0.1)
CONSOLE_ALERT_SLOW_WAKE_SECONDS = env.number("CONSOLE_ALERT_SLOW_WAKE_SECONDS", 30.0, minimum=0.0)
CONSOLE_ALERT_MEMORY_PERCENT = env.number("CONSOLE_ALERT_MEMORY_PERCENT", 97.0, minimum=1.0)
CONSOLE_ALERT_MEMORY_QUIET_SECONDS = env.number(
    "CONSOLE_ALERT_MEMORY_QUIET_SECONDS", 1800.0, minimum=1.0
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "filters": {"one_line_refusals": {"()": "console.request_log.OneLineRefusals"}},
    "loggers": {"django.request": {"filters": ["one_line_refusals"]}},
    "root": {"handlers": ["console"], "level": env.string("CONSOLE_LOG_LEVEL", "INFO").upper()},
}
