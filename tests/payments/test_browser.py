"""A resident pays through the QR pages in a real browser (tests/browser.py: Debian's headless Chromium)."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser import chromium
from tests.payments.helpers import answer_done, wait_until

WAIT_S = 15

# The browser's look is not the subject here; one backend is enough (the others test both).
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def browser():
    with chromium() as driver:
        yield driver


def _pay_at_port(browser, flow, port: int, label: str) -> None:
    """Open the port's QR page, choose ``label``, press "Pay" at the sandbox."""
    browser.get(flow.url("/p/p1/%d" % port))
    assert browser.find_element(By.ID, "state").get_attribute("data-state") == "idle"
    browser.find_element(By.XPATH, "//button[@name='amount_fen'][text()='%s']" % label).click()
    WebDriverWait(browser, WAIT_S).until(expected_conditions.element_to_be_clickable((By.ID, "pay"))).click()


def _final_status(browser) -> str:
    WebDriverWait(browser, WAIT_S).until(
        lambda driver: driver.find_element(By.ID, "status").get_attribute("data-final") == "true"
    )
    status = browser.find_element(By.ID, "status")
    return "%s: %s" % (status.get_attribute("data-phase"), status.text)


def _started(browser) -> bool:
    return browser.find_element(By.ID, "status").get_attribute("data-phase") == "started"


def test_a_resident_pays_and_sees_the_pile_start(browser, make_flow):
    flow = make_flow()
    answer_done(flow.pile, 57)
    _pay_at_port(browser, flow, 4, "¥3")
    WebDriverWait(browser, WAIT_S).until(_started)
    text = browser.find_element(By.ID, "status").text
    assert "port 4, order 57" in text and "4 号端口" in text
    # The bridge may send a command again when the pile's birth comes in after it: one id, one start.
    command, *again = flow.pile.received
    assert all(copy == command for copy in again)
    assert command[1] == "start" and command[4] == 4 and command[5] == 300  # port, credit


def test_a_start_the_pile_never_gets_shows_refunded(browser, make_flow):
    flow = make_flow()  # the pile never answers: the command expires
    _pay_at_port(browser, flow, 2, "¥1")
    assert browser.find_element(By.ID, "status").get_attribute("data-phase") in ("waiting_payment", "waiting_pile")
    final = _final_status(browser)
    assert final.startswith("refunded:") and "pile unreachable" in final and "¥1" in final
    wait_until(lambda: flow.sandbox.refunds, what="the refund paid")  # the page may show it first
    assert [r.amount_fen for r in flow.sandbox.refunds] == [100]
