"""Safety invariant 3: an exception in the control path ends in every relay off, latched."""

from drivers.relays import RelayBank
from firmware.shell.controller import Controller
from firmware.shell.store import Store
from tests.core.scenario import Scenario, scratch_dir


class LevelPin:
    """A relay coil's pin: just its level (the coil itself cannot exist here)."""

    def __init__(self):
        self.level = None

    def value(self, level):
        self.level = level


class BrokenReadings:
    """A scan whose buffers were lost: reading it raises inside the core."""

    power_w = None
    energy_wh = None
    valid = None


def test_exception_in_control_path_opens_every_relay_and_stays_open():
    s = Scenario()
    s.run(400)
    s.load(1, 150)
    s.pay(1, 1)
    s.run(600)
    pins = [LevelPin() for _ in range(10)]
    relays = RelayBank(pins)
    counters = {"next_order": s.pile.next_order, "credit_fen": 0, "wall": s.wall}
    controller = Controller(s.pile, s.panel, relays, [], Store(scratch_dir(), print), counters, s.cfg)
    controller.tick(s.now, s.wall)
    assert pins[0].level == 1
    controller.readings(s.now, BrokenReadings())
    assert controller.failed
    assert all(pin.level == 0 for pin in pins)
    s.now += 200
    controller.readings(s.now, s.readings)
    controller.tick(s.now, s.wall)
    assert pins[0].level == 0  # latched until the board restarts
    s.keys("2#")
    s.coins(1)
    s.keys("#")
    assert s.said[-1] == "port_fault"
    assert s.panel.credit_fen == 100  # no money taken by a pile that cannot charge


class CountingWatchdog:
    """The watchdog's side: how often it was fed."""

    def __init__(self):
        self.feeds = 0

    def feed(self):
        self.feeds += 1


def test_watchdog_is_fed_only_while_every_task_beats():
    from firmware.shell.supervisor import INPUTS, METER, TICK, UI, Supervisor

    watchdog = CountingWatchdog()
    supervisor = Supervisor(watchdog, 4000)
    for task in (METER, TICK, INPUTS, UI):
        supervisor.beat(task)
    assert supervisor.check() == [] and watchdog.feeds == 1
    for task in (TICK, INPUTS, UI):
        supervisor.beat(task)
    assert supervisor.check() == [] and watchdog.feeds == 2  # the meter beat one period ago
    for task in (TICK, INPUTS, UI):
        supervisor.beat(task)
    assert supervisor.check() == ["meter"] and watchdog.feeds == 2
    supervisor.check()
    assert supervisor.check() == ["meter", "tick", "inputs", "ui"] and watchdog.feeds == 2
