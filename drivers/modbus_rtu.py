"""Modbus RTU master for a half-duplex RS485 bus, cooperative under asyncio.

Frames are built and parsed in buffers allocated once. Each request waits for
t3.5 (3.5 character times) of silence on the bus, dropping any late or stray
bytes, and a reply that stops for t3.5 before its expected length is a short
frame. Every failure is
counted by kind and retried; the caller gets ``None`` only after the retries.
"""

import asyncio
import time
from array import array

from drivers.rs485 import wait_quiet
from firmware.compat import const

_RX_MAX = const(256)
_CHUNK = const(32)
_TX_GUARD_MS = const(20)
_EXCEPTION_BIT = const(0x80)


def _crc_table():
    table = array("H", bytes(512))
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table[byte] = crc
    return table


_CRC_TABLE = _crc_table()


def crc16(buf, length):
    """Modbus CRC-16 (poly 0xA001, init 0xFFFF) of the first ``length`` bytes.

    A whole frame including its CRC (low byte first) gives 0.
    """
    table = _CRC_TABLE
    crc = 0xFFFF
    for index in range(length):
        crc = (crc >> 8) ^ table[(crc ^ buf[index]) & 0xFF]
    return crc


class ModbusMaster:
    """Reads registers from RTU slaves; counts ok, timeouts, CRC errors, short frames, garbage, exceptions."""

    def __init__(self, uart, baudrate, de_pin=None, timeout_ms=300, retries=2, bits_per_char=10):
        self.uart = uart
        self.de_pin = de_pin
        self.timeout_ms = timeout_ms
        self.retries = retries
        char_us = bits_per_char * 1000000 // baudrate
        # The spec fixes t3.5 at 1.75 ms above 19200 baud.
        self.gap_ms = (35 * char_us + 9999) // 10000 if baudrate <= 19200 else 2
        self.char_us = char_us
        self._tx = bytearray(8)
        self._rx = bytearray(_RX_MAX)
        self._chunk = bytearray(_CHUNK)
        self._rx_view = memoryview(self._rx)
        self._last_bus_ms = time.ticks_ms()
        self.ok = 0
        self.timeouts = 0
        self.crc_errors = 0
        self.short_frames = 0
        self.garbage = 0
        self.exceptions = 0
        self.last_exception = 0
        if de_pin is not None:
            de_pin.value(0)

    def counters(self):
        """The error counters, for logs and benchmarks."""
        return {
            "ok": self.ok,
            "timeouts": self.timeouts,
            "crc_errors": self.crc_errors,
            "short_frames": self.short_frames,
            "garbage": self.garbage,
            "exceptions": self.exceptions,
        }

    async def read_registers(self, address, function, start, count, retries=None):
        """Read ``count`` registers with function 3 or 4; a memoryview of the data bytes, or None.

        ``retries`` overrides the master's own count for this request.
        """
        for _ in range((self.retries if retries is None else retries) + 1):
            if await self._transact(address, function, start, count):
                self.ok += 1
                return self._rx_view[3 : 3 + 2 * count]
        return None

    async def _transact(self, address, function, start, count):
        tx = self._tx
        tx[0] = address
        tx[1] = function
        tx[2] = start >> 8
        tx[3] = start & 0xFF
        tx[4] = count >> 8
        tx[5] = count & 0xFF
        crc = crc16(tx, 6)
        tx[6] = crc & 0xFF
        tx[7] = crc >> 8
        # Wait for t3.5 of silence (drivers/rs485.py); stray bytes dropped meanwhile count as garbage.
        last_ms = self._last_bus_ms
        self._last_bus_ms = await wait_quiet(self.uart, self._chunk, self.gap_ms, self.timeout_ms, last_ms)
        if self._last_bus_ms != last_ms:
            self.garbage += 1
        await self._send(tx)
        expected = 5 + 2 * count
        got = await self._receive(expected, function)
        return self._check(got, expected, address, function, count)

    async def _send(self, frame):
        de_pin = self.de_pin
        if de_pin is not None:
            de_pin.value(1)
        self.uart.write(frame)
        # Hold the driver enabled until the last stop bit is out, but never forever.
        limit_ms = len(frame) * self.char_us // 1000 + _TX_GUARD_MS
        started = time.ticks_ms()
        while not self.uart.txdone():
            if time.ticks_diff(time.ticks_ms(), started) > limit_ms:
                break
            await asyncio.sleep_ms(1)
        if de_pin is not None:
            de_pin.value(0)
        self._last_bus_ms = time.ticks_ms()

    async def _receive(self, expected, function):
        """Collect a reply until its length, a t3.5 silence after it began, or the timeout."""
        uart = self.uart
        rx = self._rx
        chunk = self._chunk
        got = 0
        started = time.ticks_ms()
        last = started
        while True:
            n = uart.readinto(chunk)
            now = time.ticks_ms()
            if n:
                last = now
                for index in range(n):
                    if got < _RX_MAX:
                        rx[got] = chunk[index]
                        got += 1
                if got >= 2 and rx[1] == function | _EXCEPTION_BIT:
                    expected = 5
                if got >= expected:
                    break
            elif got and time.ticks_diff(now, last) > self.gap_ms:
                break
            elif time.ticks_diff(now, started) > self.timeout_ms:
                break
            await asyncio.sleep_ms(1)
        self._last_bus_ms = time.ticks_ms()
        return got

    def _check(self, got, expected, address, function, count):
        rx = self._rx
        if got == 0:
            self.timeouts += 1
            return False
        if rx[0] != address or (rx[1] & 0x7F) != function:
            self.garbage += 1
            return False
        if rx[1] & _EXCEPTION_BIT:
            expected = 5
        if got < expected:
            self.short_frames += 1
            return False
        if got > expected:
            self.garbage += 1
            return False
        if crc16(rx, expected) != 0:
            self.crc_errors += 1
            return False
        if rx[1] & _EXCEPTION_BIT:
            self.exceptions += 1
            self.last_exception = rx[2]
            return False
        if rx[2] != 2 * count:
            self.garbage += 1
            return False
        return True
