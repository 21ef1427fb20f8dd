"""Emulator of an HD44780 20x4 character LCD behind a PCF8574 I2C backpack.

It sees only what the real panel sees: each byte of an I2C write to the backpack sets the
PCF8574 outputs (P0=RS, P1=RW, P2=EN, P3=backlight, P4..P7=D4..D7), and the HD44780
takes in D4..D7 and RS on each falling edge of EN.
"""

from __future__ import annotations

LCD_I2C_ADDRESS = 0x27
COLUMNS = 20
ROWS = 4
# DDRAM address of the first character of each visible row on a 20x4 panel.
ROW_STARTS = (0x00, 0x40, 0x14, 0x54)

BIT_RS = 0x01
BIT_RW = 0x02
BIT_EN = 0x04
BIT_BACKLIGHT = 0x08
DATA_SHIFT = 4
# The PCF8574 powers up with every output high.
PCF8574_POWER_ON = 0xFF

DDRAM_SIZE = 0x80
# In 2-line mode each line holds 40 characters, at 0x00-0x27 and 0x40-0x67.
TWO_LINE_CHARS = 0x28
TWO_LINE_SECOND_START = 0x40
ONE_LINE_CHARS = 0x50
SPACE = 0x20
PRINTABLE_LAST = 0x7E


class Hd44780Lcd:
    """The panel's state as driven over I2C; read it with `lines()` and `backlight`."""

    def __init__(self) -> None:
        """Start as the hardware does at power-on: 8-bit interface, 1 line, display off, blank."""
        self._pins = PCF8574_POWER_ON
        self._high_nibble: int | None = None
        self._ddram = bytearray([SPACE]) * DDRAM_SIZE
        self._address = 0
        self._to_cgram = False
        self.eight_bit = True
        self.two_line = False
        self.display_on = False
        self.cursor_on = False
        self.blink_on = False
        self.increment = True
        self.instructions = 0
        self.cgram_writes = 0

    @property
    def backlight(self) -> bool:
        """Backlight state, the P3 output of the backpack."""
        return bool(self._pins & BIT_BACKLIGHT)

    def feed(self, data: bytes) -> None:
        """Apply the bytes of one I2C write to the backpack, in order."""
        for value in data:
            if self._pins & BIT_EN and not value & BIT_EN:
                # The HD44780 samples what was on the bus while EN was high.
                self._latch(self._pins)
            self._pins = value

    def lines(self) -> list[str]:
        """Return the 4 visible rows, 20 characters each; non-ASCII codes shown as '?'."""
        return ["".join(_glyph(code) for code in self._ddram[start : start + COLUMNS]) for start in ROW_STARTS]

    def _latch(self, pins: int) -> None:
        if pins & BIT_RW:
            # A read cycle (busy flag); nothing gets written.
            return
        nibble = pins >> DATA_SHIFT
        is_data = bool(pins & BIT_RS)
        if self.eight_bit:
            # D0..D3 are not wired to the backpack and read as 0.
            self._execute(is_data, nibble << DATA_SHIFT)
            return
        if self._high_nibble is None:
            self._high_nibble = nibble
            return
        byte = (self._high_nibble << DATA_SHIFT) | nibble
        self._high_nibble = None
        self._execute(is_data, byte)

    def _execute(self, is_data: bool, byte: int) -> None:
        if is_data:
            self._write_data(byte)
        else:
            self.instructions += 1
            self._instruction(byte)

    def _write_data(self, byte: int) -> None:
        if self._to_cgram:
            # Custom glyphs are accepted and not drawn; the address counter is theirs.
            self.cgram_writes += 1
            return
        self._ddram[self._address] = byte
        self._step(1 if self.increment else -1)

    def _instruction(self, code: int) -> None:
        if code & 0x80:
            self._address = code & 0x7F
            self._to_cgram = False
        elif code & 0x40:
            self._to_cgram = True
        elif code & 0x20:
            self.eight_bit = bool(code & 0x10)
            self.two_line = bool(code & 0x08)
            self._high_nibble = None
        elif code & 0x10:
            # Cursor shift moves the address counter; a display shift only pans the view.
            if not code & 0x08:
                self._step(1 if code & 0x04 else -1)
        elif code & 0x08:
            self.display_on = bool(code & 0x04)
            self.cursor_on = bool(code & 0x02)
            self.blink_on = bool(code & 0x01)
        elif code & 0x04:
            self.increment = bool(code & 0x02)
        elif code & 0x02:
            self._address = 0
            self._to_cgram = False
        elif code & 0x01:
            self._ddram[:] = bytes([SPACE]) * DDRAM_SIZE
            self._address = 0
            self._to_cgram = False
            self.increment = True

    def _step(self, delta: int) -> None:
        if not self.two_line:
            self._address = (self._address + delta) % ONE_LINE_CHARS
            return
        # The two 40-character lines form one ring: 0x27 is followed by 0x40, 0x67 by 0x00.
        line = 1 if self._address >= TWO_LINE_SECOND_START else 0
        column = self._address - line * TWO_LINE_SECOND_START
        linear = (line * TWO_LINE_CHARS + column + delta) % (2 * TWO_LINE_CHARS)
        line, column = divmod(linear, TWO_LINE_CHARS)
        self._address = line * TWO_LINE_SECOND_START + column


def _glyph(code: int) -> str:
    return chr(code) if SPACE <= code <= PRINTABLE_LAST else "?"
