"""The cloud link task: one MQTT session at a time, the outbox drained in order, reconnects.

The link is never on the safety path: every wait has a timeout, a failure
only ends the session, and the task reconnects after a randomised back-off.
An order leaves the outbox only after the broker's PUBACK; a cut between the
PUBACK and the move to ``sent.json`` sends it again after the boot, which the
bridge recognises by its order number. See docs/cloud-protocol.md.
"""

import asyncio
import gc

from firmware.cloud.mqtt import MqttClient, MqttError, backoff_ms
from firmware.cloud.uplink import ACK, ALARM, METER, ORDER, Uplink
from firmware.compat import const
from firmware.shell import log as alarm_log
from firmware.shell.clock import now_ms, wall_s
from firmware.shell.log import alarm, log, note
from firmware.shell.settings import forget
from firmware.ticks import since_ms
from firmware.version import FIRMWARE_VERSION

IDLE_POLL_MS = const(250)
# A command whose code found no room waits for the heap to have it again (a modem round or a swipe
# ending): tried again from the session loop, at most this often and this many times, then dropped.
_DELAYED_MAX = const(4)
_DELAYED_TRIES = const(40)
_DELAYED_RETRY_MS = const(1000)
COMMAND_MODULES = (
    "firmware.shell.remote",
    "firmware.cloud.commands",
    "firmware.mac",
    "firmware.cbor_decode",
    "firmware.shell.config_update",
    "firmware.shell.json_file",
)


