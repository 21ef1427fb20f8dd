"""The pile limit: starts wait in a queue, first paid first, and run when room frees; a reading over the
limit sends the newest session back to the queue at once."""

from tests.core.scenario import Scenario


def test_start_waits_for_room_and_runs_when_it_frees():
    s = Scenario(PILE_MAX_W=500, START_RESERVE_W=200)
    s.run(400)
    for port in (1, 2, 3):
        s.load(port, 180)
    s.pay(1, 1)
    s.pay(2, 1)
    s.pay(3, 1)
    s.run(1000)
    assert [s.state(p) for p in (1, 2, 3)] == ["charging", "charging", "queued"]
    assert s.relay(3) == 0
    assert "queued" in s.said
    s.keys("D1#")
    s.run(1000)
    assert s.state(3) == "charging" and s.relay(3) == 1


def test_queue_is_first_paid_first_started():
    s = Scenario(PILE_MAX_W=400, START_RESERVE_W=200)
    s.run(400)
    for port in (1, 2, 3, 4):
        s.load(port, 180)
    for port in (1, 2, 4, 3):
        s.pay(port, 1)
    s.run(1000)
    assert s.pile.queue == [4, 3]
    s.keys("D2#")
    s.run(600)
    assert s.state(4) == "charging" and s.state(3) == "queued"


def test_pile_overload_puts_newest_session_back_in_queue_on_the_reading_that_shows_it():
    s = Scenario(PILE_MAX_W=700, START_RESERVE_W=200, OVERLOAD_HOLD_S=2)
    s.run(400)
    s.load(1, 180)
    s.load(2, 180)
    s.pay(1, 1)
    s.pay(2, 1)
    s.run(1000)
    s.load(2, 600)  # a charger that draws more than the room it was given
    s.scan()
    assert s.state(2) == "queued" and s.relay(2) == 0
    assert s.state(1) == "charging"
    assert s.pile.total_w() <= 700
    s.load(1, 0)
    s.run(12000)  # port 1 unplugged and stopped: room for port 2 again
    assert s.state(2) == "charging"


def test_queued_session_is_not_billed():
    s = Scenario(PILE_MAX_W=300, START_RESERVE_W=250, UNIT_MIN=1)
    s.run(400)
    s.load(1, 200)
    s.load(2, 200)
    s.pay(1, 1)
    s.pay(2, 1)
    s.run(30000)
    assert s.state(2) == "queued"
    assert s.pile.port(2).session.used_mfen == 0


def test_load_bigger_than_the_pile_is_refused_not_queued_forever():
    # Under the port limit but over the whole pile's: the pile-limit path must refuse it.
    s = Scenario(PILE_MAX_W=1200, PORT_MAX_W=2000, PORT_TRIP_W=3000, OVERLOAD_HOLD_S=2, START_RESERVE_W=250)
    s.run(400)
    s.load(1, 1500)
    s.pay(1, 1)
    s.run(400)
    assert s.state(1) == "stopped" and s.relay(1) == 0
    assert s.orders[-1]["reason"] == "overload"
    assert not s.pile.queue


def test_pile_over_limit_bumps_a_port_that_draws_power_not_one_still_waiting():
    s = Scenario(PILE_MAX_W=700, START_RESERVE_W=100, OVERLOAD_HOLD_S=2, PLUG_WAIT_S=60)
    s.run(400)
    s.load(1, 400)
    s.load(2, 150)
    s.pay(1, 1)
    s.pay(2, 1)
    s.pay(3, 1)  # paid, nothing plugged yet: waiting at 0 W
    s.run(600)
    assert s.state(3) == "wait_plug"
    s.load(1, 600)
    s.run(2600)
    assert s.state(3) == "wait_plug"
    assert s.state(2) == "queued"
    assert s.pile.total_w() <= 700


def test_port_overload_hold_is_not_restarted_by_the_plug_detection():
    s = Scenario(PORT_MAX_W=1000, OVERLOAD_HOLD_S=2)
    s.run(400)
    s.load(1, 1200)
    s.pay(1, 1)
    s.run(2200)
    assert s.orders and s.orders[-1]["reason"] == "overload"
