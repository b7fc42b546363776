"""Real headless Chromium (Debian's ``chromium`` and ``chromedriver``) against the live server.

Run with ``pytest -m browser tests/browser``; screenshots go to ``artifacts/screenshots/``.
"""

import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.core.cache import cache
from django.utils import timezone

from restock_waitlist.models import Notification, RestockEvent, RestockWave, StockWaitlist
from tests import factories
from tests.browser.pages import WIDTH

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
ARGUMENTS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1100,900",
    "--lang=en-US",
)


def start_chromium(javascript=True):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail(
            "Browser tests need Debian's chromium and chromium-driver "
            "(scripts/ensure-chromium.sh installs them)."
        )
    profile = tempfile.mkdtemp(prefix="rw-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (*ARGUMENTS, f"--user-data-dir={profile}"):
        options.add_argument(argument)
    prefs = {"intl.accept_languages": "en-US,en"}
    if not javascript:
        prefs["profile.managed_default_content_settings.javascript"] = 2
    options.add_experimental_option("prefs", prefs)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    return driver, profile


def running_chromium(javascript):
    driver, profile = start_chromium(javascript=javascript)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


# The browsers depend on the live server so that they quit before it stops: a request still
# open at shutdown would close the shared in-memory SQLite connection from another thread.
@pytest.fixture(scope="session")
def _chromium(live_server):
    yield from running_chromium(javascript=True)


@pytest.fixture(scope="session")
def _chromium_without_js(live_server):
    yield from running_chromium(javascript=False)


def _fresh(driver, live_server):
    driver.get(f"{live_server.url}/products/")  # a page on the site, so cookies can be set
    driver.delete_all_cookies()
    cache.clear()  # the API's throttle counts
    return driver


@pytest.fixture
def browser(_chromium, live_server, transactional_db):
    """Chromium with JavaScript, no cookies."""
    return _fresh(_chromium, live_server)


@pytest.fixture
def browser_without_js(_chromium_without_js, live_server, transactional_db):
    """Chromium with JavaScript turned off, as some shoppers and most crawlers have it."""
    return _fresh(_chromium_without_js, live_server)


@pytest.fixture
def screenshot(request):
    """``screenshot(driver, "name", element)`` saves ``artifacts/screenshots/<test>-<name>.png``
    with ``element`` (if given) scrolled to the middle of the window."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    test = request.node.name.replace("[", "-").replace("]", "")

    def save(driver, name, element=None):
        if element is not None:
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
        path = SCREENSHOTS / f"{test}-{name}.png"
        driver.save_screenshot(str(path))
        return path

    return save


@pytest.fixture
def sign_in():
    """``sign_in(driver, user)``: the browser's session becomes the user's, without a form."""

    def sign_in(driver, user):
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
        session["_auth_user_hash"] = user.get_session_auth_hash()
        session.save()
        driver.add_cookie({"name": "sessionid", "value": session.session_key, "path": "/"})

    return sign_in


Status = StockWaitlist.Status
SendStatus = Notification.Status


@pytest.fixture
def merchant_browser(browser, live_server, settings, request, sign_in):
    """Chromium 1280 px wide, signed in as a superuser, in the language the test names."""
    settings.TIME_ZONE = "Asia/Seoul"
    settings.RESTOCK_WAITLIST = {
        **settings.RESTOCK_WAITLIST,
        "ADAPTER": "tests.testshop.priority.NamedTiersAdapter",
    }
    sign_in(browser, factories.UserFactory(username="merchant", is_staff=True, is_superuser=True))
    language = getattr(request, "param", "en")
    browser.add_cookie({"name": "django_language", "value": language, "path": "/"})
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": WIDTH, "height": 900, "deviceScaleFactor": 1, "mobile": False},
    )
    browser.language = language
    yield browser
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


@pytest.fixture
def shop(db):
    """Two sold-out items with a line of waiters each (VIPs, members, guests), and a restock
    of the first in its second wave with sends of every kind."""
    sneaker = factories.ProductFactory(name="Canvas Sneaker")
    black = factories.VariantFactory(product=sneaker, name="Black / 260")
    factories.StockLevelFactory(variant=black, quantity=0)
    white = factories.VariantFactory(product=sneaker, name="White / 250")
    factories.StockLevelFactory(variant=white, quantity=3)
    beanie = factories.ProductFactory(name="Wool Beanie")
    navy = factories.VariantFactory(product=beanie, name="Navy / One size")
    factories.StockLevelFactory(variant=navy, quantity=0)
    joined = timezone.now() - timedelta(days=3)
    people = [
        ("vip-alice", None, 1, ["push", "email"]),
        ("bob", None, 0, ["email", "sms"]),
        (None, "jisoo@example.com", 0, ["email"]),
        (None, "minho.park@example.com", 0, ["email", "sms"]),
        ("chris", None, 0, ["email"]),
    ]
    entries = []
    for variant in (black, navy):
        for index, (username, email, tier, channels) in enumerate(people):
            user = factories.UserFactory(username=username) if username else None
            entries.append(
                factories.EntryFactory(
                    variant=variant,
                    user=user,
                    email=email or "",
                    subscriber_key=f"user:{user.pk}" if user else f"email:{email}",
                    tier=tier,
                    channels=channels,
                    phone="+821012345678" if "sms" in channels else "",
                    created_at=joined + timedelta(hours=index),
                )
            )
    event = factories.RestockEventFactory(
        variant=black,
        quantity=2,
        status=RestockEvent.Status.WAITING_NEXT_WAVE,
        waves_sent=2,
        next_wave_at=timezone.now() + timedelta(hours=20),
        detail="Wave 2 sent to up to 6; more are waiting.",
    )
    for number, size in ((1, 6), (2, 6)):
        RestockWave.objects.create(
            event=event,
            number=number,
            available=2,
            size=size,
            rule="oversubscription",
            inputs={"available": 2, "oversubscription": 3.0},
        )
    statuses = [SendStatus.SENT, SendStatus.SENT, SendStatus.FAILED, SendStatus.QUEUED]
    for entry, status in zip(entries[:4], statuses, strict=True):
        Notification.objects.create(
            entry=entry,
            event=event,
            subscriber_key=entry.subscriber_key,
            channel=entry.channels[0],
            wave=1 if status == SendStatus.SENT else 2,
            status=status,
            attempts=1,
            sent_at=timezone.now() if status == SendStatus.SENT else None,
            error="No email contact." if status == SendStatus.FAILED else "",
        )
        StockWaitlist.objects.filter(pk=entry.pk).update(
            status=Status.NOTIFIED, notified_by=event, notified_at=timezone.now()
        )
    return {"sneaker": sneaker, "black": black, "white": white, "event": event}
