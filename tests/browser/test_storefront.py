"""The "Notify me" block in a real browser: guest, signed-in user, no JavaScript, Korean."""

import time

import pytest
from django.core import mail
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from restock_waitlist.models import StockWaitlist
from tests import factories

pytestmark = pytest.mark.browser
Status = StockWaitlist.Status
#: What reading a page mid-navigation raises: no such element, a stale element, or Chromium's
#: "Node with given id does not belong to the document" (a plain WebDriverException).
LOADING = (WebDriverException,)


@pytest.fixture
def shop(settings, live_server):
    """A sneaker in S (sold out), M (in stock) and L (sold out), with one waiter for S."""
    settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "SITE_URL": live_server.url}
    product = factories.ProductFactory(name="Canvas Sneaker")
    sizes = {}
    for name, quantity in (("S", 0), ("M", 4), ("L", 0)):
        variant = factories.VariantFactory(product=product, name=name)
        factories.StockLevelFactory(variant=variant, quantity=quantity)
        sizes[name] = variant
    factories.EntryFactory(variant=sizes["S"])
    return {"product": product, "url": f"{live_server.url}/products/{product.pk}/", **sizes}


def wait_for(driver, condition, timeout=10):
    """Wait until ``condition(driver)``; a page still loading is not a failure."""
    wait = WebDriverWait(driver, timeout, ignored_exceptions=LOADING)
    return wait.until(condition)


def block(driver, variant):
    return driver.find_element(By.CSS_SELECTOR, f"#variant-{variant.name} [data-restock-waitlist]")


def status_text(driver, variant):
    return block(driver, variant).find_element(By.CSS_SELECTOR, "[data-rw-status]").text


def wait_for_mail(count=1, timeout=10):
    deadline = time.monotonic() + timeout
    while len(mail.outbox) < count:
        assert time.monotonic() < deadline, "no confirmation email was sent"
        time.sleep(0.05)
    return mail.outbox[count - 1]


def all_inputs_labelled(driver, element):
    return driver.execute_script(
        "return [...arguments[0].querySelectorAll('input:not([type=hidden])')]"
        ".every(input => input.labels.length > 0);",
        element,
    )


def test_guest_joins_and_confirms(browser, shop, screenshot):
    browser.get(shop["url"])
    size_s = block(browser, shop["S"])
    assert "Sold out" in size_s.text
    assert browser.find_elements(By.CSS_SELECTOR, "#variant-M [data-restock-waitlist]") == []
    assert all_inputs_labelled(browser, size_s)
    below = browser.find_element(By.ID, "below")
    top_before = below.location["y"]

    size_s.find_element(By.NAME, "email").send_keys("guest@example.com")
    size_s.find_element(By.NAME, "consent").click()
    screenshot(browser, "1-filled", block(browser, shop["S"]))
    size_s.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(browser, lambda d: "Check your inbox" in status_text(d, shop["S"]))
    screenshot(browser, "2-check-inbox", block(browser, shop["S"]))
    # Updated in place: no page load, and the status line had its room reserved.
    assert browser.current_url == shop["url"]
    assert below.location["y"] == top_before

    entry = StockWaitlist.objects.get(email="guest@example.com")
    assert (entry.status, entry.locale) == (Status.PENDING, "en")
    assert entry.time_zone  # the browser's, sent by the script
    # The script names the page's form in the consent record, as the plain form does.
    assert (entry.consent_source, entry.consent_version) == ("product_page", "1")
    message = wait_for_mail()
    link = next(line for line in message.body.splitlines() if "/confirm/" in line).strip()
    assert link.startswith(f"{shop['url'].split('/products/')[0]}/waitlist/confirm/")

    browser.get(link)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(browser, lambda d: "You're on the list" in d.find_element(By.TAG_NAME, "h1").text)
    assert "#2 in line" in browser.find_element(By.TAG_NAME, "main").text
    screenshot(browser, "3-confirmed")
    entry.refresh_from_db()
    assert entry.status == Status.WAITING


def test_user_joins_sees_position_and_cancels(browser, shop, screenshot, sign_in):
    user = factories.UserFactory(username="bob")
    sign_in(browser, user)
    browser.get(shop["url"])
    size_s = block(browser, shop["S"])
    assert size_s.find_elements(By.NAME, "email") == []  # an account needs no address
    submit = size_s.find_element(By.CSS_SELECTOR, "button[type=submit]")
    submit.send_keys(Keys.ENTER)  # the keyboard, not the mouse
    joined = "You're on the list for Canvas Sneaker – S. You are #2 in line."
    wait_for(browser, lambda d: joined in status_text(d, shop["S"]))
    size_s = block(browser, shop["S"])
    assert "You are #2 in line." in size_s.text
    cancel = size_s.find_element(By.CSS_SELECTOR, "button.rw-notify__cancel")
    assert browser.switch_to.active_element == cancel  # focus stays in the block
    screenshot(browser, "1-in-line", block(browser, shop["S"]))
    entry = StockWaitlist.objects.get(user=user)
    assert entry.status == Status.WAITING

    cancel.send_keys(Keys.ENTER)
    wait_for(browser, lambda d: "is cancelled" in status_text(d, shop["S"]))
    assert block(browser, shop["S"]).find_element(By.CSS_SELECTOR, "button[type=submit]")
    screenshot(browser, "2-cancelled", block(browser, shop["S"]))
    entry.refresh_from_db()
    assert entry.status == Status.CANCELLED

    browser.refresh()  # the server agrees
    assert 'data-state="join"' in block(browser, shop["S"]).get_attribute("outerHTML")


