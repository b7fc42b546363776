"""Test settings: SQLite by default, PostgreSQL with ``DB=postgres``."""

import os

SECRET_KEY = "restock-waitlist-tests"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ko", "Korean")]
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_q",
    "restock_waitlist",
    "tests.testshop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

STATIC_URL = "/static/"

if os.environ.get("DB") == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("PGDATABASE", "restock_waitlist"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            "TEST": {"NAME": os.environ.get("PGTESTDATABASE", "test_restock_waitlist")},
        }
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
SPECTACULAR_SETTINGS = {"TITLE": "restock_waitlist API (tests)", "VERSION": "1"}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

Q_CLUSTER = {
    "name": "restock_waitlist_tests",
    "sync": True,
    "orm": "default",
    "timeout": 60,
    "retry": 120,
    "max_attempts": 3,
}

RESTOCK_WAITLIST = {
    "PRODUCT_MODEL": "testshop.Product",
    "VARIANT_MODEL": "testshop.Variant",
    "VARIANT_PRODUCT": "product",
    "STOCK_MODEL": "testshop.StockLevel",
    "STOCK_PRODUCT": "variant.product",
    "STOCK_VARIANT": "variant",
    "STOCK_AVAILABLE": "quantity",
    "PRIORITY": "tests.testshop.priority.tier_from_username",
    # locmem stands in for push and SMS, described as the channels it stands in for.
    "CHANNELS": {
        "push": {"BACKEND": "tests.testshop.channels.DevicePushChannel"},
        "email": {"BACKEND": "restock_waitlist.channels.email.EmailChannel"},
        "sms": {
            "BACKEND": "restock_waitlist.channels.locmem.LocmemChannel",
            "OPTIONS": {"CONTACT_KIND": "phone", "LABEL": "Text message", "QUIET_HOURS": True},
        },
    },
    "SITE_URL": "https://shop.example",
}

#: The variant-less gadget catalogue, for tests that switch with ``override_settings``.
GADGET_SETTINGS = {
    "PRODUCT_MODEL": "testshop.Gadget",
    "VARIANT_MODEL": None,
    "STOCK_MODEL": "testshop.GadgetStock",
    "STOCK_PRODUCT": "gadget",
    "STOCK_VARIANT": None,
    "STOCK_AVAILABLE": "tests.testshop.models.gadget_available",
    "CHANNELS": {"email": {"BACKEND": "restock_waitlist.channels.email.EmailChannel"}},
    "SITE_URL": "https://shop.example",
}

#: ``ORDER_MODEL`` pointed at the test shop's orders, for tests that watch orders.
ORDER_SETTINGS = {
    "ORDER_MODEL": "testshop.Order",
    "ORDER_PRODUCT": "variant.product",
    "ORDER_VARIANT": "variant",
    "ORDER_USER": "customer",
    "ORDER_EMAIL": "email",
    "ORDER_REF": "number",
    "ORDER_QUANTITY": "quantity",
}
