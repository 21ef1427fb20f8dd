"""A transmit-only 8N1 serial line on an RMT channel, for a part that only listens.

The ESP32-S3 has three UARTs and the pile needs them for the meter bus, the
main meter and the modem; the voice module never answers, so its commands go
out through the RMT peripheral, one RMT symbol level per bit.
"""

import esp32

RMT_TICK_HZ = 1000000


class RmtSerialTx:
    """``write(buf)`` like a UART's, on ``pin`` at ``baudrate`` (the line idles high)."""

    def __init__(self, pin, baudrate):
        # 104 us a bit at 9600 baud: 0.2 % fast, well inside what a UART receiver tolerates.
        self._bit_ticks = RMT_TICK_HZ // baudrate
        self._rmt = esp32.RMT(0, pin=pin, clock_div=80000000 // RMT_TICK_HZ, idle_level=True)

    def write(self, buf):
        """Send ``buf``: per byte a start bit, eight data bits lowest first, a stop bit."""
        levels = []
        for byte in buf:
            levels.append(False)
            for bit in range(8):
                levels.append(bool(byte >> bit & 1))
            levels.append(True)
        self._rmt.write_pulses(self._bit_ticks, levels)
        return len(buf)