def test_without_javascript(browser_without_js, shop, screenshot, sign_in):
    browser = browser_without_js
    browser.get(shop["url"])
    size_l = block(browser, shop["L"])
    size_l.find_element(By.NAME, "email").send_keys("nojs@example.com")
    size_l.find_element(By.NAME, "consent").click()
    size_l.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".messages li"))
    assert browser.current_url == shop["url"]  # post, redirect, get
    assert "Check your inbox" in browser.find_element(By.CSS_SELECTOR, ".messages").text
    screenshot(browser, "1-guest")
    assert StockWaitlist.objects.get(email="nojs@example.com").status == Status.PENDING

    sign_in(browser, factories.UserFactory(username="chris"))
    browser.get(shop["url"])
    block(browser, shop["S"]).find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(browser, lambda d: "You are #2 in line" in block(d, shop["S"]).text)
    assert (
        "You're on the list for Canvas Sneaker – S"
        in browser.find_element(By.CSS_SELECTOR, ".messages").text
    )
    screenshot(browser, "2-user-in-line", block(browser, shop["S"]))
    block(browser, shop["S"]).find_element(By.CSS_SELECTOR, "button.rw-notify__cancel").click()
    wait_for(browser, lambda d: "is cancelled" in d.find_element(By.CSS_SELECTOR, ".messages").text)
    assert StockWaitlist.objects.get(user__username="chris").status == Status.CANCELLED


def test_korean_page(browser, shop, screenshot):
    browser.get(shop["url"])
    Select(browser.find_element(By.ID, "language")).select_by_value("ko")
    browser.find_element(By.ID, "set-language").click()
    wait_for(browser, lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ko")
    size_s = block(browser, shop["S"])
    assert "품절" in size_s.text and "재입고 알림 받기" in size_s.text
    assert "이메일 주소" in size_s.text
    size_s.find_element(By.NAME, "email").send_keys("kim@example.com")
    size_s.find_element(By.NAME, "consent").click()
    size_s.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(browser, lambda d: "받은편지함" in status_text(d, shop["S"]))
    screenshot(browser, "ko", block(browser, shop["S"]))
    assert StockWaitlist.objects.get(email="kim@example.com").locale == "ko"
    assert "재입고" in wait_for_mail().subject


def test_pages_behind_links_in_the_shoppers_language(browser, shop, screenshot):
    """A Korean shopper opens the links on an English-speaking device: Korean pages, in the
    app's default page (the test shop does not override it)."""
    from restock_waitlist import tokens

    entry = factories.EntryFactory(
        variant=shop["L"], user=None, email="kim@example.com", locale="ko", status=Status.PENDING
    )
    base = shop["url"].split("/products/")[0]
    browser.get(f"{base}/waitlist/confirm/{tokens.entry_token(entry, tokens.CONFIRM)}/")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ko"
    assert "재입고 알림 신청을 확인하세요" in browser.find_element(By.TAG_NAME, "h1").text
    screenshot(browser, "1-confirm-ko")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(
        browser, lambda d: "알림 신청이 완료되었습니다" in d.find_element(By.TAG_NAME, "h1").text
    )
    screenshot(browser, "2-confirmed-ko")
    browser.get(
        f"{base}/waitlist/unsubscribe-all/{tokens.entry_token(entry, tokens.UNSUBSCRIBE_ALL)}/"
    )
    screenshot(browser, "3-unsubscribe-all-ko")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(browser, lambda d: "알림이 취소되었습니다" in d.find_element(By.TAG_NAME, "h1").text)
    entry.refresh_from_db()
    assert entry.status == Status.CANCELLED

    english = factories.EntryFactory(variant=shop["L"], user=None, email="lee@example.com")
    browser.get(f"{base}/waitlist/unsubscribe/{tokens.entry_token(english, tokens.MANAGE)}/")
    assert "Stop the restock alert for Canvas Sneaker – L?" in browser.page_source
    screenshot(browser, "4-unsubscribe-en")
    browser.set_window_size(390, 800)
    screenshot(browser, "5-unsubscribe-en-phone")
    browser.set_window_size(1100, 900)
