"""Power-loss memory: cut the power, bring it back, and nothing is lost or billed twice."""

import hashlib

import pytest

from hil_tests.test_stop_rules import start_charging


def test_cut_mid_session_resumes_with_the_charger_still_plugged(make_rig):
    rig = make_rig(CHECKPOINT_S=5, UNIT_MIN=10)
    start_charging(rig, port=4, coins=2)
    rig.hold(7, lambda: rig.relay(4) == 1, "charging past a checkpoint")
    rig.power_cut()
    rig.power_restore()
    rig.wait_until(lambda: rig.relay(4) == 1 and rig.port_power(4) > 50, 8, "port 4 resumed")
    boots = rig.records("boot")
    assert boots[-1]["resumed"] == [4]
    rig.hold(3, lambda: rig.relay(4) == 1, "still charging")
    rig.press("D4#")
    order = rig.wait_order(4, 3)
    assert order["reason"] == "keypad"
    assert order["paid"] == 200
    assert 0 < order["used"] <= 200
    assert [o["no"] for o in rig.orders()].count(order["no"]) == 1


def test_unplugged_during_the_outage_is_closed_with_its_own_reason(make_rig):
    rig = make_rig(CHECKPOINT_S=5, RESUME_CHECK_S=5)
    start_charging(rig, port=2)
    rig.hold(6, lambda: rig.relay(2) == 1, "charging past a checkpoint")
    rig.power_cut()
    rig.unplug(2)
    rig.power_restore()
    order = rig.wait_order(2, 12)
    assert order["reason"] == "outage_unplugged"
    assert rig.relay(2) == 0
    assert order["paid"] == 100


def test_queued_coins_and_order_numbers_survive_a_cut(make_rig):
    rig = make_rig()
    start_charging(rig, port=1)
    rig.press("D1#")
    first = rig.wait_order(1, 3)
    rig.insert_coins(2)  # waiting on the panel for a port
    rig.wait_until(lambda: "Credit 2.00Y" in rig.display()[3], 3, "credit shown")
    rig.power_cut()
    rig.power_restore()
    rig.wait_until(lambda: "Credit 2.00Y" in rig.display()[3], 3, "credit kept through the cut")
    rig.wait_until(lambda: rig.display()[0].startswith(".........."), 3, "meter read after the boot")
    rig.plug(6, "ebike")
    rig.press("6#")
    rig.wait_until(lambda: rig.relay(6) == 1, 3, "port 6 started with the kept coins")
    rig.press("D6#")
    second = rig.wait_order(6, 3)
    assert second["no"] > first["no"]
    assert second["paid"] == 200


def test_hung_task_ends_in_a_watchdog_reset_and_a_resume(make_rig):
    rig = make_rig(CHECKPOINT_S=5)
    start_charging(rig, port=5)
    rig.hold(6, lambda: rig.relay(5) == 1, "charging past a checkpoint")
    rig.hold_i2c_bus()  # the display driver's next write never returns
    rig.wait_until(lambda: rig.pile.watchdog_resets == 1, 10, "watchdog reset")
    rig.wait_until(lambda: rig.relay(5) == 1 and rig.port_power(5) > 50, 10, "port 5 resumed after the reset")
    assert rig.records("boot")[-1]["resumed"] == [5]


def test_boot_loop_ends_in_safe_mode(make_rig):
    rig = make_rig(SAFE_BOOTS=3, SAFE_WINDOW_S=600)
    start_charging(rig, port=3)
    for _ in range(2):
        rig.power_cut()
        rig.power_restore()
    rig.wait_until(lambda: rig.display()[0].startswith("SAFE MODE"), 3, "safe mode on the display")
    assert any(a["alarm"] == "safe_mode" and a["detail"] == "boot loop" for a in rig.records("alarm"))
    rig.hold(3, lambda: not any(rig.relay(p) for p in range(1, 11)), "every relay off in safe mode")


def test_flash_that_will_not_mount_is_reported_not_formatted(make_rig):
    rig = make_rig()
    start_charging(rig, port=3)
    rig.power_cut()
    image = rig.pile.flash_image
    data = bytearray(image.read_bytes())
    data[0 : 2 * 4096] = bytes(range(256)) * 32  # both superblock copies overwritten
    image.write_bytes(bytes(data))
    before = hashlib.sha256(image.read_bytes()).hexdigest()
    rig.power_restore()
    rig.wait_until(lambda: "flash fault" in rig.display()[1], 3, "flash fault shown")
    assert any(a["alarm"] == "flash_fault" for a in rig.records("alarm"))
    rig.hold(2, lambda: not any(rig.relay(p) for p in range(1, 11)), "relays off")
    assert hashlib.sha256(image.read_bytes()).hexdigest() == before  # nothing formatted


def test_no_relay_after_a_cut_until_the_meter_is_read_again(make_rig):
    rig = make_rig(CHECKPOINT_S=5)
    start_charging(rig, port=6)
    rig.hold(6, lambda: rig.relay(6) == 1, "charging past a checkpoint")
    rig.power_cut()
    rig.meter_fault("silence")
    rig.power_restore()
    rig.hold(4, lambda: rig.relay(6) == 0, "relay off while there is no reading")
    rig.meter_fault(None)
    rig.wait_until(lambda: rig.relay(6) == 1 and rig.port_power(6) > 50, 8, "port 6 resumed once read")


@pytest.mark.parametrize("completes", [False, True])
def test_cut_at_a_flash_write_during_a_stop_keeps_exactly_one_order(make_rig, completes):
    rig = make_rig(CHECKPOINT_S=5, RESUME_CHECK_S=5)
    start_charging(rig, port=7)
    rig.hold(2, lambda: rig.relay(7) == 1, "charging")
    rig.cut_after_writes(2, completes)  # inside the stop's order and session writes
    rig.press("D7#")
    rig.wait_until(lambda: not rig.pile.powered, 5, "the cut at the armed write")
    rig.power_restore()
    rig.wait_until(lambda: rig.relay(7) == 1 or not rig.records("boot")[-1]["resumed"], 8, "restored")
    rig.press("D7#")  # stops it if the order had not landed; answers "idle" if it had
    rig.hold(1, lambda: True, "stop written")
    rig.power_cut()
    stored = [order for order in rig.stored_orders() if order["port"] == 7]
    assert len(stored) == 1, stored
    assert stored[0]["paid"] == 100
