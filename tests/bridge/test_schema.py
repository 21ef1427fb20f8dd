"""Decoding pile messages: every kind of docs/cloud-protocol.md, and what is rejected (never raised)."""

from __future__ import annotations

import random

import cbor2
import pytest

from cloud_bridge.schema import Ack, Alarm, Birth, Meter, Order, Record, Reject, Status, Telemetry, decode
from tests.bridge.piles import T0, order_body

HEAD = {0: 3, 1: 12, 2: T0}


def test_each_kind_decodes_to_its_record():
    assert decode("pile/p1/up/birth", cbor2.dumps({**HEAD, 3: "1.4.0", 4: 7, 5: 10, 6: 2})) == Birth(
        "birth", "p1", 3, 12, T0, "1.4.0", 7, 10, 2
    )
    order = decode("pile/p1/up/order", cbor2.dumps({**HEAD, **order_body(17)}))
    fields = (17, 3, "coin", T0, T0 + 3600, 420, 3500, 200, 150, 50, 0, 1, "full")
    assert order == Order("order", "p1", 3, 12, T0, *fields, "")  # an order from before key 16
    qr = decode("pile/p1/up/order", cbor2.dumps({**HEAD, **order_body(17), 16: "pay-1"}))
    assert qr == Order("order", "p1", 3, 12, T0, *fields, "pay-1")
    tele = decode("pile/p-2_X/up/tele", cbor2.dumps({**HEAD, 3: [[1, 3, 180, 7200], [2, 0, 0, -1]]}))
    assert tele == Telemetry("tele", "p-2_X", 3, 12, T0, ((1, 3, 180, 7200), (2, 0, 0, -1)))
    alarm = decode("pile/p1/up/alarm", cbor2.dumps({**HEAD, 3: "meter_lost", 4: 0, 5: "no reading"}))
    assert alarm == Alarm("alarm", "p1", 3, 12, T0, "meter_lost", 0, "no reading")  # from before keys 6 and 7
    raised = decode("pile/p1/up/alarm", cbor2.dumps({**HEAD, 3: "relay_welded", 4: 4, 5: "", 6: 1}))
    assert raised == Alarm("alarm", "p1", 3, 12, T0, "relay_welded", 4, "", 1, None)
    texted = decode("pile/p1/up/alarm", cbor2.dumps({**HEAD, 3: "sms_sent", 4: 0, 5: "smoke", 7: ["+8613800000001"]}))
    assert texted == Alarm("alarm", "p1", 3, 12, T0, "sms_sent", 0, "smoke", None, ("+8613800000001",))
    assert decode("pile/p1/up/status", cbor2.dumps({**HEAD, 3: False})) == Status("p1", 3, 12, T0, False)
    assert decode("pile/p1/up/meter", cbor2.dumps({**HEAD, 3: 1234, 4: 2301, 5: -800, 6: -180})) == Meter(
        "meter", "p1", 3, 12, T0, 1234, 2301, -800, -180
    )
    assert decode("pile/p1/up/ack", cbor2.dumps({**HEAD, 3: 9, 4: 5, 5: "port busy"})) == Ack(
        "ack", "p1", 3, 12, T0, 9, 5, "port busy", None
    )
    query = {0: [[1, 3, 180, 7200]], 1: 4, 2: "1.5.0", 3: 0}  # a query's answer: the deepest message
    ack = decode("pile/p1/up/ack", cbor2.dumps({**HEAD, 3: 9, 4: 0, 5: "", 6: query}))
    assert isinstance(ack, Ack) and cbor2.loads(ack.data) == query


def test_unknown_keys_are_ignored():
    message = decode("pile/p1/up/alarm", cbor2.dumps({**HEAD, 3: "smoke", 4: 2, 5: "", 99: "new field"}))
    assert message == Alarm("alarm", "p1", 3, 12, T0, "smoke", 2, "")


