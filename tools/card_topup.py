"""A top-up at the desk: money onto a prepaid card, written as the pile writes and then recorded."""

from __future__ import annotations

from cloud_bridge import cards
from cloud_bridge.cards import CardRefused
from firmware.card.record import PREPAID
from tools.card_desk import BALANCE_MAX_FEN, Desk, next_record, present, recorded, write

# One top-up at most: a typo of a digit or two is refused, not written.
TOPUP_MAX_FEN = 100_000


async def topup(desk: Desk, fen: int) -> dict:
    """Add ``fen`` to the balance of the active prepaid card on the reader; not to one still marked with a
    session (a copy of a grey card topped up would pass the counter check of its unlock: unlock it first)."""
    if type(fen) is not int or not 1 <= fen <= TOPUP_MAX_FEN:
        raise CardRefused("a top-up is 1 to %d fen, not %r" % (TOPUP_MAX_FEN, fen))
    presented = await present(desk)
    card = presented.issued()
    if card.status != cards.ACTIVE:
        raise CardRefused("card %s is %s: no top-up" % (card.uid, card.status))
    if presented.record.kind != PREPAID:
        raise CardRefused("card %s is not a prepaid card (kind %d): no top-up" % (card.uid, presented.record.kind))
    if presented.record.open_session():
        raise CardRefused("card %s is still marked with a session: unlock it first, then top it up" % card.uid)
    if presented.record.balance_fen + fen > BALANCE_MAX_FEN:
        raise CardRefused(
            "card %s would hold %d fen, above %d" % (card.uid, presented.record.balance_fen + fen, BALANCE_MAX_FEN)
        )
    after = next_record(presented.record)
    after.balance_fen += fen
    await write(desk, presented, after)
    recorded(after, card.uid, lambda: cards.wrote(desk.db, card.uid, cards.TOPUP, fen, after, desk.operator))
    return {"uid": card.uid, "topup_fen": fen, "balance_fen": after.balance_fen, "counter": after.counter}
