"""The card ledger: the cards the desk issued (table ``cards``) and what the desk did to each (``card_events``).

The desk (``tools/card_desk.py``) writes a card first and records here what the card then verifiably
holds, so a card pulled in the middle of a write leaves nothing recorded. Each function commits on its
own; the ``*_within`` ones write inside the caller's transaction (``card_status`` commits a status
change and its event with the piles' ``cards`` commands, and an unlock with its event).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from cloud_bridge.db import Database
from firmware.card.record import CardRecord

ACTIVE, BLOCKED, CANCELLED = "active", "blocked", "cancelled"
ISSUE, TOPUP, UNLOCK, REFUND, BLOCK, UNBLOCK = "issue", "topup", "unlock", "refund", "block", "unblock"

CARD_COLUMNS = (
    "uid",
    "kind",
    "status",
    "issued_at",
    "valid_until",
    "balance_fen",
    "counter",
    "session_pile",
    "session_port",
    "held_fen",
    "session_order",
    "seen_at",
)
EVENT_COLUMNS = ("uid", "seq", "kind", "fen", "balance_fen", "counter", "pile", "order_no", "operator", "at")
_SELECT = "SELECT %s FROM cards WHERE uid = ?" % ", ".join(CARD_COLUMNS)
# The columns a card's record fills, in this order (``_record_values``).
_RECORD_COLUMNS = CARD_COLUMNS[4:11]


class CardRefused(ValueError):
    """A desk request the ledger refuses; the message is for the operator."""


@dataclass(slots=True)
class Card:
    """A card as the ledger knows it (columns of ``cards``)."""

    uid: str
    kind: int
    status: str
    issued_at: float
    valid_until: int
    balance_fen: int
    counter: int
    session_pile: int
    session_port: int
    held_fen: int
    session_order: int
    seen_at: float


def _record_values(record: CardRecord) -> tuple:
    return (
        record.valid_until,
        record.balance_fen,
        record.counter,
        record.session_pile,
        record.session_port,
        record.held_fen,
        record.session_order,
    )


def get(db: Database, uid: str) -> Card | None:
    """The card ``uid`` (lower-case hex), or None if the desk never issued it."""
    rows = db.query(_SELECT, (uid,))
    return Card(*rows[0]) if rows else None


def issue(db: Database, uid: str, record: CardRecord, operator: str, now: float | None = None) -> Card:
    """Record a card just issued holding ``record``: an active card and its ``issue`` event (the opening
    balance). ``CardRefused`` if the UID was issued before."""
    now = time.time() if now is None else now
    with db.transaction():
        if db.query("SELECT 1 FROM cards WHERE uid = ?", (uid,)):
            raise CardRefused("card %s was issued before" % uid)
        values = (uid, record.kind, ACTIVE, now, *_record_values(record), now)
        db.execute(
            "INSERT INTO cards (%s) VALUES (%s)" % (", ".join(CARD_COLUMNS), ", ".join("?" * len(values))), values
        )
        add_event_within(db, uid, ISSUE, record.balance_fen, record, operator, now)
    card = get(db, uid)
    assert card is not None
    return card


def wrote(
    db: Database, uid: str, kind: str, fen: int, record: CardRecord, operator: str, now: float | None = None
) -> int:
    """Record that the desk wrote ``record`` onto the card (a ``topup`` of ``fen``); the event's seq. An
    unlock is recorded by ``card_status.unlock``, which refuses an order unlocked before."""
    now = time.time() if now is None else now
    with db.transaction():
        remember_within(db, uid, record, now)
        return add_event_within(db, uid, kind, fen, record, operator, now)


def saw(db: Database, uid: str, record: CardRecord, now: float | None = None) -> None:
    """Keep what the card was just read holding, if it is not older than what the ledger knows."""
    with db.transaction():
        remember_within(db, uid, record, time.time() if now is None else now)


def remember_within(db: Database, uid: str, record: CardRecord, now: float) -> None:
    """``saw`` within the caller's transaction. A record with a lower counter than the one known is older
    (a replayed dump): it changes nothing. On PostgreSQL the update also locks the card's row, so that the
    events of one card are numbered in turn."""
    assignments = ", ".join("%s = ?" % column for column in _RECORD_COLUMNS)
    db.execute(
        "UPDATE cards SET %s, seen_at = ? WHERE uid = ? AND counter <= ?" % assignments,
        (*_record_values(record), now, uid, record.counter),
    )


def set_status_within(db: Database, uid: str, status: str) -> None:
    """Set the card's status, within the caller's transaction."""
    db.execute("UPDATE cards SET status = ? WHERE uid = ?", (status, uid))


def add_event_within(
    db: Database,
    uid: str,
    kind: str,
    fen: int,
    record: CardRecord | None,
    operator: str,
    now: float,
    settled: tuple[str, int] | None = None,
) -> int:
    """Add the card's next event, within the caller's transaction; its seq. ``record``: what the card held
    after it (None when the card was not written); ``settled``: the (pile, order no) an unlock settled."""
    ((last,),) = db.query("SELECT coalesce(max(seq), 0) FROM card_events WHERE uid = ?", (uid,))
    balance, counter = (None, None) if record is None else (record.balance_fen, record.counter)
    pile, order_no = settled or (None, None)
    values = (uid, last + 1, kind, fen, balance, counter, pile, order_no, operator, now)
    db.execute(
        "INSERT INTO card_events (%s) VALUES (%s)" % (", ".join(EVENT_COLUMNS), ", ".join("?" * len(values))), values
    )
    return last + 1
