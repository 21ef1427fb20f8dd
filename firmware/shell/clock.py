"""The shell's view of time, in the forms the core takes."""

import time

from firmware.ticks import TICKS_MASK

# Ports whose epoch is 2000 (the ESP32) report time.time() 30 years short of Unix time.
_EPOCH_OFFSET_S = 946684800 if time.gmtime(0)[0] == 2000 else 0


def now_ms():
    """Monotonic milliseconds in the core's 30-bit tick range."""
    # The stubs make ticks opaque; on every port they are small ints, masked to the core's period.
    return time.ticks_ms() & TICKS_MASK  # type: ignore[operator]


def wall_s():
    """Unix time in seconds, for order timestamps."""
    return int(time.time()) + _EPOCH_OFFSET_S
