"""The night window: nothing starts in it; running sessions pause (not billed) or end, by NIGHT_POLICY."""

from firmware import prompts
from tests.core.test_power_cap import at_minute

# 23:00 to 06:00; the scenarios start at 22:59:20 local.
WINDOW = {"NIGHT_START_MIN": 1380, "NIGHT_END_MIN": 360}


def charging_before_the_window(**overrides):
    s = at_minute(1379, UNIT_MIN=10, **WINDOW, **overrides)
    s.run(400)
    for port in (1, 2):
        s.load(port, 150)
        s.pay(port, 1)
    s.run(1000)
    assert s.relay(1) and s.relay(2)
    return s


def test_sessions_pause_unbilled_through_the_window_and_resume_after_it():
    s = charging_before_the_window()
    s.run(40000)  # 23:00
    assert s.pile.night and not any(s.pile.relay)
    used = s.pile.port(1).session.used_mfen
    assert s.state(1) == "charging" and not s.orders
    s.run(60000)
    assert s.pile.port(1).session.used_mfen == used, "a paused session is not billed"
    assert "night_closed" in s.said


def test_nothing_starts_in_the_window_and_the_coins_wait():
    s = charging_before_the_window()
    s.run(40000)
    s.load(3, 150)
    s.pay(3, 2)
    assert s.relay(3) == 0 and s.panel.credit_fen == 200
    assert s.pile.refusal(3, s.now) == prompts.NIGHT_CLOSED


def test_sessions_end_at_the_window_when_the_policy_says_so():
    s = charging_before_the_window(NIGHT_POLICY="end")
    s.run(40000)
    assert sorted(order["port"] for order in s.orders) == [1, 2]
    assert all(order["reason"] == "night_window" for order in s.orders)


def test_coins_refused_in_the_window_start_a_port_once_it_has_closed():
    s = at_minute(359, UNIT_MIN=10, **WINDOW)
    s.run(400)
    s.load(1, 150)
    s.pay(1, 1)
    s.run(1000)
    assert s.relay(1) == 0 and s.panel.credit_fen == 100
    s.run(40000)  # 06:00
    assert not s.pile.night
    s.keys("1#")
    s.run(1000)
    assert s.relay(1) == 1 and s.panel.credit_fen == 0


def test_no_turns_are_taken_while_the_window_pauses_everything():
    s = at_minute(1379, PILE_MAX_W=400, START_RESERVE_W=150, CAP_TURN_S=2, **WINDOW)
    s.run(400)
    for port in (1, 2, 3):
        s.load(port, 300)  # one at a time fits
        s.pay(port, 1)
    s.run(40000)  # 23:00, then a minute of night
    assert len(s.pile.queue) == 2
    waiting = list(s.pile.queue)
    s.said.clear()
    s.run(60000)
    assert s.pile.queue == waiting and "pile_busy" not in s.said
