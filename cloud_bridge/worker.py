"""The store process: decodes batches of raw messages and writes them to the database, one transaction each.

Decoding and the database drivers cost more CPU per message than paho's network thread itself; in the
bridge's process they would share one interpreter lock with it. In a process of their own they run on
another core, and the bridge process only receives, batches and acknowledges.

It is driven by the writer thread over a pipe, one request and one answer at a time:

- request ``(batch, reconnect)``: ``batch`` is ``[(topic, payload, received_at, refusal), ...]``; a
  message with a ``refusal`` (text) is stored as a reject with that reason instead of being decoded.
  ``None`` ends the process.
- answer ``("ok", [(topic, reason), ...])`` with the rejects of the batch, ``("transient", text)`` (the
  database is unavailable: nothing stored, the same batch may be sent again), ``("refused", text)``
  (the database refused something in it: nothing stored), or ``("failed", traceback)``, after which the
  process ends. The first answer, to no request, is ``("ready",)`` once the tables exist, or ``("failed",
  ...)``.

The process ends with the bridge's: a store process outliving a killed bridge could still be writing
when the next one starts.
"""

from __future__ import annotations

import os
import threading
import traceback
from multiprocessing import parent_process
from multiprocessing.connection import Connection, wait

from cloud_bridge.db import Database
from cloud_bridge.schema import Message, Reject, decode
from cloud_bridge.store import Store


def _end_with_parent() -> None:
    """Exit as soon as the bridge's process has ended, however it ended."""
    parent = parent_process()
    if parent is not None:
        wait([parent.sentinel])
        os._exit(1)


def _decoded(topic: str, payload: bytes, refusal: str | None) -> Message:
    message = decode(topic, payload)
    return message if refusal is None else Reject(topic, payload, refusal, message.pile)


def serve(db_url: str, conn: Connection) -> None:
    """The store process's main: answer the writer's requests until told to stop or the pipe closes."""
    threading.Thread(target=_end_with_parent, daemon=True).start()
    try:
        db = Database(db_url)
        db.create_schema()
    except (ValueError, *Database.ERRORS) as error:
        conn.send(("failed", str(error).strip()))
        return
    store = Store(db)
    conn.send(("ready",))
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            db.close()
            return
        batch, reconnect = request
        try:
            if reconnect:
                db.reconnect()
            messages = [
                (_decoded(topic, payload, refusal), received_at) for topic, payload, received_at, refusal in batch
            ]
            store.write(messages)
        except Database.TRANSIENT_ERRORS as error:
            conn.send(("transient", str(error).strip()))
            continue
        except Database.ERRORS as error:
            conn.send(("refused", str(error).strip()))
            continue
        except BaseException:
            conn.send(("failed", traceback.format_exc()))
            raise
        conn.send(("ok", [(message.topic, message.reason) for message, _ in messages if isinstance(message, Reject)]))
