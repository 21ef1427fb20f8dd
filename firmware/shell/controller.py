"""The control path: core decisions turned into relay writes, log lines and prompts.

Every call into the core goes through here, so its relay decisions are
applied at once, and any exception in the control path ends in every relay
off and an alarm (safety invariant 3), latched until the board restarts,
instead of a relay left on by a core in an unknown state.
"""

from firmware import prompts
from firmware.pile import EVENT_ALARM, EVENT_ORDER, EVENT_SAY
from firmware.shell.log import log


class Controller:
    """Owns the Pile and FrontPanel and the relays they decide."""

    def __init__(self, pile, panel, relays, voice_queue):
        self.pile = pile
        self.panel = panel
        self.relays = relays
        self.voice_queue = voice_queue
        self.failed = False

    # Each entry point has its own try: passing the core's method and arguments to a
    # shared helper would allocate a bound method and a tuple on every meter reading.

    def readings(self, now_ms, readings):
        """A meter reading arrived (a whole scan, or one port of a per-port meter bus)."""
        try:
            self.pile.on_readings(now_ms, readings)
        except Exception as error:  # noqa: BLE001 - any doubt ends in relays off
            self._fail("readings", error)
        self._settle()

    def tick(self, now_ms, wall_s):
        """Time passed."""
        try:
            self.pile.tick(now_ms, wall_s)
            self.panel.tick(now_ms)
        except Exception as error:  # noqa: BLE001
            self._fail("tick", error)
        self._settle()

    def key(self, now_ms, key):
        """A key was pressed on the front panel."""
        log("key", key=key)
        try:
            self.panel.on_key(now_ms, key)
        except Exception as error:  # noqa: BLE001
            self._fail("key", error)
        self._settle()

    def coins(self, now_ms, count):
        """``count`` coins were accepted."""
        log("coins", count=count)
        try:
            self.panel.on_coins(now_ms, count)
        except Exception as error:  # noqa: BLE001
            self._fail("coins", error)
        self._settle()

    def _settle(self):
        if self.failed:
            self.relays.all_off()
        else:
            self.relays.apply(self.pile.relay)
        events = self.pile.events
        while events:
            kind, detail = events.pop(0)
            if kind == EVENT_SAY:
                self.voice_queue.append(detail)
                log("say", prompt=prompts.name(detail))
            elif kind == EVENT_ORDER:
                log("order", **detail)
            elif kind == EVENT_ALARM:
                log("alarm", alarm=detail)

    def _fail(self, where, error):
        """Latch the fault: relays stay off and payments are refused until the board restarts."""
        self.relays.all_off()
        if not self.failed:
            self.failed = True
            log("alarm", alarm="control_fault", where=where, error=repr(error))
        self.pile.halt()
