"""The bridge: a paho-mqtt client on a persistent session, feeding the batched writer.

It connects with a fixed client id and ``clean_session=False``, so the broker keeps its subscription
to ``pile/+/up/#`` (QoS 1) and every message it has not acknowledged while it is away. With
``manual_ack`` paho does not acknowledge a message on arrival; the writer has it acknowledged once its
batch is committed. A crash before that leaves the message with the broker, which delivers it again
on the next connection; the store recognises it and it is acknowledged without a second row.

An acknowledgement names a packet id, which only means something on the connection the message came
on: after a reconnect the broker resends what was unacknowledged (same id, per MQTT) and may give a
freed id to a new message. So a message is acknowledged only on the connection it arrived on; one
whose connection is gone is acknowledged when it comes again.

Broker settings this relies on (mosquitto): ``max_queued_messages`` (default 1000, beyond which the
broker drops QoS 1 messages for a client that is away) must cover the longest bridge outage to ride
out, and ``max_inflight_messages`` (default 20) bounds how many messages the bridge gets per commit
while catching up, so it should be well above the batch size (while one batch commits, the next fills).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

import paho.mqtt.client as paho

from cloud_bridge import queries
from cloud_bridge.db import Database, default_url
from cloud_bridge.writer import BatchWriter, Delivery

log = logging.getLogger(__name__)

TOPIC = "pile/+/up/#"
CLIENT_ID = "cloud-bridge"


class Bridge:
    """Ingest from the broker into the database: ``Bridge(host, port, user, password, db_url).start()``.

    ``on_commit(count)`` is called on the writer thread after each commit, before its messages are
    acknowledged. Usable as a context manager (started on entry, stopped on exit).

    The command channel (``channel.CommandChannel``) rides on it: ``listen`` tells it what each commit
    stored, and ``publish`` sends its commands on this client (the bridge's account may write
    ``pile/+/down/#``; a second connection with the same account would disconnect this one).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 1883,
        user: str | None = None,
        password: str | None = None,
        db_url: str | None = None,
        *,
        client_id: str = CLIENT_ID,
        batch_max: int = 1000,
        batch_ms: float = 100.0,
        keepalive_s: int = 30,
        on_commit: Callable[[int], None] | None = None,
    ) -> None:
        self.host, self.port, self.keepalive_s = host, port, keepalive_s
        self.db_url = db_url or default_url()
        self._on_commit = on_commit
        self._listeners: list[Callable[[list[tuple[str, bytes]]], None]] = []
        self._writer = BatchWriter(self.db_url, self._acknowledge, batch_max, batch_ms, self._committed_batch)
        self._client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            protocol=paho.MQTTv311,
            manual_ack=True,
        )
        if user is not None:
            self._client.username_pw_set(user, password)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(1, 60)
        self._ready = threading.Event()
        self._disconnected = threading.Event()
        self._refused: str | None = None
        self._closing = False
        # The connection messages are acknowledged on; None while there is none. Changed on the network
        # thread, read under the lock by the writer, so no acknowledgement slips onto the next connection.
        self._link: int | None = None
        self._links = 0
        self._link_lock = threading.Lock()
        # Committed, not yet acknowledged. The network thread sends these as it takes in the next message,
        # so a busy bridge acknowledges from the thread that owns the socket (from the writer, paho wakes
        # the network thread through a socket for each one); the writer sends them when nothing is coming.
        self._committed: deque[Delivery] = deque()

    @property
    def committed(self) -> int:
        """Messages committed since start (duplicates and rejects included)."""
        return self._writer.committed

    @property
    def failure(self) -> BaseException | None:
        """Why the writer stopped, if it did; the bridge then acknowledges nothing more."""
        return self._writer.failure

    def start(self, timeout_s: float = 10.0) -> Bridge:
        """Create missing tables, connect and wait until subscribed; raise ``ConnectionError`` if the
        database cannot be opened or the broker refuses or does not answer in time."""
        self._writer.start()
        self._client.connect_async(self.host, self.port, self.keepalive_s)
        self._client.loop_start()
        if not self._ready.wait(timeout_s) or self._refused is not None:
            reason = self._refused or "no answer from %s:%d in %.0f s" % (self.host, self.port, timeout_s)
            self.stop()
            raise ConnectionError("broker: %s" % reason)
        log.info("ingesting %s from %s:%d into %s", TOPIC, self.host, self.port, self.db_url.split(":")[0])
        return self

    def stop(self) -> None:
        """Commit and acknowledge what has arrived, then disconnect; messages arriving meanwhile stay
        with the broker for the next session."""
        self._closing = True
        self._writer.stop()
        if self._client.is_connected():
            self._client.disconnect()
            self._disconnected.wait(5)
        self._client.loop_stop()

    def __enter__(self) -> Bridge:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def listen(self, callback: Callable[[list[tuple[str, bytes]]], None]) -> None:
        """Have ``callback([(topic, payload), ...])`` called on the writer thread with each batch once it is
        committed, before it is acknowledged; from ``start`` on if called before it. A message delivered
        again (after a crash) comes again. An exception in it stops the bridge (``failure``): catch what
        is expected."""
        self._listeners.append(callback)

    @property
    def connected(self) -> bool:
        """Whether the client is connected to the broker right now."""
        return self._client.is_connected()

    def publish(self, topic: str, payload: bytes) -> bool:
        """Publish at QoS 1 (any thread); False when paho did not take it (no connection)."""
        return self._client.publish(topic, payload, qos=1).rc == paho.MQTT_ERR_SUCCESS

    def orders(self, pile: str | None = None) -> list[dict]:
        """The stored orders (of ``pile``), on a connection of their own."""
        db = Database(self.db_url)
        try:
            return queries.orders(db, pile)
        finally:
            db.close()

    def _on_connect(self, client: paho.Client, _userdata, flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused the connection: %s", reason_code)
            self._refused = str(reason_code)
            self._ready.set()
            return
        with self._link_lock:
            self._links += 1
            self._link = self._links
        self._disconnected.clear()
        if flags.session_present:
            self._ready.set()
        else:
            # A new session (first start, or the broker lost ours): subscribing also brings each pile's
            # retained status.
            client.subscribe(TOPIC, qos=1)

    def _on_subscribe(self, _client, _userdata, _mid, reason_codes, _properties) -> None:
        if reason_codes[0].is_failure:
            log.error("broker refused the subscription to %s: %s", TOPIC, reason_codes[0])
            self._refused = "subscription refused: %s" % reason_codes[0]
        self._ready.set()

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        with self._link_lock:
            self._link = None
        self._disconnected.set()
        if not self._closing:
            log.warning("lost the broker (%s); reconnecting", reason_code)

    def _on_message(self, _client, _userdata, message: paho.MQTTMessage) -> None:
        if self._committed:
            self._send_acknowledgements()
        if self._closing or self._writer.failure is not None:
            return  # not acknowledged: the broker keeps it for the next session
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = "(topic not UTF-8)"  # mosquitto refuses these; stored as a reject should one come
        log.debug("received %s (packet %d)", topic, message.mid)
        self._writer.put(Delivery(topic, message.payload, time.time(), message.mid, message.qos, self._link))

    def _committed_batch(self, batch: list[Delivery]) -> None:
        if self._on_commit is not None:
            self._on_commit(len(batch))
        if self._listeners:
            messages = [(delivery.topic, delivery.payload) for delivery in batch]
            for listener in self._listeners:
                listener(messages)

    def _acknowledge(self, batch: list[Delivery]) -> None:
        """Have the committed ``batch`` acknowledged: by the network thread with the next message, or now
        if the writer has nothing left, since the broker may be waiting for these before it sends more."""
        self._committed.extend(batch)
        if self._writer.idle():
            self._send_acknowledgements()

    def _send_acknowledgements(self) -> None:
        """Acknowledge what is committed, each on the connection it came on if that is still up."""
        with self._link_lock:
            while self._committed:
                delivery = self._committed.popleft()
                if delivery.link == self._link:
                    self._client.ack(delivery.mid, delivery.qos)
