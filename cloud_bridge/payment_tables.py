"""The QR payment flow's tables, made the way ``db.Database.create_schema`` makes the bridge's own.

- ``payments`` (payment_id, checkout, pile, port, amount_fen, provider, provider_tx, pay_url, state,
  command_id, command_expires, order_no, reason, refund_fen, created_at, updated_at), key payment_id:
  one row per checkout (``checkout`` is unique: a form sent twice is one payment). ``payment_id`` is
  also the opaque reference given to the provider and the pile's payment reference (order key 16).
  ``(pile, command_id)`` is unique: one start command is one payment's.
- ``payment_events`` (payment_id, kind, fen, detail, at, done_at), key (payment_id, kind): the money
  of a payment, each kind once: ``paid`` (the provider's notification, claimed before the start command
  is sent, so a notification delivered again can neither start nor credit twice) and ``refund`` (what
  goes back to the resident; ``done_at`` once the provider took it).

Times (``created_at``, ``updated_at``, ``at``, ``done_at``, ``command_expires``) are the bridge's Unix
seconds, as floats.
"""

from __future__ import annotations

from cloud_bridge.db import Database

_TABLES = {
    "payments": (
        "payment_id TEXT PRIMARY KEY",
        "checkout TEXT NOT NULL UNIQUE",
        "pile TEXT NOT NULL",
        "port BIGINT NOT NULL",
        "amount_fen BIGINT NOT NULL",
        "provider TEXT NOT NULL",
        "provider_tx TEXT NULL",
        "pay_url TEXT NULL",
        "state TEXT NOT NULL",
        "command_id BIGINT NULL",
        "command_expires DOUBLE PRECISION NULL",
        "order_no BIGINT NULL",
        "reason TEXT NOT NULL DEFAULT ''",
        "refund_fen BIGINT NULL",
        "created_at DOUBLE PRECISION NOT NULL",
        "updated_at DOUBLE PRECISION NOT NULL",
        "UNIQUE (pile, command_id)",
        "UNIQUE (provider, provider_tx)",
    ),
    "payment_events": (
        "payment_id TEXT NOT NULL REFERENCES payments (payment_id)",
        "kind TEXT NOT NULL",
        "fen BIGINT NOT NULL",
        "detail TEXT NOT NULL DEFAULT ''",
        "at DOUBLE PRECISION NOT NULL",
        "done_at DOUBLE PRECISION NULL",
        "PRIMARY KEY (payment_id, kind)",
    ),
}
# The sweeper's lookups: payments waiting on a pile, refunds the provider has not confirmed.
_INDEXES = {
    "payments_by_state": "payments (state, command_expires)",
    "payment_events_open": "payment_events (kind, done_at)",
}


def create_payment_tables(db: Database) -> None:
    """Create the bridge's tables (telemetry, presence and orders are read here) and the payment tables."""
    db.create_schema()
    with db.transaction():
        for table, definitions in _TABLES.items():
            db.execute("CREATE TABLE IF NOT EXISTS %s (%s)" % (table, ", ".join(definitions)))
        for name, target in _INDEXES.items():
            db.execute("CREATE INDEX IF NOT EXISTS %s ON %s" % (name, target))
