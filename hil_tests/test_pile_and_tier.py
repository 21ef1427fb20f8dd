"""The pile limit queue and the power-tier tariff, decided by the firmware in the VM."""


def test_start_over_the_pile_limit_waits_then_starts_when_room_frees(make_rig):
    rig = make_rig(PILE_MAX_W=500, START_RESERVE_W=200)
    for port in (1, 2, 3):
        rig.plug(port, "ebike")
        rig.pay_coins(port, 1)
    rig.wait_until(lambda: rig.relay(1) and rig.relay(2), 5, "ports 1 and 2 on")
    rig.hold(2, lambda: rig.relay(3) == 0, "port 3 waiting in the queue")
    assert "queued" in rig.said()
    assert rig.records("ports")[-1]["ports"][2][0] == "queued"
    rig.unplug(1)
    rig.wait_order(1, 8)
    rig.wait_until(lambda: rig.relay(3) == 1, 3, "port 3 started once port 1 left")


def test_power_tier_is_fixed_after_settle_and_moves_up(make_rig):
    rig = make_rig(
        TARIFF_MODE="tier",
        TIERS=[[200, 300], [400, 240], [1000, 100]],
        SETTLE_S=4,
        TIER_UP_HOLD_S=3,
    )

    def left():
        return rig.records("ports")[-1]["ports"][1][2]

    rig.set_load(2, 900)  # start-up surge
    rig.pay_coins(2, 1)
    rig.wait_until(lambda: rig.relay(2) == 1, 3, "port 2 on")
    rig.hold(0.6, lambda: True, "surge")
    rig.set_load(2, 150)  # settled power of an e-bike charger
    rig.hold(5, lambda: True, "settling")
    rig.wait_until(lambda: 17000 < left() <= 18000, 3, "tier 0: 300 min per yuan")
    rig.set_load(2, 600)  # the charger now draws a higher tier's power
    rig.wait_until(lambda: left() <= 6000, 8, "time left recomputed at the 100 min tier")
    rig.press("D2#")
    order = rig.wait_order(2, 3)
    assert order["tier"] == 2
