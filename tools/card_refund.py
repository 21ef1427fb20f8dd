"""Refunding a card at the desk: the card is cancelled, its balance paid out, and every pile told to refuse it.

The money moves once, by writing a record with nothing on it (as any write: the old record stays whole
until the new one holds); the cancel is recorded then, with the block for every pile. Only after that are
both slots blanked, the older (the one with the balance) first, so a card pulled meanwhile never shows
the old balance again: at worst it keeps the record with nothing on it.
"""

from __future__ import annotations

from cloud_bridge import card_status, cards
from cloud_bridge.cards import CardRefused
from firmware.card.record import sector_key, slot_blocks
from tools.card_desk import Desk, next_record, present, recorded, write
from tools.desk_reader import BLOCK_BYTES


async def refund(desk: Desk) -> dict:
    """Cancel the card on the reader; what to pay out is ``paid_out_fen``."""
    presented = await present(desk)
    card = presented.issued()
    if card.status == cards.CANCELLED:
        raise CardRefused("card %s was cancelled before" % card.uid)
    if presented.record.open_session():
        raise CardRefused("card %s has an open session: unlock it first" % card.uid)
    paid_out = presented.record.balance_fen
    if paid_out < 0:
        raise CardRefused("card %s holds a negative balance (%d fen)" % (card.uid, paid_out))
    emptied = next_record(presented.record)
    emptied.balance_fen = 0
    await write(desk, presented, emptied)
    sent = recorded(emptied, card.uid, lambda: card_status.cancel(desk.db, card.uid, paid_out, emptied, desk.operator))
    blanked = await _blank(desk, presented.uid, (presented.slot, 1 - presented.slot))
    if not blanked:
        desk.say("the card left before it was blanked: it holds a record with nothing on it, and is cancelled")
    return {"uid": card.uid, "paid_out_fen": paid_out, "blanked": blanked, "piles_told": len(sent)}


async def _blank(desk: Desk, uid: bytes, slots: tuple[int, ...]) -> bool:
    """Zero the record blocks of ``slots``, in that order; False if the card left first."""
    key = sector_key(desk.site_key, uid)
    for slot in slots:
        blocks = [(number, bytes(BLOCK_BYTES)) for number in slot_blocks(slot)]
        if not await desk.reader.write_blocks(uid, key, blocks):
            return False
    return True
