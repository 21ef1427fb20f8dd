"""An honest RS485/UART line between two ptys.

The firmware opens one pty slave (`device_path`), the emulated device opens the other
(`peer_path`). Bytes cross the line no faster than the configured baud rate and frame
format allow, and the device-to-firmware direction can be made faulty on purpose.
"""

from __future__ import annotations

import asyncio
import os
import random
import termios
import tty
from collections import deque
from collections.abc import Callable
from typing import Self

# Modbus RTU calls a silence of 3.5 character times the end of a frame.
FRAME_GAP_CHARS = 3.5
FAULT_KINDS = (None, "silence", "garbage", "bad_crc", "short", "late")
# A "late" reply comes whole but this long after the device sent it: past a master's usual reply timeout
# (300 ms), so it lands in the master's next transaction, as from a slow or overloaded meter.
LATE_REPLY_S = 0.4
# A garbage reply is about as long as the real one, give or take this many bytes.
GARBAGE_LENGTH_JITTER_BYTES = 2
READ_CHUNK_BYTES = 4096


def open_raw_pty() -> tuple[int, int]:
    """Create a pty pair and return (master_fd, slave_fd).

    The slave is raw (no echo, no line editing, no CR/LF mapping) with VMIN=0, VTIME=0,
    so whoever opens the slave path with plain `open()` gets whatever bytes are there,
    possibly none, without blocking: that is how the MicroPython VM reads its UARTs.
    The master is non-blocking, for use with the asyncio loop.
    """
    master_fd, slave_fd = os.openpty()
    tty.setraw(slave_fd)
    attrs = termios.tcgetattr(slave_fd)
    attrs[6][termios.VMIN] = 0
    attrs[6][termios.VTIME] = 0
    termios.tcsetattr(slave_fd, termios.TCSANOW, attrs)
    os.set_blocking(master_fd, False)
    return master_fd, slave_fd


def char_time_s(baudrate: int, bytesize: int = 8, parity: str = "N", stopbits: int = 1) -> float:
    """Return the time one character occupies the wire: start bit, data, parity, stop bits."""
    bits = 1 + bytesize + (0 if parity == "N" else 1) + stopbits
    return bits / baudrate


class _PacedLane:
    """One direction of the line: queued bytes reach `dst_fd` no sooner than the wire allows.

    Every byte gets a due time on a running schedule (the moment its last bit has been
    sent), so timer lateness never accumulates: a late wake-up delivers every byte that
    is due by then, and the following bytes keep their original due times.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, dst_fd: int, char_s: float) -> None:
        self._loop = loop
        self._dst_fd = dst_fd
        self._char_s = char_s
        self._pending: deque[tuple[float, int]] = deque()
        self._line_free_at = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self.delivered_bytes = 0
        # A real UART receiver whose FIFO is not read loses bytes; so does this line.
        self.overrun_bytes = 0

    def send(self, data: bytes) -> float:
        """Queue `data` behind whatever is on the wire; return when its first byte starts."""
        start = max(self._loop.time(), self._line_free_at)
        for index, byte in enumerate(data, start=1):
            self._pending.append((start + index * self._char_s, byte))
        self._line_free_at = start + len(data) * self._char_s
        self._arm()
        return start

    def close(self) -> None:
        """Stop delivering; bytes still on the wire are lost."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pending.clear()

    def _arm(self) -> None:
        if self._timer is None and self._pending:
            self._timer = self._loop.call_at(self._pending[0][0], self._deliver)

    def _deliver(self) -> None:
        self._timer = None
        now = self._loop.time()
        out = bytearray()
        while self._pending and self._pending[0][0] <= now:
            out.append(self._pending.popleft()[1])
        if out:
            self._write(bytes(out))
        self._arm()

    def _write(self, data: bytes) -> None:
        try:
            written = os.write(self._dst_fd, data)
        except BlockingIOError:
            written = 0
        self.delivered_bytes += written
        self.overrun_bytes += len(data) - written


