"""MQTT 3.1.1 client for the pile, on asyncio streams (MicroPython and CPython).

Chosen over MQTT 5 for its bytes: a _PUBLISH carries no properties, and the
pile needs nothing 5 adds. QoS 1 with one message in flight, so the outbox is
delivered in order and a record is deleted only after its PUBACK. A Last Will
marks the pile offline if its link dies. Every wait on the broker has a
timeout; a broker that breaks the protocol gets the connection closed, and
the caller reconnects (``backoff_ms`` gives the randomised delay).
"""

import asyncio
import os
import struct
import time

from firmware.compat import const

_U16 = const(">H")

CONNECT = const(0x10)
_CONNACK = const(0x20)
_PUBLISH = const(0x30)
PUBACK = const(0x40)
_SUBSCRIBE = const(0x82)
_SUBACK = const(0x90)
_PINGREQ = const(0xC0)
_PINGRESP = const(0xD0)
_DISCONNECT = const(0xE0)

_MAX_PACKET = const(16384)
BACKOFF_MIN_MS = const(1000)
BACKOFF_MAX_MS = const(300000)


class MqttError(Exception):
    """The broker refused, broke the protocol, or did not answer in time."""


def _string(text):
    data = text.encode() if isinstance(text, str) else bytes(text)
    return struct.pack(_U16, len(data)) + data


def _remaining_length(length):
    out = bytearray()
    while True:
        digit = length % 128
        length //= 128
        out.append(digit | 0x80 if length else digit)
        if not length:
            return bytes(out)


def backoff_ms(attempt, max_ms=BACKOFF_MAX_MS):
    """Randomised exponential back-off before reconnect ``attempt`` (0-based), capped at ``max_ms``.

    The randomness spreads a fleet's reconnects after a broker or cell outage.
    """
    ceiling = BACKOFF_MIN_MS << min(attempt, 9)
    if ceiling > max_ms:
        ceiling = max_ms
    noise = os.urandom(3)
    return ceiling // 2 + (noise[0] << 16 | noise[1] << 8 | noise[2]) % (ceiling // 2 + 1)


