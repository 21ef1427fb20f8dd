"""Checkout: one payment per checkout, made with the provider once; amounts not offered are refused."""

from __future__ import annotations

import pytest

from tests.payments.helpers import count


def test_checkout_makes_one_payment_and_sends_the_resident_to_the_provider(make_flow):
    flow = make_flow()
    answer = flow.post_form("/p/p1/3/checkout", amount_fen=200, checkout="ab" * 16)
    assert answer.status == 303 and answer.headers["location"].startswith("/sandbox/pay/sbx")
    tx = answer.headers["location"].rsplit("/", 1)[1]
    payment = flow.ledger.payment(flow.sandbox.payment(tx).reference)
    assert (payment["pile"], payment["port"], payment["amount_fen"], payment["state"]) == ("p1", 3, 200, "created")
    assert payment["provider_tx"] == tx
    page = flow.get(answer.headers["location"])
    assert page.status == 200 and "¥2" in page.text and 'id="pay"' in page.text


def test_the_same_checkout_sent_again_is_the_same_payment(make_flow):
    flow = make_flow()
    first = flow.post_form("/p/p1/3/checkout", amount_fen=200, checkout="cd" * 16)
    again = flow.post_form("/p/p1/3/checkout", amount_fen=200, checkout="cd" * 16)
    assert first.headers["location"] == again.headers["location"]
    assert count(flow.ledger.db, "payments") == 1
    other = flow.post_form("/p/p1/3/checkout", amount_fen=200, checkout="ef" * 16)
    assert other.headers["location"] != first.headers["location"] and count(flow.ledger.db, "payments") == 2


def test_a_checkout_key_is_unique_in_the_database(make_flow):
    flow = make_flow()
    flow.checkout(checkout="12" * 16)
    with pytest.raises(flow.ledger.db.CONFLICT_ERRORS):
        with flow.ledger.db.transaction():
            flow.ledger.db.execute(
                "INSERT INTO payments (payment_id, checkout, pile, port, amount_fen, provider, state, created_at,"
                " updated_at) VALUES ('qr0', ?, 'p1', 3, 200, 'sandbox', 'created', 0, 0)",
                ("12" * 16,),
            )


def test_an_amount_not_offered_is_refused(make_flow, caplog):
    flow = make_flow()
    answer = flow.post_form("/p/p1/3/checkout", amount_fen=150, checkout="ab" * 16)
    assert answer.status == 400 and "Amount not offered" in answer.text
    assert "150 fen is not offered" in caplog.text
    assert count(flow.ledger.db, "payments") == 0
    with pytest.raises(ValueError):
        flow.ledger.checkout("ab" * 16, "p1", 3, 150, lambda _: "", "")


@pytest.mark.parametrize(
    "fields",
    [{"amount_fen": "two", "checkout": "ab" * 16}, {"amount_fen": 200, "checkout": "<script>"}, {"amount_fen": 200}],
)
def test_a_malformed_checkout_is_a_4xx_and_a_log_line(make_flow, caplog, fields):
    flow = make_flow()
    answer = flow.post_form("/p/p1/3/checkout", **fields)
    assert answer.status == 422 and "refused POST /p/p1/3/checkout" in caplog.text
    assert count(flow.ledger.db, "payments") == 0
