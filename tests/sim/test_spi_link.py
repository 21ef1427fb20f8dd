"""The SPI link: chip-select frames over a pty, answered by the emulated chip from the link's thread."""

import os
import select

import pytest

from boards.sim.world import mfrc522 as chip
from boards.sim.world.spi_link import SpiLink


@pytest.fixture
def link():
    link = SpiLink(chip.Mfrc522())
    link.start()
    yield link
    link.close()


def exchange(fd, mosi):
    """What the VM's SPI stand-in does: a length byte, the MOSI bytes, then wait for as many MISO bytes."""
    os.write(fd, bytes([len(mosi)]) + mosi)
    miso = b""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while len(miso) < len(mosi):
        assert poller.poll(2000), "the link never answered"
        miso += os.read(fd, len(mosi) - len(miso))
    return miso


def test_each_frame_is_answered_with_as_many_bytes_as_it_carried(link):
    fd = os.open(link.device_path, os.O_RDWR | os.O_NOCTTY)
    try:
        assert exchange(fd, bytes([0x80 | (chip.VERSION << 1), 0])) == b"\x00\x92"
        exchange(fd, bytes([chip.FIFO_DATA << 1, 1, 2, 3]))  # three bytes into the FIFO
        assert exchange(fd, bytes([0x80 | (chip.FIFO_LEVEL << 1), 0])) == b"\x00\x03"
        read_fifo = 0x80 | (chip.FIFO_DATA << 1)
        assert exchange(fd, bytes([read_fifo, read_fifo, read_fifo, 0])) == b"\x00\x01\x02\x03"
    finally:
        os.close(fd)
    assert link.frames == 4 and link.bad_frames == 0
