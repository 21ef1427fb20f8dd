"""The pile's main meter in the virtual pile: a DL/T 645-2007 meter on the world's end of its RS485 line.

It answers read-data requests addressed to it (exactly, or through AA
wildcard bytes) for the quantities the pile reads, from values the world or
a test sets; an identifier it does not keep gets an abnormal reply ("no
data"); a frame with a bad checksum, or for another meter, gets no answer, as
on a real bus. Frames are built here from the standard's rules on their own,
not with the firmware's codec, so each checks the other.
"""

from __future__ import annotations

import asyncio
import os

from drivers.dlt645 import ACTIVE_POWER, CURRENT_A, FORWARD_ACTIVE_ENERGY, VOLTAGE_A

READ_CHUNK_BYTES = 256
DATA_MAX = 200
WAKE = 0xFE


def _bcd(value: int, size: int, signed: bool) -> bytes:
    """``value`` as ``size`` BCD bytes, lowest first; a negative value sets the top bit of the last."""
    digits = f"{abs(value):0{size * 2}d}"
    if len(digits) > size * 2:
        raise ValueError(f"{value} does not fit {size} BCD bytes")
    out = bytearray(int(digits[i : i + 2], 16) for i in range(0, size * 2, 2))[::-1]
    if signed and value < 0:
        out[-1] |= 0x80
    return bytes(out)


class MainMeter:
    """A DL/T 645 meter at ``address`` (12 digits); ``answer`` is the protocol, ``start`` puts it on a tty."""

    def __init__(self, address: str = "000000001234") -> None:
        self.address = bytes(int(address[i : i + 2], 16) for i in range(10, -1, -2))
        self.energy_centi_kwh = 120642  # 1206.42 kWh
        self.voltage_deci_v = 2205
        self.current_milli_a = 4520
        self.power_decimilli_kw = 9950
        self.requests = 0
        self._buffer = bytearray()
        self._fd: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _values(self) -> dict[int, bytes]:
        return {
            FORWARD_ACTIVE_ENERGY: _bcd(self.energy_centi_kwh, 4, False),
            VOLTAGE_A: _bcd(self.voltage_deci_v, 2, False),
            CURRENT_A: _bcd(self.current_milli_a, 3, True),
            ACTIVE_POWER: _bcd(self.power_decimilli_kw, 3, True),
        }

    def answer(self, request: bytes) -> bytes | None:
        """The reply to one request frame (wake-up bytes allowed before it), or None: no answer."""
        at = 0
        while at < len(request) and request[at] == WAKE:
            at += 1
        frame = request[at:]
        if len(frame) < 12 or frame[0] != 0x68 or frame[7] != 0x68 or len(frame) != 12 + frame[9]:
            return None
        if sum(frame[:-2]) & 0xFF != frame[-2] or frame[-1] != 0x16:
            return None
        if any(sent not in (0xAA, own) for sent, own in zip(frame[1:7], self.address, strict=True)):
            return None  # for another meter
        control, data = frame[8], bytes((b - 0x33) & 0xFF for b in frame[10:-2])
        self.requests += 1
        if control != 0x11 or len(data) != 4:
            return self._frame(0xD1, b"\x01")  # other error
        identifier = int.from_bytes(data, "little")
        value = self._values().get(identifier)
        if value is None:
            return self._frame(0xD1, b"\x02")  # no such data
        return self._frame(0x91, data + value)

    def _frame(self, control: int, data: bytes) -> bytes:
        body = bytes([0x68]) + self.address + bytes([0x68, control, len(data)])
        body += bytes((b + 0x33) & 0xFF for b in data)
        return b"\xfe" * 4 + body + bytes([sum(body) & 0xFF, 0x16])

    def start(self, path: str) -> None:
        """Answer on the tty at ``path``; call from inside the running event loop."""
        self._loop = asyncio.get_running_loop()
        self._fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        self._loop.add_reader(self._fd, self._readable)

    def close(self) -> None:
        """Stop answering."""
        if self._fd is not None and self._loop is not None:
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
        self._fd = None

    def _readable(self) -> None:
        try:
            self._buffer += os.read(self._fd, READ_CHUNK_BYTES)
        except BlockingIOError:
            return
        # A request ends with 16H once its declared length is in; garbage before a start is dropped.
        while True:
            start = self._buffer.find(b"\x68")
            if start < 0:
                self._buffer.clear()
                return
            del self._buffer[:start]
            buffer = self._buffer
            if (len(buffer) >= 8 and buffer[7] != 0x68) or (len(buffer) >= 10 and buffer[9] > DATA_MAX):
                del buffer[:1]  # a 68H inside garbage, not a frame's start
                continue
            if len(buffer) < 10 or len(buffer) < 12 + buffer[9]:
                return
            size = 12 + self._buffer[9]
            reply = self.answer(bytes(self._buffer[:size]))
            if reply is None:
                del self._buffer[:1]  # not a frame here: look for the next start
                continue
            del self._buffer[:size]
            os.write(self._fd, reply)
