"""4x4 matrix keypad: rows driven low one at a time, columns read with pull-ups."""

KEYS = "123A456B789C*0#D"


class Keypad:
    """Scanned from a task; a key is reported once when it has been down for ``stable_scans`` scans."""

    def __init__(self, row_pins, col_pins, stable_scans=2):
        self.rows = row_pins
        self.cols = col_pins
        self.stable_scans = stable_scans
        self._candidate = -1
        self._count = 0
        self._reported = -1
        for pin in row_pins:
            pin.value(1)

    def _pressed(self):
        """The index (row * 4 + column) of the first key down now, or -1; a keypad wired otherwise
        (boards/esp32s3/keypad_pcf8574.py) replaces this and keeps the debouncing."""
        rows = self.rows
        cols = self.cols
        for r in range(len(rows)):
            rows[r].value(0)
            for c in range(len(cols)):
                if not cols[c].value():
                    rows[r].value(1)
                    return r * 4 + c
            rows[r].value(1)
        return -1

    def scan(self):
        """One scan; the key newly pressed (a one-character string) or None."""
        index = self._pressed()
        if index != self._candidate:
            self._candidate = index
            self._count = 0
            return None
        if self._count < self.stable_scans:
            self._count += 1
            if self._count == self.stable_scans and index != self._reported:
                self._reported = index
                if index >= 0:
                    return KEYS[index]
        return None