class MqttClient:
    """One MQTT session on one open stream pair; after any MqttError or OSError, make a new one."""

    def __init__(
        self, reader, writer, client_id, keepalive_s=120, username=None, password=None, will=None, timeout_ms=10000
    ):
        self._reader = reader
        self._writer = writer
        self.client_id = client_id
        self.keepalive_s = keepalive_s
        self.username = username
        self.password = password
        self.will = will  # (topic, payload, retain) sent with QoS 1
        self.timeout_ms = timeout_ms
        self.on_message = None
        self._next_id = 0
        self._acks = {}
        self._listener = None
        self._pinger = None
        self._pong = asyncio.Event()
        self.connected = False
        self._sent_ms = time.ticks_ms()

    async def connect(self, clean_session=False):
        """Open the MQTT session; True if the broker still had one for us. MqttError if it refuses."""
        flags = 0x02 if clean_session else 0
        payload = _string(self.client_id)
        if self.will is not None:
            topic, message, retain = self.will
            flags |= 0x04 | 0x08 | (0x20 if retain else 0)
            payload += _string(topic) + _string(message)
        if self.username is not None:
            flags |= 0x80
            payload += _string(self.username)
        if self.password is not None:
            flags |= 0x40
            payload += _string(self.password)
        header = _string("MQTT") + bytes((4, flags)) + struct.pack(_U16, self.keepalive_s)
        await self._send(CONNECT, header + payload)
        kind, body = await self._wait(self._read_packet())
        if kind != _CONNACK or len(body) != 2:
            raise MqttError("expected _CONNACK")
        if body[1]:
            raise MqttError("broker refused the connection, code %d" % body[1])
        self.connected = True
        self._listener = asyncio.create_task(self._listen())
        self._pinger = asyncio.create_task(self._keep_alive())
        return bool(body[0] & 1)

    async def publish(self, topic, payload, retain=False, qos=1):
        """Publish; with QoS 1 return once the broker acknowledged (MqttError on timeout)."""
        flags = (qos << 1) | (1 if retain else 0)
        body = _string(topic)
        if qos:
            packet_id = self._packet_id()
            body += struct.pack(_U16, packet_id)
            event = self._acks[packet_id] = asyncio.Event()
        await self._send(_PUBLISH | flags, body + payload)
        if qos:
            try:
                await self._wait(event.wait())
            finally:
                self._acks.pop(packet_id, None)
            self._check_open()

    async def subscribe(self, topic):
        """Subscribe to ``topic`` with QoS 1 and wait for the _SUBACK."""
        packet_id = self._packet_id()
        event = self._acks[packet_id] = asyncio.Event()
        await self._send(_SUBSCRIBE, struct.pack(_U16, packet_id) + _string(topic) + b"\x01")
        try:
            await self._wait(event.wait())
        finally:
            self._acks.pop(packet_id, None)
        self._check_open()

    async def disconnect(self):
        """Say goodbye (the will is not sent) and close."""
        try:
            await self._send(_DISCONNECT, b"")
        finally:
            await self.close()

    async def close(self):
        """Drop the connection without _DISCONNECT (the broker then sends the will)."""
        self.connected = False
        # Whoever waits for an acknowledgement wakes now and finds the link gone.
        for event in self._acks.values():
            event.set()
        for task in (self._listener, self._pinger):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        try:
            self._writer.close()
            await self._writer.wait_closed()
        except OSError:
            pass

    def _check_open(self):
        if not self.connected:
            raise MqttError("connection lost before the broker acknowledged")

    def _packet_id(self):
        self._next_id = self._next_id % 65535 + 1
        return self._next_id

    async def _wait(self, awaitable):
        try:
            return await asyncio.wait_for_ms(awaitable, self.timeout_ms)
        except asyncio.TimeoutError:  # noqa: UP041 - MicroPython has no builtin TimeoutError
            raise MqttError("broker did not answer in time") from None

    async def _send(self, kind, body):
        self._writer.write(bytes((kind,)) + _remaining_length(len(body)) + body)
        # A stalled link (a full send window, a TLS handshake nobody answers) must not hold the task.
        await self._wait(self._writer.drain())
        self._sent_ms = time.ticks_ms()

    async def _read_packet(self):
        reader = self._reader
        kind = (await reader.readexactly(1))[0]
        length = 0
        for shift in (0, 7, 14, 21):
            digit = (await reader.readexactly(1))[0]
            length |= (digit & 0x7F) << shift
            if not digit & 0x80:
                break
        else:
            raise MqttError("malformed remaining length")
        if length > _MAX_PACKET:
            raise MqttError("packet of %d bytes is larger than allowed" % length)
        body = await reader.readexactly(length) if length else b""
        return kind, body

    async def _listen(self):
        """Dispatch what the broker sends; any protocol break or read error closes the link."""
        try:
            while True:
                kind, body = await self._read_packet()
                kind_type = kind & 0xF0
                if kind_type in (PUBACK, _SUBACK) and len(body) >= 2:
                    event = self._acks.get(struct.unpack(_U16, body[:2])[0])
                    if event is not None:
                        event.set()
                elif kind_type == _PINGRESP:
                    self._pong.set()
                elif kind_type == _PUBLISH:
                    await self._deliver(kind, body)
                else:
                    raise MqttError("unexpected packet 0x%02x" % kind)
        except (OSError, MqttError, EOFError, ValueError, IndexError):
            await self.close()

    async def _deliver(self, kind, body):
        (topic_length,) = struct.unpack(_U16, body[:2])
        topic = bytes(body[2 : 2 + topic_length]).decode()
        at = 2 + topic_length
        qos = (kind >> 1) & 3
        if qos:
            packet_id = body[at : at + 2]
            at += 2
            await self._send(PUBACK, bytes(packet_id))
        if self.on_message is not None:
            try:
                self.on_message(topic, bytes(body[at:]))
            except Exception as error:  # noqa: BLE001 - a bad message must not end the session
                print("mqtt: on_message failed: %r" % (error,))

    async def _keep_alive(self):
        """_PINGREQ once the link was quiet for three quarters of the keepalive; no _PINGRESP in time
        closes the link. Any packet sent counts as a sign of life, so a busy link pays no pings."""
        period_ms = self.keepalive_s * 750
        while self.connected:
            quiet_ms = time.ticks_diff(time.ticks_ms(), self._sent_ms)
            if quiet_ms < period_ms:
                await asyncio.sleep_ms(period_ms - quiet_ms)
                continue
            self._pong.clear()
            try:
                await self._send(_PINGREQ, b"")
                await self._wait(self._pong.wait())
            except (OSError, MqttError):
                await self.close()
                return
