"""Settings of the test-only provider (django-oidc-provider 0.9, Django 5)."""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "test-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "oidc_provider",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "provider.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ.get("OIDC_TEST_DB", "provider.db")}}
USE_TZ = True
LOGIN_URL = "/accounts/login/"
# The provider's own session cookie: Lax, so the redirect back from its login form keeps it.
SESSION_COOKIE_SAMESITE = "Lax"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, test-only

SITE_URL = os.environ.get("OIDC_TEST_SITE_URL", "http://127.0.0.1:8000")
OIDC_USERINFO = "provider.hooks.userinfo"
OIDC_IDTOKEN_INCLUDE_CLAIMS = True
OIDC_IDTOKEN_PROCESSING_HOOK = "provider.hooks.id_token"
OIDC_SKIP_CONSENT_EXPIRE = 0
LOGGING = {"version": 1, "disable_existing_loggers": False}
SILENCED_SYSTEM_CHECKS = ["models.W042"]
