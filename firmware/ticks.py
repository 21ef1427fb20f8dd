"""Millisecond tick arithmetic shared by the core and the shell.

The shell passes ``time.ticks_ms()`` masked to 30 bits, the period of the
ESP32's tick counter, so the core sees the same wrap-around on every port and
under CPython. Intervals must stay below half the period (about 6 days);
every rule in the core measures much shorter ones.
"""

from firmware.compat import const

TICKS_MASK = const((1 << 30) - 1)
NEVER = const(-1)


def since_ms(now_ms, then_ms):
    """Milliseconds from ``then_ms`` to ``now_ms``, across one wrap."""
    return (now_ms - then_ms) & TICKS_MASK
