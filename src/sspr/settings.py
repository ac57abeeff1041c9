"""Django settings: wiring only. Operators configure through environment variables (config.py)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url

from sspr import config

DATA_DIR = config.data_dir()
SECRET_KEY = config.secret_key(DATA_DIR)
DEBUG = config.env_bool("SSPR_DEBUG")

# Links in messages come from this address, never from the Host header of a request.
BASE_URL = config.env("SSPR_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
_base = urlsplit(BASE_URL)
HTTPS = _base.scheme == "https"
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]
ALLOWED_HOSTS = [h for h in config.env("SSPR_ALLOWED_HOSTS").split(",") if h] or [
    _base.hostname or "127.0.0.1",
    *LOOPBACK_HOSTS,
]
CSRF_TRUSTED_ORIGINS = [f"{_base.scheme}://{_base.netloc}"]
# Reverse proxies (addresses or networks) whose X-Forwarded-For and X-Forwarded-Proto `sspr
# serve` believes. Behind a proxy every request comes from the proxy's address: without this,
# the per-address limits and the audit trail would see one client for all.
TRUSTED_PROXIES = [p.strip() for p in config.env("SSPR_TRUSTED_PROXIES").split(",") if p.strip()]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "sspr.directory",
    "sspr.policy",
    "sspr.methods",
    "sspr.throttling",
    "sspr.flows",
    "sspr.hybrid",
    "sspr.audit",
    "sspr.access",
    "sspr.messaging",
    "sspr.web",
    "sspr.cli",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "sspr.web.middleware.RejectNulMiddleware",
    "sspr.web.middleware.RequestContextMiddleware",
    "sspr.web.outage.OutageMiddleware",
    "sspr.web.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "sspr.web.i18n.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "sspr.urls"
ASGI_APPLICATION = "sspr.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csrf",
                "sspr.web.i18n.language_choices",
            ],
        },
    }
]

# Each of the server's threads keeps its connection (sspr.web.serving: a fixed pool of
# threads), checked before a request reuses it, so that one cut by a database restart is
# replaced rather than handed on.
DATABASES = {
    "default": dj_database_url.parse(
        config.env("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'sspr.sqlite3'}",
        conn_max_age=None,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A database host that stops answering fails a request in seconds, not at the TCP timeout.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock at BEGIN, so read-modify-write counters cannot race.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        # WAL is set once per process (sspr.sqlite_wal): it is stored in the file.
        "init_command": "PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Threads of one serving process: for pages and the API, and for the agent channel, whose long
# polls hold one each while they wait (sspr.web.serving).
SSPR_THREADS = int(config.env("SSPR_THREADS", "32"))
SSPR_AGENT_THREADS = int(config.env("SSPR_AGENT_THREADS", "32"))

REDIS_URL = config.env("REDIS_URL")
# What throttling does while Redis cannot be reached: "database" counts the same limits there,
# "closed" refuses the work (503). README, "When a dependency fails", says why database.
REDIS_FAILURE = config.env_choice("SSPR_REDIS_FAILURE", "database", ("database", "closed"))
if REDIS_URL:
    from sspr import redis_client

    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": redis_client.options(),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Email: real SMTP when SMTP_HOST is set, otherwise the outbox that `sspr outbox` reads.
EMAIL_HOST = config.env("SMTP_HOST")
EMAIL_PORT = int(config.env("SMTP_PORT", "25"))
EMAIL_HOST_USER = config.env("SMTP_USER")
EMAIL_HOST_PASSWORD = config.env("SMTP_PASSWORD")
EMAIL_USE_TLS = config.env_bool("SMTP_STARTTLS")
EMAIL_USE_SSL = config.env_bool("SMTP_SSL")
EMAIL_TIMEOUT = 10
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "sspr.messaging.outbox.OutboxEmailBackend"
)
DEFAULT_FROM_EMAIL = config.env("SSPR_FROM_EMAIL", "opensspr <no-reply@localhost>")

# SMS and voice calls: "outbox" keeps them for `sspr outbox`; "twilio" sends through Twilio's API.
PHONE_PROVIDER = config.env("SSPR_PHONE_PROVIDER", "outbox").lower()
TWILIO_ACCOUNT_SID = config.env("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = config.env("TWILIO_AUTH_TOKEN")
TWILIO_FROM = config.env("TWILIO_FROM")
TWILIO_BASE_URL = config.env("TWILIO_BASE_URL", "https://api.twilio.com").rstrip("/")

# Have I Been Pwned's Pwned Passwords range API, for tenants that turn the online check on.
HIBP_BASE_URL = config.env("HIBP_BASE_URL", "https://api.pwnedpasswords.com").rstrip("/")
HIBP_TIMEOUT = float(config.env("HIBP_TIMEOUT", "2"))

# ALTCHA proof of work: the largest number a browser may have to try (about a second's work).
CAPTCHA_MAX_NUMBER = int(config.env("SSPR_CAPTCHA_MAX_NUMBER", "50000"))

# Sessions and cookies. Over HTTPS the cookies are Secure and use the __Host- prefix; the
# plain-HTTP loopback default of `make run` cannot carry Secure cookies.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = 8 * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Strict"
SESSION_COOKIE_NAME = "__Host-sspr_session" if HTTPS else "sspr_session"
CSRF_COOKIE_NAME = "__Host-sspr_csrf" if HTTPS else "sspr_csrf"
CSRF_FAILURE_VIEW = "sspr.web.errors.csrf_failure"

SECURE_CONTENT_TYPE_NOSNIFF = True
# Not "no-referrer": under it browsers send `Origin: null` with every form, which fails the CSRF
# origin check. "same-origin" still sends nothing to any other site, and no secret is ever in
# our URLs (a reset's id lives in the session on pages).
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if HTTPS:
    SECURE_HSTS_SECONDS = int(config.env("SSPR_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = config.env_bool("SSPR_HSTS_PRELOAD", True)
    # TLS usually ends at a proxy; it tells us the original scheme.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = config.env_bool("SSPR_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^api/v1/health$"]

DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
# collectstatic fills it in production; the finders serve the app directories meanwhile.
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

LANGUAGE_CODE = "en"
USE_I18N = True
# End users read the portal and their messages in the browser's language, or the one they chose
# on a page (remembered in a cookie); anything else gets English. Names as each language calls
# itself: someone lost in a foreign language still finds their own.
LANGUAGES = [("en", "English"), ("de", "Deutsch"), ("fr", "Français"), ("es", "Español")]
LOCALE_PATHS = [Path(__file__).resolve().parent / "locale"]
LANGUAGE_COOKIE_NAME = "__Host-sspr_language" if HTTPS else "sspr_language"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SECURE = HTTPS
LANGUAGE_COOKIE_HTTPONLY = True
USE_TZ = True
TIME_ZONE = "UTC"

# Argon2id, OWASP's minimum profile; changing these rehashes each password at its next sign-in.
ARGON2_TIME_COST = int(config.env("SSPR_ARGON2_TIME_COST", "2"))
ARGON2_MEMORY_KIB = int(config.env("SSPR_ARGON2_MEMORY_KIB", "19456"))
ARGON2_PARALLELISM = int(config.env("SSPR_ARGON2_PARALLELISM", "1"))

API_TOKEN_HOURS = 8

# A full sync that would delete more synced objects than this deletes none (0 = no limit).
SYNC_DELETION_LIMIT = int(config.env("SSPR_SYNC_DELETION_LIMIT", "500"))

# Audit events older than this many days go at `sspr audit prune` (0 = keep them forever).
AUDIT_RETENTION_DAYS = int(config.env("SSPR_AUDIT_RETENTION_DAYS", "0"))
# Forward every audit event to a SIEM: udp://host:514 or tcp://host:601 (empty = off), on the
# syslog facility given by name or number (authpriv = 10 by default). See sspr/audit/syslog.py.
AUDIT_SYSLOG_URL = config.env("SSPR_SYSLOG_URL")
AUDIT_SYSLOG_FACILITY = config.env("SSPR_SYSLOG_FACILITY", "authpriv")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(message)s"}},
    "filters": {"database_outage": {"()": "sspr.web.outage.WithoutOutageTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": config.env("SSPR_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "django.request": {"filters": ["database_outage"]},
    },
}
