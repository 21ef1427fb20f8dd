"""Reading a card's story from the bridge: its events, its sessions (orders), and its open session.

A card's sessions are the orders whose method is ``card`` (prepaid: ``paid`` held on the card at the
start, ``returned`` due back onto it) or ``pass`` (monthly, free, staff: nothing paid) and whose payment
reference is the card's UID. A session the card is still marked with ("grey") names its pile by the
pile's tag (``firmware.card.record.pile_tag``) and its order by number; ``settling_order`` finds that
order once the pile has sent it.
"""

from __future__ import annotations

from cloud_bridge import cards
from cloud_bridge.db import Database
from cloud_bridge.queries import ORDER_COLUMNS
from firmware.card.record import pile_tag

CARD_METHODS = ("card", "pass")


def events(db: Database, uid: str) -> list[dict]:
    """What the desk did to the card, oldest first."""
    rows = db.query("SELECT %s FROM card_events WHERE uid = ? ORDER BY seq" % ", ".join(cards.EVENT_COLUMNS), (uid,))
    return [dict(zip(cards.EVENT_COLUMNS, row, strict=True)) for row in rows]


def orders(db: Database, uid: str) -> list[dict]:
    """The card's sessions as the piles reported them, by end time."""
    rows = db.query(
        "SELECT %s FROM orders WHERE payment_ref = ? AND method IN (?, ?) ORDER BY end_t, pile, order_no"
        % ", ".join(ORDER_COLUMNS),
        (uid, *CARD_METHODS),
    )
    return [dict(zip(ORDER_COLUMNS, row, strict=True)) for row in rows]


def settling_order(db: Database, uid: str, tag: int, order_no: int) -> dict | None:
    """The order of the session the card is marked with (pile ``tag``, ``order_no``), or None while it has
    not reached the bridge. ``CardRefused`` if two piles with that tag sent such an order (a 32-bit tag can
    collide): which one the card means cannot be told."""
    rows = db.query(
        "SELECT %s FROM orders WHERE payment_ref = ? AND order_no = ? AND method IN (?, ?)" % ", ".join(ORDER_COLUMNS),
        (uid, order_no, *CARD_METHODS),
    )
    found = [dict(zip(ORDER_COLUMNS, row, strict=True)) for row in rows]
    found = [order for order in found if pile_tag(order["pile"]) == tag]
    if len(found) > 1:
        raise cards.CardRefused(
            "piles %s share the tag %08x and each sent order #%d of this card"
            % (", ".join(order["pile"] for order in found), tag, order_no)
        )
    return found[0] if found else None


def unlocked(db: Database, pile: str, order_no: int) -> bool:
    """Whether the desk has already written the refund of that order onto a card."""
    return bool(db.query("SELECT 1 FROM card_events WHERE pile = ? AND order_no = ?", (pile, order_no)))


def grey_session(db: Database, uid: str) -> dict | None:
    """The open session the card was marked with when the desk last saw it, or None: its pile tag, port,
    fen held, order number and the order (None while it has not arrived). A pile settles its own session
    at the card's next swipe there, which only the card shows: this is the bridge's view as of ``seen_at``."""
    card = cards.get(db, uid)
    if card is None or card.session_pile == 0:
        return None
    order = settling_order(db, uid, card.session_pile, card.session_order)
    return {
        "pile_tag": card.session_pile,
        "port": card.session_port,
        "held_fen": card.held_fen,
        "order_no": card.session_order,
        "seen_at": card.seen_at,
        "order": order,
    }


def overspent(db: Database) -> list[dict]:
    """The prepaid cards whose sessions used more than the desk ever put on them, less what it paid out:
    a replayed or cloned card at piles that could not tell (docs/cards.md, "Limits"). Each with
    ``given_fen`` (opening balance and top-ups), ``used_fen``, ``paid_out_fen`` and ``over_fen``. An honest
    card cannot get there: every session takes what it used off the card, and no more."""
    rows = db.query(
        "SELECT c.uid,"
        " (SELECT coalesce(sum(e.fen), 0) FROM card_events e WHERE e.uid = c.uid AND e.kind IN (?, ?)),"
        " (SELECT coalesce(-sum(e.fen), 0) FROM card_events e WHERE e.uid = c.uid AND e.kind = ?),"
        " (SELECT coalesce(sum(o.used_fen), 0) FROM orders o WHERE o.payment_ref = c.uid AND o.method = ?)"
        " FROM cards c ORDER BY c.uid",
        (cards.ISSUE, cards.TOPUP, cards.REFUND, CARD_METHODS[0]),
    )
    found = []
    for uid, given, paid_out, used in rows:
        over = used + paid_out - given
        if over > 0:
            found.append({"uid": uid, "given_fen": given, "used_fen": used, "paid_out_fen": paid_out, "over_fen": over})
    return found
