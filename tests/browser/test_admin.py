"""The merchant's admin in a real browser at 1280 px: lists fit, pickers search the shop, in
English and Korean. The screenshots (``artifacts/screenshots/``) illustrate docs/admin.rst."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from restock_waitlist.models import RestockEvent
from tests.browser.pages import assert_fits, full_page, open_page, wait_for

pytestmark = pytest.mark.browser


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
    # The product's own answer ("pick the variant") is flagged too: wait for the variant's.
    wait_for(browser, lambda d: "none available" in stock.text)
    assert "rw-sold-out" in stock.get_attribute("class")
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
