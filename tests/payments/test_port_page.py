"""The port page a QR code opens: free ports offer the amounts, busy and offline ones say so and offer none."""

from __future__ import annotations

import json

from cloud_bridge.api_server import qr_url
from tests.payments.pile_records import CHARGING, IDLE, STOPPED, WAIT_PLUG


def test_qr_url():
    assert qr_url("http://192.168.1.5:8080/", "p1", 3) == "http://192.168.1.5:8080/p/p1/3"


def test_a_free_port_offers_the_amounts(make_flow):
    flow = make_flow()
    page = flow.get("/p/p1/3")
    assert page.status == 200 and 'data-state="idle"' in page.text
    for fen, label in ((100, "¥1"), (200, "¥2"), (300, "¥3"), (500, "¥5")):
        assert 'value="%d">%s</button>' % (fen, label) in page.text
    assert 'name="viewport"' in page.text  # made for phones
    state = json.loads(flow.get("/api/piles/p1/ports/3").body)
    assert state["payable"] and state["amounts_fen"] == [100, 200, 300, 500]


def test_a_port_that_stopped_showing_why_is_free_again(make_flow):
    flow = make_flow()
    flow.records.telemetry([[3, STOPPED, 0, -1]])
    assert 'id="checkout"' in flow.get("/p/p1/3").text


def test_a_busy_port_says_so_and_offers_no_payment(make_flow):
    flow = make_flow()
    flow.records.telemetry([[3, CHARGING, 150, 3600], [4, WAIT_PLUG, 0, 7200]])
    for port in (3, 4):
        page = flow.get("/p/p1/%d" % port)
        assert page.status == 200 and "Busy" in page.text and 'id="checkout"' not in page.text
    assert 'id="checkout"' in flow.get("/p/p1/5").text
    answer = flow.post_form("/p/p1/3/checkout", amount_fen=200, checkout="ab" * 16)
    assert answer.status == 409
    flow.records.telemetry([[3, IDLE, 0, -1]])
    assert 'id="checkout"' in flow.get("/p/p1/3").text


def test_an_offline_pile_says_so_and_offers_no_payment(make_flow):
    flow = make_flow()
    flow.records.status(False)  # the broker published its will
    page = flow.get("/p/p1/3")
    assert page.status == 200 and "offline" in page.text and 'id="checkout"' not in page.text
    assert flow.post_form("/p/p1/3/checkout", amount_fen=200, checkout="ab" * 16).status == 409
    flow.records.online()
    assert 'id="checkout"' in flow.get("/p/p1/3").text


def test_unknown_piles_ports_and_payments_are_404_with_a_log_line(make_flow, caplog):
    flow = make_flow()
    assert flow.get("/p/p9/3").status == 404
    assert flow.get("/p/p1/11").status == 404
    assert flow.post_form("/p/p9/3/checkout", amount_fen=200, checkout="ab" * 16).status == 404
    assert flow.get("/payments/qr" + "0" * 24).status == 404
    assert flow.get("/api/payments/qr" + "0" * 24).status == 404
    assert flow.get("/sandbox/pay/sbx" + "0" * 16).status == 404
    assert "no pile p9 port 3" in caplog.text and "no pile p1 port 11" in caplog.text
    assert flow.get("/p/bad%20pile/3").status == 422
    assert flow.get("/p/p1/zero").status == 422
