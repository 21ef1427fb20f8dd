"""Protections with the real firmware deciding: short circuit, blown fuse, welded relay, smoke, heat.

Each fault is injected where it happens (the port's line, the meter, the cabinet's detector and
thermistor); the tests read what a resident and a manager would see: relays, display, voice,
buzzer, orders and the alarms the pile raises.
"""

from hil_tests.rig import SimRig

CODE = 2468
SAFETY = {"SERVICE_PIN": CODE, "HEAT_HOLD_S": 1, "WELD_HOLD_S": 1}


def start_charging(rig: SimRig, *ports: int) -> None:
    for port in ports:
        rig.plug(port, "ebike")
        rig.pay_coins(port, 1)
    rig.wait_until(lambda: all(rig.relay(p) and rig.port_power(p) > 50 for p in ports), 8, f"ports {ports} charging")


def raised(rig: SimRig, name: str, port: int = 0, state: int = 1) -> list[dict]:
    return [r for r in rig.alarms(name) if r["port"] == port and r.get("state") == state]


def test_a_short_circuit_opens_that_relay_at_once_latches_the_port_and_a_manager_clears_it(make_rig):
    rig = make_rig(**SAFETY)
    start_charging(rig, 3, 4)
    rig.short_circuit(3)
    order = rig.wait_order(3, 2)
    assert order["reason"] == "short_circuit" and rig.relay(3) == 0
    assert rig.relay(4) == 1, "the other ports keep charging"
    rig.wait_until(lambda: rig.display()[0][2] == "X", 2, "the port's fault letter")
    assert "stop_short" in rig.said() and len(raised(rig, "short_circuit", 3)) == 1
    rig.short_circuit(3, 0)
    rig.pay_coins(3, 1)
    rig.wait_until(lambda: "port_fault" in rig.said(), 3, "the latched port refusing money")
    rig.hold(1.0, lambda: rig.relay(3) == 0, "a latched port stays off")
    rig.press(f"C{CODE}#")
    rig.wait_until(lambda: raised(rig, "short_circuit", 3, state=0), 3, "the short cleared")
    rig.wait_until(lambda: rig.display()[0][2] != "X", 2, "the fault letter gone")
    rig.pay_coins(3, 1)
    rig.wait_until(lambda: rig.relay(3) == 1, 5, "port 3 charging again")


def test_the_meters_over_current_flag_trips_the_port_as_a_short(make_rig):
    rig = make_rig(**SAFETY)
    start_charging(rig, 5)
    rig.meter_over_current_flag(5)
    order = rig.wait_order(5, 2)
    assert order["reason"] == "short_circuit" and rig.relay(5) == 0


def test_a_blown_fuse_latches_its_port_on_per_port_meters(make_rig):
    rig = make_rig(profile="sdm120", **SAFETY)
    start_charging(rig, 6, 7)
    rig.blow_fuse(6)
    order = rig.wait_order(6, 3)
    assert order["reason"] == "fuse_blown"
    rig.wait_until(lambda: rig.display()[0][5] == "F", 2, "the blown-fuse letter")
    assert raised(rig, "fuse_blown", 6) and "stop_fuse" in rig.said()
    assert rig.relay(7) == 1


def test_a_welded_relay_raises_an_alarm_and_the_other_ports_keep_charging(make_rig):
    rig = make_rig(**SAFETY)
    start_charging(rig, 1, 2)
    rig.weld_relay(2)
    rig.press("D2#")
    rig.wait_order(2, 3)
    rig.wait_until(lambda: raised(rig, "relay_welded", 2), 4, "the welded relay's alarm")
    rig.wait_until(lambda: rig.display()[0][1] == "R", 2, "the welded-relay letter")
    assert "relay_welded" in rig.said()
    assert rig.relay(1) == 1 and rig.port_power(1) > 50


