import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from rest_framework.test import APIClient

from tests import factories

MERCHANT_PERMS = (
    "view_stockwaitlist",
    "view_restockevent",
    "add_restockevent",
    "view_forecastreport",
)


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def shopper_api(api, user):
    api.force_login(user)
    return api


def staff_with(*codenames, username="merchant"):
    staff = factories.UserFactory(username=username, is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return staff


@pytest.fixture
def merchant(db):
    return staff_with(*MERCHANT_PERMS)


@pytest.fixture
def merchant_api(api, merchant):
    api.force_login(merchant)
    return api


def url(name, *args):
    return reverse(f"restock_waitlist_api:{name}", args=args)
