"""Issuing a card at the desk: a blank card (transport keys) becomes a card of the site, recorded in the bridge.

The desk writes what ``tools/card_image.py`` says an issued card holds, sector by sector, each sector's
trailer last (it changes the keys the sector opens with): slot 1 (blank) first, then slot 0 (the
record), so the record is the last thing written and a card pulled before it holds no record. The card
is then read back as a pile reads it, and only then recorded (``cards.issue``).

Refused: a card the bridge knows (issued before), a card whose UID can be rewritten, one whose record
sectors open with neither the transport key nor this site's key (another system's, or another site's),
and one holding a record a pile has written since issuing. A card of this site the bridge does not know,
holding at most the issuing record, is one whose issuing was cut short: it is issued again.
"""

from __future__ import annotations

from cloud_bridge import cards
from cloud_bridge.card_uid import uid_hex
from cloud_bridge.cards import CardRefused
from drivers.mfrc522 import AUTH_A, AUTH_B
from firmware.card.on_reader import read_record
from firmware.card.record import KINDS, MONTHLY, PREPAID, CardRecord, card_key, sector_key, slot_blocks, unpack
from tools.card_desk import BALANCE_MAX_FEN, Desk, record_fields, recorded, scratch
from tools.card_image import issued_image, trailer_block
from tools.desk_reader import TRANSPORT_KEY

# The counter of the record issuing writes (the rig's issued cards hold the same).
ISSUED_COUNTER = 1
# Slot 1 first: the record in slot 0 is the last thing written.
_ISSUE_ORDER = (1, 0)


async def issue(desk: Desk, kind: int, balance_fen: int, valid_until: int) -> dict:
    """Issue the blank card on the reader as a card of ``kind`` with ``balance_fen`` (prepaid) and
    ``valid_until`` (a day number; 0 for none; a monthly card needs one)."""
    if kind not in KINDS:
        raise CardRefused("no card kind %r" % kind)
    if balance_fen and kind != PREPAID:
        raise CardRefused("only a prepaid card is issued with a balance")
    if not 0 <= balance_fen <= BALANCE_MAX_FEN:
        raise CardRefused("an opening balance is 0 to %d fen" % BALANCE_MAX_FEN)
    if kind == MONTHLY and not valid_until:
        raise CardRefused("a monthly card needs the last day it is valid")
    desk.say("put the blank card on the reader")
    uid = await desk.reader.wait_card(desk.wait_s)
    if uid is None:
        raise CardRefused("no card on the reader within %g s" % desk.wait_s)
    known = cards.get(desk.db, uid_hex(uid))
    if known is not None:
        raise CardRefused("card %s was issued before (%s)" % (known.uid, known.status))
    writable = await desk.reader.uid_writable(uid)
    if writable is None:
        raise CardRefused("card %s: sector 0 does not open with the transport key: not a blank card" % uid.hex())
    if writable:
        raise CardRefused("card %s lets its UID be rewritten: not issued" % uid.hex())
    openers = {slot: await _opener(desk, uid, slot) for slot in _ISSUE_ORDER}
    record = CardRecord(kind, balance_fen, ISSUED_COUNTER, valid_until)
    image = issued_image(desk.site_key, uid, record)
    for slot in _ISSUE_ORDER:
        key, auth = openers[slot]
        blocks = [(number, image[number]) for number in (*slot_blocks(slot), trailer_block(slot))]
        if not await desk.reader.write_blocks(uid, key, blocks, auth):
            raise CardRefused(
                "card %s left the reader while being issued: nothing recorded; issue it again" % uid.hex()
            )
    await desk.reader.select(uid)
    written, slot, reason = await read_record(desk.reader.chip, uid, desk.site_key, scratch())
    if written is None or slot != 0 or record_fields(written) != record_fields(record):
        raise CardRefused("card %s does not read back as issued (%s): nothing recorded" % (uid.hex(), reason))
    recorded(record, uid_hex(uid), lambda: cards.issue(desk.db, uid_hex(uid), record, desk.operator))
    return {"uid": uid_hex(uid), "record": record_fields(record)}


async def _opener(desk: Desk, uid: bytes, slot: int) -> tuple[bytes, int]:
    """The key that opens ``slot``'s sector for issuing: the transport key (as key A, which may rewrite a
    delivery trailer), or, on a card whose issuing was cut short, the card's own key (as key B, the one
    an issued trailer lets write it)."""
    numbers = slot_blocks(slot)
    if await desk.reader.read_blocks(uid, TRANSPORT_KEY, numbers[0], len(numbers), AUTH_A) is not None:
        return TRANSPORT_KEY, AUTH_A
    own = sector_key(desk.site_key, uid)
    blocks = await desk.reader.read_blocks(uid, own, numbers[0], len(numbers), AUTH_B)
    if blocks is None:
        raise CardRefused(
            "card %s: the sector of slot %d opens with neither the transport key nor this site's key (another"
            " system's card, or one issued under another site key)" % (uid.hex(), slot)
        )
    record, _ = unpack(uid, card_key(desk.site_key, uid), slot, blocks)
    if record is not None and record.counter > ISSUED_COUNTER:
        raise CardRefused(
            "card %s holds a record of this site that a pile has written (counter %d), yet the bridge has no card"
            " %s: not issued again" % (uid.hex(), record.counter, uid.hex())
        )
    return own, AUTH_B