class CloudLink:
    """Keeps the pile's MQTT session up and its records flowing; ``run`` never returns."""

    def __init__(self, board, identity, store, controller, boot, cfg, config_path, tls=None):
        self.board = board
        self.store = store
        self.controller = controller
        self.pile_id = identity["pile"]
        self.identity = identity
        self.topic = "pile/%s/up/" % self.pile_id
        self.command_topic = "pile/%s/down/cmd" % self.pile_id
        self.config_path = config_path
        self.config_version = cfg["CONFIG_VERSION"]  # the one applied: a config command moves it
        self.answers = []  # answers to commands, (id, result, detail, data), oldest first
        self.restarting = False  # a command has the pile restart (firmware/shell/remote.py)
        self.keepalive_s = cfg["KEEPALIVE_S"]
        self.timeout_ms = cfg["CLOUD_TIMEOUT_S"] * 1000
        self.backoff_max_ms = cfg["CLOUD_BACKOFF_MAX_S"] * 1000
        pile = controller.pile
        self.uplink = Uplink(boot, len(pile.ports), cfg["TELEMETRY_S"] * 1000, cfg["TELEMETRY_MIN_S"] * 1000)
        self.tls = tls
        self._queue = []  # outbox order numbers still to send this boot, ascending
        self._undeletable = []  # acknowledged orders whose file the flash would not let go
        self._delayed = []  # [payload, tries] of commands that found no room for their code
        self._delayed_ms = 0

    async def run(self):
        """Connect, send, and reconnect after a randomised back-off whenever the session ends."""
        failures = 0
        while True:
            connected = False
            try:
                connected = await self._session()
            except (OSError, MqttError, EOFError, ValueError, MemoryError, asyncio.TimeoutError) as error:  # noqa: UP041
                # MemoryError too: a TLS handshake that finds no room is tried again later.
                log("cloud", state="unreachable", error=repr(error))
            except Exception as error:  # noqa: BLE001 - the link must outlive any one failure
                alarm("cloud_fault", detail=repr(error))
            failures = 0 if connected else failures + 1
            await asyncio.sleep_ms(backoff_ms(failures, self.backoff_max_ms))

    async def _open(self):
        identity = self.identity
        await self.board.network_up()
        if self.tls is None:
            return await asyncio.open_connection(identity["host"], identity["port"])
        return await asyncio.open_connection(identity["host"], identity["port"], ssl=self.tls)

    async def _session(self):
        """One connection, until it fails; True if its birth and status got through."""
        uplink = self.uplink
        birth_seq = uplink.connecting()
        will = (self.topic + "status", uplink.status(wall_s(), False), True)
        reader, writer = await asyncio.wait_for_ms(self._open(), self.timeout_ms)  # type: ignore[var-annotated]
        client = MqttClient(
            reader,
            writer,
            self.pile_id,
            self.keepalive_s,
            self.pile_id,
            self.identity["password"],
            will,
            self.timeout_ms,
        )
        client.on_message = self._command
        connected = False
        try:
            await client.connect()
            log("cloud", state="up", birth_seq=birth_seq, outbox=self.store.outbox_count())
            await client.subscribe("pile/%s/down/#" % self.pile_id)
            if uplink.in_flight is not None:
                log("cloud", resend=uplink.in_flight[0])
                await self._send(client)
            if not uplink.birth_acked:
                pile = self.controller.pile
                uplink.take_birth(
                    wall_s(), FIRMWARE_VERSION, self.config_version, len(pile.ports), self.store.outbox_count()
                )
                await self._send(client)
            await client.publish(self.topic + "status", uplink.status(wall_s(), True), True)
            # Only a session that got this far resets the back-off: one the broker keeps ending at
            # once (another board on the same identity) must not reconnect every second.
            connected = True
            while client.connected:
                self._retry_delayed()
                if self._next_record():
                    await self._send(client)
                else:
                    await asyncio.sleep_ms(IDLE_POLL_MS)
            log("cloud", state="down", error="connection lost")
        except (OSError, MqttError, EOFError, ValueError, MemoryError) as error:
            log("cloud", state="down", error=repr(error))
        finally:
            await client.close()
        return connected

    async def _send(self, client):
        """Publish the record in flight and, once acknowledged, let it go (an order leaves the flash)."""
        kind, payload, _ = self.uplink.in_flight  # type: ignore[misc]  # a record is in flight here
        await client.publish(self.topic + kind, payload)
        kind, number = self.uplink.acked()
        if kind == ORDER:
            log("cloud", sent=number)
            try:
                self.store.order_sent(number)
            except OSError as error:
                # Not sent again this boot; after the next it is, and the bridge knows its number.
                self._undeletable.append(number)
                alarm("flash_fault", detail=repr(error))

    def _next_record(self):
        """Put the next record in flight: answers to commands first (someone waits for them), then
        orders, alarms, the main meter's reading and telemetry; False if none."""
        uplink = self.uplink
        answers = self.answers
        if answers:
            uplink.take(ACK, wall_s(), answers[0])
            answers.pop(0)
            return True
        queue = self._queue
        if not queue and self.store.outbox_count() > len(self._undeletable):
            queue.extend(number for number in self.store.order_numbers() if number not in self._undeletable)
        while queue:
            number = queue.pop(0)
            order = self.store.order(number)
            if order is None:
                continue
            try:
                if order.get("no") != number:
                    raise ValueError("file and order numbers differ")
                uplink.take_order(wall_s(), order)
                return True
            except (KeyError, TypeError, ValueError, AttributeError):
                note("outbox order %d is not a sendable order; kept as .bad" % number)
                self.store.set_aside_order(number)
        pending = alarm_log.alarms
        if pending:
            uplink.take(ALARM, wall_s(), pending[0])
            pending.pop(0)
            return True
        # Set by the main meter task on a board that has one (firmware/shell/main_meter_task.py).
        reading = getattr(self.board, "main_meter_reading", None)
        if reading is not None and reading.fresh:
            uplink.take(METER, wall_s(), (reading.energy_wh, reading.voltage_dv, reading.current_ma, reading.power_w))
            reading.fresh = 0
            return True
        return uplink.take_telemetry(now_ms(), wall_s(), self.controller.pile)

    def _command(self, topic, payload):
        """A message on the pile's down topics: a command is checked and answered, anything else logged."""
        if topic != self.command_topic:
            log("cloud", ignored=topic, size=len(payload))
            return
        # A few commands a day: their code is loaded for each and dropped after (firmware/shell/remote.py),
        # into a heap cleared of garbage first.
        self._handle(payload, 0)

    def _handle(self, payload, tries):
        gc.collect()
        try:
            from firmware.shell import remote

            remote.handle(self, payload)
        except MemoryError as error:
            if tries < _DELAYED_TRIES and len(self._delayed) < _DELAYED_MAX:
                self._delayed.append([payload, tries + 1])
                self._delayed_ms = now_ms()
                if not tries:
                    alarm("cloud_fault", detail="command delayed: %r" % (error,))
            else:
                alarm("cloud_fault", detail="command dropped: %r" % (error,))
        finally:
            forget(COMMAND_MODULES)

    def _retry_delayed(self):
        """Try a delayed command again, once a second."""
        if self._delayed and since_ms(now_ms(), self._delayed_ms) >= _DELAYED_RETRY_MS:
            payload, tries = self._delayed.pop(0)
            self._delayed_ms = now_ms()
            self._handle(payload, tries)
