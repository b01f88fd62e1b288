"""The one settings module: everything comes from the environment, with embedded defaults.

Without any environment the project runs as the demo of ``make run``: SQLite, Celery on kombu's
filesystem transport and mail written to files, all under ``var/``. Setting ``DATABASE_URL``,
``REDIS_URL``, ``DJANGO_SECRET_KEY``, ``ALLOWED_HOSTS`` and the email settings switches to the
production parts. Helpers fail loudly on a malformed value instead of guessing (healthchecks'
style), because a typo in a deployment must not silently become a default.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Callable
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no)")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


VAR_DIR = Path(env_str("DSAR_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# The demo is whatever runs without a secret key from the environment: production must set one.
DEMO = env_bool("DSAR_DEMO", default="DJANGO_SECRET_KEY" not in os.environ)
DEBUG = env_bool("DEBUG", default=DEMO)


def _demo_key(name: str, make: Callable[[], str]) -> str:
    """A key of the demo's, made once and kept in var/ (owner-only), so that sessions, signed
    links, encrypted ID copies and the audit chain survive a restart of `make run`."""
    path = VAR_DIR / name
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env_str("DJANGO_SECRET_KEY") or (
    _demo_key("secret_key", lambda: secrets.token_urlsafe(64)) if DEMO else ""
)
if not SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set outside the demo (DSAR_DEMO=0)")


def _fernet_key() -> str:
    from cryptography.fernet import Fernet  # settings load on every command: import when used

    return Fernet.generate_key().decode()


# Wraps the per-document keys of ID copies (cases/iddocs.py); a Fernet key (32 base64 bytes).
ID_DOCUMENT_KEY = env_str("DSAR_ID_DOCUMENT_KEY") or (
    _demo_key("id_document_key", _fernet_key) if DEMO else ""
)
if not ID_DOCUMENT_KEY:
    raise ImproperlyConfigured("DSAR_ID_DOCUMENT_KEY must be set outside the demo")


# Keys the hash chain of every case's events and its head (cases/audit.py): kept outside the
# database, so someone who can edit rows cannot rewrite an event and recompute its hash, nor
# drop the last events and fix the head. Changing it makes every chain fail verification.
AUDIT_KEY = env_str("DSAR_AUDIT_KEY") or (
    _demo_key("audit_key", lambda: secrets.token_urlsafe(48)) if DEMO else ""
)
if len(AUDIT_KEY) < 32:
    raise ImproperlyConfigured(
        "DSAR_AUDIT_KEY must be set outside the demo: a random string of at least 32 characters"
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEMO else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# The public URL that mail links point at; the demo serves on DSAR_PORT (make run, Procfile).
SITE_URL = env_str("SITE_URL", f"http://127.0.0.1:{env_int('DSAR_PORT', 8000)}").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_fsm",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "anymail",
    # The layers, from the bottom (the legal clock, pure Python, is not an app): the registry,
    # the case core, and the rooms above the core. README, Architecture.
    "controllers",
    "cases",
    "public",
    "backoffice",
    "reminders",
    "mailin",
    "fulfilment",
    "reports",
    # What `make run` needs besides the product (demo accounts and systems, a stub processor).
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The visitor's language first (a cookie, no database): the refusals below speak it too.
    "dsar.middleware.LanguageMiddleware",
    "dsar.middleware.BodySizeLimitMiddleware",
    "dsar.middleware.RefuseNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "dsar.middleware.SecurityHeadersMiddleware",
    # Last, as django-axes requires: it turns a lockout into a response.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked-out login before checking it
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "dsar.urls"
WSGI_APPLICATION = "dsar.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database: PostgreSQL from DATABASE_URL, SQLite under var/ otherwise.
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            # The demo runs web, worker and beat against one file: wait for locks, don't fail.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Languages: Dutch first (the five controllers are Dutch and Belgian), English switchable.
LANGUAGE_CODE = "nl"
LANGUAGES = [("nl", _("Dutch")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Europe/Amsterdam")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns at every start when it is missing
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = VAR_DIR / "media"

# --- Celery: Redis from REDIS_URL; kombu's filesystem transport under var/ for the demo.
# The filesystem transport loses a task in flight on a hard kill; it is for the demo only.
REDIS_URL = env_str("REDIS_URL")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 3600}
else:
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # Broadcast exchanges; kombu's default is ./control in the working directory.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
# Publishing must not hang a web request when the broker is down: the row is stored either way
# and the unsent-mail sweep sends it later.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Static schedule: beat only sweeps for what is due; after an outage the next sweep catches up.
CELERY_BEAT_SCHEDULE = {
    "resend-unsent-mail": {"task": "cases.resend_unsent_mail", "schedule": 60.0},
    "expire-unconfirmed": {"task": "reminders.tasks.expire_unconfirmed", "schedule": 600.0},
    "sweep-deadlines": {"task": "reminders.tasks.sweep_deadlines", "schedule": 300.0},
    # Searches due (a retry, a poll of a processor) or left by a worker that died; packages
    # whose download link expired.
    "sweep-searches": {"task": "fulfilment.sweep_collections", "schedule": 60.0},
    "sweep-changes": {"task": "fulfilment.sweep_executions", "schedule": 60.0},
    "sweep-archives": {"task": "reports.sweep_archives", "schedule": 60.0},
    "expire-packages": {"task": "fulfilment.expire_packages", "schedule": 600.0},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Shared by every web process in production (the intake rate limit counts there).
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# --- Mail: files under var/mail for the demo; any Django/anymail backend by settings alone.
# The demo writes mail to files (dsar/mailfiles.py: none for the seeded history's .invalid
# addresses).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "dsar.mailfiles.EmailBackend")
EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "dsar <noreply@dsar.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Every ANYMAIL_<KEY> variable becomes ANYMAIL["<KEY>"] (e.g. ANYMAIL_POSTMARK_SERVER_TOKEN,
# ANYMAIL_WEBHOOK_SECRET), so a provider is configured without touching code.
ANYMAIL = {
    key.removeprefix("ANYMAIL_"): value
    for key, value in os.environ.items()
    if key.startswith("ANYMAIL_")
}
# The provider whose webhooks (tracking, inbound) are served at /anymail/<provider>/...: by
# default the one EMAIL_BACKEND names. Only that provider's, and only with the secret
# (dsar/webhooks.py): a webhook without it would let anyone post a forged reply into a case.
DSAR_MAIL_PROVIDER = env_str("DSAR_MAIL_PROVIDER") or (
    EMAIL_BACKEND.split(".")[2] if EMAIL_BACKEND.startswith("anymail.backends.") else ""
)
if DSAR_MAIL_PROVIDER and not DEMO and not ANYMAIL.get("WEBHOOK_SECRET"):
    raise ImproperlyConfigured(
        f"ANYMAIL_WEBHOOK_SECRET must be set outside the demo: the {DSAR_MAIL_PROVIDER} webhooks "
        "would accept forged posts (use user:password, and the same in the provider's URL)"
    )

# --- Security. Production (not the demo) gets the settings `check --deploy` asks for.
SESSION_COOKIE_HTTPONLY = True
# An officer's session ends after this much inactivity: every request renews it.
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 30 * 60)
SESSION_SAVE_EVERY_REQUEST = True
# Two-factor login (TOTP, django-otp) for the admin: required in production, optional in the demo.
ADMIN_2FA = env_bool("DSAR_ADMIN_2FA", default=not DEMO)
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "dsar")
# Brute-force lockout: 5 failures from one address for one username lock it for 30 minutes.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# Served on every response (dsar.middleware.SecurityHeadersMiddleware). No inline script anywhere;
# the admin's widgets need inline style attributes.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEMO:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # WeasyPrint narrates every step of every PDF at INFO.
    # httpx logs every request at INFO.
    "loggers": {
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
    },
}

# Intake: at most this many stored requests an hour from one IP address (0 switches it off),
# and at most this many refused attempts (someone correcting a form is not a bot).
INTAKE_RATE_LIMIT = env_int("DSAR_INTAKE_RATE_LIMIT", 10)
INTAKE_FAILED_LIMIT = env_int("DSAR_INTAKE_FAILED_LIMIT", 50)
# The largest request body the public site reads: an ID copy (10 MB) plus the form.
PUBLIC_MAX_BODY = 11 * 1024 * 1024
# ... and the largest an officer uploads: the export file of a manual search.
OFFICER_UPLOAD_MAX = 100 * 1024 * 1024

# Where the controllers' policy files live; `load_policies` reads them all by default.
POLICY_DIR = BASE_DIR / "controllers" / "policies"
# ... and their systems files (`load_systems`).
SYSTEMS_DIR = BASE_DIR / "controllers" / "systems"

# Fulfilment: the subject's download link lasts this many days; the one-time code mailed before
# each download, this many minutes and tries.
PACKAGE_LINK_DAYS = env_int("DSAR_PACKAGE_LINK_DAYS", 7)
DOWNLOAD_CODE_MINUTES = 10
# A worker holds a search this long before another may take it up (it renews it while rows
# stream in); a worker that dies lets go when it ends.
FULFILMENT_LEASE_SECONDS = env_int("DSAR_FULFILMENT_LEASE_SECONDS", 900)
DOWNLOAD_CODE_TRIES = 5
# Erasure's keyed pseudonyms (fulfilment/changes/execute.py): the same value gets the same
# pseudonym only under the same key, so keep it secret and unchanged. Derived from the site's
# key when unset.
PSEUDONYM_KEY = env_str("DSAR_PSEUDONYM_KEY") or f"derived:{SECRET_KEY}"
# A ZIP of case reports holds personal data: deleted this many days after it was asked for.
REPORT_ARCHIVE_DAYS = env_int("DSAR_REPORT_ARCHIVE_DAYS", 7)
# Art. 18(3): the subject is told before a restriction is lifted; it is lifted this many days
# after the officer's step that tells them.
RESTRICTION_LIFT_NOTICE_DAYS = env_int("DSAR_RESTRICTION_LIFT_NOTICE_DAYS", 14)
# The demo's stub processor (a system reached over HTTP), which `make run` serves beside the
# site; systems files name it "{processor}" in a demo_url.
DEMO_PROCESSOR_PORT = env_int("DSAR_PROCESSOR_PORT", 8001)
DEMO_PROCESSOR_URL = env_str("DSAR_PROCESSOR_URL", f"http://127.0.0.1:{DEMO_PROCESSOR_PORT}")
# The demo accounts `setup_demo` creates share this password; the demo only.
DEMO_PASSWORD = env_str("DSAR_DEMO_PASSWORD", "dsar-demo-2026")
