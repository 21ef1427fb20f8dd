"""Ordered charging with the real firmware deciding: a long random run under the pile's cap, and the night
window."""

from __future__ import annotations

import random
import time

import pytest

from boards.sim.world.world import PHYSICS_STEP_S
from tools.bench import wire_ms

CAP_W = 800
SCAN_MS = 200
# One control cycle: the next complete reading after the excess appears (the scan period and the reply's
# bytes on the wire), the relay opening on it, and the world's own step in which each shows.
CONTROL_CYCLE_S = (SCAN_MS + wire_ms("mc10", 9600) + 2 * PHYSICS_STEP_S * 1000) / 1000


@pytest.mark.soak
def test_a_long_random_run_never_stays_over_the_cap_for_more_than_one_control_cycle(make_rig):
    rig = make_rig(PILE_MAX_W=CAP_W, START_RESERVE_W=150, CAP_TURN_S=6, METER_SCAN_MS=SCAN_MS, FREE_MODE=True)
    rig.watch_cap(CAP_W)
    rand = random.Random(11)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        port = rand.randint(1, 10)
        roll = rand.random()
        if roll < 0.5:
            rig.set_load(port, rand.choice((120, 180, 250, 400)))
            rig.press(f"{port}#")
        elif roll < 0.7:
            rig.set_load(port, rand.choice((90, 300, 500)))  # a charger changes its draw
        else:
            rig.unplug(port)
        time.sleep(rand.uniform(0.2, 1.2))
    longest_s, stretches = rig.over_cap()
    print(f"{stretches} stretches over the cap, the longest {longest_s * 1000:.0f} ms")
    assert stretches, "the run never went over the cap: it tested nothing"
    assert longest_s <= CONTROL_CYCLE_S, longest_s
    assert "pile_busy" in rig.said()
    assert len({order["port"] for order in rig.orders()}) >= 3, "sessions came and went"


@pytest.mark.soak
def test_the_night_window_pauses_charging_and_refuses_new_sessions(make_rig):
    # The window opens at the next minute of the host's clock (the virtual pile's wall clock).
    while not 30 <= time.time() % 60 < 40:
        time.sleep(0.5)
    minute = int(time.time() // 60 % 1440)
    rig = make_rig(UTC_OFFSET_MIN=0, NIGHT_START_MIN=(minute + 1) % 1440, NIGHT_END_MIN=(minute + 30) % 1440)
    rig.plug(1, "ebike")
    rig.pay_coins(1, 1)
    rig.wait_until(lambda: rig.relay(1) == 1, 8, "port 1 charging before the window")
    rig.wait_until(lambda: rig.relay(1) == 0, 35, "the window pausing port 1")
    rig.wait_until(lambda: rig.display()[1].rstrip() == "Night: closed N1", 2, "the night code")
    rig.plug(2, "ebike")
    rig.pay_coins(2, 1)
    rig.hold(3.0, lambda: not rig.relay(1) and not rig.relay(2), "no charging in the window")
    assert not rig.orders(), "paused, not ended (NIGHT_POLICY pause)"
    assert "night_closed" in rig.said()
