"""What every master on a half-duplex RS485 line does before it speaks: wait for the line to go quiet.

A reply that came after its timeout, or the rest of a broken one, may still be
arriving. Sending into it collides on the wire, and reading the next reply from
its middle keeps every later frame out of step; so stray bytes are read and
dropped until the line has been silent for the protocol's gap.
"""

import asyncio
import time


async def wait_quiet(uart, buf, gap_ms, limit_ms, last_ms):
    """Drop bytes until none came for ``gap_ms`` since ``last_ms`` (a ticks_ms stamp of the last byte
    on the line); a line that never goes quiet is given up on after ``limit_ms``.

    ``buf`` is the caller's scratch buffer. Returns the ticks_ms of the last byte on the line: ``last_ms``
    itself when nothing stray came (no tuple: this runs for every request).
    """
    started = time.ticks_ms()
    while True:
        now = time.ticks_ms()
        if uart.readinto(buf):
            last_ms = now
        quiet_ms = time.ticks_diff(now, last_ms)
        # A stamp from more than half the tick period ago reads as negative: long quiet.
        if not 0 <= quiet_ms < gap_ms or time.ticks_diff(now, started) > limit_ms:
            return last_ms
        await asyncio.sleep_ms(gap_ms - quiet_ms)
