"""What a card on the reader means at this pile: the decisions of a swipe, pure (docs/cards.md).

The shell (firmware/shell/card_round.py) reads the card and asks ``plan``.
A plan that writes the card is carried out by the shell, and only once the
card holds the new record does the shell ``commit`` it: so a card pulled away
mid-write leaves the pile as if it had never been swiped, and the card with
its record before the write.

A plan is ``(prompt, port, value, record, start)``: the prompt to give (its
port and formatted value), the record to write first (or None), and for a
start the ``(method, fen, order no)`` to pay the port with once it is
written. A start takes its order number at once and the book owes the card
what it holds until the session has begun: a card pulled after the write, a
start the port refuses by then, or a cut, all end in that refund at the
card's next swipe here. A plan
with prompt STOP asks the shell to stop the card's running session on
``port`` first and then plan again: the stop settles the session, and the
next plan puts what is owed back on the card.
"""

from firmware import prompts
from firmware.card.record import MONTHLY, PREPAID, CardRecord
from firmware.compat import const
from firmware.pile import format_fen
from firmware.ticks import since_ms

_DAYS = const("%d days")
_REPLAY = const("replay")
_FREE = const("free")

STOP = const(0)
# Reasons refused with an alarm: a forged or torn card, or one our sector key does not open (another
# site's card, or a copy made without the key); a blank or foreign-format card is merely unknown.
_FRAUD = const(("forged", "torn", "key"))


def plan(pile, panel, book, uid, record, reason, tag, today, now_ms):
    """The plan for the card ``uid`` that read as ``record`` (or failed for ``reason``) at the pile
    tagged ``tag`` on day ``today``. A refusal to raise an alarm for has the alarm's detail as value."""
    if reason is not None:
        if reason in _FRAUD:
            return prompts.CARD_REFUSED if reason != "key" else prompts.CARD_UNKNOWN, 0, reason, None, None
        return prompts.CARD_UNKNOWN, 0, "", None, None
    if book.blocked.index(uid) >= 0:
        return prompts.CARD_BLOCKED, 0, "blocked", None, None
    if record.counter < book.seen_count(uid):
        return prompts.CARD_REFUSED, 0, _REPLAY, None, None
    last = book.last
    if uid == last[0] and since_ms(now_ms, last[1]) < book.repeat_ms:
        # Held on a little long after a start: a stop nobody meant.
        return prompts.CARD_TOO_FAST, 0, "", None, None
    if record.session_pile:
        return _settle(pile, book, uid, record, tag)
    # No marker: what this pile owed the card was put back elsewhere (the desk's unlock).
    book.owed.remove(uid)
    if panel.free_mode:
        # Charging is free here now: the keypad alone starts a port, and no card is charged.
        return prompts.CARD_FREE_MODE, 0, "", None, None
    kind = record.kind
    if kind == MONTHLY and today > record.valid_until:
        return prompts.CARD_EXPIRED, 0, "", None, None
    if kind == MONTHLY and record.last_day == today and record.day_sessions >= book.day_max:
        return prompts.CARD_DAY_LIMIT, 0, "", None, None
    if kind == PREPAID and record.balance_fen < book.min_fen:
        return prompts.CARD_LOW, 0, format_fen(record.balance_fen), None, None
    number = panel.port
    if not number:
        # No port chosen yet: say what the card holds and wait for one.
        panel.card = uid
        panel.last_ms = now_ms
        if kind == PREPAID:
            value = format_fen(record.balance_fen)
        else:
            value = _DAYS % (record.valid_until - today + 1) if kind == MONTHLY else _FREE
        return prompts.CARD_BALANCE, 0, value, None, None
    refusal = pile.refusal(number, now_ms)
    if refusal is not None:
        # Another port, then: a card left on the reader is not read again for this one.
        panel.port = 0
        panel.card = None
        return refusal, number, "", None, None
    order_no = pile.reserve_order()
    started = _copy(record)
    started.session_pile = tag
    started.session_port = number
    started.session_order = order_no
    if kind == PREPAID:
        hold = min(record.balance_fen, book.hold_fen)
        started.balance_fen -= hold
        started.held_fen = hold
        book.owe(uid, order_no, number, hold)
        return prompts.STARTED, number, format_fen(hold), started, ("card", hold, order_no)
    if kind == MONTHLY:
        started.day_sessions = record.day_sessions + 1 if record.last_day == today else 1
        started.last_day = today
    book.owe(uid, order_no, number, 0)
    return prompts.FREE_STARTED, number, "", started, ("pass", 0, order_no)


def commit(pile, panel, book, uid, record, number, start, now_ms):
    """The card ``uid`` now holds ``record``: start the session it paid for (``start``), or take the
    settled session off the book. The prompt the pile gives."""
    book.saw(uid, record.counter)
    if start is None:
        book.owed.remove(uid)
        book.last[0] = uid
        book.last[1] = now_ms
        return prompts.CARD_REFUNDED
    prompt = pile.pay(now_ms, number, start[0], start[1], uid, start[2])
    if prompt == prompts.STARTED or prompt == prompts.QUEUED or prompt == prompts.FREE_STARTED:
        # Begun: what the session owes the card is settled when it ends (firmware/shell/controller.py).
        book.owed.remove(uid)
        book.last[0] = uid
        book.last[1] = now_ms
        panel.port = 0
        panel.card = None
    return prompt


def _settle(pile, book, uid, record, tag):
    """A card carrying an open-session marker: stop its session, or put back what it is owed."""
    number = record.session_port
    if record.session_pile != tag:
        return prompts.CARD_LOCKED, 0, "", None, None
    port = pile.port(number)
    session = port.session if port is not None else None
    if session is not None and session.ref == uid and session.order_no == record.session_order:
        return STOP, number, "", None, None
    owed = book.owed.get(uid)
    if owed is None or owed[0] != record.session_order:
        # Settled here, but the book no longer holds it: the desk settles it from the cloud's order.
        return prompts.CARD_LOCKED, 0, "", None, None
    fen = owed[2]
    settled = _copy(record)
    settled.balance_fen += fen
    settled.session_pile = 0
    settled.session_port = 0
    settled.session_order = 0
    settled.held_fen = 0
    # Saved before the write: if the card leaves before it is read back, the desk is not to pay what the
    # card may already hold (firmware/card/book.py).
    book.owed.append(uid, owed[0], owed[1], fen, settled.counter)
    return prompts.CARD_REFUNDED, number, format_fen(fen), settled, None


def _copy(record):
    """The next record of the card: ``record`` with its counter one higher."""
    copy = CardRecord(
        record.kind, record.balance_fen, record.counter + 1, record.valid_until, record.last_day, record.day_sessions
    )
    copy.session_pile = record.session_pile
    copy.session_port = record.session_port
    copy.session_order = record.session_order
    copy.held_fen = record.held_fen
    return copy
