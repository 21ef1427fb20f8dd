"""Unlocking a card at the desk ("解灰"): the session a card is still marked with, settled from its order.

A prepaid session takes its credit off the card at the start and marks the card with the pile's tag,
the port, the fen held and the order number; the pile gives back what was not used at the card's next
swipe there. A resident who never comes back gets it at the desk instead, from the order the pile sent:
what it returned is written onto the card and the marker cleared, once per order (the ledger's unique
index keeps it so even if the card were replayed).

The pile may have paid that refund onto the card itself at a swipe, and still owes it otherwise, so the
desk asks it first (``card_asks``: a ``cards`` command settling the order) and writes the card only on
its answer: released (the pile owed it and owes it no more), or not owed with no counter newer than the
card's (the pile's bounded book dropped it). A pile that saw a newer counter on the card than the one on
the reader paid it, or the card is an older copy: refused. So a dump of the grey card is paid neither at
the pile after the desk, nor at the desk after the pile, while the pile remembers the card.
"""

from __future__ import annotations

import asyncio
import time

from cloud_bridge import card_asks, card_queries, card_status, cards, commands, pile_keys
from cloud_bridge.cards import CardRefused
from cloud_bridge.db import Database
from firmware.card.record import CardRecord
from tools.card_desk import Desk, next_record, present, recorded, write

# How long the desk waits for the pile's answer by default: the running bridge sends the ask within a
# second, and an online pile answers in a few more.
PILE_WAIT_S = 60.0
POLL_S = 0.2


class PileNotAnswered(CardRefused):
    """The pile was asked and has not answered yet: nothing was written; the next unlock reads its answer."""


async def unlock(desk: Desk, pile_wait_s: float = PILE_WAIT_S) -> dict:
    """Ask the pile of the card's open session to give up its refund, waiting up to ``pile_wait_s`` for its
    answer; on an answer that lets it, write back what the order returned and clear the marker."""
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
    _check_pile_asked(desk.db, card.uid, order["pile"])
    asked = card_asks.ask(desk.db, order["pile"], order["order_no"], card.uid)
    asked = await _answered(desk, asked, pile_wait_s)
    released = _check_answer(card.uid, asked, held)
    after = next_record(held)
    after.balance_fen += order["returned_fen"]
    after.session_pile = after.session_port = after.held_fen = after.session_order = 0
    await write(desk, presented, after)
    settled = (order["pile"], order["order_no"])
    returned = order["returned_fen"]
    recorded(after, card.uid, lambda: card_status.unlock(desk.db, card.uid, returned, after, settled, desk.operator))
    return {
        "uid": card.uid,
        "pile": order["pile"],
        "order_no": order["order_no"],
        "returned_fen": returned,
        "balance_fen": after.balance_fen,
        "counter": after.counter,
        "pile_released": released,
        "commands": [[asked.pile, asked.id]],
    }


async def _answered(desk: Desk, asked: commands.Command, wait_s: float) -> commands.Command:
    """The ask as it stands once the pile has answered it, or once ``wait_s`` has passed."""
    if asked.state == commands.PENDING and wait_s > 0:
        desk.say(
            "asked pile %s (command %d) for the refund it owes the card: waiting up to %g s for its answer; leave"
            " the card on the reader" % (asked.pile, asked.id, wait_s)
        )
    deadline = time.monotonic() + wait_s
    while asked.state == commands.PENDING and time.monotonic() < deadline:
        await asyncio.sleep(POLL_S)
        asked = commands.get(desk.db, asked.pile, asked.id) or asked
    return asked


def _check_answer(uid: str, asked: commands.Command, held: CardRecord) -> bool:
    """Whether the pile released the refund; ``CardRefused`` (``PileNotAnswered`` while it has not answered)
    unless its answer lets the desk write the refund onto the card holding ``held``."""
    named = "pile %s (asked by command %d)" % (asked.pile, asked.id)
    if asked.state == commands.PENDING:
        raise PileNotAnswered(
            "card %s: %s has not answered yet (it may be offline): nothing was written; run unlock again later"
            % (uid, named)
        )
    if asked.state != commands.DONE:
        raise CardRefused(
            "card %s: the ask of %s ended %s (%s): nothing was written; unlock again to ask anew"
            % (uid, named, asked.state, asked.detail or asked.result_name)
        )
    answer = card_asks.answer(asked)
    if answer is None:
        raise CardRefused(
            "card %s: %s answered without its card book's answer (data %r): its firmware predates the desk's"
            " ask; update it, then unlock again" % (uid, named, asked.data)
        )
    if answer.seen > held.counter and not answer.released:
        raise CardRefused(
            "card %s: %s put this refund on the card itself, or was writing it when the card left its reader (counter"
            " %d; this one holds %d): nothing was written. The card itself gets its refund at that pile's reader; an"
            " older copy of the card written back gets nothing" % (uid, named, answer.seen, held.counter)
        )
    if answer.seen > held.counter:
        raise CardRefused(
            "card %s holds counter %d, older than the %d %s saw on it: an older copy of the card; nothing was"
            " written (the refund is the card's: unlock the card itself)" % (uid, held.counter, answer.seen, named)
        )
    return answer.released


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


def _check_pile_asked(db: Database, uid: str, pile: str) -> None:
    """``CardRefused`` unless the bridge holds ``pile``'s command key: a pile that cannot be asked to give up
    the refund it owes might pay it again to a dump of the grey card, or have paid it already."""
    try:
        pile_keys.key(db, pile)
    except pile_keys.UnknownPile:
        raise CardRefused(
            "card %s: the bridge holds no command key for pile %s, so it cannot ask %s for the refund it owes the"
            " card (%s may have paid it, or would pay it again to a copy of the card from before): add the pile's"
            " key (cloud-bridge pile add) and unlock again" % (uid, pile, pile, pile)
        ) from None
