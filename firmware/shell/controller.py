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

    def readings(self, now_ms, readings):
        """A meter scan arrived."""
        self._guarded("readings", self.pile.on_readings, now_ms, readings)

    def tick(self, now_ms, wall_s):
        """Time passed."""
        self._guarded("tick", self.pile.tick, now_ms, wall_s)
        self._guarded("panel", self.panel.tick, now_ms)

    def key(self, now_ms, key):
        """A key was pressed on the front panel."""
        log("key", key=key)
        self._guarded("key", self.panel.on_key, now_ms, key)

    def coins(self, now_ms, count):
        """``count`` coins were accepted."""
        log("coins", count=count)
        self._guarded("coins", self.panel.on_coins, now_ms, count)

    def _guarded(self, where, decide, *args):
        """Run one core decision, then apply it; any exception fails safe instead."""
        try:
            decide(*args)
        except Exception as error:  # noqa: BLE001 - any doubt ends in relays off
            self._fail(where, error)
            return
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
        """Latch the fault: relays stay off until the board restarts."""
        self.relays.all_off()
        self.failed = True
        log("alarm", alarm="control_fault", where=where, error=repr(error))
