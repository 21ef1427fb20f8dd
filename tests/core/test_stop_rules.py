"""Every stop reason of a port, each driven by its own configuration constant."""

from tests.core.scenario import Scenario


def charging(**overrides):
    s = Scenario(**overrides)
    s.run(400)
    s.load(3, 150)
    s.pay(3, 1)
    s.run(1000)
    assert s.state(3) == "charging", s.state(3)
    assert s.relay(3) == 1
    return s


def test_credit_used_up_stops_and_bills_what_was_paid():
    s = charging(UNIT_MIN=1)  # 1 yuan buys one minute
    s.run(55000)
    assert s.state(3) == "charging"
    s.run(10000)
    assert s.state(3) == "stopped"
    assert s.relay(3) == 0
    order = s.orders[-1]
    assert order["reason"] == "credit"
    assert order["paid"] == 100 and order["used"] == 100
    assert 59 <= order["charged_s"] <= 61


def test_full_after_low_power_hold_clears_time():
    s = charging(FULL_W=30, FULL_HOLD_S=20)
    s.load(3, 20)  # battery full, float charge under FULL_W
    s.run(19000)
    assert s.state(3) == "charging"
    s.run(1400)
    assert s.state(3) == "stopped"
    assert s.orders[-1]["reason"] == "full"
    assert s.orders[-1]["returned"] == 0
    assert "stop_full" in s.said


def test_full_hold_restarts_when_power_comes_back():
    s = charging(FULL_W=30, FULL_HOLD_S=10)
    s.load(3, 20)
    s.run(8000)
    s.load(3, 100)
    s.run(400)
    s.load(3, 20)
    s.run(8000)
    assert s.state(3) == "charging"


def test_unplugged_after_hold():
    s = charging(UNPLUG_W=10, UNPLUG_HOLD_S=5)
    s.load(3, 0)
    s.run(4600)
    assert s.state(3) == "charging"
    s.run(800)
    assert s.state(3) == "stopped"
    assert s.orders[-1]["reason"] == "unplugged"
    assert s.relay(3) == 0


def test_overload_after_hold_refuses_a_heater():
    s = charging(PORT_MAX_W=1000, OVERLOAD_HOLD_S=2)
    s.load(3, 1200)
    s.run(1800)
    assert s.state(3) == "charging"
    s.run(600)
    assert s.state(3) == "stopped"
    assert s.orders[-1]["reason"] == "overload"
    assert s.relay(3) == 0


def test_overload_brief_spike_is_tolerated():
    s = charging(PORT_MAX_W=1000, OVERLOAD_HOLD_S=2)
    s.load(3, 1200)
    s.run(1000)
    s.load(3, 150)
    s.run(3000)
    assert s.state(3) == "charging"


def test_hard_limit_trips_on_the_reading_that_shows_it():
    s = charging(PORT_TRIP_W=2000)
    s.load(3, 2500)
    s.scan()  # no tick: the reading alone must open the relay
    assert s.relay(3) == 0
    assert s.state(3) == "stopped"
    assert s.orders[-1]["reason"] == "overload"


def test_maximum_session_length():
    s = charging(MAX_SESSION_S=60)
    s.run(58000)
    assert s.state(3) == "charging"
    s.run(3000)
    assert s.orders[-1]["reason"] == "max_time"


def test_no_charger_after_plug_wait_bills_nothing():
    s = Scenario(PLUG_WAIT_S=10)
    s.run(400)
    s.pay(4, 2)
    assert s.state(4) == "wait_plug" and s.relay(4) == 1
    s.run(9000)
    assert s.state(4) == "wait_plug"
    s.run(1400)
    assert s.orders[-1]["reason"] == "no_load"
    assert s.orders[-1]["used"] == 0
    assert s.relay(4) == 0


def test_stop_by_keypad():
    s = charging()
    s.run(5000)
    s.keys("D3#")
    assert s.state(3) == "stopped" and s.relay(3) == 0
    assert s.orders[-1]["reason"] == "keypad"
    assert "stop_keypad" in s.said


def test_stopped_port_returns_to_idle():
    s = charging(STOPPED_SHOW_S=5)
    s.keys("D3#")
    s.run(5400)
    assert s.state(3) == "idle"


def test_order_records_energy_and_times():
    s = charging(UNIT_MIN=240)
    s.load(3, 600)
    s.run(60000)
    s.keys("D3#")
    order = s.orders[-1]
    assert order["port"] == 3 and order["method"] == "coin"
    assert 9 <= order["wh"] <= 11, order  # 600 W for a minute is 10 Wh
    assert order["end"] - order["start"] >= 60
    assert order["paid"] == 100
    assert order["used"] == 100 * 61 // (240 * 60) or order["used"] == 0


def test_session_across_the_tick_wrap():
    s = Scenario(start_ms=(1 << 30) - 3000, UNPLUG_HOLD_S=5, UNIT_MIN=1)
    s.run(400)
    s.load(3, 150)
    s.pay(3, 1)
    s.run(20000)  # the tick counter wraps during this
    assert s.now < 30000
    assert s.state(3) == "charging"
    s.load(3, 0)
    s.run(4600)
    assert s.state(3) == "charging"
    s.run(800)
    order = s.orders[-1]
    assert order["reason"] == "unplugged"
    assert 24 <= order["charged_s"] <= 26
    assert order["used"] == 100 * order["charged_s"] // 60 or order["used"] == 100 * order["charged_s"] // 60 - 1


def test_no_load_returns_the_coins_on_the_order():
    s = Scenario(PLUG_WAIT_S=5)
    s.run(400)
    s.pay(4, 2)
    s.run(5600)
    order = s.orders[-1]
    assert order["reason"] == "no_load" and order["used"] == 0 and order["returned"] == 200


def test_a_hold_needs_readings_through_it_not_just_time():
    s = charging(FULL_W=30, FULL_HOLD_S=4, UNPLUG_HOLD_S=3, METER_STALE_S=5)
    s.load(3, 20)
    s.scan()  # one low reading, then the meter is slow to answer again
    s.meter_ok = False
    s.run(4600)
    assert s.state(3) == "charging"
    s.meter_ok = True
    s.load(3, 150)
    s.run(400)
    assert s.state(3) == "charging"
