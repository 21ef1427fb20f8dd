"""JQ8900 voice module on a UART (9600 8N1): plays numbered tracks from its flash.

Frame: 0xAA, command, data length, data..., checksum (sum of the previous bytes).
"""

from firmware.compat import const

_START = const(0xAA)
_PLAY_TRACK = const(0x07)
_SET_VOLUME = const(0x13)


class Voice:
    """Sends play and volume commands; frames are built in a buffer made once."""

    def __init__(self, uart):
        self.uart = uart
        self._frame = bytearray(6)

    def _send(self, command, data, length):
        frame = self._frame
        frame[0] = _START
        frame[1] = command
        frame[2] = length
        if length == 2:
            frame[3] = data >> 8
            frame[4] = data & 0xFF
        else:
            frame[3] = data
        total = 0
        for index in range(3 + length):
            total += frame[index]
        frame[3 + length] = total & 0xFF
        self.uart.write(memoryview(frame)[: 4 + length])

    def play(self, track):
        """Play track ``track`` (1..65535)."""
        self._send(_PLAY_TRACK, track, 2)

    def volume(self, level):
        """Set the volume, 0..30."""
        self._send(_SET_VOLUME, level, 1)
