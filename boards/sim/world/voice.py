"""The JQ8900 voice module: the world's end of a transmit-only UART and a frame decoder.

The firmware writes command frames to the module (9600 8N1): 0xAA, command, length,
data..., checksum, where checksum is the sum of all previous bytes of the frame & 0xFF.
The module never answers in this wiring, so the world only reads.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Self

from .serial_link import open_raw_pty

FRAME_START = 0xAA
CMD_PLAY_TRACK = 0x07
CMD_STOP = 0x10
CMD_SET_VOLUME = 0x13
CMD_PLAY_CLIPS = 0x1B  # combination play: clips of the ZH folder, two ASCII characters a name
# The words of the ZH folder's clips, by clip number (firmware/spoken.py).
CLIP_WORDS = "零一二三四五六七八九十百千万点元"
HEADER_BYTES = 3
CHECKSUM_BYTES = 1
# No JQ8900 command carries more data than this; a larger length means a false start.
MAX_DATA_BYTES = 32
READ_CHUNK_BYTES = 4096


@dataclass(frozen=True)
class VoiceEvent:
    """Something the module was told to do: kind is "play", "clips", "stop" or "volume"."""

    t_monotonic: float
    kind: str
    value: int | None = None
    clips: str = ""


class Jq8900Decoder:
    """Turns the byte stream sent to the module into events, skipping what is not a frame."""

    def __init__(self) -> None:
        """Start with an empty stream and no events."""
        self._buffer = bytearray()
        self.events: list[VoiceEvent] = []
        self.volume: int | None = None
        self.unknown_commands: Counter[int] = Counter()
        self.bad_checksums = 0
        self.malformed_frames = 0
        self.skipped_bytes = 0

    def feed(self, data: bytes, t_monotonic: float | None = None) -> None:
        """Decode `data` received at `t_monotonic` (now if omitted); partial frames wait."""
        t = time.monotonic() if t_monotonic is None else t_monotonic
        buffer = self._buffer
        buffer.extend(data)
        while buffer:
            if buffer[0] != FRAME_START or (len(buffer) >= HEADER_BYTES and buffer[2] > MAX_DATA_BYTES):
                self._skip_one()
                continue
            if len(buffer) < HEADER_BYTES:
                return
            frame_len = HEADER_BYTES + buffer[2] + CHECKSUM_BYTES
            if len(buffer) < frame_len:
                return
            frame = bytes(buffer[:frame_len])
            if sum(frame[:-1]) & 0xFF != frame[-1]:
                # Resynchronise on the next start byte, as the module's parser would.
                self.bad_checksums += 1
                self._skip_one()
                continue
            del buffer[:frame_len]
            self._dispatch(frame[1], frame[HEADER_BYTES:-1], t)

    def tracks(self) -> list[int]:
        """Return the tracks played so far, in order."""
        return [event.value for event in self.events if event.kind == "play"]

    def spoken(self) -> list[str]:
        """What each combination play said, as text (the clips' words), in order."""
        return [event.clips for event in self.events if event.kind == "clips"]

    def clear(self) -> None:
        """Forget the events recorded so far (counters and volume are kept)."""
        self.events.clear()

    def _skip_one(self) -> None:
        self.skipped_bytes += 1
        del self._buffer[0]

    def _dispatch(self, command: int, data: bytes, t: float) -> None:
        if command == CMD_PLAY_TRACK and len(data) == 2:
            self.events.append(VoiceEvent(t, "play", int.from_bytes(data, "big")))
        elif command == CMD_SET_VOLUME and len(data) == 1:
            self.volume = data[0]
            self.events.append(VoiceEvent(t, "volume", data[0]))
        elif command == CMD_STOP and not data:
            self.events.append(VoiceEvent(t, "stop"))
        elif command == CMD_PLAY_CLIPS and data and len(data) % 2 == 0 and _clip_names(data):
            self.events.append(VoiceEvent(t, "clips", clips=_clip_names(data)))
        elif command in (CMD_PLAY_TRACK, CMD_SET_VOLUME, CMD_STOP, CMD_PLAY_CLIPS):
            self.malformed_frames += 1
        else:
            self.unknown_commands[command] += 1


class UartTap:
    """A pty standing for a UART the firmware only transmits on; the world reads the other end.

    Give `path` to the firmware; every chunk it writes is passed to
    `on_bytes(data, t_monotonic)`. Use as `async with UartTap(cb) as tap:` or
    `start()` / `close()`.
    """

    def __init__(self, on_bytes: Callable[[bytes, float], None]) -> None:
        """Create the pty pair; reading starts with `start()`."""
        self._on_bytes = on_bytes
        self._master, self._slave = open_raw_pty()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    @property
    def path(self) -> str:
        """Slave tty path for the firmware side."""
        return os.ttyname(self._slave)

    def start(self) -> None:
        """Begin reading; must be called from inside the running event loop."""
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._master, self._readable)

    def close(self) -> None:
        """Stop reading and close both pty ends. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._loop is not None:
            self._loop.remove_reader(self._master)
        os.close(self._master)
        os.close(self._slave)

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.close()

    def _readable(self) -> None:
        try:
            data = os.read(self._master, READ_CHUNK_BYTES)
        except BlockingIOError:
            return
        if data:
            self._on_bytes(data, time.monotonic())


def _clip_names(data: bytes) -> str:
    """The words of the clips named in ``data``; "" if any name is not one of the folder's clips."""
    words = []
    for index in range(0, len(data), 2):
        name = data[index : index + 2].decode("ascii", "replace")
        if not name.isdigit() or int(name) >= len(CLIP_WORDS):
            return ""
        words.append(CLIP_WORDS[int(name)])
    return "".join(words)
