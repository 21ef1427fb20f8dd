"""Protections: short circuit, blown fuse, welded relay, smoke and cabinet heat (docs/safety.md)."""

from firmware import prompts
from firmware.pile import HEAT_OK, HEAT_STOP, HEAT_WARN, Pile
from tests.core.scenario import Scenario


def charging(**overrides):
    s = Scenario(**overrides)
    s.run(400)
    for port in (1, 2):
        s.load(port, 150)
        s.pay(port, 1)
    s.run(1000)
    assert s.relay(1) and s.relay(2)
    return s


def test_a_current_spike_opens_that_relay_on_the_reading_itself_and_latches_the_port():
    s = charging()
    s.current_ma[1] = 20000
    s.scan()  # no tick: the reading that shows it decides
    assert s.relay(1) == 0 and s.relay(2) == 1
    assert s.pile.port(1).fault == "short_circuit"
    assert s.orders[-1]["port"] == 1 and s.orders[-1]["reason"] == "short_circuit"
    assert ("short_circuit", 1, 1) in s.alarms
    assert "stop_short" in s.said
    del s.current_ma[1]
    s.run(2000)
    assert s.relay(1) == 0, "a short circuit stays latched"
    assert s.pile.refusal(1, s.now) == prompts.PORT_FAULT


def test_the_meters_own_over_current_flag_is_a_short_circuit():
    s = charging()
    s.flags[2] = 1
    s.scan()
    assert s.relay(2) == 0 and s.relay(1) == 1
    assert s.pile.port(2).fault == "short_circuit"


def test_a_faulty_port_refuses_money_and_the_coins_wait_on_the_panel():
    s = charging()
    s.flags[1] = 1
    s.run(400)
    s.flags[1] = 0
    s.pay(1, 2)
    assert s.state(1) != "charging" and s.relay(1) == 0
    assert s.panel.credit_fen == 200
    assert "port_fault" in s.said


def test_a_cleared_port_charges_again_and_the_clear_is_reported():
    s = charging()
    s.flags[1] = 1
    s.run(400)
    s.flags[1] = 0
    assert s.pile.clear(s.now, 1) == prompts.ALARM_CLEARED
    s._drain()
    assert ("short_circuit", 1, 0) in s.alarms
    s.pay(1, 1)
    s.run(1000)
    assert s.relay(1) == 1


def test_a_port_without_voltage_while_another_has_mains_has_lost_its_fuse():
    s = charging()
    s.voltage_dv[3] = 0
    s.scan()
    assert s.pile.port(3).fault == "fuse_blown"
    assert ("fuse_blown", 3, 1) in s.alarms
    assert "stop_fuse" in s.said
    assert s.relay(1) and s.relay(2)


def test_no_voltage_on_every_port_is_the_mains_not_a_fuse():
    s = charging()
    for port in range(1, 11):
        s.voltage_dv[port] = 0
    s.run(1000)
    assert all(port.fault is None for port in s.pile.ports)


def test_power_through_an_open_relay_is_a_welded_relay_after_its_hold():
    s = charging(WELD_HOLD_S=2)
    s.load(5, 80)
    s.welded.add(5)
    s.run(1800)
    assert s.pile.port(5).fault is None, "a relay may take a reading or two to open"
    s.run(400)
    assert s.pile.port(5).fault == "relay_welded"
    assert ("relay_welded", 5, 1) in s.alarms
    assert "relay_welded" in s.said
    assert s.relay(1) and s.relay(2), "the other ports keep charging"


def test_a_reading_taken_as_a_relay_opens_is_not_a_weld():
    s = charging(WELD_HOLD_S=2)
    s.keys("D1#")
    s.welded.add(1)
    s.run(400)
    s.welded.discard(1)
    s.run(4000)
    assert s.pile.port(1).fault is None


def test_smoke_opens_every_relay_at_once_and_ends_every_session():
    s = charging()
    s.pile.on_smoke(s.now, True)
    assert not any(s.pile.relay)
    s._drain()
    assert sorted(order["port"] for order in s.orders) == [1, 2]
    assert all(order["reason"] == "smoke" for order in s.orders)
    assert s.alarms.count(("smoke", 0, 1)) == 1
    assert "smoke_alarm" in s.said


