"""An example shop wired to restock_waitlist. For development only."""

import os
from pathlib import Path

from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "restock_waitlist",
    "shop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # templates/restock_waitlist/page.html gives the app's pages the shop's layout.
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("EXAMPLE_DB", BASE_DIR / "db.sqlite3"),
        "OPTIONS": {"timeout": 20},
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "Asia/Seoul"
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ko", "한국어")]
USE_I18N = True
STATIC_URL = "/static/"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

# Mail goes to the terminal, so the guest's confirmation link is visible there.
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = "Example Shop <shop@example.com>"

# django-q2 on the ORM broker: no extra service for a small shop.
Q_CLUSTER = {
    "name": "example_shop",
    "orm": "default",
    "workers": 2,
    "timeout": 60,
    "retry": 120,
    "max_attempts": 5,
    "catch_up": False,
}

RESTOCK_WAITLIST = {
    "PRODUCT_MODEL": "shop.Product",
    "VARIANT_MODEL": "shop.Variant",
    "VARIANT_PRODUCT": "product",
    "STOCK_MODEL": "shop.StockLevel",
    "STOCK_PRODUCT": "variant.product",
    "STOCK_VARIANT": "variant",
    "STOCK_AVAILABLE": "shop.stock.available_to_sell",
    "PRIORITY": "shop.priority.membership_tier",
    "ADAPTER": "shop.priority.ShopAdapter",
    # The console stands in for push and SMS: messages are printed in the terminal.
    "CHANNELS": {
        "push": {
            "BACKEND": "restock_waitlist.channels.console.ConsoleChannel",
            "OPTIONS": {
                "CONTACT_KIND": "user",
                "LABEL": _("App notification"),
                "QUIET_HOURS": True,
            },
        },
        "email": {"BACKEND": "restock_waitlist.channels.email.EmailChannel"},
        "sms": {
            "BACKEND": "restock_waitlist.channels.console.ConsoleChannel",
            "OPTIONS": {"CONTACT_KIND": "phone", "LABEL": _("Text message"), "QUIET_HOURS": True},
        },
    },
    "SITE_URL": os.environ.get("SITE_URL", "http://127.0.0.1:8000"),
    # Numbers typed without +82 are read as Korean ones.
    "PHONE_REGION": "KR",
    # Joins per user or client IP, new guest entries per address, guest-token requests per IP.
    "THROTTLE_RATES": {
        "restock_waitlist_join": "20/hour",
        "restock_waitlist_address": "10/day",
        "restock_waitlist_guest": "60/hour",
    },
    # No proxy in front of runserver; behind one load balancer this would be 1.
    "TRUSTED_PROXY_COUNT": 0,
    # Orders: each new shop.Order is credited to the restock alert that won it back.
    "ORDER_MODEL": "shop.Order",
    "ORDER_PRODUCT": "variant.product",
    "ORDER_VARIANT": "variant",
    "ORDER_USER": "customer",
    "ORDER_EMAIL": "email",
    "ORDER_REF": "number",
    "ORDER_QUANTITY": "quantity",
    # Waves sized from measured conversion once there is history; the daily forecast digest
    # goes to the merchant (printed in the terminal, like every email here).
    "POLICY": "restock_waitlist.policies.AdaptivePolicy",
    "REPORT_RECIPIENTS": ["merchant@example.com"],
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# The API's schema at /api/schema/ and Swagger UI at /api/docs/, its assets served locally.
SPECTACULAR_SETTINGS = {
    "TITLE": "Example shop: restock waitlist API",
    "VERSION": "1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
