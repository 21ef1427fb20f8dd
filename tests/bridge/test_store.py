"""The store on its own (both backends): another writer in the way, and a message the database refuses."""

from __future__ import annotations

import cbor2

from cloud_bridge import queries
from cloud_bridge.db import Database
from cloud_bridge.schema import decode
from cloud_bridge.store import Store
from tests.bridge.helpers import count, wait_until
from tests.bridge.piles import T0, order_body


def order(seq: int, order_no: int, **fields):
    return decode("pile/p1/up/order", cbor2.dumps({0: 1, 1: seq, 2: T0, **order_body(order_no, **fields)})), 1.0


def test_rows_another_writer_stored_meanwhile_are_not_stored_twice(db):
    store = Store(db)
    store.write([order(1, 1)])  # the ledger of boot 1 is now in memory
    other = Database(db.url)
    try:
        Store(other).write([order(2, 2)])
    finally:
        other.close()
    store.write([order(2, 2), order(3, 3)])
    assert count(db, "records") == 3 and count(db, "orders") == 3 and queries.gaps(db) == []


def test_a_message_the_database_refuses_is_a_reject_and_the_rest_of_its_batch_is_stored(start_bridge, pile, db):
    # A rule of the site's own that the bridge knows nothing of.
    if db.dialect == "postgresql":
        db.execute("ALTER TABLE orders ADD CONSTRAINT sane_paid CHECK (paid_fen < 1000000)")
    else:
        db.execute(
            "CREATE TRIGGER sane_paid BEFORE INSERT ON orders WHEN NEW.paid_fen >= 1000000"
            " BEGIN SELECT RAISE(ABORT, 'paid too much'); END"
        )
    start_bridge().stop()  # so that the broker keeps all three for one batch
    p1 = pile()
    p1.order(1)
    p1.order(2, paid=5_000_000, used=0)
    p1.order(3)
    bridge = start_bridge()
    wait_until(lambda: bridge.committed == 3)
    assert [o["order_no"] for o in bridge.orders("p1")] == [1, 3]
    ((reason,),) = db.query("SELECT reason FROM rejects")
    assert reason.startswith("database refused")
    # The refused record is not stored, so its seq shows as missing.
    assert [(g["first_seq"], g["last_seq"]) for g in queries.gaps(db)] == [(2, 2)]


def test_a_database_made_before_payment_references_gets_the_column(db):
    Store(db).write([order(1, 1)])
    with db.transaction():
        db.execute("ALTER TABLE orders DROP COLUMN payment_ref")  # as an issue-4 bridge made it
    db.create_schema()
    Store(db).write([(decode("pile/p1/up/order", cbor2.dumps({0: 1, 1: 2, 2: T0, **order_body(2), 16: "pay-7"})), 1.0)])
    assert [(o["order_no"], o["payment_ref"]) for o in queries.orders(db)] == [(1, ""), (2, "pay-7")]
