"""Feeds the hardware watchdog only while every critical task shows progress.

A task that hangs (awaiting forever, or blocking the loop in a driver) stops
its heartbeats; the watchdog is then left to bite, the board resets, and the
pile resumes from its flash like after a power cut.
"""

import asyncio

from firmware.shell.log import log

METER = 0
TICK = 1
INPUTS = 2
UI = 3
TASK_NAMES = ("meter", "tick", "inputs", "ui")


class Supervisor:
    """Heartbeat flags, one per critical task, checked each feed period."""

    def __init__(self, watchdog, period_ms):
        self.watchdog = watchdog
        self.period_ms = period_ms
        self.beats = bytearray(len(TASK_NAMES))

    def beat(self, task):
        """Called by ``task`` on every loop."""
        self.beats[task] = 1

    async def run(self):
        """Feed the watchdog each period in which every task beat; otherwise say which did not."""
        beats = self.beats
        while True:
            await asyncio.sleep_ms(self.period_ms)
            missing = [TASK_NAMES[task] for task in range(len(beats)) if not beats[task]]
            if missing:
                log("alarm", alarm="task_hung", tasks=missing)
                continue
            self.watchdog.feed()
            for task in range(len(beats)):
                beats[task] = 0
