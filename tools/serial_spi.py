"""The desk reader's SPI bus: an MFRC522 behind a USB-serial bridge, seen from CPython through pyserial.

The bridge carries SPI in frames, as the virtual pile's link does (boards/sim/world/spi_link.py): one
length byte and that many MOSI bytes out; as many MISO bytes back, clocked while the bridge holds chip
select low for the frame. So the driver's chip select has nothing to do (``FramedChipSelect``), and
``SerialSpi.write_readinto`` returns once the frame's answer is in, as ``machine.SPI`` does.
"""

from __future__ import annotations

import serial

FRAME_MAX_BYTES = 255
# Far more than a frame's few bytes take, however slow the USB round trip: a bridge this late is gone.
ANSWER_TIMEOUT_S = 0.5


class SerialSpi:
    """``write_readinto`` over the bridge at ``port``; ``OSError`` if it does not answer a frame in full."""

    def __init__(self, port: str, baudrate: int = 115200) -> None:
        try:
            self._serial = serial.Serial(port, baudrate, timeout=ANSWER_TIMEOUT_S, write_timeout=ANSWER_TIMEOUT_S)
        except (serial.SerialException, ValueError) as error:
            raise OSError("cannot open the card reader at %s: %s" % (port, error)) from None
        self.port = port

    def write_readinto(self, write_buf: bytes | bytearray, read_buf: bytearray) -> None:
        """Clock ``write_buf`` out and the chip's bytes into ``read_buf`` (one chip-select frame)."""
        length = len(write_buf)
        if length > FRAME_MAX_BYTES or len(read_buf) < length:
            raise ValueError("SPI frame too long")
        try:
            self._serial.write(bytes((length,)) + bytes(write_buf))
            answer = self._serial.read(length)
        except serial.SerialException as error:
            raise OSError("card reader at %s: %s" % (self.port, error)) from None
        if len(answer) != length:
            raise OSError("card reader at %s answered %d of %d bytes" % (self.port, len(answer), length))
        read_buf[:length] = answer

    def close(self) -> None:
        """Close the serial port."""
        self._serial.close()


class FramedChipSelect:
    """The driver's chip select pin: the bridge asserts chip select around each frame itself."""

    def value(self, level: int | None = None) -> int:
        """Take ``level`` (ignored) or read the line, which is high between frames."""
        return 1
