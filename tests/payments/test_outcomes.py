"""What the pile made of the start: started, refused (refunded with the reason), expired (refunded, never
run late), and the order that comes back with the payment's reference (its returned fen refunded).

The start goes through the real bridge and command channel to the fake pile, which answers as each test
tells it (tests/payments/helpers.py)."""

from __future__ import annotations

import json

import pytest

from cloud_bridge.channel import CommandChannel
from tests.payments.conftest import GRACE_S, SETTINGS, SWEEP_S
from tests.payments.helpers import (
    answer_done,
    answer_expired,
    answer_refused,
    count,
    refund_paid,
    reported,
    state_becomes,
    wait_until,
)
from tests.payments.outcome_first import OutcomeFirst


def _status(flow, payment_id: str) -> dict:
    return json.loads(flow.get("/api/payments/" + payment_id).body)


@pytest.fixture
def second_channel(bridge):
    """Another command channel on the test's bridge, as a second bridge process's would be; not started."""
    second = CommandChannel(bridge, grace_s=GRACE_S, sweep_s=SWEEP_S)
    yield second
    second.stop()


def test_ack_done_starts_the_payment_with_the_piles_order_no(make_flow):
    flow = make_flow()
    answer_done(flow.pile, 41)
    payment_id = flow.checkout(port=3)
    flow.pay(payment_id)
    payment = state_becomes(flow.ledger, payment_id, "started")
    assert payment["order_no"] == 41
    status = _status(flow, payment_id)
    assert status["phase"] == "started" and "port 3, order 41" in status["message_en"]
    assert flow.sandbox.refunds == []


def test_an_answer_faster_than_the_bookkeeping_still_counts(make_flow, channel):
    flow = make_flow(channel=OutcomeFirst(channel))  # the outcome is in before the ledger has the id
    answer_done(flow.pile, 7)
    payment_id = flow.checkout()
    flow.pay(payment_id)
    assert state_becomes(flow.ledger, payment_id, "started")["order_no"] == 7


def test_a_refused_start_is_refunded_with_the_reason(make_flow):
    flow = make_flow()
    answer_refused(flow.pile, "port busy")
    payment_id = flow.checkout(amount_fen=300)
    flow.pay(payment_id)
    payment = state_becomes(flow.ledger, payment_id, "refunded")
    assert (payment["reason"], payment["refund_fen"]) == ("port busy", 300)
    refund_paid(flow.ledger, payment_id)
    (refund,) = flow.sandbox.refunds
    assert (refund.reference, refund.amount_fen, refund.reason) == (payment_id, 300, "port busy")
    status = _status(flow, payment_id)
    assert status["phase"] == "port_busy" and status["final"] and "¥3 refunded" in status["message_en"]


def test_a_start_the_pile_acked_expired_is_refunded_as_unreachable(make_flow):
    flow = make_flow()
    answer_expired(flow.pile)
    payment_id = flow.checkout()
    flow.pay(payment_id)
    payment = state_becomes(flow.ledger, payment_id, "refunded")
    assert payment["reason"] == "pile unreachable" and payment["order_no"] is None
    assert flow.channel.status("p1", payment["command_id"]).result == 2  # the pile's answer, not the grace
    refund_paid(flow.ledger, payment_id)
    assert [r.amount_fen for r in flow.sandbox.refunds] == [200]


def test_a_start_with_no_answer_by_its_expiry_and_the_grace_is_refunded(make_flow):
    now = [1_000.0]
    flow = make_flow(clock=lambda: now[0], sweeper=False)  # the pile never answers
    payment_id = flow.checkout()
    flow.pay(payment_id)
    payment = state_becomes(flow.ledger, payment_id, "starting")
    assert payment["command_expires"] == 1_000.0 + SETTINGS.command_ttl_s
    now[0] += SETTINGS.command_ttl_s + SETTINGS.expiry_grace_s - 0.1
    flow.ledger.sweep()
    assert flow.ledger.payment(payment_id)["state"] == "starting"  # an answer may still be on its way
    now[0] += 0.2
    flow.ledger.sweep()
    payment = flow.ledger.payment(payment_id)
    assert (payment["state"], payment["reason"], payment["refund_fen"]) == ("refunded", "pile unreachable", 200)
    # The channel reports the expiry too, later (its own clock, its own grace): nothing more happens.
    reported(flow.ledger.db, "p1", payment["command_id"])
    assert flow.channel.status("p1", payment["command_id"]).detail == "never acked"
    flow.ledger.sweep()
    assert len(flow.sandbox.refunds) == 1
    assert count(flow.ledger.db, "payment_events", payment_id=payment_id, kind="refund") == 1


