"""The QR payment flow end to end: a resident's phone (headless Chromium) on the bridge's port page, the
sandbox provider, the signed start command, the real firmware; and the refunds when it goes wrong."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from hil_tests.test_cloud_sync import pile
from tests.browser import chromium

PILE = "PILE-A"
WAIT_S = 20


@pytest.fixture
def phone():
    with chromium() as driver:
        yield driver


def port_known(cloud, port, state):
    """The bridge has telemetry saying ``port`` is in ``state`` (0 idle)."""
    db = cloud.bridge_db()
    rows = db.query(
        "SELECT state FROM telemetry WHERE pile = ? AND port = ? ORDER BY boot DESC, seq DESC LIMIT 1", (PILE, port)
    )
    db.close()
    return rows == [(state,)]


def pay(phone, payments, port, label):
    """Scan port ``port``'s QR code, choose ``label`` and pay at the sandbox; returns the payment id."""
    phone.get(f"{payments.url}/p/{PILE}/{port}")
    phone.find_element(By.XPATH, f"//button[@name='amount_fen'][text()='{label}']").click()
    WebDriverWait(phone, WAIT_S).until(expected_conditions.element_to_be_clickable((By.ID, "pay"))).click()
    WebDriverWait(phone, WAIT_S).until(lambda driver: "/payments/" in driver.current_url)
    return phone.current_url.rsplit("/", 1)[1]


def shown(phone):
    status = phone.find_element(By.ID, "status")
    return status.get_attribute("data-phase"), status.text


def remote_starts(rig):
    return [r for r in rig.records("remote") if "start" in r]


def test_a_paid_qr_code_starts_its_port_once_and_an_early_stop_is_refunded(make_rig, cloud, phone):
    payments = cloud.start_payments()
    rig = pile(make_rig, cloud)
    rig.plug(4)
    rig.wait_until(lambda: port_known(cloud, 4, 0), 10, "port 4 idle in the bridge")
    payment_id = pay(phone, payments, 4, "¥2")
    WebDriverWait(phone, WAIT_S).until(lambda driver: shown(driver)[0] == "started")
    rig.wait_until(lambda: rig.relay(4) == 1 and rig.port_power(4) > 50, 5, "port 4 charging")
    payment = payments.ledger.payment(payment_id)
    assert "port 4" in shown(phone)[1] and f"order {payment['order_no']}" in shown(phone)[1]
    # The provider retries its notification: no second start, no second credit.
    for _ in range(2):
        assert payments.provider.resend(payment["provider_tx"]) == 200
    time.sleep(2)
    assert len(remote_starts(rig)) == 1
    db = cloud.bridge_db()
    assert db.query("SELECT COUNT(*) FROM commands WHERE pile = ? AND kind = 'start'", (PILE,)) == [(1,)]
    db.close()
    # The resident takes the bike after a few seconds: almost all of the 2 yuan comes back.
    time.sleep(3)
    rig.unplug(4)
    order = rig.wait_order(4, 15)
    assert (order["method"], order["ref"], order["paid"]) == ("qr", payment_id, 200)
    rig.wait_until(lambda: payments.ledger.payment(payment_id)["state"] == "finished", 20, "payment finished")
    assert payments.ledger.payment(payment_id)["refund_fen"] == order["returned"] > 0
    assert [r.amount_fen for r in payments.provider.refunds] == [order["returned"]]


def test_a_start_that_expires_while_the_link_is_down_is_refunded_and_never_run_late(make_rig, cloud, phone):
    payments = cloud.start_payments(command_ttl_s=5)
    rig = pile(make_rig, cloud)
    rig.plug(2)
    rig.wait_until(lambda: port_known(cloud, 2, 0), 10, "port 2 idle in the bridge")
    rig.link_down()
    payment_id = pay(phone, payments, 2, "¥1")
    WebDriverWait(phone, WAIT_S).until(lambda driver: shown(driver)[0] == "refunded")
    assert "pile unreachable" in shown(phone)[1]
    assert [r.amount_fen for r in payments.provider.refunds] == [100]
    # The broker kept the command for the pile: it arrives late and is refused, never run.
    rig.link_up()
    command_id = payments.ledger.payment(payment_id)["command_id"]
    rig.wait_until(lambda: any(r["id"] == command_id for r in rig.records("command")), 30, "the late command")
    assert [r["result"] for r in rig.records("command") if r["id"] == command_id] == [2]
    rig.hold(3, lambda: rig.relay(2) == 0, "port 2 never started")
    assert not remote_starts(rig)
    assert payments.ledger.payment(payment_id)["state"] == "refunded"


def test_a_busy_port_takes_no_payment(make_rig, cloud, phone):
    payments = cloud.start_payments()
    rig = pile(make_rig, cloud)
    rig.plug(7)
    rig.pay_coins(7, 1)
    rig.wait_until(lambda: port_known(cloud, 7, 3), 15, "port 7 charging in the bridge")
    phone.get(f"{payments.url}/p/{PILE}/7")
    assert phone.find_element(By.ID, "state").get_attribute("data-state") == "charging"
    assert not phone.find_elements(By.XPATH, "//button[@name='amount_fen']")
