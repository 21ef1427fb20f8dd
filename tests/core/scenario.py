"""A pile driven by hand: readings and time in, relays, orders and prompts out.

Shared by the core's unit tests, which run under CPython and the MicroPython VM.
"""

import os
from binascii import hexlify

from firmware import config, prompts
from firmware.frontpanel import FrontPanel
from firmware.pile import EVENT_ALARM, EVENT_ORDER, EVENT_SAY, Pile
from firmware.readings import Readings
from firmware.ticks import TICKS_MASK

STEP_MS = 200
WALL_START_S = 1700000000


class Scenario:
    """Ten ports, a clock that starts at ``start_ms``, and the loads plugged into them."""

    def __init__(self, start_ms=1000, **overrides):
        # The watchdog is not part of these tests; its bound must not refuse short meter holds.
        overrides.setdefault("WDT_TIMEOUT_S", 2)
        cfg = config.defaults()
        cfg.update(overrides)
        assert not config.validate(overrides), config.validate(overrides)
        self.cfg = cfg
        self.now = start_ms
        self.elapsed_ms = 0
        self.wall = WALL_START_S
        self.pile = Pile(cfg, self.now)
        self.panel = FrontPanel(self.pile, cfg)
        self.readings = Readings(cfg["PORT_COUNT"])
        self.loads = {}
        self.energy_mwh = [0] * cfg["PORT_COUNT"]
        self.meter_ok = True
        # What the meter shows beyond the loads' power: a port's current (mA) in place of the load's,
        # its over-current flag, its voltage (0.1 V; every port has mains unless told otherwise).
        self.current_ma = {}
        self.flags = {}
        self.voltage_dv = {}
        self.temp_dc = None  # the cabinet thermometer; None: the pile has none
        self.welded = set()  # ports whose relay conducts whatever it is told
        self.orders = []
        self.said = []
        self.alarms = []

    def _drain(self):
        events = self.pile.events
        while events:
            kind, detail = events.pop(0)
            if kind == EVENT_ORDER:
                self.orders.append(detail)
            elif kind == EVENT_SAY:
                self.said.append(prompts.name(detail))
            elif kind == EVENT_ALARM:
                self.alarms.append(detail[:3])

    def load(self, port, watts):
        """A load drawing ``watts`` whenever port ``port``'s relay is on."""
        self.loads[port] = watts

    def scan(self):
        """One meter scan of what the loads draw through the relays as they are now."""
        r = self.readings
        for index in range(len(self.energy_mwh)):
            closed = self.pile.relay[index] or index + 1 in self.welded
            watts = self.loads.get(index + 1, 0) if closed else 0
            self.energy_mwh[index] += watts * STEP_MS // 3600
            r.power_w[index] = watts
            r.current_ma[index] = self.current_ma.get(index + 1, watts * 1000 // 230)
            r.fault[index] = self.flags.get(index + 1, 0)
            r.voltage_dv[index] = self.voltage_dv.get(index + 1, 2300)
            r.energy_wh[index] = self.energy_mwh[index] // 1000
            r.valid[index] = 1 if self.meter_ok else 0
        if self.meter_ok:
            self.pile.on_readings(self.now, r)
        self._drain()

    def run(self, ms):
        """Let ``ms`` pass in meter-scan steps, ticking the core each step (ticks wrap like the board's)."""
        for _ in range((ms + STEP_MS - 1) // STEP_MS):
            self.now = (self.now + STEP_MS) & TICKS_MASK
            self.elapsed_ms += STEP_MS
            self.wall = WALL_START_S + self.elapsed_ms // 1000
            self.scan()
            self.pile.tick(self.now, self.wall, self.temp_dc)
            self.panel.tick(self.now)
            self._drain()

    def keys(self, text):
        """Press each key of ``text``."""
        for key in text:
            self.panel.on_key(self.now, key)
            self._drain()

    def coins(self, count):
        """Insert ``count`` coins."""
        self.panel.on_coins(self.now, count)
        self._drain()

    def pay(self, port, coins):
        """Choose ``port``, insert ``coins`` and confirm."""
        self.keys("%d#" % port)
        self.coins(coins)
        self.keys("#")

    def state(self, port):
        """The state name of ``port``."""
        from firmware.port import STATE_NAMES

        return STATE_NAMES[self.pile.port(port).state]

    def relay(self, port):
        """1 when port ``port``'s relay is on."""
        return self.pile.relay[port - 1]


def scratch_dir():
    """A new empty folder under /tmp for a test's flash records (CPython and MicroPython alike)."""
    path = "/tmp/pile-test-" + hexlify(os.urandom(6)).decode()
    os.mkdir(path)
    return path