class SerialLink:
    """Two ptys joined by a paced, optionally faulty, serial line.

    Use as `async with SerialLink() as link:` or call `start()` inside a running loop and
    `close()` when done. Stop whatever has `peer_path` open before closing the link.
    """

    def __init__(
        self,
        baudrate: int = 9600,
        bytesize: int = 8,
        parity: str = "N",
        stopbits: int = 1,
        seed: int | None = None,
    ) -> None:
        """Create both pty pairs; nothing moves until `start()`."""
        self.baudrate = baudrate
        self.char_time_s = char_time_s(baudrate, bytesize, parity, stopbits)
        self.frame_gap_s = FRAME_GAP_CHARS * self.char_time_s
        self._fw_master, self._fw_slave = open_raw_pty()
        self._peer_master, self._peer_slave = open_raw_pty()
        self._rng = random.Random(seed)
        self._fault: str | None = None
        self._faulty_replies_left: int | None = None
        self._burst_fault: str | None = None
        self._last_peer_rx = float("-inf")
        self._held = bytearray()
        self._release_timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._to_peer: _PacedLane | None = None
        self._to_fw: _PacedLane | None = None
        self._closed = False
        self.on_device_tx_start: Callable[[float], None] | None = None
        self.fault_counts: dict[str, int] = {kind: 0 for kind in FAULT_KINDS if kind}
        self.frames_from_device = 0
        self.bytes_from_firmware = 0
        self.bytes_from_device = 0

    @property
    def device_path(self) -> str:
        """Slave tty path for the firmware side (the board's UART)."""
        return os.ttyname(self._fw_slave)

    @property
    def peer_path(self) -> str:
        """Slave tty path for the emulated device (e.g. the pymodbus server)."""
        return os.ttyname(self._peer_slave)

    @property
    def bytes_to_device(self) -> int:
        """Bytes delivered to the emulated device so far."""
        return self._to_peer.delivered_bytes if self._to_peer else 0

    @property
    def bytes_to_firmware(self) -> int:
        """Bytes delivered to the firmware so far (after fault injection)."""
        return self._to_fw.delivered_bytes if self._to_fw else 0

    def start(self) -> None:
        """Begin moving bytes; must be called from inside the running event loop."""
        self._loop = asyncio.get_running_loop()
        self._to_peer = _PacedLane(self._loop, self._peer_master, self.char_time_s)
        self._to_fw = _PacedLane(self._loop, self._fw_master, self.char_time_s)
        self._loop.add_reader(self._fw_master, self._on_firmware_readable)
        self._loop.add_reader(self._peer_master, self._on_peer_readable)

    def set_fault(self, kind: str | None, replies: int | None = None) -> None:
        """Choose how device replies are damaged from the next reply on; None = clean.

        With ``replies``, only that many replies are damaged and the line heals by itself.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
        self._fault = kind
        self._faulty_replies_left = replies

    def close(self) -> None:
        """Stop the line and close every pty end. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._loop is not None:
            self._loop.remove_reader(self._fw_master)
            self._loop.remove_reader(self._peer_master)
        if self._release_timer is not None:
            self._release_timer.cancel()
        for lane in (self._to_peer, self._to_fw):
            if lane is not None:
                lane.close()
        for fd in (self._fw_master, self._fw_slave, self._peer_master, self._peer_slave):
            os.close(fd)

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.close()

    def _on_firmware_readable(self) -> None:
        data = _read_available(self._fw_master)
        if data:
            self.bytes_from_firmware += len(data)
            self._to_peer.send(data)

    def _on_peer_readable(self) -> None:
        data = _read_available(self._peer_master)
        if not data:
            return
        now = self._loop.time()
        new_frame = now - self._last_peer_rx >= self.frame_gap_s
        self._last_peer_rx = now
        self.bytes_from_device += len(data)
        if new_frame:
            # The fault in force when a reply starts applies to the whole reply.
            self.frames_from_device += 1
            self._burst_fault = self._fault
            if self._burst_fault:
                self.fault_counts[self._burst_fault] += 1
                if self._faulty_replies_left is not None:
                    self._faulty_replies_left -= 1
                    if self._faulty_replies_left <= 0:
                        self.set_fault(None)
        if self._burst_fault is None:
            start = self._to_fw.send(data)
            if new_frame:
                self._announce(start)
        elif self._burst_fault != "silence":
            # Damaging or delaying a frame needs all of it: hold it until the device has gone quiet.
            self._held.extend(data)
            if self._release_timer is not None:
                self._release_timer.cancel()
            delay_s = LATE_REPLY_S if self._burst_fault == "late" else 0.0
            self._release_timer = self._loop.call_at(now + self.frame_gap_s + delay_s, self._release_held)

    def _release_held(self) -> None:
        self._release_timer = None
        frame = self._damage(self._burst_fault, bytes(self._held))
        self._held.clear()
        if frame:
            self._announce(self._to_fw.send(frame))

    def _damage(self, kind: str, frame: bytes) -> bytes:
        if kind == "late":
            return frame
        if kind == "garbage":
            jitter = self._rng.randint(-GARBAGE_LENGTH_JITTER_BYTES, GARBAGE_LENGTH_JITTER_BYTES)
            return self._rng.randbytes(max(1, len(frame) + jitter))
        if kind == "bad_crc":
            return frame[:-1] + bytes([frame[-1] ^ 0xFF])
        # What is left is "short": the reply stops half-way, as when a device browns out.
        return frame[: len(frame) // 2]

    def _announce(self, start: float) -> None:
        # loop.time() is time.monotonic() on the default loop, so callers may compare.
        if self.on_device_tx_start is not None:
            self._loop.call_at(start, self.on_device_tx_start, start)


def _read_available(fd: int) -> bytes:
    try:
        return os.read(fd, READ_CHUNK_BYTES)
    except BlockingIOError:
        return b""
