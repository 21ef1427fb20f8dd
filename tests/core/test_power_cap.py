"""Ordered charging: the cap (PILE_MAX_W, lowered by CAP_SCHEDULE), the queue's turns, and the cap never
exceeded for longer than one reading."""

from firmware.pile import cap_at, in_window, local_minute
from tests.core.scenario import WALL_START_S, Scenario

# The scenario's clock starts at 22:13:20 UTC: this offset puts its start 20 s into local ``minute``.
START_MINUTE_UTC = (WALL_START_S % 86400) // 60


def at_minute(minute, **overrides):
    offset = (minute - START_MINUTE_UTC) % 1440
    return Scenario(UTC_OFFSET_MIN=offset - 1440 if offset > 840 else offset, **overrides)


def test_the_cap_follows_the_time_of_day():
    schedule = [[360, 5000], [1080, 300], [1320, 4000]]
    assert cap_at(300, schedule, 6000) == 4000, "before the day's first entry: the last one's"
    assert cap_at(360, schedule, 6000) == 5000
    assert cap_at(1100, schedule, 6000) == 300
    assert cap_at(1439, schedule, 3000) == 3000, "never above PILE_MAX_W"
    assert cap_at(700, [], 6000) == 6000
    assert local_minute(0, 8 * 3600) == 480


def test_a_night_window_may_run_past_midnight():
    assert in_window(1380, 1380, 360) and in_window(0, 1380, 360) and in_window(359, 1380, 360)
    assert not in_window(360, 1380, 360) and not in_window(1379, 1380, 360)
    assert in_window(800, 780, 840) and not in_window(840, 780, 840)
    assert not in_window(600, 600, 600), "a window that starts where it ends is none"


def test_a_lower_cap_sends_the_newest_session_back_at_once_and_the_old_cap_lets_it_run_again():
    s = at_minute(1079, CAP_SCHEDULE=[[360, 6000], [1080, 300], [1081, 6000]], START_RESERVE_W=150)
    s.run(400)
    for port in (1, 2):
        s.load(port, 180)
        s.pay(port, 1)
    s.run(1000)
    assert s.relay(1) and s.relay(2)
    s.run(40000)  # 18:00: the cap drops to 300 W
    assert s.pile.cap_w == 300
    assert s.relay(1) == 1 and s.relay(2) == 0 and s.state(2) == "queued"
    assert s.pile.queue == [2]
    s.run(60000)  # 18:01: back to 6000 W
    assert s.relay(1) and s.relay(2)


def test_waiting_ports_take_turns():
    s = Scenario(PILE_MAX_W=400, START_RESERVE_W=150, CAP_TURN_S=10)
    s.run(400)
    for port in (1, 2, 3):
        s.load(port, 180)
        s.pay(port, 1)
    s.run(1000)
    assert [s.state(p) for p in (1, 2, 3)] == ["charging", "charging", "queued"]
    charged = {1: 0, 2: 0, 3: 0}
    for _ in range(300):  # a minute
        s.run(200)
        for port in charged:
            charged[port] += s.relay(port)
    # Two of three ports have room at a time: each had about two thirds of the minute.
    for scans in charged.values():
        assert 150 <= scans <= 250, charged
    assert "pile_busy" in s.said


def test_a_big_charger_waiting_gets_its_turn_when_enough_sessions_have_had_theirs():
    s = Scenario(PILE_MAX_W=400, START_RESERVE_W=100, CAP_TURN_S=5)
    s.run(400)
    s.load(1, 180)
    s.load(3, 100)
    s.pay(1, 1)
    s.pay(3, 1)
    s.run(1000)
    s.load(2, 380)
    s.pay(2, 1)
    s.run(400)
    # It drew 380 W next to 280 W: sent back, it now needs its 380 W, more than either yields alone.
    assert s.state(2) == "queued" and s.pile.port(2).need_w == 380
    phases = {(1, 0, 1): 0, (0, 1, 0): 0}
    for _ in range(150):  # 30 s of 5 s turns
        s.run(200)
        on = (s.relay(1), s.relay(2), s.relay(3))
        assert on in phases, on
        phases[on] += 1
    assert phases[(0, 1, 0)] >= 50 and phases[(1, 0, 1)] >= 50, phases


def _lcg(seed):
    state = seed
    while True:
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        yield state


def test_a_long_random_run_never_stays_over_the_cap_for_more_than_one_reading():
    rand = _lcg(7)
    s = at_minute(600, PILE_MAX_W=1500, START_RESERVE_W=200, CAP_TURN_S=20, CAP_SCHEDULE=[[0, 1500], [605, 700]])
    s.run(400)
    over_in_a_row = 0
    worst = 0
    for _ in range(3000):  # ten minutes of readings; the cap drops at 10:05
        roll = next(rand) % 100
        port = next(rand) % 10 + 1
        if roll < 3 and s.state(port) in ("idle", "stopped"):
            s.load(port, 100 + next(rand) % 500)
            s.pay(port, 1)
        elif roll < 5:
            s.load(port, 100 + next(rand) % 900)  # a charger changes its draw
        elif roll < 6:
            s.keys("D%d#" % port)
        s.run(200)
        total = sum(s.loads.get(p, 0) for p in range(1, 11) if s.relay(p))
        # The relays as the last reading left them: what the next reading will measure.
        over_in_a_row = over_in_a_row + 1 if total > s.pile.cap_w else 0
        worst = max(worst, over_in_a_row)
    assert s.pile.cap_w == 700
    assert worst <= 1, worst
    assert len(s.orders) > 10
