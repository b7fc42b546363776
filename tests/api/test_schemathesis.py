"""schemathesis against the live API in-process (WSGI): generated requests for every
operation of the schema, as a shopper on shopper endpoints and as a merchant on merchant
ones. No request may answer 5xx, and every response must match the schema."""

import base64

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from restock_waitlist import limits, reports
from tests import factories
from tests.api.conftest import MERCHANT_PERMS, staff_with

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
#: Examples per operation; the whole run stays well under two minutes.
MAX_EXAMPLES = 50
#: Sibling routes a generated id can spell (``merchant/entries/summary/`` is the summary,
#: not entry "summary"): the router resolves them first, so such cases test another operation.
SIBLING_ROUTES = {"summary", "export", "funnel"}


def spells_a_sibling_route(case):
    return any(str(value) in SIBLING_ROUTES for value in (case.path_parameters or {}).values())


def basic_auth(username):
    return "Basic " + base64.b64encode(f"{username}:pw".encode()).decode()


@pytest.fixture
def keep_test_connection():
    """Requests through the real WSGI handler must not close the test's transaction, as
    Django's test client also ensures."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def api_schema(db, settings, keep_test_connection):
    settings.ALLOWED_HOSTS = ["*"]
    settings.RESTOCK_WAITLIST = {
        **settings.RESTOCK_WAITLIST,
        "THROTTLE_RATES": dict.fromkeys(limits.SCOPES),  # a scope left out keeps its default
    }
    shopper = factories.UserFactory(username="st-shopper")
    staff_with(*MERCHANT_PERMS, username="st-merchant")
    variant = factories.StockLevelFactory(quantity=0).variant
    factories.EntryFactory(variant=variant, user=shopper)
    factories.EntryFactory(variant=variant, user=None, email="guest@example.com")
    factories.RestockEventFactory(variant=variant)
    reports.write_daily_reports()
    schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    return schema.include(path_regex="^/api/waitlist/")


def check_operation(operation, mode, headers):
    """Run generated cases of one operation through the API and every check."""

    @given(
        case=operation.as_strategy(generation_mode=mode).filter(
            lambda case: not spells_a_sibling_route(case)
        )
    )
    @hypothesis_settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def call_and_validate(case):
        case.call_and_validate(headers=headers, checks=CHECKS)

    call_and_validate()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_conforms_to_its_schema(api_schema, mode):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 15
    for operation in operations:
        merchant = operation.path.startswith("/api/waitlist/merchant/")
        user = "st-merchant" if merchant else "st-shopper"
        check_operation(operation, mode, {"Authorization": basic_auth(user)})
