"""The desk's asks (table ``card_asks``): before the desk writes a walk-away refund onto a card, it asks the
order's pile to give that refund up, and writes the card only on the pile's answer (tools/card_unlock.py).

An ask is a ``cards`` command settling one ``[UID, order no]`` pair, committed together with its row, one
per (pile, order no): running the unlock again finds the ask made before and reads its answer instead of
asking again. The pile answers an id it has seen with its first answer, so one ask releases the refund
once, however often it is sent. An ask that ended with no answer to go by (expired, refused by the pile,
or answered without the book's answer) is replaced by a new one at the next unlock.

The answer's data is ``[blocked count, answers]``, one ``[released, seen]`` per settled pair:
``released`` 1 when the pile owed that refund until now and has dropped it, 0 when it owed nothing (it
paid the refund onto the card itself at a swipe, or its bounded book dropped the entry) or keeps it (it
was writing it when the card left, unread back); ``seen`` the highest record counter the pile has seen
on the card or was writing to it, -1 when it remembers none.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from cloud_bridge import card_status, commands
from cloud_bridge.db import Database


@dataclass(frozen=True, slots=True)
class Answer:
    """The pile's answer for the asked pair: whether it released the refund, and the counter it saw."""

    released: bool
    seen: int


def ask(db: Database, pile: str, order_no: int, uid: str, now: float | None = None) -> commands.Command:
    """The ask of ``pile`` for the refund of order ``order_no`` it owes card ``uid``: the one made before,
    unless that ended with no answer to go by; else a new ``cards`` command, committed with its row.
    ``pile_keys.UnknownPile`` (nothing recorded) when the bridge holds no key for the pile."""
    now = time.time() if now is None else now
    try:
        return _ask(db, pile, order_no, uid, now)
    except Database.CONFLICT_ERRORS:  # another desk asked in the same moment (PostgreSQL): its ask is the one
        return _ask(db, pile, order_no, uid, now)


def answer(command: commands.Command) -> Answer | None:
    """The pile's answer to the ask ``command``, or None when its data does not hold one (no answer yet, or a
    pile whose firmware answers with the blocked count alone)."""
    data = command.data
    if type(data) is list and len(data) == 2 and type(data[1]) is list and len(data[1]) == 1:
        pair = data[1][0]
        if type(pair) is list and [type(value) for value in pair] == [int, int] and pair[0] in (0, 1):
            return Answer(bool(pair[0]), pair[1])
    return None


def _ask(db: Database, pile: str, order_no: int, uid: str, now: float) -> commands.Command:
    with db.transaction():
        rows = db.query("SELECT command_id FROM card_asks WHERE pile = ? AND order_no = ?", (pile, order_no))
        before = commands.get(db, pile, rows[0][0]) if rows else None
        if before is not None and not _spent(before):
            return before
        db.execute("DELETE FROM card_asks WHERE pile = ? AND order_no = ?", (pile, order_no))
        args = {"block": [], "unblock": [], "settled": [[uid, order_no]]}
        command = commands.add(db, pile, "cards", args, card_status.CARDS_COMMAND_TTL_S, now)[0]
        db.execute(
            "INSERT INTO card_asks (pile, order_no, uid, command_id, asked_at) VALUES (?, ?, ?, ?, ?)",
            (pile, order_no, uid, command.id, now),
        )
        return command


def _spent(command: commands.Command) -> bool:
    """Whether the ask ended with no answer to go by, so that asking again is the only way on."""
    if command.state == commands.DONE:
        return answer(command) is None
    return command.state != commands.PENDING
