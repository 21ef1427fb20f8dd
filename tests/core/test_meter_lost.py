"""Meter lost: every relay off and a fault, billing paused, automatic recovery."""

from tests.core.scenario import Scenario


def running():
    s = Scenario(METER_STALE_S=3, UNIT_MIN=10)
    s.run(400)
    s.load(1, 150)
    s.load(2, 150)
    s.pay(1, 1)
    s.pay(2, 1)
    s.run(1000)
    assert s.relay(1) and s.relay(2)
    return s


def test_stale_readings_never_keep_a_relay_on():
    s = running()
    s.meter_ok = False
    s.run(2800)
    assert s.relay(1) == 1
    s.run(600)
    assert s.relay(1) == 0 and s.relay(2) == 0
    assert s.pile.meter_lost
    assert "meter_lost" in s.said


def test_sessions_survive_and_are_not_billed_while_meter_is_lost():
    s = running()
    s.meter_ok = False
    s.run(4000)
    used = s.pile.port(1).session.used_mfen
    s.run(60000)
    assert s.pile.port(1).session.used_mfen == used
    assert s.state(1) == "charging"
    assert not s.orders


def test_recovers_when_readings_return():
    s = running()
    s.meter_ok = False
    s.run(5000)
    s.meter_ok = True
    s.run(400)
    assert not s.pile.meter_lost
    assert s.relay(1) == 1 and s.relay(2) == 1
    s.run(20000)
    assert s.state(1) == "charging"  # the pause did not count as an unplug
    assert "meter_back" in s.said


def test_no_relay_at_boot_before_a_reading():
    s = Scenario()
    s.meter_ok = False
    s.keys("1#")
    s.coins(1)
    s.keys("#")
    assert s.relay(1) == 0
    assert "port_fault" in s.said
    assert s.panel.credit_fen == 100  # the money waits for a working port


def test_meter_lost_raised_when_no_reading_after_boot():
    s = Scenario(METER_STALE_S=2)
    s.meter_ok = False
    s.run(2400)
    assert s.pile.meter_lost


def test_a_stale_reading_never_becomes_fresh_again_when_ticks_wrap():
    s = running()
    s.meter_ok = False
    s.run(4000)
    assert s.pile.port(1).reading_ms == -1  # forgotten, not merely old
    # A tick period later the old timestamp would look new again; it is gone instead.
    s.now = (s.now + (1 << 30) - 3000) & ((1 << 30) - 1)
    s.pile.tick(s.now, s.wall)
    assert s.relay(1) == 0 and s.pile.meter_lost


def test_no_payment_taken_while_the_meter_is_lost():
    s = running()
    s.meter_ok = False
    s.run(4000)
    s.keys("5#")
    s.coins(1)
    s.keys("#")
    assert s.said[-1] == "port_fault"
    assert s.panel.credit_fen == 100