def test_an_outcome_the_bridge_missed_is_read_from_the_channel_at_expiry(make_flow, second_channel):
    # The ledger follows a channel that is not running (its bridge was down when the ack came); the
    # test's channel, which no ledger follows, settles the command: the outcome is in the database only.
    now = [1_000.0]
    flow = make_flow(clock=lambda: now[0], sweeper=False, channel=second_channel)
    answer_done(flow.pile, 12)
    payment_id = flow.checkout()
    flow.pay(payment_id)
    command_id = state_becomes(flow.ledger, payment_id, "starting")["command_id"]
    reported(flow.ledger.db, "p1", command_id)
    assert flow.ledger.payment(payment_id)["state"] == "starting"
    now[0] += 60
    flow.ledger.sweep()
    assert (flow.ledger.payment(payment_id)["state"], flow.ledger.payment(payment_id)["order_no"]) == ("started", 12)


def test_an_outcome_reported_twice_refunds_once(make_flow, channel, second_channel):
    flow = make_flow()
    answer_refused(flow.pile, "port fault")
    payment_id = flow.checkout()
    flow.pay(payment_id)
    command_id = state_becomes(flow.ledger, payment_id, "refunded")["command_id"]
    reported(flow.ledger.db, "p1", command_id)
    # The bridge stops between handing the outcome over and noting that it did: at its next start, the
    # channel hands it over again, to the ledger of the new run.
    channel.stop()
    with flow.ledger.db.transaction():
        flow.ledger.db.execute("UPDATE commands SET reported_at = NULL WHERE pile = 'p1' AND id = ?", (command_id,))
    again = make_flow(channel=second_channel, sandbox=flow.sandbox)
    second_channel.start()
    reported(again.ledger.db, "p1", command_id)
    assert len(flow.sandbox.refunds) == 1
    assert count(flow.ledger.db, "payment_events", payment_id=payment_id, kind="refund") == 1


def test_the_order_with_the_payments_reference_refunds_its_returned_fen(make_flow):
    flow = make_flow()
    answer_done(flow.pile, 41)
    payment_id = flow.checkout(port=3, amount_fen=500)
    flow.pay(payment_id)
    state_becomes(flow.ledger, payment_id, "started")
    flow.records.order(41, 3, paid=500, used=180, returned=320, ref=payment_id, stop="full")
    payment = state_becomes(flow.ledger, payment_id, "finished")
    assert (payment["refund_fen"], payment["reason"], payment["order_no"]) == (320, "full", 41)
    refund_paid(flow.ledger, payment_id)
    (refund,) = flow.sandbox.refunds
    assert (refund.amount_fen, refund.reason) == (320, "full")
    assert "¥3.20 returned" in _status(flow, payment_id)["message_en"]


def test_an_order_that_used_it_all_refunds_nothing(make_flow):
    flow = make_flow()
    answer_done(flow.pile, 5)
    payment_id = flow.checkout(amount_fen=100)
    flow.pay(payment_id)
    state_becomes(flow.ledger, payment_id, "started")
    flow.records.order(5, 3, paid=100, used=100, returned=0, ref=payment_id, stop="credit")
    assert state_becomes(flow.ledger, payment_id, "finished")["refund_fen"] == 0
    assert flow.sandbox.refunds == []


def test_a_refund_the_provider_failed_is_tried_again(make_flow, monkeypatch):
    flow = make_flow()
    answer_refused(flow.pile, "port busy")
    real_refund = flow.sandbox.refund
    failures = [1]

    def flaky(*args):
        if failures:
            failures.pop()
            raise OSError("provider unreachable")
        return real_refund(*args)

    monkeypatch.setattr(flow.sandbox, "refund", flaky)
    payment_id = flow.checkout()
    flow.pay(payment_id)
    state_becomes(flow.ledger, payment_id, "refunded")
    wait_until(lambda: flow.ledger.events(payment_id)[-1]["done_at"] is not None, what="the refund paid")
    assert len(flow.sandbox.refunds) == 1
