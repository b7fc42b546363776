"""What the admin's browser tests share: waiting for a page, whole-page screenshots at
1280 px, and the check that a page does not scroll sideways."""

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.support.ui import WebDriverWait

WIDTH = 1280


def wait_for(driver, condition, timeout=10):
    wait = WebDriverWait(driver, timeout, ignored_exceptions=(WebDriverException,))
    return wait.until(condition)


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
