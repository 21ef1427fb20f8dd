"""HD44780 character LCD (20x4) behind a PCF8574 I2C backpack, in 4-bit mode.

Backpack wiring (the common one): P0=RS, P1=RW, P2=_EN, P3=backlight, P4..P7=D4..D7.
A whole line goes out in one I2C write: each nibble is the byte with _EN high
then low, the HD44780 latching on the falling edge.
"""

import asyncio

from firmware.compat import const

RS = const(0x01)
_EN = const(0x04)
_BACKLIGHT = const(0x08)
_ROW_ADDRESS = const((0x00, 0x40, 0x14, 0x54))


class Lcd:
    """Writes whole lines; ``show`` sends only lines that changed."""

    def __init__(self, i2c, address=0x27, columns=20, rows=4):
        self.i2c = i2c
        self.address = address
        self.columns = columns
        self.rows = rows
        self._buf = bytearray(4 * (columns + 1))
        self._shown = [None] * rows

    def _put(self, at, value, rs):
        """Queue one byte (two nibbles) into the buffer at ``at``; returns the next offset."""
        buf = self._buf
        high = (value & 0xF0) | _BACKLIGHT | rs
        low = ((value << 4) & 0xF0) | _BACKLIGHT | rs
        buf[at] = high | _EN
        buf[at + 1] = high
        buf[at + 2] = low | _EN
        buf[at + 3] = low
        return at + 4

    def _command(self, value):
        end = self._put(0, value, 0)
        self.i2c.writeto(self.address, memoryview(self._buf)[:end])

    async def start(self):
        """The HD44780 power-on sequence into 4-bit, 2-line mode, then a clear screen."""
        buf = self._buf
        for nibble, wait_ms in ((0x30, 5), (0x30, 1), (0x30, 1), (0x20, 1)):
            buf[0] = nibble | _BACKLIGHT | _EN
            buf[1] = nibble | _BACKLIGHT
            self.i2c.writeto(self.address, memoryview(buf)[:2])
            await asyncio.sleep_ms(wait_ms)
        for value in (0x28, 0x0C, 0x06, 0x01):
            self._command(value)
        await asyncio.sleep_ms(2)
        self._shown = [None] * self.rows

    def show(self, row, text):
        """Show ``text`` (cut or padded to the width) on ``row`` if it differs from what is shown."""
        if self._shown[row] == text:
            return
        self._shown[row] = text
        at = self._put(0, 0x80 | _ROW_ADDRESS[row], 0)
        length = len(text)
        for column in range(self.columns):
            code = ord(text[column]) if column < length else 0x20
            at = self._put(at, code if 0x20 <= code < 0x7F else 0x3F, RS)
        self.i2c.writeto(self.address, memoryview(self._buf)[:at])
