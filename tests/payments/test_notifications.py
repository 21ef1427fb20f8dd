"""The provider's notification: it starts the pile once, however often it comes; forgeries are refused."""

from __future__ import annotations

import json
import threading

import pytest

from cloud_bridge.providers.sandbox import SIGNATURE_HEADER
from tests.payments.conftest import SETTINGS, http
from tests.payments.helpers import count, state_becomes


def test_a_payment_sends_one_signed_start_with_port_credit_and_reference(make_flow):
    flow = make_flow()
    payment_id = flow.checkout(port=3, amount_fen=200)
    flow.pay(payment_id)
    payment = state_becomes(flow.ledger, payment_id, "starting")
    (command,) = flow.pile.wait_received(1)  # the pile keeps only commands whose MAC it verified
    issued = command[3]
    expires = issued + SETTINGS.command_ttl_s
    assert command == {0: payment["command_id"], 1: "start", 2: expires, 3: issued, 4: 3, 5: 200, 6: payment_id}
    assert [(e["kind"], e["fen"]) for e in flow.ledger.events(payment_id)] == [("paid", 200)]


@pytest.mark.parametrize("times", [2, 3])
def test_a_notification_sent_again_starts_once_and_credits_once(make_flow, times):
    flow = make_flow()
    payment_id = flow.checkout()
    tx = flow.pay(payment_id)
    state_becomes(flow.ledger, payment_id, "starting")
    for _ in range(times):
        assert flow.sandbox.resend(tx) == 200
    assert count(flow.ledger.db, "commands") == 1
    assert count(flow.ledger.db, "payment_events", payment_id=payment_id, kind="paid") == 1


def test_notifications_at_the_same_moment_start_once(make_flow):
    flow = make_flow()
    payment_id = flow.checkout()
    tx = flow.pay(payment_id)
    statuses = []
    senders = [threading.Thread(target=lambda: statuses.append(flow.sandbox.resend(tx))) for _ in range(6)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    assert statuses == [200] * 6
    state_becomes(flow.ledger, payment_id, "starting")
    assert count(flow.ledger.db, "commands") == 1


def test_the_money_is_claimed_once_by_the_database(make_flow):
    flow = make_flow()
    payment_id = flow.checkout()
    flow.pay(payment_id)
    state_becomes(flow.ledger, payment_id, "starting")
    with pytest.raises(flow.ledger.db.CONFLICT_ERRORS):
        with flow.ledger.db.transaction():
            flow.ledger.db.execute(
                "INSERT INTO payment_events (payment_id, kind, fen, at) VALUES (?, 'paid', 200, 0)", (payment_id,)
            )


def _notification(payment_id: str, tx: str, amount_fen: int = 200) -> bytes:
    return json.dumps({"tx": tx, "reference": payment_id, "amount_fen": amount_fen, "status": "paid"}).encode()


def test_a_forged_notification_is_refused_and_logged(make_flow, caplog):
    flow = make_flow()
    payment_id = flow.checkout()
    tx = flow.ledger.payment(payment_id)["provider_tx"]
    body = _notification(payment_id, tx)
    for headers in ({SIGNATURE_HEADER: "00" * 32}, {}):
        answer = http(flow.url("/payments/notify/sandbox"), body, headers)
        assert answer.status == 401
    assert caplog.text.count("forged notification") == 2
    assert count(flow.ledger.db, "commands") == 0 and flow.ledger.payment(payment_id)["state"] == "created"


def test_a_notification_signed_under_another_runs_secret_is_forged(make_flow):
    flow, other = make_flow(), make_flow()
    payment_id = flow.checkout()
    tx = flow.ledger.payment(payment_id)["provider_tx"]
    body = _notification(payment_id, tx)
    answer = http(flow.url("/payments/notify/sandbox"), body, {SIGNATURE_HEADER: other.sandbox.sign(body)})
    assert answer.status == 401 and count(flow.ledger.db, "commands") == 0


def test_bad_notifications_get_a_4xx_and_change_nothing(make_flow, caplog):
    flow = make_flow()
    payment_id = flow.checkout()
    tx = flow.ledger.payment(payment_id)["provider_tx"]

    def send(body: bytes, provider: str = "sandbox") -> int:
        return http(flow.url("/payments/notify/" + provider), body, {SIGNATURE_HEADER: flow.sandbox.sign(body)}).status

    assert send(b"not json") == 400
    assert send(b'{"tx": "x"}') == 400
    assert send(_notification("qr" + "0" * 24, tx)) == 404  # no such payment
    assert send(_notification(payment_id, tx, amount_fen=1)) == 409  # not the amount paid for
    assert send(_notification(payment_id, tx), provider="other") == 404
    assert count(flow.ledger.db, "commands") == 0 and flow.ledger.payment(payment_id)["state"] == "created"
    assert "malformed notification" in caplog.text and "notification refused" in caplog.text


def test_cancel_at_the_provider_ends_the_payment_without_a_start(make_flow):
    flow = make_flow()
    payment_id = flow.checkout()
    tx = flow.ledger.payment(payment_id)["provider_tx"]
    assert flow.post_form("/sandbox/pay/%s/cancel" % tx).status == 303
    state_becomes(flow.ledger, payment_id, "cancelled")
    assert flow.get("/api/payments/" + payment_id).text.count("cancelled") >= 1
    assert count(flow.ledger.db, "commands") == 0
