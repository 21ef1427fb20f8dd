"""Reads every port's voltage, current, power and energy from the meter(s) in a profile."""

from drivers.registers import INVALID, decode, word
from firmware.compat import const

_SKIP_SCANS = const(5)
_FLAG_BITS = const("bit")  # a field type: one register whose bit p is the flag of the block's port p


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
        self._missing = bytearray(readings.count)
        self.transactions_per_scan = len(self.blocks) * (readings.count if self.per_port else 1)

    async def scan(self, deliver):
        """Read all ports once; returns how many ports got a complete, valid reading.

        ``deliver()`` is called after every read, with ``valid`` marking the
        ports it brought (none when it failed): once for a multi-circuit meter,
        once per port for per-port meters, so a reading is judged the moment it
        exists and not after the slowest meter on the bus. A per-port meter that stopped
        answering is asked only every _SKIP_SCANS scans, once, so dead meters
        cannot stretch the scan until the live ports' readings go stale.
        """
        readings = self.readings
        valid = readings.valid
        readings.clear_valid()
        self.scans += 1
        if not self.per_port:
            if not await self._read(self.first_address, 0, readings.count, None):
                deliver()
                return 0
            for index in range(readings.count):
                valid[index] = 1
            deliver()
            return readings.count
        done = 0
        missing = self._missing
        for index in range(readings.count):
            if missing[index] and self.scans % _SKIP_SCANS:
                continue
            if await self._read(self.first_address + index, index, index + 1, 0 if missing[index] else None):
                missing[index] = 0
                valid[index] = 1
                deliver()
                valid[index] = 0
                done += 1
            else:
                missing[index] = 1
                deliver()
        return done

    async def _read(self, address, first_port, end_port, retries):
        """Read every block from ``address`` and decode ports first_port..end_port-1."""
        blocks = self.blocks
        for block_index in range(len(blocks)):
            start, count = blocks[block_index]
            data = await self.master.read_registers(address, self.function, start, count, retries)
            if data is None:
                return False
            for target, block, register, stride, kind, scale in self._fields:
                if block != block_index:
                    continue
                for port in range(first_port, end_port):
                    offset = register - start + (port if not self.per_port else 0) * stride
                    if kind == _FLAG_BITS:
                        target[port] = (word(data, offset) >> (port - first_port if self.per_port else port)) & 1
                        continue
                    value = decode(data, offset, kind, scale, self.big_word_first)
                    if value == INVALID:
                        return False
                    target[port] = value
        return True
