"""Charger curve shape (soft start, CC, CV falling to trickle), speedup, presets, constant loads."""

import pytest

from boards.sim.world.charger import CHARGERS, Charger, ConstantLoad, make_charger

STEP_S = 0.05


def _run(charger, seconds, step_s=STEP_S):
    """Power the charger for `seconds`; return [(t, power, phase)] per step."""
    samples = []
    t = 0.0
    for _ in range(round(seconds / step_s)):
        t += step_s
        samples.append((t, charger.power_w(step_s, True), charger.phase))
    return samples


def test_soft_start_ramps_over_about_a_second():
    charger = make_charger("ebike", seed=1)
    samples = _run(charger, 1.5)
    assert samples[0][1] < 0.1 * charger.rated_w
    at_half_s = next(p for t, p, _ in samples if t >= 0.5)
    assert 0.35 * charger.rated_w < at_half_s < 0.65 * charger.rated_w
    assert samples[-1][1] > 0.85 * charger.rated_w


def test_constant_current_then_falling_power_then_trickle():
    # One real second is one battery hour.
    charger = make_charger("ebike", soc=0.2, speedup=3600.0, seed=2)
    samples = _run(charger, 10.0)
    phases = [phase for _, _, phase in samples]
    assert phases[0] == "cc" and phases[-1] == "full"
    # Phases come in order and never go back.
    assert [p for i, p in enumerate(phases) if i == 0 or p != phases[i - 1]] == ["cc", "cv", "full"]

    cc = [p for t, p, phase in samples if phase == "cc" and t > 1.5]
    assert all(0.88 * charger.rated_w <= p <= 1.03 * charger.rated_w for p in cc)
    # Power creeps up with the pack voltage during constant current.
    assert sum(cc[-10:]) / 10 > sum(cc[:10]) / 10

    cv = [p for _, p, phase in samples if phase == "cv"]
    quarter = len(cv) // 4
    means = [sum(cv[i * quarter : (i + 1) * quarter]) / quarter for i in range(4)]
    assert means == sorted(means, reverse=True)
    assert means[0] > 4 * means[-1]

    full = [p for _, p, phase in samples if phase == "full"]
    assert all(0.95 * charger.trickle_w <= p <= 1.05 * charger.trickle_w for p in full)
    assert charger.soc == 1.0

    hours_to_full = next(t for t, _, phase in samples if phase == "full")
    assert 4.0 < hours_to_full < 9.0  # a 48 V 12 Ah pack from 20 %


def test_speedup_scales_time_not_power():
    slow = make_charger("tricycle", soc=0.5, speedup=600.0, seed=3)
    fast = make_charger("tricycle", soc=0.5, speedup=1200.0, seed=3)
    slow_samples = _run(slow, 40.0, step_s=0.1)
    fast_samples = _run(fast, 20.0, step_s=0.1)
    slow_cv_at = next(t for t, _, phase in slow_samples if phase == "cv")
    fast_cv_at = next(t for t, _, phase in fast_samples if phase == "cv")
    assert fast_cv_at == pytest.approx(slow_cv_at / 2, rel=0.05)
    slow_peak = max(p for _, p, _ in slow_samples)
    fast_peak = max(p for _, p, _ in fast_samples)
    assert fast_peak == pytest.approx(slow_peak, rel=0.03)


def test_large_steps_stay_stable():
    charger = make_charger("ebike", soc=0.2, speedup=36000.0, seed=4)
    powers = [charger.power_w(1.0, True) for _ in range(10)]
    assert charger.phase == "full"
    assert all(0 <= p <= 1.05 * charger.rated_w for p in powers)


def test_unpowered_draws_nothing_and_keeps_charge_then_soft_starts_again():
    charger = make_charger("ebike", soc=0.3, speedup=3600.0, seed=5)
    _run(charger, 2.0)
    soc = charger.soc
    assert charger.power_w(5.0, False) == 0.0
    assert charger.soc == soc
    assert charger.power_w(STEP_S, True) < 0.1 * charger.rated_w


def test_noise_is_small_and_seedable():
    def cc_powers(seed):
        charger = Charger(rated_w=200.0, capacity_wh=1000.0, soc=0.3, seed=seed)
        _run(charger, 1.0)
        return [charger.power_w(STEP_S, True) for _ in range(200)]

    first, again, other = cc_powers(11), cc_powers(11), cc_powers(12)
    assert first == again
    assert first != other
    mean = sum(first) / len(first)
    assert all(abs(p / mean - 1) <= 0.02 for p in first)
    assert max(first) != min(first)


def test_presets_have_typical_figures():
    assert set(CHARGERS) == {"ebike", "tricycle", "scooter_small"}
    assert 150 <= CHARGERS["ebike"].rated_w <= 180
    assert CHARGERS["ebike"].capacity_wh == pytest.approx(48 * 12)
    assert 250 <= CHARGERS["tricycle"].rated_w <= 300
    assert CHARGERS["scooter_small"].rated_w < CHARGERS["ebike"].rated_w
    charger = make_charger("scooter_small", soc=0.9)
    assert (charger.rated_w, charger.soc, charger.phase) == (120.0, 0.9, "cv")
    with pytest.raises(KeyError):
        make_charger("lorry")


def test_constant_load_draws_its_power_while_on():
    heater = ConstantLoad(1500.0, seed=1)
    powers = [heater.power_w(0.1, True) for _ in range(100)]
    assert all(abs(p / 1500.0 - 1) <= 0.01 for p in powers)
    assert heater.power_w(0.1, False) == 0.0
