"""The batched writer: one thread drains received messages in batches, has each batch committed by the
store process (``worker.py``), then has it acknowledged.

A batch closes at ``batch_max`` messages, ``batch_ms`` after its first one, or when a pause brings
nothing new: the broker sends no more than its in-flight window before it sees acknowledgements, so
waiting for more would only stall it. While a batch is being committed the next one fills. Only
after its commit are a batch's messages acknowledged, so a crash anywhere before leaves them with the
broker, which delivers them again, and the store recognises them.

While the database is unavailable the same batch is sent again, with a reconnect, after a back-off
doubling from 0.1 s to 5 s. A batch the database refuses is split to find the message at fault, which
is stored as a reject instead, so one message cannot hold back the others.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cloud_bridge import worker
from cloud_bridge.db import shown

log = logging.getLogger(__name__)

# While a batch fills, how long the writer leaves the network thread alone before taking what came.
PAUSE_S = 0.001
RETRY_FIRST_S = 0.1
RETRY_MAX_S = 5.0


@dataclass(slots=True)
class Delivery:
    """One message from the broker, waiting for the commit of its batch."""

    topic: str
    payload: bytes
    received_at: float
    mid: int
    qos: int
    link: int | None  # the connection it came on: an acknowledgement only means something on that one
    refusal: str | None = None  # why the database refused it, once it has: it is then stored as a reject


class BatchWriter:
    """Commits deliveries in batches and hands each committed batch to ``on_commit``, then ``acknowledge``."""

    def __init__(
        self,
        db_url: str,
        acknowledge: Callable[[list[Delivery]], None],
        batch_max: int = 1000,
        batch_ms: float = 100.0,
        on_commit: Callable[[list[Delivery]], None] | None = None,
    ) -> None:
        self.db_url = db_url
        self.batch_max = batch_max
        self.batch_s = batch_ms / 1000
        self.committed = 0  # messages committed since start
        self.failure: BaseException | None = None
        self._acknowledge = acknowledge
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[Delivery | None] = queue.SimpleQueue()  # None: stop after what came before
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bridge-writer", daemon=True)
        self._store: multiprocessing.Process | None = None
        self._pipe = None

    def start(self, timeout_s: float = 30.0) -> None:
        """Start the store process (it creates missing tables) and the writer thread; raise
        ``ConnectionError`` if the database cannot be opened."""
        context = multiprocessing.get_context("spawn")  # no fork: the bridge's threads must not be copied
        self._pipe, child = context.Pipe()
        self._store = context.Process(target=worker.serve, args=(self.db_url, child), name="bridge-store", daemon=True)
        self._store.start()
        child.close()  # so that the store process ending shows as the end of the pipe here
        try:
            answer = self._pipe.recv() if self._pipe.poll(timeout_s) else ("failed", "no answer in %.0f s" % timeout_s)
        except EOFError:
            answer = ("failed", "the store process ended")
        if answer[0] != "ready":
            self._close_store()
            raise ConnectionError("database %s: %s" % (shown(self.db_url), answer[1]))
        self._thread.start()

    def put(self, delivery: Delivery) -> None:
        """Queue ``delivery`` for the next batch (any thread)."""
        self._queue.put(delivery)

    def idle(self) -> bool:
        """Nothing is waiting to be written."""
        return self._queue.empty()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Commit and acknowledge what is queued, then end; give up after ``timeout_s`` (unacknowledged
        messages stay with the broker)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout_s)
        if self._thread.is_alive():
            self._halt.set()  # stop retrying a database that is not there
            self._close_store()  # and stop waiting for one that does not answer
            self._thread.join(timeout_s)
        self._close_store()

    def _close_store(self) -> None:
        if self._store is None:
            return
        try:
            self._pipe.send(None)
        except OSError:
            pass  # it has ended already
        self._store.join(5)
        if self._store.is_alive():
            self._store.terminate()
            self._store.join()
        self._pipe.close()
        self._store = None

    def _run(self) -> None:
        try:
            stopping = False
            while not stopping:
                batch, stopping = self._next_batch()
                if batch and self._commit(batch):
                    if self._on_commit is not None:
                        self._on_commit(batch)
                    self._acknowledge(batch)
                    self.committed += len(batch)
        except BaseException as error:
            if not self._halt.is_set():
                # Not a message or database problem (those are handled below): stop ingesting rather
                # than acknowledge anything further; the owner sees ``failure`` and ends the bridge.
                log.exception("writer failed; nothing more is acknowledged")
                self.failure = error

    def _next_batch(self) -> tuple[list[Delivery], bool]:
        """The next batch, and whether stop was asked for after it."""
        first = self._queue.get()
        if first is None:
            return [], True
        batch = [first]
        deadline = time.monotonic() + self.batch_s
        paused = False
        while True:
            before = len(batch)
            while len(batch) < self.batch_max:
                try:
                    delivery = self._queue.get_nowait()
                except queue.Empty:
                    break
                if delivery is None:
                    return batch, True
                batch.append(delivery)
            if len(batch) >= self.batch_max or time.monotonic() >= deadline:
                return batch, False
            if paused and len(batch) == before:
                return batch, False  # nothing came during the pause: the broker has nothing more for now
            # Sleep rather than wait on the queue: woken for every message, this thread would take the
            # interpreter lock from the network thread once a message.
            time.sleep(PAUSE_S)
            paused = True

    def _commit(self, batch: list[Delivery]) -> bool:
        """Have ``batch`` stored, retrying while the database is unavailable; False if halted first."""
        delay = RETRY_FIRST_S
        reconnect = False
        while True:
            self._pipe.send(([(d.topic, d.payload, d.received_at, d.refusal) for d in batch], reconnect))
            answer = self._pipe.recv()
            if answer[0] == "ok":
                for topic, reason in answer[1]:
                    log.warning("rejected a message on %s: %s", topic, reason)
                return True
            if answer[0] == "transient":
                log.warning("database unavailable, retrying in %.1f s: %s", delay, answer[1])
                reconnect = True
                if self._halt.wait(delay):
                    return False
                delay = min(2 * delay, RETRY_MAX_S)
            elif answer[0] == "refused" and len(batch) > 1:
                # Find the message the database refuses on its own.
                return all(self._commit([delivery]) for delivery in batch)
            elif answer[0] == "refused" and batch[0].refusal is None:
                log.error("database refused a message on %s: %s", batch[0].topic, answer[1])
                batch[0].refusal = "database refused: %s" % answer[1]
            else:
                raise RuntimeError("store process: %s" % (answer[1],))
