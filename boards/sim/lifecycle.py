"""A scripted pile lifecycle on the sim flash, for cutting power at every block write.

Runs on the MicroPython VM, without asyncio or emulated hardware: the real
core, Controller and Store, fed readings and time by a script, on the real
littlefs image. Lines on stdout tell the host what happened:

- ``T <order no> <used milli-fen>``: a session record is about to be written with this use;
- ``W <what> <n>``: a flash record was written completely;
- ``U <order no> <used milli-fen> <relay-on ms>``: a session's use after each step, and how
  long its relay has been on in this run (an independent bound on what it may cost);
- ``M <fen>``: coins inserted; ``C <fen>``: the panel's credit at the end of a run;
- ``E cut <n>``: the armed cut was reached (the host then kills this process);
- ``R <snapshot json>``: a session restored after the cut;
- ``O <order json>``: an order in the outbox at the end;
- ``V <text>``: an invariant broken (a relay on without credit).

Usage: micropython -m boards.sim.lifecycle run|restore IMAGE CUT_AT COMPLETES | day IMAGE
(CUT_AT 0: no cut)

``day`` is a busy day for the wear figures: 10 ports, 30 sessions of about
four hours, field defaults (a checkpoint a minute); it prints
``DAY <block programs> <erases> <blocks>``.
"""

import json
import sys

import vfs

from boards.sim.simhw import FileFlash
from drivers.relays import RelayBank
from firmware import config
from firmware.readings import Readings
from firmware.shell.boot import restore_from_flash
from firmware.shell.controller import Controller
from firmware.shell.store import Store

STEP_MS = 200
ROOT = "/flash"
SETTINGS = {
    "CHECKPOINT_S": 5,
    "PLUG_WAIT_S": 5,
    "FULL_HOLD_S": 4,
    "UNPLUG_HOLD_S": 3,
    "RESUME_CHECK_S": 5,
    "UNIT_MIN": 10,
    "STATUS_LOG_S": 1,
}


class ConsoleBus:
    """What the flash reports to a host: printed, since there is no pin bus here."""

    def __init__(self):
        self.commands = {}

    def send(self, line):
        sys.stdout.write(line.decode())


class LevelPin:
    """A relay coil's drive level."""

    def __init__(self):
        self.level = 0

    def value(self, level):
        self.level = level


class ReportingStore(Store):
    """The real Store, saying on stdout each record it finished writing."""

    def save_counters(self, record):
        super().save_counters(record)
        print("W counters %d" % record["next_order"])

    def save_session(self, port, snapshot):
        print("T %d %d" % (snapshot["no"], snapshot["used_mfen"]))
        super().save_session(port, snapshot)
        print("W session %d %d %d" % (snapshot["no"], snapshot["paid_mfen"], snapshot["used_mfen"]))

    def drop_session(self, port):
        super().drop_session(port)
        print("W drop %d" % port)

    def put_order(self, order):
        super().put_order(order)
        print("W order %d" % order["no"])


class Lifecycle:
    """The pile's core and shell objects on the mounted flash, and a clock."""

    def __init__(self, flash, settings=SETTINGS, store_class=ReportingStore, step_ms=STEP_MS):
        vfs.mount(vfs.VfsLfs2(flash), ROOT)
        self.cfg = config.defaults()
        self.cfg.update(settings)
        self.step_ms = step_ms
        self.trace = store_class is ReportingStore
        self.store = store_class(ROOT, print)
        self.now = 1000
        self.wall = 1700000000
        # The firmware's own boot path: the same reconciliation a board does after a cut.
        self.pile, self.panel, self.counters, self.snapshots, _ = restore_from_flash(
            self.store, self.cfg, self.now, self.wall
        )
        self.on_ms = {}
        self.pins = [LevelPin() for _ in range(10)]
        self.controller = Controller(
            self.pile, self.panel, RelayBank(self.pins), [], self.store, self.counters, self.cfg
        )
        self.readings = Readings(10)
        self.loads = {}

    def step(self, count=1):
        """``count`` steps of STEP_MS: a reading of every port, then a tick."""
        for _ in range(count):
            self.now += self.step_ms
            self.wall = self.wall + 1 if self.now % 1000 < self.step_ms else self.wall
            for index in range(10):
                on = self.pins[index].level
                self.readings.power_w[index] = self.loads.get(index + 1, 0) if on else 0
                self.readings.energy_wh[index] = 0
                self.readings.valid[index] = 1
            self.controller.readings(self.now, self.readings)
            self.controller.tick(self.now, self.wall)
            if not self.trace:
                continue
            for port in self.pile.ports:
                if port.session is not None:
                    number = port.session.order_no
                    if self.pins[port.number - 1].level:
                        self.on_ms[number] = self.on_ms.get(number, 0) + self.step_ms
                    print("U %d %d %d" % (number, port.session.used_mfen, self.on_ms.get(number, 0)))
                if self.pins[port.number - 1].level and (port.session is None or port.session.used_up()):
                    print("V relay %d on without credit" % port.number)

    def keys(self, text):
        for key in text:
            self.controller.key(self.now, key)

    def coins(self, count):
        print("M %d" % (count * self.cfg["COIN_FEN"]))
        self.controller.coins(self.now, count)

    def pay(self, port, coins, watts):
        self.loads[port] = watts
        self.keys("%d#" % port)
        self.coins(coins)
        self.keys("#")


def run(flash):
    """The scripted lifecycle: starts, checkpoints, a top-up, a full stop, coins before a port,
    a session with no charger whose coins come back, an unplug, a keypad stop."""
    life = Lifecycle(flash)
    life.step()
    life.pay(1, 2, 150)
    life.pay(2, 1, 180)
    life.pay(3, 3, 250)
    life.step(30)
    life.pay(1, 1, 150)
    life.step(30)
    life.loads[2] = 20
    life.step(25)
    life.coins(2)
    life.step(3)
    life.loads[4] = 160
    life.keys("4#")
    life.pay(5, 1, 0)
    life.step(30)
    life.loads[3] = 0
    life.step(25)
    life.keys("D1#")
    life.step(10)
    print("C %d" % life.panel.credit_fen)
    print("END %d" % flash.programs)


def restore(flash):
    """Boot after the cut: odd ports' chargers still plugged, even ports' pulled during the
    outage; then every session is stopped."""
    life = Lifecycle(flash)
    for _port, snapshot in life.snapshots:
        print("R " + json.dumps(snapshot))
    for port in range(1, 11, 2):
        life.loads[port] = 150
    life.step(40)
    for port in life.pile.ports:
        if port.busy():
            life.keys("D%d#" % port.number)
    life.step(2)
    for order in life.store.orders():
        print("O " + json.dumps(order))
    print("C %d" % life.panel.credit_fen)
    print("END %d" % flash.programs)


def day(flash):
    """A busy day at field defaults: three four-hour sessions per port, staggered."""
    life = Lifecycle(flash, {"STATUS_LOG_S": 60}, Store, 1000)
    starts = {}
    for port in range(1, 11):
        for hour in (7, 12, 18):
            starts[(hour * 3600 + port * 420)] = port
    for second in range(24 * 3600):
        port = starts.get(second)
        if port is not None:
            life.pay(port, 1, 160)
        life.step()
    print("DAY %d %d %d" % (flash.programs, flash.erases, flash.blocks))


def main(argv):
    flash = FileFlash(argv[2], ConsoleBus())
    if argv[1] == "day":
        day(flash)
    else:
        flash.cut_in = int(argv[3])
        flash.cut_completes = argv[4] == "1"
        run(flash) if argv[1] == "run" else restore(flash)


main(sys.argv)
