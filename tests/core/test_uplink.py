"""The cloud link's pure core: sequence numbers, the record in flight, the telemetry schedule."""

from firmware import cbor_decode
from firmware.cloud.uplink import ALARM, BIRTH, ORDER, TELEMETRY, Uplink
from firmware.port import CHARGING, IDLE
from tests.core.scenario import Scenario

TELEMETRY_MS = 60000
MIN_MS = 5000
WALL_S = 1700000000


def make():
    return Uplink(7, 10, TELEMETRY_MS, MIN_MS)


def sent(uplink):
    kind, payload, number = uplink.in_flight
    return kind, cbor_decode.decode(payload), number


def order_record(number):
    return {
        "no": number,
        "port": 3,
        "method": "coin",
        "start": WALL_S,
        "end": WALL_S + 600,
        "wh": 55,
        "charged_s": 590,
        "paid": 200,
        "used": 150,
        "returned": 0,
        "tier": -1,
        "payments": 2,
        "reason": "full",
    }


def test_birth_seq_is_taken_before_connecting_and_kept_until_acked():
    uplink = make()
    assert uplink.connecting() == 1
    # The connection failed before the birth was acknowledged: the next try reuses seq 1.
    assert uplink.connecting() == 1
    uplink.take_birth(WALL_S, "0.4.0", 3, 10, 0)
    kind, message, _ = sent(uplink)
    assert kind == BIRTH and message == {0: 7, 1: 1, 2: WALL_S, 3: "0.4.0", 4: 3, 5: 10, 6: 0}
    assert uplink.acked() == (BIRTH, 0)
    assert cbor_decode.decode(uplink.status(WALL_S, True)) == {0: 7, 1: 1, 2: WALL_S, 3: True}
    # A later connection gets a new birth.
    assert uplink.connecting() == 2


def test_order_keeps_its_seq_until_acked_and_numbers_never_skip():
    uplink = make()
    uplink.connecting()
    uplink.take_birth(WALL_S, "0.4.0", 0, 10, 1)
    uplink.acked()
    uplink.take_order(WALL_S, order_record(41))
    kind, message, number = sent(uplink)
    assert (kind, number, message[1], message[3], message[13], message[15]) == (ORDER, 41, 2, 41, -1, "full")
    assert [message[k] for k in (10, 11, 12)] == [200, 150, 0]
    # Not acknowledged: a reconnect reserves a new birth, the order keeps seq 2.
    assert uplink.connecting() == 3
    assert sent(uplink)[1][1] == 2
    assert uplink.acked() == (ORDER, 41)
    uplink.take(ALARM, WALL_S, ("meter_lost", 0, ""))
    assert sent(uplink)[0] == ALARM and sent(uplink)[1][1] == 4


def test_a_record_that_is_not_an_order_takes_no_seq():
    uplink = make()
    broken = order_record(5)
    del broken["reason"]
    try:
        uplink.take_order(WALL_S, broken)
        raise AssertionError("a broken order was taken")
    except KeyError:
        pass
    assert uplink.in_flight is None
    uplink.take_order(WALL_S, order_record(6))
    assert sent(uplink)[1][1] == 1


def test_telemetry_full_on_connect_then_on_change_no_faster_than_the_minimum():
    scenario = Scenario()
    scenario.run(400)
    pile = scenario.pile
    uplink = make()
    uplink.connecting()
    now = 1000
    assert uplink.take_telemetry(now, WALL_S, pile)
    ports = sent(uplink)[1][3]
    assert [entry[0] for entry in ports] == list(range(1, 11)) and all(entry[1] == IDLE for entry in ports)
    uplink.acked()
    assert not uplink.take_telemetry(now + 100, WALL_S, pile)  # nothing changed
    scenario.load(2, 400)
    scenario.pay(2, 1)
    scenario.run(3000)
    assert pile.ports[1].state == CHARGING
    assert not uplink.take_telemetry(now + MIN_MS - 1, WALL_S, pile)  # too soon after the last
    assert uplink.take_telemetry(now + MIN_MS, WALL_S, pile)
    entry = sent(uplink)[1][3]
    assert len(entry) == 1 and entry[0][:2] == [2, CHARGING] and entry[0][2] > 300 and entry[0][3] > 0
    uplink.acked()
    assert not uplink.take_telemetry(now + MIN_MS * 2, WALL_S, pile)
    # While a port charges, every port is reported each period.
    assert uplink.take_telemetry(now + MIN_MS + TELEMETRY_MS, WALL_S, pile)
    assert len(sent(uplink)[1][3]) == 10
    assert sent(uplink)[0] == TELEMETRY


def test_no_periodic_telemetry_while_every_port_is_idle():
    pile = Scenario().pile
    uplink = make()
    uplink.connecting()
    assert uplink.take_telemetry(0, WALL_S, pile)
    uplink.acked()
    assert not uplink.take_telemetry(TELEMETRY_MS * 3, WALL_S, pile)
    # A reconnect asks for the full picture again.
    uplink.connecting()
    assert uplink.take_telemetry(TELEMETRY_MS * 3 + MIN_MS, WALL_S, pile)
    assert len(sent(uplink)[1][3]) == 10
