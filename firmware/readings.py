"""One meter scan of every port, in buffers allocated once at boot."""


class Readings:
    """Per-port values of the latest scan; ``valid[i]`` says port i+1 was read this scan.

    Units are integers chosen so nothing on the hot path needs a float:
    voltage in 0.1 V, current in mA, power in W, energy in Wh; ``fault`` is the
    meter's own over-current flag, on meters that have one.
    """

    def __init__(self, count):
        self.count = count
        self.voltage_dv = [0] * count
        self.current_ma = [0] * count
        self.power_w = [0] * count
        self.energy_wh = [0] * count
        self.fault = bytearray(count)
        self.valid = bytearray(count)

    def clear_valid(self):
        """Mark every port unread before a new scan."""
        valid = self.valid
        for index in range(self.count):
            valid[index] = 0
