"""The demand dashboard, an item's page and the forecast reports in a real browser at
1280 px, in English and Korean, light and dark. The screenshots
(``artifacts/screenshots/``) illustrate docs/admin.rst."""

from datetime import timedelta

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By

from restock_waitlist.models import ForecastReport, Notification, RestockEvent, StockWaitlist
from tests import factories
from tests.browser.pages import assert_fits, full_page, open_page

pytestmark = pytest.mark.browser
Status = StockWaitlist.Status


@pytest.fixture
def demand(shop):
    """The shop's waiters, plus two weeks of joins and cancellations, a finished restock of
    the white sneaker that sold (clicks and purchases), and forecast reports."""
    now = timezone.now()
    white = shop["white"]
    for day in range(14):
        for n in range(day % 4 + 1):
            factories.EntryFactory(
                variant=white if n % 2 else shop["black"],
                user=None,
                email=f"d{day}n{n}@example.com",
                subscriber_key=f"email:d{day}n{n}@example.com",
                created_at=now - timedelta(days=day, hours=n),
                **(
                    {"status": Status.CANCELLED, "cancelled_at": now - timedelta(days=day // 2)}
                    if n == 3
                    else {}
                ),
            )
    finished = factories.past_restock(white, days_ago=6)
    reached = factories.alerted(finished, 8, purchased=3)
    Notification.objects.filter(entry__in=reached[:5]).update(clicked_at=finished.created_at)
    for days_ago, quantity in ((3, 7), (2, 6), (1, 5)):
        report = factories.ForecastReportFactory(
            variant=shop["black"],
            occasion=f"day {days_ago}",
            recommended_restock_qty=quantity,
            waitlist_count=quantity + 3,
            low=2,
            high=quantity + 2,
            historical_cvr=0.375,
            cvr_level=ForecastReport.Level.PRODUCT,
        )
        ForecastReport.objects.filter(pk=report.pk).update(
            created_at=now - timedelta(days=days_ago)
        )
    factories.ForecastReportFactory(
        variant=white,
        reason=ForecastReport.Reason.RESTOCK_ENDED,
        event=finished,
        occasion="ended",
    )
    return {**shop, "finished": finished}


TEXTS = {
    "en": {"title": "Demand dashboard", "top": "Most waited-for items", "funnel": "Funnel"},
    "ko": {"title": "수요 대시보드", "top": "가장 많이 기다리는 상품", "funnel": "전환 퍼널"},
}


@pytest.mark.parametrize("merchant_browser", ["en", "ko"], indirect=True)
def test_the_dashboard(merchant_browser, live_server, demand, screenshot):
    browser, texts = merchant_browser, TEXTS[merchant_browser.language]
    open_page(browser, f"{live_server.url}/admin/restock_waitlist/dashboard/")
    page = browser.find_element(By.ID, "content").text
    assert texts["title"] in page and texts["top"] in page and texts["funnel"] in page
    assert "Canvas Sneaker – Black / 260" in page
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.rw-chart")) == 3
    assert len(browser.find_elements(By.CSS_SELECTOR, ".rw-progress progress")) == 2
    full_page(browser, screenshot, "dashboard")
    assert_fits(browser)


def test_the_dashboard_in_the_dark_theme(merchant_browser, live_server, demand, screenshot):
    browser = merchant_browser
    browser.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": "dark"}]},
    )
    try:
        open_page(browser, f"{live_server.url}/admin/restock_waitlist/dashboard/")
        bar = browser.find_element(By.CSS_SELECTOR, "svg.rw-chart rect.rw-s0")
        fill = browser.execute_script("return getComputedStyle(arguments[0]).fill", bar)
        background = browser.execute_script(
            "return getComputedStyle(document.body).backgroundColor"
        )
        assert fill != background
        full_page(browser, screenshot, "dashboard-dark")
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})


def test_an_items_page(merchant_browser, live_server, demand, screenshot):
    browser = merchant_browser
    open_page(browser, f"{live_server.url}/admin/restock_waitlist/dashboard/")
    browser.find_element(By.LINK_TEXT, "Canvas Sneaker – Black / 260").click()
    page = browser.find_element(By.ID, "content").text
    assert "Waiting, by variant and tier" in page
    assert "Restock history" in page and "Forecast history" in page
    assert "White / 250" in page and "Standard 10" in page
    full_page(browser, screenshot, "item")
    assert_fits(browser)


def test_the_forecast_reports(merchant_browser, live_server, demand, screenshot):
    browser = merchant_browser
    open_page(browser, f"{live_server.url}/admin/restock_waitlist/forecastreport/")
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 4
    assert "Canvas Sneaker" in rows[0].text
    assert browser.find_element(By.LINK_TEXT, "DOWNLOAD CSV")
    full_page(browser, screenshot, "forecast-reports")
    assert_fits(browser)
    assert RestockEvent.objects.filter(pk=demand["finished"].pk).exists()
