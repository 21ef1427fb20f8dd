"""An SPI bus between the VM and an emulated chip, carried over a pty.

SPI is full duplex and clocked by the master, so a transfer cannot be paced
like a UART line: the master's bytes go out and the chip's come back in the
same clocks. Over the pty each chip-select frame is one length byte and the
MOSI bytes; the answer is as many MISO bytes, which the VM's ``SPI`` stand-in
(boards/sim/simhw.py) waits for before the transfer returns, as
``machine.SPI.write_readinto`` does. A thread serves the link, so the chip
answers while the world's event loop is busy with other parts.
"""

from __future__ import annotations

import os
import select
import threading
from typing import Protocol

from boards.sim.world.serial_link import open_raw_pty

_POLL_MS = 100


class SpiDevice(Protocol):
    def transfer(self, mosi: bytes) -> bytes: ...


class SpiLink:
    """The bus to ``device``; the VM opens ``device_path``."""

    def __init__(self, device: SpiDevice) -> None:
        self.device = device
        self.frames = 0
        self.bad_frames = 0
        self._master_fd, self._slave_fd = open_raw_pty()
        os.set_blocking(self._master_fd, True)
        self.device_path = os.ttyname(self._slave_fd)
        self._closing = False
        self._thread = threading.Thread(target=self._serve, name="spi-link", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._closing = True
        self._thread.join(timeout=2)
        os.close(self._master_fd)
        os.close(self._slave_fd)

    def _read_exactly(self, poller: select.poll, count: int) -> bytes | None:
        data = b""
        while len(data) < count:
            if self._closing:
                return None
            if not poller.poll(_POLL_MS):
                continue
            try:
                chunk = os.read(self._master_fd, count - len(data))
            except OSError:
                return None
            if not chunk:
                return None
            data += chunk
        return data

    def _serve(self) -> None:
        poller = select.poll()
        poller.register(self._master_fd, select.POLLIN)
        while not self._closing:
            head = self._read_exactly(poller, 1)
            if head is None:
                return
            mosi = self._read_exactly(poller, head[0])
            if mosi is None:
                return
            self.frames += 1
            miso = self.device.transfer(mosi)
            if len(miso) != len(mosi):
                self.bad_frames += 1
                miso = bytes(len(mosi))
            os.write(self._master_fd, miso)
