"""Unlocking a card at the desk ("解灰"): the session a card is still marked with, settled from its order.

A prepaid session takes its credit off the card at the start and marks the card with the pile's tag,
the port, the fen held and the order number; the pile gives back what was not used at the card's next
swipe there. A resident who never comes back gets it at the desk instead, from the order the pile sent:
what it returned is written onto the card and the marker cleared, once per order (the ledger's unique
index keeps it so even if the card were replayed). The pile still owes that refund in its book, so the
unlock is recorded together with a ``cards`` command telling it the order is settled: a dump of the grey
card written back and swiped there is then sent to the desk, and never paid again.
"""

from __future__ import annotations

from cloud_bridge import card_queries, card_status, cards, pile_keys
from cloud_bridge.cards import CardRefused
from cloud_bridge.db import Database
from firmware.card.record import CardRecord
from tools.card_desk import Desk, next_record, present, recorded, write


async def unlock(desk: Desk) -> dict:
    """Write back what the order of the card's open session returned, and clear the marker."""
    presented = await present(desk)
    card = presented.issued()
    held = presented.record
    if card.status == cards.CANCELLED:
        raise CardRefused("card %s is cancelled" % card.uid)
    if not held.open_session():
        raise CardRefused("card %s has no open session: nothing to unlock" % card.uid)
    cards.saw(desk.db, card.uid, held)  # so the bridge shows the open session even when it is refused below
    order = card_queries.settling_order(desk.db, card.uid, held.session_pile, held.session_order)
    if order is None:
        raise CardRefused(
            "card %s: the order of its session (order #%d, port %d, %d fen held, pile tag %08x) has not reached"
            " the bridge yet; unlock it once the pile has sent its orders"
            % (card.uid, held.session_order, held.session_port, held.held_fen, held.session_pile)
        )
    _check_order(desk.db, card.uid, order, held)
    _check_pile_told(desk.db, card.uid, order["pile"])
    after = next_record(held)
    after.balance_fen += order["returned_fen"]
    after.session_pile = after.session_port = after.held_fen = after.session_order = 0
    await write(desk, presented, after)
    settled = (order["pile"], order["order_no"])
    returned = order["returned_fen"]
    command_id = recorded(
        after, card.uid, lambda: card_status.unlock(desk.db, card.uid, returned, after, settled, desk.operator)
    )
    return {
        "uid": card.uid,
        "pile": order["pile"],
        "order_no": order["order_no"],
        "returned_fen": returned,
        "balance_fen": after.balance_fen,
        "counter": after.counter,
        "commands": [[order["pile"], command_id]],
    }


def _check_order(db: Database, uid: str, order: dict, held: CardRecord) -> None:
    """``CardRefused`` unless ``order`` is the session ``held`` marks and has not been unlocked before."""
    named = "order %s #%d" % (order["pile"], order["order_no"])
    if card_queries.unlocked(db, order["pile"], order["order_no"]):
        raise CardRefused(
            "card %s: %s was unlocked before, yet the card shows it again: a replayed card" % (uid, named)
        )
    matches = order["paid_fen"] == held.held_fen and order["port"] == held.session_port
    if not matches or order["returned_fen"] > order["paid_fen"]:
        raise CardRefused(
            "card %s: %s (port %d, paid %d, returned %d fen) does not match the card's session (port %d, %d fen held)"
            % (uid, named, order["port"], order["paid_fen"], order["returned_fen"], held.session_port, held.held_fen)
        )


def _check_pile_told(db: Database, uid: str, pile: str) -> None:
    """``CardRefused`` unless the bridge holds ``pile``'s command key: a pile that cannot be told the refund is
    paid would pay it again to a dump of the grey card."""
    try:
        pile_keys.key(db, pile)
    except pile_keys.UnknownPile:
        raise CardRefused(
            "card %s: the bridge holds no command key for pile %s, so it cannot tell %s the refund is paid here"
            " (a copy of the card from before would be paid it there again): add the pile's key (cloud-bridge"
            " pile add) and unlock again" % (uid, pile, pile)
        ) from None
