"""The 4x4 matrix keypad behind a PCF8574 I2C expander: P0..P3 the rows, P4..P7 the columns.

The PCF8574's pins are quasi-bidirectional: a 1 written to its output latch is
a weak pull-up (the pin reads as an input), a 0 drives the pin low; a read
returns the pins' levels. A pressed key joins its row to its column, so a
column reads low only while that key's row is driven low. Debouncing and the
key map are drivers/keypad.py's. It lives with this board, not in drivers/,
because the virtual pile's image carries every driver and has no names to
spare for one it never loads (tools/qstr_budget.py).
"""

from drivers.keypad import Keypad
from firmware.compat import const

_ROWS = const(4)
_COLUMNS = const(4)
_COLUMN_SHIFT = const(4)  # the columns are P4..P7
_COLUMN_BITS = const(0x0F)
_ALL_ROWS_LOW = const(0xF0)  # every row driven low, every column an input
_ALL_HIGH = const(0xFF)


class PcfKeypad(Keypad):
    """The keypad on ``i2c`` at ``address`` (A2..A0 low: 0x20).

    ``scan`` raises OSError when the expander does not answer (missing, or the
    bus stuck), as the display on the same bus does; the input task reports it.
    """

    def __init__(self, i2c, address=0x20, stable_scans=2):
        # No GPIO rows or columns: the expander's pins are the matrix.
        super().__init__((), (), stable_scans)
        self.i2c = i2c
        self.address = address
        self._out = bytearray(1)
        self._in = bytearray(1)

    def _pressed(self):
        """The index (row * 4 + column) of the first key down, or -1."""
        out = self._out
        # All rows at once first: the usual scan, with no key down, is one write and one read.
        out[0] = _ALL_ROWS_LOW
        if not self._low_columns():
            return -1
        for row in range(_ROWS):
            out[0] = _ALL_HIGH ^ (1 << row)
            low = self._low_columns()
            for column in range(_COLUMNS):
                if low & (1 << column):
                    return row * _COLUMNS + column
        return -1

    def _low_columns(self):
        """Write the latch byte in ``_out``, read the pins back: a bit set for each column read low."""
        self.i2c.writeto(self.address, self._out)
        self.i2c.readfrom_into(self.address, self._in)
        return ~self._in[0] >> _COLUMN_SHIFT & _COLUMN_BITS
