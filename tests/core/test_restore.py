"""Power-loss memory in the core and the store: snapshots, restore, checkpoints, the outbox."""

import os

from firmware import prompts
from firmware.resume import resume_sessions, session_from
from firmware.session import Session
from firmware.shell.boot import boot_loop, record_boot
from firmware.shell.store import Store
from tests.core.scenario import Scenario, scratch_dir


def test_snapshot_round_trip_marks_the_session_resumed():
    session = Session("coin", 300, 17, 1700000000)
    session.used_mfen = 12345
    session.tier = 2
    session.settled = True
    session.energy_wh = 77
    session.energy_base_wh = 1000
    session.charged_ms = 90000
    session.add(100)
    again = session_from(session.snapshot())
    assert again.snapshot() == session.snapshot()
    assert again.resumed and not session.resumed


def cut_while_charging(**overrides):
    """A pile charging port 3, then a new pile booted from its saved session."""
    s = Scenario(CHECKPOINT_S=5, UNIT_MIN=10, **overrides)
    s.run(400)
    s.load(3, 150)
    s.pay(3, 2)
    s.run(7000)
    saved = s.pile.port(3).session.snapshot()
    after = Scenario(CHECKPOINT_S=5, UNIT_MIN=10, **overrides)
    refused = resume_sessions(after.pile, after.now, 9, [(3, saved)])
    assert refused == []
    return s, saved, after


def test_restored_session_resumes_when_the_charger_still_draws():
    _, saved, after = cut_while_charging()
    assert after.state(3) == "queued" and after.relay(3) == 0
    after.load(3, 150)
    after.run(400)
    assert after.state(3) == "charging"
    assert after.pile.port(3).session.used_mfen >= saved["used_mfen"]
    after.keys("D3#")
    order = after.orders[-1]
    assert order["no"] == saved["no"]
    assert order["paid"] == 200


def test_time_without_power_to_the_port_is_not_billed():
    _, saved, after = cut_while_charging()
    after.load(3, 150)
    after.meter_ok = False  # booted, but no reading yet: the relay stays off
    after.run(10000)
    assert after.relay(3) == 0
    assert after.pile.port(3).session.used_mfen == saved["used_mfen"]
    after.meter_ok = True
    after.run(6000)  # one minute of 10-minute yuan: about 1000 milli-fen per 6 s
    used = after.pile.port(3).session.used_mfen - saved["used_mfen"]
    assert 800 <= used <= 1000, used


def test_restored_session_without_a_charger_closes_with_its_own_reason():
    _, saved, after = cut_while_charging(RESUME_CHECK_S=5)
    after.run(4800)
    assert after.state(3) == "wait_plug"
    after.run(600)
    order = after.orders[-1]
    assert order["reason"] == "outage_unplugged"
    assert order["used"] == saved["used_mfen"] // 1000
    assert after.relay(3) == 0


def test_order_numbers_continue_after_a_restore():
    _, saved, after = cut_while_charging()
    assert after.pile.next_order == 9
    after.run(200)
    after.load(5, 150)
    after.pay(5, 1)
    assert after.pile.port(5).session.order_no == 9
    bumped = Scenario()
    resume_sessions(bumped.pile, bumped.now, 2, [(3, saved)])
    assert bumped.pile.next_order == saved["no"] + 1


def test_a_snapshot_that_is_not_ours_is_refused_not_fatal():
    s = Scenario()
    refused = resume_sessions(s.pile, s.now, 1, [(2, {"no": 1}), (11, Session("coin", 1, 2, 0).snapshot())])
    assert refused == [2, 11]
    assert not any(port.busy() for port in s.pile.ports)


def test_a_charging_port_is_checkpointed_every_interval():
    s = Scenario(CHECKPOINT_S=5)
    s.run(400)
    s.load(1, 150)
    s.pay(1, 1)
    s.run(600)
    port = s.pile.port(1)
    port.dirty = False
    s.run(4000)
    assert not port.dirty
    s.run(1000)
    assert port.dirty


def test_full_outbox_refuses_payments_and_keeps_the_money():
    s = Scenario()
    s.run(400)
    s.pile.outbox_full = True
    s.pay(2, 1)
    assert s.said[-1] == "out_of_service"
    assert s.panel.credit_fen == 100
    assert s.pile.pay(s.now, 2, "coin", 100) == prompts.OUT_OF_SERVICE


def test_store_keeps_records_and_cleans_an_interrupted_stop():
    store = Store(scratch_dir(), print)
    store.save_session(3, {"no": 4, "paid_mfen": 100000})
    store.save_session(5, {"no": 5, "paid_mfen": 100000})
    store.put_order({"no": 4, "port": 3, "reason": "full"})  # cut before the session file went
    assert store.sessions() == [(5, {"no": 5, "paid_mfen": 100000})]
    assert [o["no"] for o in store.orders()] == [4]
    assert store.outbox_count() == 1
    store.put_order({"no": 4, "port": 3, "reason": "full"})
    assert store.outbox_count() == 1


def test_store_keeps_an_unreadable_record_aside():
    root = scratch_dir()
    store = Store(root, print)
    with open(root + "/sessions/2.json", "w") as handle:
        handle.write("{not json")
    assert store.sessions() == []
    assert "2.json.bad" in os.listdir(root + "/sessions")


