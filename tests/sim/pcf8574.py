"""A PCF8574 I/O expander with a 4x4 key matrix on its pins, at the byte level, for the keypad tests.

It answers the two I2C calls a driver makes, on its own address: ``writeto``
sets the output latch (a 1 is a weak pull-up, so the pin is an input; a 0
drives the pin low), ``readfrom_into`` returns the pins' levels. Rows are on
P0..P3, columns on P4..P7, and a pressed key joins its row's pin to its
column's: a pin reads low when it is driven low or joined, through pressed
keys, to a pin that is, so several keys can make a ghost as a real matrix
does. Another address, or a bus made to fail, raises OSError as
machine.I2C does. Runs under CPython and MicroPython, and allocates nothing
per transfer, so a driver's scan can be run with the heap locked.
"""

import errno

ROWS = 4
COLUMNS = 4
POWER_ON_LATCH = 0xFF  # every pin a weak pull-up


class Pcf8574Keypad:
    """The expander at ``address`` and its matrix; ``press``/``release`` keys by (row, column)."""

    def __init__(self, address=0x20):
        self.address = address
        self.latch = POWER_ON_LATCH
        self.down = [False] * (ROWS * COLUMNS)
        self.error = None  # an errno every transfer fails with (a missing chip, a stuck bus), or None
        self.transfers = 0

    def press(self, row, column):
        """Close the key at ``row``, ``column`` (0-based)."""
        self.down[row * COLUMNS + column] = True

    def release(self, row, column):
        """Open the key at ``row``, ``column``."""
        self.down[row * COLUMNS + column] = False

    def levels(self):
        """The byte a read returns: the latch, with every pin joined to a low pin pulled low."""
        low = ~self.latch & 0xFF
        spreading = True
        while spreading:
            spreading = False
            for index in range(ROWS * COLUMNS):
                if not self.down[index]:
                    continue
                pins = 1 << (index // COLUMNS) | 1 << (ROWS + index % COLUMNS)
                if low & pins and low & pins != pins:
                    low |= pins
                    spreading = True
        return ~low & 0xFF

    def writeto(self, address, buf, stop=True):
        """The chip latches each byte written; the last one stays."""
        self._answer(address)
        self.latch = buf[len(buf) - 1]
        return len(buf)

    def readfrom_into(self, address, buf, stop=True):
        """Each byte read is the pins' levels."""
        self._answer(address)
        for index in range(len(buf)):
            buf[index] = self.levels()

    def _answer(self, address):
        if self.error is not None:
            raise OSError(self.error)
        if address != self.address:
            raise OSError(errno.ENODEV)  # nothing acknowledges the address
        self.transfers += 1