def test_smoke_latches_refuses_payments_and_a_flapping_detector_raises_one_alarm():
    s = charging()
    for _ in range(5):
        s.pile.on_smoke(s.now, True)
        s.run(200)
        s.pile.on_smoke(s.now, False)
        s.run(200)
    assert s.alarms.count(("smoke", 0, 1)) == 1
    s.load(3, 150)
    s.pay(3, 1)
    s.run(1000)
    assert not any(s.pile.relay)
    assert s.panel.credit_fen == 100


def test_smoke_is_cleared_only_once_the_detector_is_quiet():
    s = charging()
    s.pile.on_smoke(s.now, True)
    assert s.pile.clear(s.now, 0) == prompts.SMOKE_ALARM
    assert s.pile.smoke
    s.pile.on_smoke(s.now, False)
    assert s.pile.smoke, "quiet is not cleared"
    assert s.pile.clear(s.now, 0) == prompts.ALARM_CLEARED
    s._drain()
    assert ("smoke", 0, 0) in s.alarms
    s.pay(1, 1)
    s.run(1000)
    assert s.relay(1)


def test_the_managers_code_at_the_keypad_clears_and_a_wrong_one_does_not():
    s = charging(SERVICE_PIN=4711)
    s.pile.on_smoke(s.now, True)
    s.pile.on_smoke(s.now, False)
    s.keys("C4712#")
    assert s.pile.smoke and "wrong_code" in s.said
    assert s.panel.entry() == ""
    s.keys("C47")
    assert s.panel.entry() == "Code **"
    s.keys("11#")
    assert not s.pile.smoke and "alarm_cleared" in s.said


def test_without_a_code_set_the_keypad_never_clears():
    s = charging()
    s.pile.on_smoke(s.now, True)
    s.pile.on_smoke(s.now, False)
    s.keys("C0#")
    s.keys("C#")
    assert s.pile.smoke


def test_cabinet_heat_warns_then_pauses_every_port_and_resumes_below_the_resume_point():
    s = charging(HEAT_WARN_C=55, HEAT_STOP_C=65, HEAT_RESUME_C=50, HEAT_HOLD_S=1)
    s.temp_dc = 560
    s.run(1200)
    assert s.pile.heat == HEAT_WARN and s.relay(1)
    assert ("heat_warn", 0, 1) in s.alarms
    s.temp_dc = 660
    s.run(1200)
    assert s.pile.heat == HEAT_STOP and not any(s.pile.relay)
    assert ("heat", 0, 1) in s.alarms
    used = s.pile.port(1).session.used_mfen
    s.temp_dc = 560  # cooler, but not yet at the resume point
    s.run(30000)
    assert s.pile.heat == HEAT_STOP and not any(s.pile.relay)
    assert s.pile.port(1).session.used_mfen == used, "a paused session is not billed"
    assert s.state(1) == "charging" and not s.orders
    s.temp_dc = 490
    s.run(1200)
    assert s.pile.heat == HEAT_OK and s.relay(1) and s.relay(2)
    assert ("heat", 0, 0) in s.alarms and ("heat_warn", 0, 0) in s.alarms


def test_one_hot_reading_shorter_than_the_hold_changes_nothing():
    s = charging(HEAT_HOLD_S=2)
    s.temp_dc = 250
    s.run(400)
    s.temp_dc = 900
    s.run(1000)
    s.temp_dc = 250
    s.run(3000)
    assert s.pile.heat == HEAT_OK and s.relay(1)
    assert not [alarm for alarm in s.alarms if alarm[0].startswith("heat")]


def test_a_broken_thermometer_stops_charging_as_heat_would():
    s = charging(HEAT_HOLD_S=1)
    s.temp_dc = -550  # an open NTC reads colder than any cabinet
    s.run(1400)
    assert s.pile.heat == HEAT_STOP and not any(s.pile.relay)
    assert s.pile.refusal(3, s.now) == prompts.HEAT_PAUSE


def test_latched_smoke_and_faults_are_taken_back_after_a_restart():
    s = charging()
    s.flags[2] = 1
    s.run(400)
    s.pile.on_smoke(s.now, True)
    s.pile.on_smoke(s.now, False)
    latches = s.pile.latches()
    assert latches == [1, [[2, "short_circuit"]]]
    pile = Pile(s.cfg, s.now)
    pile.relatch(latches)
    assert pile.smoke and pile.port(2).fault == "short_circuit"
    assert pile.refusal(1, s.now) == prompts.SMOKE_ALARM
    assert pile.clear(s.now, 0) == prompts.ALARM_CLEARED
    assert pile.port(2).fault is None
