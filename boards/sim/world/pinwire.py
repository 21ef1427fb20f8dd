"""The host end of the sim board's pin bus.

The MicroPython VM connects (one client at a time) to a TCP server on 127.0.0.1 and the
two sides exchange ASCII lines ending in '\\n':

VM -> host: ``O <gpio> <0|1>`` an output pin changed level;
            ``W <i2c_addr_decimal> <hex bytes>`` an I2C write transaction;
            ``H <text>`` hello.
host -> VM: ``L <gpio> <0|1>`` the world drives an input pin to a level (an ADC pin: its voltage in µV);
            ``S <gpioA> <gpioB> <0|1>`` a switch contact between two pins closes (1) or opens (0).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Self

HOST = "127.0.0.1"
LEVELS = (0, 1)
# Longest line logged when a malformed one arrives.
LOG_LINE_CHARS = 80

OutputCallback = Callable[[int, int, float], None]
I2cHandler = Callable[[bytes], None]

log = logging.getLogger(__name__)


class PinWire:
    """The world's side of the pin bus: reads output levels and I2C writes, drives inputs.

    What the world drives (input levels, closed contacts) is physical state: it is sent
    again to a VM that reconnects after a restart. What the VM drove is forgotten when it
    disconnects, since a board in reset drives nothing.
    """

    def __init__(self, port: int = 0) -> None:
        """Prepare a server on 127.0.0.1:`port` (0 = any free port); `start()` opens it."""
        self._requested_port = port
        self._server: asyncio.Server | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._output_callbacks: dict[int, list[OutputCallback]] = {}
        self._i2c_handlers: dict[int, I2cHandler] = {}
        self._event_callbacks: dict[str, list[Callable[[str, float], None]]] = {}
        self._inputs: dict[int, int] = {}
        self._contacts: dict[tuple[int, int], bool] = {}
        self.outputs: dict[int, int] = {}
        self.hello: str | None = None
        self.connected = asyncio.Event()
        self.connections = 0
        self.malformed_lines = 0
        self.callback_errors = 0
        self.unhandled_i2c_writes = 0

    @property
    def port(self) -> int:
        """The TCP port the VM must connect to."""
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        """Start listening."""
        self._server = await asyncio.start_server(self._serve_client, HOST, self._requested_port)

    async def close(self) -> None:
        """Stop listening and drop the VM's connection."""
        if self._server is not None:
            self._server.close()
        if self._writer is not None:
            self._writer.close()
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    def on_output(self, gpio: int, callback: OutputCallback) -> None:
        """Call `callback(gpio, level, t_monotonic)` whenever output `gpio` changes level."""
        self._output_callbacks.setdefault(gpio, []).append(callback)

    def on_event(self, name: str, callback: Callable[[str, float], None]) -> None:
        """Call ``callback(args, t_monotonic)`` on each board event line ``E <name> <args>``
        (the watchdog's feed, the flash reaching an armed power cut)."""
        self._event_callbacks.setdefault(name, []).append(callback)

    async def command(self, text: str) -> None:
        """Send a board-level condition to the VM: ``X <text>`` (arm a flash cut, hold the I2C bus)."""
        await self._send("X " + text)

    def on_i2c(self, address: int, handler: I2cHandler) -> None:
        """Route every I2C write to 7-bit `address` to `handler(data)` (one device per address)."""
        self._i2c_handlers[address] = handler

    async def drive(self, gpio: int, level: int) -> None:
        """Drive input `gpio` to `level` (0 or 1)."""
        if level not in LEVELS:
            raise ValueError(f"level must be 0 or 1, not {level!r}")
        self._inputs[gpio] = level
        await self._send(f"L {gpio} {level}")

    async def drive_voltage(self, gpio: int, microvolts: int) -> None:
        """Put `microvolts` on ADC pin `gpio` (0 to 3.3 V)."""
        if not 0 <= microvolts <= 3_300_000:
            raise ValueError(f"an ADC pin takes 0..3300000 uV, not {microvolts!r}")
        self._inputs[gpio] = microvolts
        await self._send(f"L {gpio} {microvolts}")

    async def contact(self, gpio_a: int, gpio_b: int, closed: bool) -> None:
        """Close or open a switch contact between two pins (a keypad key joins a row and a column)."""
        self._contacts[(min(gpio_a, gpio_b), max(gpio_a, gpio_b))] = closed
        await self._send(f"S {gpio_a} {gpio_b} {int(closed)}")

    async def pulse(self, gpio: int, count: int, low_ms: float = 50, high_ms: float = 50) -> None:
        """Give `count` active-low pulses on `gpio`, idling high, like a CH-926 coin acceptor."""
        if self._inputs.get(gpio) != 1:
            await self.drive(gpio, 1)
        loop = asyncio.get_running_loop()
        # Edges follow one schedule, so a slow wake-up does not stretch the later pulses.
        edge_at = loop.time()
        for _ in range(count):
            await self.drive(gpio, 0)
            edge_at += low_ms / 1000
            await asyncio.sleep(max(0.0, edge_at - loop.time()))
            await self.drive(gpio, 1)
            edge_at += high_ms / 1000
            await asyncio.sleep(max(0.0, edge_at - loop.time()))

    async def _send(self, line: str) -> None:
        writer = self._writer
        if writer is None:
            return
        writer.write(line.encode("ascii") + b"\n")
        try:
            await writer.drain()
        except ConnectionError:
            # The VM went away; the reader side notices and cleans up.
            pass

    async def _serve_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._writer is not None:
            # A restarted VM may connect before the old socket is seen closed: the newest wins.
            log.info("pin bus: new VM connection replaces the old one")
            self._writer.close()
        self._writer = writer
        self.connections += 1
        self.outputs.clear()
        for gpio, level in self._inputs.items():
            writer.write(f"L {gpio} {level}\n".encode("ascii"))
        for (gpio_a, gpio_b), closed in self._contacts.items():
            writer.write(f"S {gpio_a} {gpio_b} {int(closed)}\n".encode("ascii"))
        self.connected.set()
        try:
            await self._read_lines(reader)
        finally:
            if self._writer is writer:
                self._writer = None
                self.outputs.clear()
                self.connected.clear()
            writer.close()

    async def _read_lines(self, reader: asyncio.StreamReader) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                raw = await reader.readline()
            except ValueError:
                # Longer than the stream limit; the reader has already dropped it.
                self._malformed(b"<overlong line>")
                continue
            except ConnectionError:
                return
            if not raw:
                return
            self._handle_line(raw, loop.time())

    def _handle_line(self, raw: bytes, t: float) -> None:
        try:
            kind, _, rest = raw.decode("ascii").strip().partition(" ")
            if kind == "O":
                gpio_text, level_text = rest.split()
                self._output(int(gpio_text), _level(level_text), t)
            elif kind == "W":
                address_text, _, hex_text = rest.partition(" ")
                self._i2c_write(int(address_text), bytes.fromhex(hex_text))
            elif kind == "H":
                self.hello = rest
            elif kind == "E":
                name, _, args = rest.partition(" ")
                for callback in self._event_callbacks.get(name, ()):
                    self._call(callback, args, t)
            else:
                raise ValueError(f"unknown line kind {kind!r}")
        except ValueError:
            # UnicodeDecodeError is a ValueError too.
            self._malformed(raw)

    def _output(self, gpio: int, level: int, t: float) -> None:
        if self.outputs.get(gpio) == level:
            return
        self.outputs[gpio] = level
        for callback in self._output_callbacks.get(gpio, ()):
            self._call(callback, gpio, level, t)

    def _i2c_write(self, address: int, data: bytes) -> None:
        handler = self._i2c_handlers.get(address)
        if handler is None:
            # On a real bus nobody acknowledges; the VM cannot tell over this one-way line.
            self.unhandled_i2c_writes += 1
            return
        self._call(handler, data)

    def _call(self, callback: Callable[..., None], *args: object) -> None:
        # A broken world callback must not take the pin bus down with it.
        try:
            callback(*args)
        except Exception:
            self.callback_errors += 1
            log.exception("pin bus: callback %r failed", callback)

    def _malformed(self, raw: bytes) -> None:
        self.malformed_lines += 1
        log.warning("pin bus: malformed line %r", raw[:LOG_LINE_CHARS])


def _level(text: str) -> int:
    level = int(text)
    if level not in LEVELS:
        raise ValueError(f"level must be 0 or 1, not {text!r}")
    return level