def test_boot_loop_is_seen_only_within_the_window():
    counters = {}
    for wall in (1000, 1100, 1200):
        record_boot(counters, wall, 3)
    assert counters["boot"] == 3
    assert boot_loop(counters, 3, 600)
    record_boot(counters, 5000, 3)
    assert not boot_loop(counters, 3, 600)
    assert counters["boots"] == [1100, 1200, 5000]


def test_clock_never_runs_behind_the_last_saved_time():
    from firmware.shell import clock

    ahead = clock.wall_s() + 3600
    clock.restore(ahead)
    assert clock.wall_s() >= ahead
    clock.restore(0)  # a saved time in the past changes nothing
    assert clock.wall_s() >= ahead


class Board:
    """A pile wired through the real Controller and Store, clocked by hand."""

    def __init__(self, root=None, **overrides):
        from drivers.relays import RelayBank
        from firmware.shell.boot import restore_from_flash
        from firmware.shell.controller import Controller
        from tests.core.test_control_fault import LevelPin

        self.root = root or scratch_dir()
        self.store = Store(self.root, print)
        self.scenario = Scenario(**overrides)
        cfg = self.scenario.cfg
        self.now = 5000
        pile, panel, counters, _, _ = restore_from_flash(self.store, cfg, self.now, 1700000000)
        self.pile = pile
        self.panel = panel
        self.pins = [LevelPin() for _ in range(10)]
        self.controller = Controller(pile, panel, RelayBank(self.pins), [], self.store, counters, cfg)
        self.loads = {}

    def run(self, ms):
        readings = self.scenario.readings
        for _ in range(ms // 200):
            self.now += 200
            for index in range(10):
                readings.power_w[index] = self.loads.get(index + 1, 0) if self.pins[index].level else 0
                readings.valid[index] = 1
            self.controller.readings(self.now, readings)
            self.controller.tick(self.now, 1700000000 + self.now // 1000)

    def keys(self, text):
        for key in text:
            self.controller.key(self.now, key)


def test_coins_of_a_no_load_session_come_back_to_the_panel_and_survive_a_reboot():
    board = Board(PLUG_WAIT_S=5)
    board.run(400)
    board.keys("4#")
    board.controller.coins(board.now, 2)
    board.keys("#")
    assert board.panel.credit_fen == 0
    board.run(5600)
    assert board.panel.credit_fen == 200
    again = Board(board.root, PLUG_WAIT_S=5)
    assert again.panel.credit_fen == 200
    assert [o["returned"] for o in again.store.orders()] == [200]


def test_a_payment_whose_session_never_reached_flash_returns_its_coins():
    board = Board()
    board.run(400)
    board.controller.coins(board.now, 3)
    counters = board.store.counters()
    # As if the cut fell between the counters (credit taken, payment pending) and the session file.
    counters["credit_fen"] = 0
    counters["pending"] = [2, counters["next_order"], 1, 300, "coin"]
    counters["next_order"] += 1
    board.store.save_counters(counters)
    again = Board(board.root)
    assert again.panel.credit_fen == 300
    assert not any(port.busy() for port in again.pile.ports)


def test_a_landed_payment_is_not_returned_twice():
    board = Board()
    board.run(400)
    board.keys("2#")
    board.controller.coins(board.now, 3)
    board.keys("#")
    counters = board.store.counters()
    counters["pending"] = [2, board.pile.port(2).session.order_no, 1, 300, "coin"]
    board.store.save_counters(counters)
    again = Board(board.root)
    assert again.panel.credit_fen == 0
    assert again.pile.port(2).busy()


def test_order_numbers_never_repeat_even_if_the_counters_lag():
    board = Board()
    board.run(400)
    board.loads[1] = 150
    board.keys("1#")
    board.controller.coins(board.now, 1)
    board.keys("#")
    board.run(1000)
    board.keys("D1#")
    counters = board.store.counters()
    counters["next_order"] = 1  # as if its last write was lost
    board.store.save_counters(counters)
    again = Board(board.root)
    assert again.pile.next_order == 2


def test_order_numbers_go_on_after_the_cloud_took_every_order_and_the_counters_were_lost():
    import os

    board = Board()
    board.run(400)
    board.loads[1] = 150
    for _ in range(2):
        board.keys("1#")
        board.controller.coins(board.now, 1)
        board.keys("#")
        board.run(1000)
        board.keys("D1#")
        board.run(400)
    assert board.store.order_numbers() == [1, 2]
    for number in board.store.order_numbers():
        board.store.order_sent(number)  # PUBACKed: out of the outbox
    assert board.store.order_numbers() == [] and board.store.outbox_count() == 0
    os.remove(board.root + "/counters.json")  # lost with it the next order number
    again = Board(board.root)
    assert again.pile.next_order == 3


def test_a_lost_counters_file_never_reuses_a_boot_number_the_cloud_has_seen():
    root = scratch_dir()
    store = Store(root, print)
    store.put_order({"no": 9, "boot": 41})
    store.order_sent(9)
    counters = {}  # counters.json lost
    record_boot(counters, 5000, 3, store.last_sent()[1])
    assert counters["boot"] == 42
    counters = {"boot": 50}  # the usual case: the counters are ahead
    record_boot(counters, 5000, 3, store.last_sent()[1])
    assert counters["boot"] == 51