def _order(**changes) -> bytes:
    body = {**HEAD, **order_body(17)}
    for key, value in changes.items():
        if value is None:
            del body[int(key[1:])]
        else:
            body[int(key[1:])] = value
    return cbor2.dumps(body)


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("pile/p1/down/order", _order(), "topic"),
        ("pile/p 1/up/order", _order(), "topic"),
        ("pile/%s/up/order" % ("x" * 33), _order(), "topic"),
        ("pile/p1/up/order/extra", _order(), "topic"),
        ("pile/p1/up/invoice", _order(), "unknown kind"),
        ("pile/p1/up/order", b"", "CBOR"),
        ("pile/p1/up/order", _order()[:-3], "CBOR"),
        ("pile/p1/up/order", _order() + b"\x00", "after the map"),
        ("pile/p1/up/order", cbor2.dumps([3, 12, T0]), "expected a map"),
        ("pile/p1/up/order", b"\xbf\x00\x01\xff", "CBOR"),  # indefinite length
        ("pile/p1/up/order", b"\xa2\x00\x01\x00\x02", "CBOR"),  # the same key twice
        ("pile/p1/up/order", _order(k0=None), "key 0 (boot) missing"),
        ("pile/p1/up/order", _order(k1=0), "key 1 (seq)"),
        ("pile/p1/up/order", _order(k2=cbor2.CBORTag(1, T0)), "key 2 (t)"),  # a datetime, not Unix seconds
        ("pile/p1/up/order", _order(k3="17"), "key 3 (order_no): expected uint"),
        ("pile/p1/up/order", _order(k10=-5), "key 10 (paid_fen): expected uint"),
        ("pile/p1/up/order", _order(k10=1.5), "key 10 (paid_fen): expected uint"),
        ("pile/p1/up/order", _order(k10=True), "key 10 (paid_fen): expected uint"),
        ("pile/p1/up/order", _order(k10=2**63), "key 10 (paid_fen): expected uint"),
        ("pile/p1/up/order", _order(k5=b"coin"), "key 5 (method): expected text"),
        ("pile/p1/up/order", _order(k15="fu\x00ll"), "key 15 (stop_reason): expected text"),
        ("pile/p1/up/order", _order(k15=None), "key 15 (stop_reason) missing"),
        ("pile/p1/up/order", _order(k16=7), "key 16 (payment_ref): expected text"),
        ("pile/p1/up/status", cbor2.dumps({**HEAD, 3: 1}), "key 3 (online): expected bool"),
        ("pile/p1/up/meter", cbor2.dumps({**HEAD, 3: 1, 4: -1, 5: 0, 6: 0}), "key 4 (voltage_dv): expected uint"),
        ("pile/p1/up/meter", cbor2.dumps({**HEAD, 3: 1, 4: 1, 5: 0}), "key 6 (power_w) missing"),
        ("pile/p1/up/ack", cbor2.dumps({**HEAD, 3: -1, 4: 0, 5: ""}), "key 3 (command_id): expected uint"),
        ("pile/p1/up/ack", cbor2.dumps({**HEAD, 3: 1, 4: 0, 5: None}), "key 5 (detail): expected text"),
        ("pile/p1/up/tele", cbor2.dumps({**HEAD, 3: [[1, 3, 180]]}), "key 3 (readings)"),
        ("pile/p1/up/tele", cbor2.dumps({**HEAD, 3: [[1, 3, 180, -2]]}), "seconds left"),
        ("pile/p1/up/tele", cbor2.dumps({**HEAD, 3: [[1, 3, 1, 5], [1, 4, 0, -1]]}), "a port appears twice"),
        ("pile/p1/up/tele", cbor2.dumps({**HEAD, 3: {1: 3}}), "expected an array"),
        ("pile/p1/up/tele", cbor2.dumps({**HEAD, 3: [[[[[1]]]]]}), "depth"),
    ],
)
def test_malformed_is_a_reject_with_its_reason(topic, payload, reason):
    message = decode(topic, payload)
    assert isinstance(message, Reject), message
    assert reason in message.reason
    assert (message.topic, message.payload) == (topic, payload)


def test_reject_reason_stays_short_for_a_huge_value():
    message = decode("pile/p1/up/order", _order(k3="x" * 1_000_000))
    assert isinstance(message, Reject) and len(message.reason) < 200


def test_no_payload_makes_the_decoder_raise():
    """Random bytes and random damage to good payloads: always a record or a reject that says why."""
    rng = random.Random(4)
    good = [_order(), cbor2.dumps({**HEAD, 3: [[1, 3, 180, 7200], [2, 0, 0, -1]]})]
    for _ in range(20000):
        if rng.random() < 0.3:
            payload = rng.randbytes(rng.randrange(40))
        else:
            damaged = bytearray(rng.choice(good))
            for _ in range(rng.randrange(1, 4)):
                damaged[rng.randrange(len(damaged))] = rng.choice([rng.randrange(256), 0xC1, 0xD8, 0x9F, 0xFF, 0x1B])
            payload = bytes(damaged)
        message = decode(rng.choice(["pile/p1/up/order", "pile/p1/up/tele", "pile/p1/up/status"]), payload)
        assert isinstance(message, Record | Status) or message.reason != "invalid", payload


def test_every_field_refused_is_explained():
    """Good maps with one value swapped for an odd one: accepted only if the value fits, else a reason."""
    odd = [-2, -1, 0, 1, 2**63 - 1, 2**63, "x", "a\x00b", True, 1.5, None, [], [[1, 3, 5, 7]], [[1, 2, 3]]]
    bodies = {
        "order": {**HEAD, **order_body(17)},
        "tele": {**HEAD, 3: [[1, 3, 180, 7200]]},
        "status": {**HEAD, 3: True},
        "birth": {**HEAD, 3: "1.4.0", 4: 7, 5: 10, 6: 2},
        "qr order": {**HEAD, **order_body(17), 16: "pay-1"},
        "meter": {**HEAD, 3: 1234, 4: 2301, 5: -800, 6: -180},
        "ack": {**HEAD, 3: 9, 4: 0, 5: "", 6: 17},
        "alarm": {**HEAD, 3: "sms_sent", 4: 0, 5: "smoke", 6: 1, 7: ["13800000001"]},
    }
    for kind, body in bodies.items():
        for key in body:
            for value in odd:
                message = decode("pile/p1/up/" + kind.split()[-1], cbor2.dumps({**body, key: value}))
                if isinstance(message, Reject):
                    assert message.reason.startswith("key %d " % key), (kind, key, value, message.reason)


@pytest.mark.parametrize(
    "body, reason",
    [
        ({6: 2}, "key 6 (state): expected 0 or 1, got 2"),
        ({6: True}, "key 6 (state): expected 0 or 1, got True"),
        ({7: "13800000001"}, "key 7 (numbers): expected an array of phone numbers, got '13800000001'"),
        ({7: ["138 0000"]}, "key 7 (numbers): expected an array of phone numbers, got ['138 0000']"),
        ({7: [13800000001]}, "key 7 (numbers): expected an array of phone numbers, got [13800000001]"),
    ],
)
def test_an_alarms_state_and_numbers_are_checked(body, reason):
    message = decode("pile/p1/up/alarm", cbor2.dumps({**HEAD, 3: "sms_sent", 4: 0, 5: "smoke", **body}))
    assert isinstance(message, Reject) and message.reason == reason
