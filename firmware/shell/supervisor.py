"""Feeds the hardware watchdog only while every critical task shows progress.

A task that hangs (awaiting forever, or blocking the loop in a driver) stops
its heartbeats; the watchdog is then left to bite, the board resets, and the
pile resumes from its flash like after a power cut. A task counts as alive if
it beat in either of the last two check periods (half the watchdog timeout),
so a meter read that waits out its Modbus timeouts is not mistaken for a hang.
"""

import asyncio

from firmware.compat import const
from firmware.shell.log import alarm

METER = 0
TICK = 1
INPUTS = 2
UI = 3
_TASK_NAMES = const(("meter", "tick", "inputs", "ui"))


class Supervisor:
    """Heartbeat flags, one per critical task, for this check period and the one before."""

    def __init__(self, watchdog, timeout_ms):
        self.watchdog = watchdog
        self.period_ms = timeout_ms // 4
        self.beats = bytearray(len(_TASK_NAMES))
        self._before = bytearray(len(_TASK_NAMES))

    def beat(self, task):
        """Called by ``task`` on every loop."""
        self.beats[task] = 1

    def check(self):
        """One check period ends: feed the watchdog if every task beat lately; the silent ones."""
        beats = self.beats
        before = self._before
        silent = [_TASK_NAMES[task] for task in range(len(beats)) if not (beats[task] or before[task])]
        if not silent:
            self.watchdog.feed()
        for task in range(len(beats)):
            before[task] = beats[task]
            beats[task] = 0
        return silent

    async def run(self):
        """Check every period; a hung task is logged while the watchdog runs out."""
        while True:
            await asyncio.sleep_ms(self.period_ms)
            silent = self.check()
            if silent:
                alarm("task_hung", detail=" ".join(silent))
