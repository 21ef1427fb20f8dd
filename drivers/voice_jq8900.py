"""JQ8900 voice module on a UART (9600 8N1): plays numbered tracks from its flash, or clips back to back.

Frame: 0xAA, command, data length, data..., checksum (sum of the previous bytes).
Combination play (0x1B) plays the clips named in its data, two ASCII
characters each, from the module's ``ZH`` folder, one after another.
"""

from firmware.compat import const

_START = const(0xAA)
_PLAY_TRACK = const(0x07)
_SET_VOLUME = const(0x13)
_PLAY_CLIPS = const(0x1B)
_CLIPS_MAX_BYTES = const(32)


class Voice:
    """Sends play and volume commands; frames are built in a buffer made once."""

    def __init__(self, uart):
        self.uart = uart
        self._frame = bytearray(4 + _CLIPS_MAX_BYTES)

    def _send(self, command, data, length):
        frame = self._frame
        frame[1] = command
        if length == 2:
            frame[3] = data >> 8
            frame[4] = data & 0xFF
        else:
            frame[3] = data
        self._write(length)

    def _write(self, length):
        """Frame the command and the ``length`` data bytes already in place, and send it."""
        frame = self._frame
        frame[0] = _START
        frame[2] = length
        total = 0
        for index in range(3 + length):
            total += frame[index]
        frame[3 + length] = total & 0xFF
        self.uart.write(memoryview(frame)[: 4 + length])

    def play(self, track):
        """Play track ``track`` (1..65535)."""
        self._send(_PLAY_TRACK, track, 2)

    def play_clips(self, clips):
        """Play the clips named in ``clips`` (bytes, two characters a clip) one after another."""
        length = min(len(clips), _CLIPS_MAX_BYTES)
        frame = self._frame
        frame[1] = _PLAY_CLIPS
        frame[3 : 3 + length] = clips[:length]
        self._write(length)

    def volume(self, level):
        """Set the volume, 0..30."""
        self._send(_SET_VOLUME, level, 1)
