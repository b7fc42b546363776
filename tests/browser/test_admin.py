"""The merchant's admin in a real browser at 1280 px: lists fit, pickers search the shop, in
English and Korean. The screenshots (``artifacts/screenshots/``) illustrate docs/admin.rst."""

from datetime import timedelta

import pytest
from django.utils import timezone
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from restock_waitlist.models import Notification, RestockEvent, RestockWave, StockWaitlist
from tests import factories

pytestmark = pytest.mark.browser
Status = StockWaitlist.Status
SendStatus = Notification.Status
WIDTH = 1280


def wait_for(driver, condition, timeout=10):
    wait = WebDriverWait(driver, timeout, ignored_exceptions=(WebDriverException,))
    return wait.until(condition)


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


def open_page(driver, url):
    driver.get(url)
    wait_for(driver, lambda d: d.execute_script("return document.readyState") == "complete")


def assert_fits(driver):
    """Neither the page nor the list's own scroll box scrolls sideways."""
    widths = driver.execute_script(
        "const box = document.querySelector('.results') || document.documentElement;"
        "return [document.documentElement.scrollWidth, box.scrollWidth, box.clientWidth];"
    )
    assert widths[0] <= WIDTH, widths
    assert widths[1] <= widths[2], widths


def full_page(driver, screenshot, name):
    """A screenshot of the whole page, 1280 px wide."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": WIDTH, "height": min(height, 2000), "deviceScaleFactor": 1, "mobile": False},
    )
    path = screenshot(driver, name)
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": WIDTH, "height": 900, "deviceScaleFactor": 1, "mobile": False},
    )
    return path


TEXTS = {
    "en": {"title": "Waitlist entries", "tier": "VIP", "joined": "Joined", "wave": "Waves"},
    "ko": {"title": "재입고 알림 신청", "tier": "VIP", "joined": "등록", "wave": "발송 차수"},
}


@pytest.mark.parametrize("merchant_browser", ["en", "ko"], indirect=True)
def test_entry_list_fits_and_names_everything(merchant_browser, live_server, shop, screenshot):
    browser, texts = merchant_browser, TEXTS[merchant_browser.language]
    open_page(browser, f"{live_server.url}/admin/restock_waitlist/stockwaitlist/")
    page = browser.find_element(By.ID, "content").text
    assert texts["title"] in page
    assert "Canvas Sneaker" in page and "Black / 260" in page
    assert "vip-alice" in page and "minho.park@example.com" in page
    assert texts["tier"] in page
    assert str(shop["black"].pk) not in browser.page_source
    full_page(browser, screenshot, "entries")
    assert_fits(browser)


@pytest.mark.parametrize("merchant_browser", ["en", "ko"], indirect=True)
def test_restock_page_shows_waves_and_sends(merchant_browser, live_server, shop, screenshot):
    browser, texts = merchant_browser, TEXTS[merchant_browser.language]
    event = shop["event"]
    open_page(browser, f"{live_server.url}/admin/restock_waitlist/restockevent/{event.pk}/change/")
    page = browser.find_element(By.ID, "content").text
    assert "Canvas Sneaker – Black / 260" in page
    assert texts["wave"] in page
    assert len(browser.find_elements(By.CSS_SELECTOR, ".rw-waves progress")) == 2
    full_page(browser, screenshot, "restock")
    assert_fits(browser)


@pytest.mark.parametrize(
    "changelist", ["restockevent", "notification"], ids=["restocks", "notifications"]
)
def test_the_other_lists_fit(merchant_browser, live_server, shop, screenshot, changelist):
    open_page(merchant_browser, f"{live_server.url}/admin/restock_waitlist/{changelist}/")
    assert "Canvas Sneaker" in merchant_browser.find_element(By.ID, "content").text
    full_page(merchant_browser, screenshot, changelist)
    assert_fits(merchant_browser)


def pick_in_select2(driver, select_id, typed, choice):
    """Type into the select2 box of ``select_id`` and click the result reading ``choice``."""
    driver.find_element(By.CSS_SELECTOR, f"#{select_id} + .select2 .select2-selection").click()
    driver.find_element(By.CSS_SELECTOR, ".select2-search__field").send_keys(typed)
    option = wait_for(
        driver,
        lambda d: next(
            (
                o
                for o in d.find_elements(By.CSS_SELECTOR, ".select2-results__option")
                if o.text == choice
            ),
            None,
        ),
    )
    option.click()


def test_the_product_filter_searches_the_shop(merchant_browser, live_server, shop, screenshot):
    browser = merchant_browser
    open_page(browser, f"{live_server.url}/admin/restock_waitlist/stockwaitlist/")
    pick_in_select2(browser, "id_product", "wool", "Wool Beanie")
    wait_for(browser, lambda d: "product=" in d.current_url)
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 5
    assert all("Wool Beanie" in row.text for row in rows)
    screenshot(browser, "filtered")


def test_recording_a_restock_with_the_picker(merchant_browser, live_server, shop, screenshot):
    browser = merchant_browser
    RestockEvent.objects.update(status=RestockEvent.Status.COMPLETED)
    open_page(browser, f"{live_server.url}/admin/restock_waitlist/restockevent/add/")
    pick_in_select2(browser, "id_product", "canv", "Canvas Sneaker")
    variant = Select(browser.find_element(By.ID, "id_variant"))
    wait_for(browser, lambda d: len(variant.options) == 3)
    assert [o.text for o in variant.options] == [
        "Any variant (3 in stock)",
        "Black / 260 (0 in stock)",
        "White / 250 (3 in stock)",
    ]
    stock = browser.find_element(By.CSS_SELECTOR, "[data-rw-stock]")
    variant.select_by_visible_text("Black / 260 (0 in stock)")
    wait_for(browser, lambda d: "rw-sold-out" in stock.get_attribute("class"))
    assert "none available" in stock.text
    screenshot(browser, "sold-out")
    browser.find_element(By.NAME, "_save").click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".errornote"))
    assert "Add the stock first" in browser.find_element(By.ID, "content").text
    assert RestockEvent.objects.count() == 1

    shop["black"].stock_levels.update(quantity=2)  # an import: no signal
    variant = Select(browser.find_element(By.ID, "id_variant"))
    variant.select_by_index(0)
    variant.select_by_value(str(shop["black"].pk))
    stock = browser.find_element(By.CSS_SELECTOR, "[data-rw-stock]")
    wait_for(browser, lambda d: "2 units available" in stock.text)
    assert "1 person is waiting" in stock.text
    screenshot(browser, "in-stock")
    browser.find_element(By.NAME, "_save").click()
    wait_for(browser, lambda d: "/change/" in d.current_url)
    event = RestockEvent.objects.latest("pk")
    assert (event.quantity, event.source) == (2, RestockEvent.Source.MERCHANT)
    assert "recorded" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
