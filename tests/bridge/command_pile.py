"""A pile that takes signed commands, as docs/cloud-protocol.md says, written apart from the bridge's code:
it checks the MAC with Python's hmac, remembers its answers by id, and answers each command on ``up/ack``."""

from __future__ import annotations

import hashlib
import hmac
import queue
import threading
import time

import cbor2

from tests.bridge.piles import T0, Pile

FORGED, EXPIRED, MALFORMED = 1, 2, 3


class CommandPile(Pile):
    """A ``Pile`` subscribed to its ``down/cmd``.

    ``answering = False``: it takes commands but answers none. ``refuse[kind] = (result, detail)``: it
    answers that kind so. ``clock_ahead_s``: how fast its clock is. ``received``: every body it verified,
    in arrival order (sendings again included); ``envelopes``: the bytes as they came; ``config``: the
    settings it has applied, ``config_version``.
    """

    def __init__(self, broker_port: int, pile: str, key: bytes, boot: int = 1) -> None:
        self.key = key
        self.answering = True
        self.clock_ahead_s = 0  # how far the pile's clock is wrong
        self.refuse: dict[str, tuple[int, str]] = {}
        self.received: list[dict] = []
        self.envelopes: list[bytes] = []
        self.answers: dict[int, tuple[int, str, object]] = {}
        self.config: dict = {}
        self.config_version = 0
        self.order_no = 100
        self._lock = threading.Lock()  # records are numbered from the test's thread and the answering one
        self._inbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._subscribed = threading.Event()
        super().__init__(broker_port, pile, boot)
        self.client.on_message = lambda _client, _userdata, message: self._inbox.put(message.payload)
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.subscribe("pile/%s/down/cmd" % pile, qos=1)
        assert self._subscribed.wait(5), "no SUBACK"
        # Answers are published from a thread of their own: paho's network thread cannot wait for a PUBACK.
        self._worker = threading.Thread(target=self._serve, daemon=True)
        self._worker.start()

    def close(self) -> None:
        self._inbox.put(None)
        self._worker.join(5)
        super().close()

    def record(self, kind: str, body: dict, seq: int | None = None) -> bytes:
        with self._lock:
            return super().record(kind, body, seq)

    def wait_received(self, count: int, timeout_s: float = 10.0) -> list[dict]:
        """The bodies received once there are ``count``; fails the test after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while len(self.received) < count:
            assert time.monotonic() < deadline, "pile got %d commands, not %d" % (len(self.received), count)
            time.sleep(0.01)
        return self.received

    def answer_again(self, command_id: int) -> None:
        """Publish the answer to ``command_id`` once more, in a new record (as for a replayed command)."""
        self._ack(command_id, *self.answers[command_id])

    def _serve(self) -> None:
        while (envelope := self._inbox.get()) is not None:
            self.envelopes.append(envelope)
            answer = self._take(envelope)
            if answer is not None and self.answering:
                self._ack(*answer)

    def _ack(self, command_id: int, result: int, detail: str, data: object = None) -> None:
        body = {3: command_id, 4: result, 5: detail}
        if data is not None:
            body[6] = data
        self.record("ack", body)

    def _take(self, envelope: bytes) -> tuple | None:
        """(id, result, detail, data) for one command envelope."""
        try:
            body, mac = cbor2.loads(envelope)
            command = cbor2.loads(body)
        except (ValueError, TypeError):
            return 0, MALFORMED, "not a command envelope", None
        expected = hmac.new(self.key, self.pile.encode() + b"\n" + body, hashlib.sha256).digest()[:16]
        if not hmac.compare_digest(mac, expected):
            return command.get(0, 0), FORGED, "bad mac", None
        self.received.append(command)
        command_id = command[0]
        if command_id in self.answers:
            return command_id, *self.answers[command_id]
        if command[1] != "time" and time.time() + self.clock_ahead_s >= command[2]:
            answer = (EXPIRED, "expired", None)
        elif command[1] in self.refuse:
            answer = (*self.refuse[command[1]], None)
        else:
            answer = self._act(command)
        self.answers[command_id] = answer
        return command_id, *answer

    def _act(self, command: dict) -> tuple[int, str, object]:
        kind = command[1]
        if kind in ("start", "stop"):
            self.order_no += 1
            return 0, "", self.order_no
        if kind == "config":
            self.config.update(command[5])
            self.config_version = command[4]
            return 0, "", command[4]
        if kind == "query":
            return 0, "", {0: [[1, 0, 0, -1]], 1: self.config_version, 2: "1.5.0", 3: 0}
        if kind == "time":
            return 0, "", T0
        return 0, "", None
