"""The dashboard in real headless Chromium (Debian's chromium and chromedriver, never a
downloaded browser), served by tradeflow serve's server over the local stack: the token asked
once, the figures on the page equal to the API's, screenshots saved under the test's tmp dir,
and a flatten from the page (typed confirmation) closing every position.

One browser session for the module (the test budget allows one)."""

from __future__ import annotations

import json
import urllib.request
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import START
from tests.integration.test_pipeline import alert

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1400,2200")

pytestmark = pytest.mark.skipif(not (CHROMIUM.exists() and DRIVER.exists()),
                                reason="needs Debian's chromium and chromium-driver (apt-get install -y chromium "
                                       "chromium-driver; .ci/run installs them)")


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def books(stack, strategy, replay_clock):
    """Two open positions (AAPL, MSFT) with brackets, one closed trade (IBM), equity snapshots."""
    for ticker, price, quantity in (("AAPL", "100", "10"), ("MSFT", "50", "4"), ("IBM", "120", "5")):
        stack.post_webhook(alert(ticker=ticker, price=price, quantity=quantity), token=strategy)
        stack.drain()
    stack.run_schedule("stop_monitor")
    later = START + timedelta(days=1)
    replay_clock.set(later)
    stack.record_quote("AAPL", later, Decimal("103"))
    stack.post_webhook(alert(action="sell", ticker="IBM", price="126", quantity="5", time=later.isoformat()),
                       token=strategy)
    stack.drain()
    stack.run_schedule("stop_monitor")
    stack.drain()


def api_get(server, path):
    request = urllib.request.Request(server.url.rstrip("/") + path, headers={"Authorization": f"Bearer {server.token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def wait_loaded(driver, after: str | None = None):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 20).until(
        lambda d: (d.find_element("tag name", "body").get_attribute("data-loaded") or "") not in ("", after))
    return driver.find_element("tag name", "body").get_attribute("data-loaded")


def test_the_page_shows_the_apis_figures_and_a_flatten_closes_every_position(stack, books, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from tradeflow.local.serve import ControlServer

    with ControlServer(stack, port=0) as server:
        # Given the page opened without a token: it asks for one, and nothing else loads
        browser.get(server.url)
        assert browser.find_element(By.ID, "login").is_displayed()
        browser.find_element(By.ID, "token-input").send_keys(server.token)
        browser.find_element(By.ID, "token-save").click()
        loaded = wait_loaded(browser)
        browser.save_screenshot(str(tmp_path / "dashboard.png"))

        # Then every figure on the page is the API's
        status = api_get(server, "/status")
        assert browser.find_element(By.ID, "equity").get_attribute("data-value") == status["equity"]
        assert browser.find_element(By.ID, "cash").get_attribute("data-value") == status["cash"]
        assert browser.find_element(By.ID, "equity").text == f"{Decimal(status['equity']):,.2f}"
        positions = api_get(server, "/positions")["positions"]
        rows = browser.find_elements(By.CSS_SELECTOR, "#positions tbody tr[data-position]")
        shown = {r.find_elements(By.TAG_NAME, "td")[1].text:
                 [c.get_attribute("data-value") for c in r.find_elements(By.TAG_NAME, "td")[3:]] for r in rows}
        assert shown == {p["symbol"]: [p["quantity"], p["avg_entry_price"], p["last_price"], p["unrealised_pnl"],
                                       p["stop_loss"], p["take_profit"]] for p in positions}
        assert set(shown) == {"AAPL", "MSFT"}
        trades = api_get(server, "/trades")["trades"]
        trade_rows = browser.find_elements(By.CSS_SELECTOR, "#trades tbody tr[data-position]")
        assert [r.find_elements(By.TAG_NAME, "td")[8].get_attribute("data-value") for r in trade_rows] == \
            [t["pnl"] for t in trades] == ["30"]
        orders = api_get(server, "/orders")["orders"]
        assert {r.get_attribute("data-order") for r in browser.find_elements(By.CSS_SELECTOR, "#orders tr[data-order]")} \
            == {o["client_order_id"] for o in orders}
        metrics = api_get(server, "/strategies/test/metrics")
        for key in ("total_return", "max_drawdown", "win_rate"):
            assert float(browser.find_element(By.ID, f"metric-{key}").get_attribute("data-value")) == metrics[key], key
        curve = api_get(server, "/strategies/test/equity")
        assert browser.find_element(By.CSS_SELECTOR, "#equity-svg path").get_attribute("d").count("L") \
            == len(curve["curve"]) - 1
        # the audit trail of an alert
        browser.find_element(By.CSS_SELECTOR, "#signals tr[data-signal]").click()
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(browser, 10).until(lambda d: "decision" in d.find_element(By.ID, "audit").text)
        browser.save_screenshot(str(tmp_path / "audit.png"))

        # When the trader flattens from the page, typing the confirmation
        from tradeflow.pipeline import cockpit

        try:
            cockpit._control("kill_switch")
        except cockpit.GuardianMissing as exc:
            pytest.skip(f"flatten from the page needs the guardian's kill_switch: {exc}")
        browser.find_element(By.ID, "flatten-all").click()
        browser.switch_to.alert.send_keys("end of test")
        browser.switch_to.alert.accept()
        browser.switch_to.alert.send_keys("FLATTEN")
        browser.switch_to.alert.accept()
        wait_loaded(browser, loaded)
        browser.save_screenshot(str(tmp_path / "flattened.png"))

        # Then no position is left, in the API and on the page
        assert api_get(server, "/positions")["positions"] == []
        assert api_get(server, "/status")["open_positions"] == 0
        assert browser.find_element(By.ID, "open-positions").text == "0"
        assert not browser.find_elements(By.CSS_SELECTOR, "#positions tbody tr[data-position]")
