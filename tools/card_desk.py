"""What every desk operation on the card on the reader does (top-up, unlock, refund; read; issue apart).

Each starts the same way (``present``): the card is found, a card whose UID can be rewritten is refused
as a clone, its record is read and checked under the site key (the pile's own ``read_record``), and it
must be a card this desk issued, holding a record no older than the last one the desk saw (an older one
is a replayed dump). A change is written as the pile writes one (``write_record``: the slot that does not
hold the newest record, counter one higher, MAC last, read back) and recorded in the bridge only once the
card verifiably holds it. A card pulled during the write is waited for; once back, what it holds decides:
the new record (recorded) or the old one (nothing recorded). One that does not come back leaves the
outcome unknown, and nothing is recorded (``WriteUnconfirmed``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from cloud_bridge import cards
from cloud_bridge.card_uid import uid_hex
from cloud_bridge.cards import CardRefused
from cloud_bridge.db import Database
from firmware.card.on_reader import read_record, write_record
from firmware.card.record import CardRecord
from tools.desk_reader import BLOCK_BYTES, DeskReader

# The most a card may hold: a typo of a digit or two is refused, not written.
BALANCE_MAX_FEN = 1_000_000
SLOT_BLOCKS = 3
T = TypeVar("T")

# What the pile's reasons for refusing a slot mean to the operator (docs/cards.md, "Layout v1").
_REFUSALS = {
    "key": "does not open with this site's key (a blank card, another site's or system's, or the wrong site key)",
    "gone": "left the reader while it was being read",
    "blank": "holds no record (blank: never issued, or refunded)",
    "not_ours": "holds no record of this layout (another system's card)",
    "torn": "its record is damaged (a write torn off, or tampered with)",
    "forged": "its record fails its MAC (tampered with, copied from another card, or issued under another site key)",
}


class WriteUnconfirmed(CardRefused):
    """The card left during a write and did not come back: it holds the record before or after it."""


class NotRecorded(CardRefused):
    """The card holds what the desk wrote, but the bridge's database failed to record it."""


@dataclass(slots=True)
class Desk:
    """What every desk operation works with. ``say`` tells the operator what to do (progress, not results)."""

    reader: DeskReader
    db: Database
    site_key: bytes
    operator: str
    wait_s: float
    say: Callable[[str], None]


@dataclass(slots=True)
class Presented:
    """A card on the reader whose record holds: its UID, record, the slot holding it, and the bridge's row
    (None for a card this desk did not issue)."""

    uid: bytes
    record: CardRecord
    slot: int
    card: cards.Card | None

    @property
    def uid_hex(self) -> str:
        return uid_hex(self.uid)

    def issued(self) -> cards.Card:
        """The bridge's row; ``CardRefused`` for a card the desk did not issue."""
        if self.card is None:
            raise CardRefused(
                "card %s holds a record of this site, but the bridge has no card %s" % ((self.uid_hex,) * 2)
            )
        return self.card


def record_fields(record: CardRecord) -> dict:
    """The record as plain values (for JSON and for comparing two records)."""
    return {
        "kind": record.kind,
        "balance_fen": record.balance_fen,
        "counter": record.counter,
        "valid_until": record.valid_until,
        "last_day": record.last_day,
        "day_sessions": record.day_sessions,
        "session_pile": record.session_pile,
        "session_port": record.session_port,
        "held_fen": record.held_fen,
        "session_order": record.session_order,
    }


async def present(desk: Desk) -> Presented:
    """The card on the reader, checked (module docstring); ``CardRefused`` saying why it is not taken."""
    desk.say("put the card on the reader")
    uid = await desk.reader.wait_card(desk.wait_s)
    if uid is None:
        raise CardRefused("no card on the reader within %g s" % desk.wait_s)
    writable = await desk.reader.uid_writable(uid)
    if writable is None:
        raise CardRefused("card %s: sector 0 does not open with the transport key: not a card of this desk" % uid.hex())
    if writable:
        raise CardRefused("card %s lets its UID be rewritten: a cloned card" % uid.hex())
    record, slot, reason = await read_record(desk.reader.chip, uid, desk.site_key, scratch())
    if record is None:
        raise CardRefused("card %s %s" % (uid.hex(), _REFUSALS.get(reason, "cannot be read (%s)" % reason)))
    card = cards.get(desk.db, uid_hex(uid))
    if card is not None and record.counter < card.counter:
        raise CardRefused(
            "card %s holds an older record (counter %d) than the desk last saw on it (%d): a replayed or cloned card"
            % (uid.hex(), record.counter, card.counter)
        )
    return Presented(uid, record, slot, card)


async def write(desk: Desk, presented: Presented, record: CardRecord) -> None:
    """Write ``record`` onto the presented card as its newest; return once the card holds it. Otherwise
    ``CardRefused`` (the card holds its record before) or ``WriteUnconfirmed`` (it did not come back)."""
    slot = 1 - presented.slot
    if await write_record(desk.reader.chip, presented.uid, desk.site_key, record, slot, scratch()):
        return
    desk.say("the card left the reader during the write: put it back")
    if await desk.reader.wait_card(desk.wait_s, presented.uid) is None:
        raise WriteUnconfirmed(
            "card %s left the reader during the write and did not come back: it holds balance %d fen (before)"
            " or %d fen (after), and nothing was recorded; read it to see which"
            % (presented.uid_hex, presented.record.balance_fen, record.balance_fen)
        )
    after, after_slot, reason = await read_record(desk.reader.chip, presented.uid, desk.site_key, scratch())
    if after is not None and after_slot == slot and record_fields(after) == record_fields(record):
        return
    if after is not None and after_slot == presented.slot and record_fields(after) == record_fields(presented.record):
        raise CardRefused(
            "card %s was pulled during the write and still holds its record before (balance %d fen); nothing was"
            " recorded" % (presented.uid_hex, presented.record.balance_fen)
        )
    raise WriteUnconfirmed(
        "card %s came back after the write but reads as neither its record before nor the one written (%s);"
        " nothing was recorded" % (presented.uid_hex, reason or "another record")
    )


def recorded(record: CardRecord, uid: str, action: Callable[[], T]) -> T:
    """``action()``, the bridge's record of ``record`` the card ``uid`` now holds; ``NotRecorded`` when the
    database fails it, saying what the card holds."""
    try:
        return action()
    except Database.ERRORS as error:
        raise NotRecorded(
            "card %s now holds balance %d fen (counter %d), but the bridge could not record it (%s): record it by"
            " hand" % (uid, record.balance_fen, record.counter, error)
        ) from None


async def read(desk: Desk) -> dict:
    """The card's record and the bridge's view of it; what the card holds is kept as the card's last known."""
    presented = await present(desk)
    if presented.card is not None:
        cards.saw(desk.db, presented.uid_hex, presented.record)
    card = cards.get(desk.db, presented.uid_hex)
    return {
        "uid": presented.uid_hex,
        "slot": presented.slot,
        "record": record_fields(presented.record),
        "bridge": None if card is None else {"status": card.status, "issued_at": card.issued_at},
    }


def next_record(record: CardRecord) -> CardRecord:
    """A copy of ``record`` as the next write makes it: counter one higher."""
    after = copy.copy(record)
    after.counter += 1
    return after


def scratch() -> tuple[bytearray, ...]:
    """The six block buffers (slot 0's three, then slot 1's) ``read_record`` and ``write_record`` work in."""
    return tuple(bytearray(BLOCK_BYTES) for _ in range(2 * SLOT_BLOCKS))
