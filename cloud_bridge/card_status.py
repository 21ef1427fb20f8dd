"""A card's status and the blacklist it makes: block, unblock and cancel, each told to every pile; and the
record of a card's unlock.

The blacklist is the cards whose status is ``blocked`` or ``cancelled``. A change to it is committed
together with its event and a signed ``cards`` command (``block`` and ``unblock``: lists of UIDs) for
every pile the bridge holds a key for, so no pile is left out by a crash in between; the running bridge
publishes them (``channel``) and sends the pending ones again at a pile's birth. A pile added later, or
one that was away past a command's expiry, gets the whole blacklist by ``push``.

An unlock pays at the desk the refund the session's pile owed the card; the desk asked that pile to give
it up first (``card_asks``: that ask is the pile's ``settled`` command), so recording the unlock tells no
pile anything more.
"""

from __future__ import annotations

import time

from cloud_bridge import cards, commands, pile_keys
from cloud_bridge.db import Database
from firmware.card.record import CardRecord

# Long: a pile away for weeks still takes the command at its next birth, rather than missing a block.
CARDS_COMMAND_TTL_S = 30 * 86400
# The most UIDs a pile's book blocks (firmware/card/book.py): beyond it the pile drops the oldest.
PILE_BLOCKED_MAX = 500
_LISTED = (cards.BLOCKED, cards.CANCELLED)

Sent = list[tuple[str, int]]  # (pile, command id) of each cards command made


def blacklist(db: Database) -> list[str]:
    """The UIDs the piles must refuse, in order."""
    rows = db.query("SELECT uid FROM cards WHERE status IN (?, ?) ORDER BY uid", _LISTED)
    return [uid for (uid,) in rows]


def block(db: Database, uid: str, operator: str, now: float | None = None) -> Sent:
    """Block an active card (lost, stolen): its ``block`` event and a command for every pile."""
    now = time.time() if now is None else now
    with db.transaction():
        _require(db, uid, cards.ACTIVE, "only an active card can be blocked")
        cards.set_status_within(db, uid, cards.BLOCKED)
        cards.add_event_within(db, uid, cards.BLOCK, 0, None, operator, now)
        return _tell_piles_within(db, [uid], [], now)


def unblock(db: Database, uid: str, operator: str, now: float | None = None) -> Sent:
    """Make a blocked card active again (found): its ``unblock`` event and a command for every pile."""
    now = time.time() if now is None else now
    with db.transaction():
        _require(db, uid, cards.BLOCKED, "only a blocked card can be unblocked; a cancelled one stays blocked")
        cards.set_status_within(db, uid, cards.ACTIVE)
        cards.add_event_within(db, uid, cards.UNBLOCK, 0, None, operator, now)
        return _tell_piles_within(db, [], [uid], now)


def cancel(
    db: Database, uid: str, paid_out_fen: int, record: CardRecord, operator: str, now: float | None = None
) -> Sent:
    """Record a card cancelled with ``paid_out_fen`` paid back to its holder, once the desk has written
    ``record`` (nothing left on it) onto it: its ``refund`` event, and a block to every pile unless the card
    was blocked already."""
    now = time.time() if now is None else now
    with db.transaction():
        card = _require(db, uid, None, "")
        if card.status == cards.CANCELLED:
            raise cards.CardRefused("card %s was cancelled before" % uid)
        cards.remember_within(db, uid, record, now)
        cards.set_status_within(db, uid, cards.CANCELLED)
        cards.add_event_within(db, uid, cards.REFUND, -paid_out_fen, record, operator, now)
        return [] if card.status == cards.BLOCKED else _tell_piles_within(db, [uid], [], now)


def unlock(
    db: Database,
    uid: str,
    returned_fen: int,
    record: CardRecord,
    settled: tuple[str, int],
    operator: str,
    now: float | None = None,
) -> int:
    """Record that the desk wrote ``record`` onto the card, adding the ``returned_fen`` the order ``settled``
    (pile, order no) returned; the event's seq. ``CardRefused`` if that order was unlocked before: nothing
    is recorded then."""
    now = time.time() if now is None else now
    try:
        with db.transaction():
            cards.remember_within(db, uid, record, now)
            return cards.add_event_within(db, uid, cards.UNLOCK, returned_fen, record, operator, now, settled)
    except Database.CONFLICT_ERRORS:  # the unique index of card_events: one unlock per order
        raise cards.CardRefused("order %s #%d was unlocked onto a card before" % settled) from None


def push(db: Database, pile: str, now: float | None = None) -> list[int]:
    """Send the whole blacklist to ``pile`` (``commands.CARDS_PER_COMMAND`` UIDs a command); the command ids.
    ``pile_keys.UnknownPile`` if the bridge has no key for it; ``CardRefused``, sending nothing, if the list
    is longer than the pile keeps: it would drop some of the cards sent, and which is not the desk's choice."""
    now = time.time() if now is None else now
    with db.transaction():
        pile_keys.key(db, pile)
        listed = blacklist(db)
        if len(listed) > PILE_BLOCKED_MAX:
            raise cards.CardRefused(
                "the blacklist holds %d cards, more than the %d a pile keeps (it drops the oldest beyond that):"
                " nothing sent to %s" % (len(listed), PILE_BLOCKED_MAX, pile)
            )
        made = []
        for first in range(0, len(listed), commands.CARDS_PER_COMMAND):
            args = {"block": listed[first : first + commands.CARDS_PER_COMMAND], "unblock": [], "settled": []}
            made.append(commands.add(db, pile, "cards", args, CARDS_COMMAND_TTL_S, now)[0].id)
        return made


def _require(db: Database, uid: str, status: str | None, refusal: str) -> cards.Card:
    """The card, if the desk issued it and it is in ``status`` (any when None); else ``CardRefused``."""
    card = cards.get(db, uid)
    if card is None:
        raise cards.CardRefused("card %s was not issued here" % uid)
    if status is not None and card.status != status:
        raise cards.CardRefused("card %s is %s: %s" % (uid, card.status, refusal))
    return card


def _tell_piles_within(db: Database, blocked: list[str], unblocked: list[str], now: float) -> Sent:
    args = {"block": blocked, "unblock": unblocked, "settled": []}
    return [
        (pile, commands.add(db, pile, "cards", args, CARDS_COMMAND_TTL_S, now)[0].id) for pile in pile_keys.piles(db)
    ]
