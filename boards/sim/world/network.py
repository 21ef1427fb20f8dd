"""The network between the virtual pile and its broker: a TCP proxy that can fail like 4G does.

The firmware connects to the proxy's address as if it were the broker. The
proxy forwards bytes both ways and counts them, and on command:

- ``link_down()``: a black hole, as when the cell drops: bytes in either
  direction vanish, new connections are accepted but never reach the broker,
  and neither end is told (each finds out by its own timeouts: the pile by a
  missing PUBACK or PINGRESP, the broker by the keepalive).
- ``link_up()``: traffic flows again; connections that lived through the
  outage are closed, as a NAT and a re-attached PDP context would drop them.
- ``reset()``: every connection is closed at once (a RST from a middlebox).
- ``delay_s``: latency added to every chunk, each way.
- ``answers_lost``: what the broker sends vanishes, what the pile sends arrives (so a PUBACK is
  lost after the broker took the message: the pile must send it again).
- ``link_flap(down_s, up_s, times)``: down and up in a loop.
"""

from __future__ import annotations

import asyncio
import contextlib

CHUNK_BYTES = 4096


class _Pair:
    """One pile connection and its broker connection."""

    def __init__(self, pile_writer: asyncio.StreamWriter) -> None:
        self.pile_writer = pile_writer
        self.broker_writer: asyncio.StreamWriter | None = None
        self.tasks: list[asyncio.Task] = []
        self.saw_outage = False

    def close(self) -> None:
        for writer in (self.pile_writer, self.broker_writer):
            if writer is not None:
                writer.close()
        for task in self.tasks:
            task.cancel()


class NetworkProxy:
    """A TCP proxy on 127.0.0.1 in front of ``broker_host:broker_port``; runs on the world's loop."""

    def __init__(self, broker_host: str, broker_port: int) -> None:
        self.broker_host = broker_host
        self.broker_port = broker_port
        self.up = True
        self.delay_s = 0.0
        self.answers_lost = False
        self.bytes_up = 0
        self.bytes_down = 0
        self._pairs: list[_Pair] = []
        self._server: asyncio.Server | None = None
        self._up_event = asyncio.Event()
        self._up_event.set()
        self.port = 0

    async def start(self) -> None:
        """Listen on a free port (``port``)."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        self.reset()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def link_down(self) -> None:
        """The cell drops: everything in flight and after vanishes, nobody is told."""
        self.up = False
        self._up_event.clear()
        for pair in self._pairs:
            pair.saw_outage = True

    def link_up(self) -> None:
        """The cell is back; connections that lived through the outage are gone."""
        for pair in [pair for pair in self._pairs if pair.saw_outage]:
            self._drop(pair)
        self.up = True
        self._up_event.set()

    def reset(self) -> None:
        """Close every connection now, both ends."""
        for pair in list(self._pairs):
            self._drop(pair)

    async def link_flap(self, down_s: float, up_s: float, times: int) -> None:
        """Down for ``down_s``, up for ``up_s``, ``times`` over."""
        for _ in range(times):
            self.link_down()
            await asyncio.sleep(down_s)
            self.link_up()
            await asyncio.sleep(up_s)

    def _drop(self, pair: _Pair) -> None:
        pair.close()
        if pair in self._pairs:
            self._pairs.remove(pair)

    async def _accept(self, pile_reader: asyncio.StreamReader, pile_writer: asyncio.StreamWriter) -> None:
        pair = _Pair(pile_writer)
        self._pairs.append(pair)
        pair.saw_outage = not self.up
        try:
            # A connection made while the cell is down never gets through.
            await self._up_event.wait()
            if pair.saw_outage:
                return
            broker_reader, pair.broker_writer = await asyncio.open_connection(self.broker_host, self.broker_port)
            pair.tasks = [
                asyncio.create_task(self._pump(pair, pile_reader, pair.broker_writer, True)),
                asyncio.create_task(self._pump(pair, broker_reader, pile_writer, False)),
            ]
            await asyncio.gather(*pair.tasks, return_exceptions=True)
        except OSError:
            pass
        finally:
            self._drop(pair)

    async def _pump(self, pair: _Pair, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, up: bool) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while True:
                chunk = await reader.read(CHUNK_BYTES)
                if not chunk:
                    break
                if not self.up or pair.saw_outage or (self.answers_lost and not up):
                    continue
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
                if up:
                    self.bytes_up += len(chunk)
                else:
                    self.bytes_down += len(chunk)
                writer.write(chunk)
                await writer.drain()
        self._drop(pair)
