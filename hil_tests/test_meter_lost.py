"""Meter lost: bad replies are counted and retried, and if they persist every relay drops until readings return."""

import pytest


@pytest.mark.parametrize("fault", ["silence", "garbage", "bad_crc", "short"])
def test_meter_fault_drops_every_relay_and_recovers(make_rig, fault):
    rig = make_rig()
    for port in (1, 2):
        rig.plug(port, "ebike")
        rig.pay_coins(port, 1)
    rig.wait_until(lambda: rig.relay(1) and rig.relay(2), 5, "ports charging")
    rig.meter_fault(fault)
    rig.wait_until(lambda: not rig.relay(1) and not rig.relay(2), 5, "relays off with the meter lost")
    rig.wait_until(lambda: "Meter fault E2" in rig.display()[1], 2, "fault on the display")
    assert any(r["alarm"] == "meter_lost" for r in rig.records("alarm"))
    rig.meter_fault(None)
    rig.wait_until(lambda: rig.relay(1) and rig.relay(2), 4, "charging resumed")
    assert not rig.orders()  # sessions were paused, not ended
    rig.wait_until(lambda: any(r[fault_counter(fault)] > 0 for r in rig.records("health")), 7, "errors counted")
    assert rig.pile.vm.running


def fault_counter(fault):
    return {"silence": "timeouts", "garbage": "garbage", "bad_crc": "crc_errors", "short": "short_frames"}[fault]


def test_a_late_reply_does_not_put_the_reader_out_of_step(make_rig):
    # A reply that comes after the master gave up lands in its next transaction, with the next reply
    # behind it; the reader must find the frames again, not keep reading one reply's tail and the next
    # one's head as a frame.
    rig = make_rig()
    rig.plug(3, "ebike")
    rig.pay_coins(3, 1)
    rig.wait_until(lambda: rig.relay(3), 5, "port 3 charging")
    rig.wait_until(lambda: rig.records("health"), 7, "a health record before the fault")
    failed_before = rig.records("health")[-1]["failed_scans"]  # a busy start-up may have failed one
    rig.meter_fault("late", replies=1)
    rig.wait_until(lambda: rig.pile.link.fault_counts["late"] == 1, 2, "one late reply")
    rig.hold(6, lambda: rig.relay(3), "port 3 charging through a late reply")
    health = rig.records("health")[-1]
    assert health["timeouts"] > 0, health
    assert health["failed_scans"] == failed_before, health  # the retry read its own reply, and every later scan
    assert not any(r["alarm"] == "meter_lost" for r in rig.records("alarm"))


def test_one_silent_meter_of_ten_stops_only_its_port(make_rig):
    rig = make_rig(profile="sdm120")
    for port in (3, 4):
        rig.plug(port, "ebike")
        rig.pay_coins(port, 1)
    rig.wait_until(lambda: rig.relay(3) and rig.relay(4), 6, "ports charging on SDM120 meters")
    rig.meter_silent(3)
    rig.wait_until(lambda: rig.relay(3) == 0, 6, "port 3 off without its meter")
    rig.hold(2, lambda: rig.relay(4) == 1, "port 4 keeps charging")
    rig.meter_silent(3, False)
    rig.wait_until(lambda: rig.relay(3) == 1, 6, "port 3 back")


def test_dead_meters_do_not_starve_the_live_ones(make_rig):
    rig = make_rig(profile="sdm120", METER_STALE_S=5)
    for port in (9, 10):
        rig.plug(port, "ebike")
        rig.pay_coins(port, 1)
    rig.wait_until(lambda: rig.relay(9) and rig.relay(10), 6, "ports 9 and 10 charging")
    for address in range(1, 7):
        rig.meter_silent(address)
    rig.hold(10, lambda: True, "the reader learning which meters are gone")
    rig.wait_until(lambda: rig.relay(9) and rig.relay(10), 6, "ports 9 and 10 charging")
    rig.hold(8, lambda: rig.relay(9) and rig.relay(10), "live ports never go stale")
