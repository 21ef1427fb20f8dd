"""The IC card tables, made and migrated the way ``db.Database.create_schema`` makes the bridge's own.

- ``cards`` (uid, kind, status, issued_at, valid_until, balance_fen, counter, session_pile, session_port,
  held_fen, session_order, seen_at), key uid: every card the desk issued. ``kind`` as on the card (1
  prepaid, 2 monthly, 3 free, 4 staff); ``status`` ``active``, ``blocked`` or ``cancelled``; the rest is
  the card's record as the desk last read or wrote it (``seen_at``): a lower bound of its counter (a pile
  only counts up), its balance and its open-session marker then (``session_pile`` the pile's tag, 0 for
  none). ``valid_until`` is a day number (days since 2000-01-01, 0 for none).
- ``card_events`` (uid, seq, kind, fen, balance_fen, counter, pile, order_no, operator, at), key
  (uid, seq): what the desk did to a card: ``issue``, ``topup``, ``unlock``, ``refund`` (the cancel),
  ``block``, ``unblock``. ``fen`` is the change to the card's balance (issue: the opening balance; top-up,
  unlock: what was added; refund: minus what was paid out; block, unblock: 0); ``balance_fen`` and
  ``counter`` what the card held after it (NULL for block and unblock). An ``unlock`` names the order it
  settled (``pile``, ``order_no``), and an order settles at most one unlock (a unique index), so no
  walk-away refund is written onto a card twice.
- ``card_asks`` (pile, order_no, uid, command_id, asked_at), key (pile, order_no): the desk's ask of a
  pile to give up the refund it owes a card for that order, before the desk writes it (module ``card_asks``):
  the ``cards`` command (``command_id``) whose answer the desk writes the card on. One ask per order;
  one that ended without an answer to go by is replaced by the next.

The card sessions themselves are the ``orders`` whose method is ``card`` or ``pass`` and whose payment
reference is the card's UID; an index on ``orders (payment_ref)`` finds a card's. Times (``issued_at``,
``seen_at``, ``at``, ``asked_at``) are the bridge's Unix seconds, as floats.
"""

from __future__ import annotations

from cloud_bridge.db import Database

_TABLES = {
    "cards": (
        ("uid TEXT", "kind BIGINT", "status TEXT", "issued_at DOUBLE PRECISION", "valid_until BIGINT")
        + ("balance_fen BIGINT", "counter BIGINT", "session_pile BIGINT", "session_port BIGINT", "held_fen BIGINT")
        + ("session_order BIGINT", "seen_at DOUBLE PRECISION"),
        "uid",
    ),
    "card_events": (
        ("uid TEXT", "seq BIGINT", "kind TEXT", "fen BIGINT", "balance_fen BIGINT NULL", "counter BIGINT NULL")
        + ("pile TEXT NULL", "order_no BIGINT NULL", "operator TEXT", "at DOUBLE PRECISION"),
        "uid, seq",
    ),
    "card_asks": (
        ("pile TEXT", "order_no BIGINT", "uid TEXT", "command_id BIGINT", "asked_at DOUBLE PRECISION"),
        "pile, order_no",
    ),
}
# A card's sessions among the orders; the blacklist.
_INDEXES = {
    "orders_by_payment_ref": "orders (payment_ref)",
    "cards_by_status": "cards (status)",
}
# Events without an order (NULL pile) never collide: NULLs are distinct in a unique index on both databases.
_UNIQUE = {"card_events_one_unlock_per_order": "card_events (pile, order_no)"}


def create_card_tables(db: Database) -> None:
    """Create the bridge's tables (orders and piles are read here) and the card tables, or what they lack."""
    db.create_schema()
    db.create_tables(_TABLES, _INDEXES, _UNIQUE)
