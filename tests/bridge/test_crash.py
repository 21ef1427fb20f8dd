"""A bridge process killed mid-ingest, then started again: every message is stored, and only once.

Two windows matter: received but not yet committed (the broker must deliver it again), and committed
but not yet acknowledged (the broker delivers it again and the store must recognise it).
"""

from __future__ import annotations

import signal
from contextlib import contextmanager

from cloud_bridge.db import Database
from tests.bridge.helpers import bridge_process, child_pids, count, run_args, running, wait_until

MESSAGES = 30
BROKER_WINDOW = 20  # mosquitto's max_inflight_messages by default


@contextmanager
def writes_blocked(url: str):
    """Hold the write lock the bridge needs (a writer as slow as it gets) until the block ends."""
    holder = Database(url)
    try:
        with holder.transaction():  # on SQLite this alone takes the database's write lock
            if holder.dialect == "postgresql":
                holder.execute("LOCK TABLE records IN EXCLUSIVE MODE")
            yield
    finally:
        holder.close()


def publish_orders(p1) -> None:
    p1.connect_records()
    for number in range(1, MESSAGES - 1):
        p1.order(number)


def assert_each_once(db: Database, restarted) -> None:
    wait_until(lambda: count(db, "records") == MESSAGES - 1, what="every record stored")
    wait_until(lambda: restarted.committed == MESSAGES, what="every message delivered again")
    assert [o["order_no"] for o in restarted.orders("p1")] == list(range(1, MESSAGES - 1))
    assert count(db, "presence") == 1 and count(db, "gaps") == 0


def test_killed_between_receiving_and_committing(broker, pile, db, start_bridge):
    process, log = bridge_process(run_args(broker.port, db.url, "-v"), "ingesting")
    try:
        with writes_blocked(db.url):
            publish_orders(pile())
            # The bridge's network thread takes in as many as the broker sends unacknowledged (its window)
            # while the writer waits for the lock; the rest wait in the broker.
            wait_until(
                lambda: sum("received pile/p1/up/" in line for line in log) == BROKER_WINDOW,
                what="a window of messages received",
            )
            children = child_pids(process.pid)
            process.send_signal(signal.SIGKILL)
            process.wait(5)
            # Its store process, waiting for the lock too, ends with it (before the lock is let go).
            wait_until(lambda: not any(map(running, children)), what="its children to end")
    finally:
        process.kill()
    assert count(db, "records") == 0 and count(db, "presence") == 0
    assert_each_once(db, start_bridge())


# Commits one batch, then dies before acknowledging any of it.
_DIES_AFTER_COMMIT = """
import os, sys, time
from cloud_bridge.ingest import Bridge
Bridge("127.0.0.1", int(sys.argv[1]), db_url=sys.argv[2], on_commit=lambda count: os._exit(3)).start()
print("READY", flush=True)
time.sleep(60)
"""


def test_killed_between_committing_and_acknowledging(broker, pile, db, start_bridge):
    process, _ = bridge_process(["-c", _DIES_AFTER_COMMIT, str(broker.port), db.url], "READY")
    try:
        publish_orders(pile())
        assert process.wait(10) == 3
    finally:
        process.kill()
    assert count(db, "records") + count(db, "presence") >= 1  # the batch it committed
    assert_each_once(db, start_bridge())
