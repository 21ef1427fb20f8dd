"""Prices: flat time, power tiers and energy; payments add up; nothing is billed twice."""

from firmware import config
from firmware.session import Session
from firmware.tariff import Tariff
from tests.core.scenario import Scenario


def tariff(**overrides):
    cfg = config.defaults()
    cfg.update(overrides)
    return Tariff(cfg)


def test_one_yuan_buys_four_hours_in_small_slices():
    t = tariff(TARIFF_MODE="time", PRICE_FEN=100, UNIT_MIN=240)
    s = Session("coin", 100, 0, 0)
    for _ in range(4 * 3600 * 5):
        t.accrue_time(s, 200)
    assert s.used_mfen == 100000
    assert s.used_up()


def test_seconds_left_follows_the_credit():
    t = tariff(TARIFF_MODE="time", PRICE_FEN=100, UNIT_MIN=240)
    s = Session("coin", 200, 0, 0)
    assert t.seconds_left(s) == 8 * 3600
    t.accrue_time(s, 3600 * 1000)
    assert t.seconds_left(s) == 7 * 3600


def test_tier_lookup():
    t = tariff(TARIFF_MODE="tier", TIERS=[[200, 300], [400, 240], [1000, 100]])
    assert t.tier_of(150) == 0
    assert t.tier_of(200) == 0
    assert t.tier_of(201) == 1
    assert t.tier_of(900) == 2
    assert t.tier_of(3000) == 2
    assert tariff(TARIFF_MODE="time").tier_of(900) == -1


def test_energy_mode_bills_measured_energy():
    t = tariff(TARIFF_MODE="energy", ENERGY_FEN_PER_KWH=180)
    s = Session("coin", 100, 0, 0)
    s.count_energy(5000)
    s.count_energy(5500)
    t.accrue_energy(s)
    assert s.energy_wh == 500
    assert s.settle() == (100, 90, 0)


def test_energy_register_reset_is_rebased():
    s = Session("coin", 100, 0, 0)
    s.count_energy(1000)
    s.count_energy(1100)
    s.count_energy(5)  # meter replaced or reset
    s.count_energy(25)
    assert s.energy_wh == 120


def test_refund_only_where_money_can_go_back():
    s = Session("card", 300, 0, 0)
    s.used_mfen = 120500
    assert s.settle() == (300, 120, 180)
    s = Session("coin", 300, 0, 0)
    s.used_mfen = 120500
    assert s.settle() == (300, 120, 0)


def test_start_up_surge_does_not_set_the_tier():
    s = Scenario(TARIFF_MODE="tier", SETTLE_S=10, TIERS=[[200, 300], [400, 240], [1000, 100]])
    s.run(400)
    s.load(2, 900)  # inrush while the charger's capacitors fill
    s.pay(2, 1)
    s.run(1000)
    assert s.pile.port(2).session.tier == 2  # provisional while settling
    s.load(2, 160)
    s.run(10000)
    assert s.pile.port(2).session.settled
    assert s.pile.port(2).session.tier == 0


def test_power_tier_fixed_after_settle_window():
    s = Scenario(TARIFF_MODE="tier", SETTLE_S=10, TIER_UP_HOLD_S=5, TIERS=[[200, 300], [400, 240], [1000, 100]])
    s.run(400)
    s.load(2, 150)
    s.pay(2, 1)
    s.run(2000)
    s.load(2, 350)  # the charger settles at a higher power within the window
    s.run(9000)
    assert s.pile.port(2).session.settled
    assert s.pile.port(2).session.tier == 1
    s.load(2, 120)  # falling power (constant-voltage phase) never lowers the tier
    s.run(10000)
    assert s.pile.port(2).session.tier == 1


def test_power_tier_moves_up_after_a_sustained_rise():
    s = Scenario(TARIFF_MODE="tier", SETTLE_S=5, TIER_UP_HOLD_S=5, TIERS=[[200, 300], [400, 240], [1000, 100]])
    s.run(400)
    s.load(2, 150)
    s.pay(2, 1)
    s.run(8000)
    assert s.pile.port(2).session.tier == 0
    s.load(2, 600)
    s.run(3000)
    assert s.pile.port(2).session.tier == 0  # a short rise is not enough
    s.run(3000)
    assert s.pile.port(2).session.tier == 2


def test_higher_tier_uses_credit_faster():
    def used_after(watts):
        s = Scenario(TARIFF_MODE="tier", SETTLE_S=1, TIERS=[[200, 300], [400, 240], [1000, 100]])
        s.run(400)
        s.load(1, watts)
        s.pay(1, 1)
        s.run(120000)
        return s.pile.port(1).session.used_mfen

    low = used_after(150)
    high = used_after(800)
    # 300 vs 100 minutes per yuan: three times the price per second
    assert 2.9 < high / low < 3.1, (low, high)


def test_time_accumulates_over_payments():
    s = Scenario()
    s.run(400)
    s.load(5, 150)
    s.pay(5, 1)
    s.run(1000)
    s.pay(5, 2)
    assert "added" in s.said
    assert s.pile.port(5).session.paid_mfen == 300000
    s.keys("D5#")
    assert s.orders[-1]["paid"] == 300
    assert s.orders[-1]["payments"] == 2
