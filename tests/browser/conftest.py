"""Real headless Chromium (Debian's ``chromium`` and ``chromedriver``) against the live server.

Run with ``pytest -m browser tests/browser``; screenshots go to ``artifacts/screenshots/``.
"""

import shutil
import tempfile
from pathlib import Path

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.core.cache import cache

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