def test_smoke_cuts_every_relay_at_once_sounds_the_buzzer_and_holds_until_a_manager_clears(make_rig):
    rig = make_rig(**SAFETY)
    start_charging(rig, 1, 2, 3)
    rig.smoke(True)
    rig.wait_until(lambda: not any(rig.relay(p) for p in range(1, 11)), 0.5, "every relay off")
    for port in (1, 2, 3):
        assert rig.wait_order(port, 2)["reason"] == "smoke"
    rig.wait_until(lambda: rig.buzzer() == 1, 1, "the buzzer")
    rig.wait_until(lambda: rig.display()[1].rstrip() == "SMOKE! All off A1", 1, "the smoke code")
    assert rig.said().count("smoke_alarm") == 1
    # A detector that flaps is one alarm, not a storm.
    for _ in range(4):
        rig.smoke(False)
        rig.smoke(True)
    rig.pay_coins(4, 1)
    rig.press(f"C{CODE}#")  # refused: the detector still reads smoke
    rig.hold(1.0, lambda: not any(rig.relay(p) for p in range(1, 11)) and rig.buzzer() == 1, "the smoke latch")
    assert len(raised(rig, "smoke")) == 1
    rig.smoke(False)
    rig.hold(0.5, lambda: rig.buzzer() == 1, "the latch after the smoke clears")
    rig.press(f"C{CODE}#")
    rig.wait_until(lambda: raised(rig, "smoke", state=0), 3, "the smoke alarm cleared")
    rig.wait_until(lambda: rig.buzzer() == 0, 1, "the buzzer quiet")
    rig.plug(4, "ebike")
    rig.press("4#")  # the coins kept on the panel start port 4
    rig.wait_until(lambda: rig.relay(4) == 1, 5, "charging again")


def test_the_smoke_latch_survives_a_power_cut(make_rig):
    rig = make_rig(**SAFETY)
    start_charging(rig, 2)
    rig.smoke(True)
    rig.wait_order(2, 2)
    rig.smoke(False)
    rig.power_cut()
    rig.power_restore()
    rig.wait_until(lambda: rig.buzzer() == 1, 3, "the buzzer after the restart")
    rig.wait_until(lambda: rig.display()[1].rstrip() == "SMOKE! All off A1", 3, "the smoke code after the restart")
    rig.pay_coins(2, 1)
    rig.hold(1.5, lambda: rig.relay(2) == 0, "no charging while latched")


def test_cabinet_heat_warns_then_pauses_every_port_and_resumes_when_cool(make_rig):
    rig = make_rig(HEAT_WARN_C=55, HEAT_STOP_C=65, HEAT_RESUME_C=50, **SAFETY)
    start_charging(rig, 1, 2)
    rig.cabinet_temperature(58)
    rig.wait_until(lambda: raised(rig, "heat_warn"), 4, "the heat warning")
    rig.wait_until(lambda: rig.display()[3].rstrip() == "Cabinet hot H1", 2, "the warning on the display")
    assert rig.relay(1) == 1
    rig.cabinet_temperature(70)
    rig.wait_until(lambda: not rig.relay(1) and not rig.relay(2), 4, "every relay off")
    rig.wait_until(lambda: rig.display()[1].rstrip() == "Too hot, paused H2", 2, "the heat code")
    assert raised(rig, "heat")[0]["detail"].startswith("70.")
    rig.cabinet_temperature(56)  # cooler, not yet at the resume point
    rig.hold(2.0, lambda: not rig.relay(1), "paused above the resume point")
    assert not rig.orders(), "sessions pause, they do not end"
    rig.cabinet_temperature(45)
    rig.wait_until(lambda: rig.relay(1) and rig.relay(2), 5, "charging resumed")
    assert raised(rig, "heat", state=0) and raised(rig, "heat_warn", state=0)


def test_a_broken_thermometer_stops_charging(make_rig):
    rig = make_rig(**SAFETY)
    start_charging(rig, 1)
    rig.break_thermistor()
    rig.wait_until(lambda: rig.relay(1) == 0, 4, "relay off")
    assert raised(rig, "heat")[0]["detail"] == "sensor broken"
