"""The shell's view of time, in the forms the core takes."""

import time

from firmware.ticks import TICKS_MASK

# Ports whose epoch is 2000 (the ESP32) report time.time() 30 years short of Unix time.
_EPOCH_OFFSET_S = 946684800 if time.gmtime(0)[0] == 2000 else 0


def now_ms():
    """Monotonic milliseconds in the core's 30-bit tick range."""
    # The stubs make ticks opaque; on every port they are small ints, masked to the core's period.
    return time.ticks_ms() & TICKS_MASK  # type: ignore[operator]


_offset_s = _EPOCH_OFFSET_S


def wall_s():
    """Unix time in seconds, for order timestamps."""
    return int(time.time()) + _offset_s


def restore(last_known_s):
    """After a cut, never let the clock run behind the last time saved on flash.

    A board without a backed-up RTC restarts its clock near zero; until the
    cloud sets it (issue 4), time continues from the last saved value plus
    uptime. The outage itself is then not counted, which only ever shortens
    what a session is charged for.
    """
    global _offset_s
    behind = last_known_s - wall_s()
    if behind > 0:
        _offset_s += behind


def set_wall(unix_s):
    """The network's time (the modem's NITZ clock): from now on ``wall_s()`` counts from it."""
    global _offset_s
    _offset_s += unix_s - wall_s()
