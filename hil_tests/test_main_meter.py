"""The main meter (DL/T 645 on its own line) is read, logged and reported; its faults never touch charging."""

from hil_tests.test_cloud_sync import pile

MAIN_METER = {"main_meter": True, "MAIN_METER_S": 2}


def readings(rig):
    return rig.records("main_meter")


def alarms(rig, name):
    return [r for r in rig.records("alarm") if r["alarm"] == name]


def test_the_meters_values_are_read_with_their_signs(make_rig):
    rig = make_rig(**MAIN_METER)
    rig.wait_until(lambda: readings(rig), 8, "a first main meter reading")
    first = readings(rig)[0]
    assert first["address"] == "000000001234"  # learned through the wildcard address
    assert [first[key] for key in ("energy_wh", "voltage_dv", "current_ma", "power_w")] == [1206420, 2205, 4520, 995]
    rig.main_meter_values(energy_wh=3456780, voltage_dv=2301, current_ma=-12345, power_w=-2841)
    rig.wait_until(lambda: readings(rig)[-1]["power_w"] == -2841, 8, "the reverse-flow reading")
    last = readings(rig)[-1]
    assert (last["energy_wh"], last["voltage_dv"], last["current_ma"]) == (3456780, 2301, -12345)
    assert not rig.records("main_meter_error")


def test_a_silent_meter_raises_one_alarm_and_one_back(make_rig):
    rig = make_rig(**MAIN_METER)
    rig.wait_until(lambda: readings(rig), 8, "a first main meter reading")
    rig.main_meter_fault("silence")
    rig.wait_until(lambda: alarms(rig, "main_meter_lost"), 10, "the main meter lost")
    count = len(readings(rig))
    rig.hold(8, lambda: len(alarms(rig, "main_meter_lost")) == 1, "one alarm for the whole outage")
    assert len(readings(rig)) == count
    assert len(rig.records("main_meter_error")) == 1  # the streak is logged once, not every poll
    rig.main_meter_fault(None)
    rig.wait_until(lambda: alarms(rig, "main_meter_back"), 10, "the main meter back")
    rig.wait_until(lambda: len(readings(rig)) > count, 5, "readings again")
    assert len(alarms(rig, "main_meter_lost")) == 1 and len(alarms(rig, "main_meter_back")) == 1


def test_garbage_on_the_main_meter_line_never_stops_charging(make_rig):
    rig = make_rig(**MAIN_METER)
    rig.plug(1, "ebike")
    rig.pay_coins(1, 1)
    rig.wait_until(lambda: rig.relay(1), 5, "port 1 charging")
    rig.main_meter_fault("garbage")
    rig.hold(12, lambda: rig.relay(1) == 1, "port 1 charging through main meter garbage")
    errors = rig.records("main_meter_error")
    assert errors and errors[0]["garbage"] > 0
    assert rig.pile.vm.running and rig.pile.watchdog_resets == 0
    rig.main_meter_fault(None)
    count = len(readings(rig))
    rig.wait_until(lambda: len(readings(rig)) > count, 10, "readings after the garbage")
    assert rig.relay(1) == 1, (rig.records("ports")[-1], rig.orders(), rig.records("alarm"))


def test_the_main_meter_is_reported_to_the_bridge(make_rig, cloud):
    rig = pile(make_rig, cloud, **MAIN_METER)
    rig.wait_until(lambda: reported(cloud), 15, "a first reading in the bridge")
    rig.main_meter_values(energy_wh=2345670, voltage_dv=2312, current_ma=-1500, power_w=-345)
    rig.wait_until(lambda: reported(cloud)[-1:] == [(2345670, 2312, -1500, -345)], 15, "the reading in the bridge")


def reported(cloud):
    db = cloud.bridge_db()
    rows = db.query(
        "SELECT energy_wh, voltage_dv, current_ma, power_w FROM meters WHERE pile = ? ORDER BY boot, seq", ("PILE-A",)
    )
    db.close()
    return rows
