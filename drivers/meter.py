"""Reads every port's voltage, current, power and energy from the meter(s) in a profile."""

from drivers.registers import INVALID, decode


class MeterReader:
    """Fills a Readings buffer from a meter profile (see drivers/meter_profiles.py)."""

    def __init__(self, master, profile, readings, first_address=1):
        self.master = master
        self.profile = profile
        self.readings = readings
        self.first_address = first_address
        self.function = profile["function"]
        self.blocks = profile["blocks"]
        self.big_word_first = profile["word_order"] == "big"
        self.per_port = profile["layout"] == "per_port"
        # (target list, block, register, stride, type, scale), resolved once.
        self._fields = [
            (getattr(readings, name), block, register, stride, kind, scale)
            for name, block, register, stride, kind, scale in profile["fields"]
        ]
        self.scans = 0
        self.transactions_per_scan = len(self.blocks) * (readings.count if self.per_port else 1)

    async def scan(self):
        """Read all ports once; returns how many ports got a complete, valid reading."""
        readings = self.readings
        readings.clear_valid()
        self.scans += 1
        if self.per_port:
            done = 0
            for index in range(readings.count):
                if await self._read(self.first_address + index, index, index + 1):
                    readings.valid[index] = 1
                    done += 1
            return done
        if not await self._read(self.first_address, 0, readings.count):
            return 0
        for index in range(readings.count):
            readings.valid[index] = 1
        return readings.count

    async def _read(self, address, first_port, end_port):
        """Read every block from ``address`` and decode ports first_port..end_port-1."""
        blocks = self.blocks
        for block_index in range(len(blocks)):
            start, count = blocks[block_index]
            data = await self.master.read_registers(address, self.function, start, count)
            if data is None:
                return False
            for target, block, register, stride, kind, scale in self._fields:
                if block != block_index:
                    continue
                for port in range(first_port, end_port):
                    offset = register - start + (port if not self.per_port else 0) * stride
                    value = decode(data, offset, kind, scale, self.big_word_first)
                    if value == INVALID:
                        return False
                    target[port] = value
        return True
