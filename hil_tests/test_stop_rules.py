"""Every stop reason, with the real firmware in the VM deciding."""

from hil_tests.rig import SimRig


def start_charging(rig: SimRig, port: int = 3, coins: int = 1, charger="ebike") -> None:
    rig.plug(port, charger)
    rig.pay_coins(port, coins)
    rig.wait_until(lambda: rig.relay(port) == 1 and rig.port_power(port) > 50, 5, f"port {port} charging")


def test_unplugged(make_rig):
    rig = make_rig()
    start_charging(rig)
    rig.unplug(3)
    order = rig.wait_order(3, 8)
    assert order["reason"] == "unplugged"
    assert rig.relay(3) == 0
    assert order["paid"] == 100 and order["method"] == "coin"
    rig.wait_until(lambda: "unplugged" in rig.display()[1], 2, "unplugged on the display")


def test_full_charge_stops_and_clears_time(make_rig):
    rig = make_rig(speedup=2000)
    start_charging(rig, coins=2)
    order = rig.wait_order(3, 40)
    assert order["reason"] == "full", order
    assert rig.relay(3) == 0
    assert "stop_full" in rig.said()


def test_credit_used_up(make_rig):
    rig = make_rig(UNIT_MIN=1, PRICE_FEN=100, COIN_FEN=10)  # a 10-fen coin buys 6 s
    start_charging(rig, coins=1)
    order = rig.wait_order(3, 15)
    assert order["reason"] == "credit"
    assert order["used"] == order["paid"] == 10


def test_overload_over_hold_refuses_a_heater(make_rig):
    rig = make_rig(PORT_MAX_W=1000, PORT_TRIP_W=3000)
    rig.set_load(4, 1400)
    rig.pay_coins(4, 1)
    order = rig.wait_order(4, 10)
    assert order["reason"] == "overload"
    assert rig.relay(4) == 0
    assert "stop_overload" in rig.said()


def test_overload_hard_limit_trips_at_once(make_rig):
    rig = make_rig(PORT_TRIP_W=2000, OVERLOAD_HOLD_S=30)
    start_charging(rig, port=5)
    rig.set_load(5, 2600)  # a short on a power strip
    order = rig.wait_order(5, 3)
    assert order["reason"] == "overload"
    assert rig.relay(5) == 0


def test_maximum_session_length(make_rig):
    rig = make_rig(MAX_SESSION_S=10, FULL_HOLD_S=600)
    start_charging(rig, port=2, coins=2)
    order = rig.wait_order(2, 15)
    assert order["reason"] == "max_time"
    assert 9 <= order["charged_s"] <= 11


def test_stop_by_keypad_with_energy_on_the_order(make_rig):
    rig = make_rig()
    rig.set_load(7, 900)
    rig.pay_coins(7, 1)
    rig.wait_until(lambda: rig.relay(7) == 1, 3, "port 7 on")
    rig.hold(12, lambda: rig.relay(7) == 1, "port 7 charging")
    rig.press("D7#")
    order = rig.wait_order(7, 3)
    assert order["reason"] == "keypad"
    assert rig.relay(7) == 0
    assert 2 <= order["wh"] <= 4, order  # 900 W for about 12 s


def test_no_charger_plugged(make_rig):
    rig = make_rig(PLUG_WAIT_S=5)
    rig.pay_coins(9, 1)
    rig.wait_until(lambda: rig.relay(9) == 1, 3, "relay on waiting for a plug")
    order = rig.wait_order(9, 10)
    assert order["reason"] == "no_load"
    assert order["used"] == 0
