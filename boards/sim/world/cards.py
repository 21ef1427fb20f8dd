"""The rig's IC cards: blank, issued, tampered, cloned from an old dump, or issued under another site's key.

Issued cards hold exactly what the issuing desk writes (tools/card_image.py);
the others are what a resident or a fraudster could bring to the pile.
"""

from __future__ import annotations

import os

from boards.sim.world.mifare import ClassicCard, value_block
from firmware.card.book import CardBook
from firmware.card.record import PREPAID, CardRecord, card_key, newest, slot_blocks, unpack
from firmware.config import defaults
from tools.card_image import issued_image

SITE_KEY_BYTES = 32


def new_site_key() -> bytes:
    """A site key for one test run (never one kept in the repository)."""
    return os.urandom(SITE_KEY_BYTES)


def blank_card(uid: bytes) -> ClassicCard:
    """A card as it comes from the factory: transport keys, nothing written."""
    return ClassicCard(uid)


def issued_card(site_key: bytes, uid: bytes, record: CardRecord | None = None) -> ClassicCard:
    """A card issued at the desk holding ``record`` (a prepaid card with nothing on it by default)."""
    card = ClassicCard(uid)
    for number, data in issued_image(site_key, uid, record or CardRecord(PREPAID, 0, 1)).items():
        card.write(number, data)
    return card


def prepaid_card(site_key: bytes, uid: bytes, balance_fen: int) -> ClassicCard:
    """An issued prepaid card with ``balance_fen`` on it."""
    return issued_card(site_key, uid, CardRecord(PREPAID, balance_fen, 1))


def newest_slot(site_key: bytes, card: ClassicCard) -> tuple[int | None, CardRecord | None]:
    """(slot, record) the pile would read from ``card``: its newest valid slot; (None, None) if none is."""
    uid = card.uid
    key = card_key(site_key, uid)
    slots = [unpack(uid, key, slot, [card.blocks[n] for n in slot_blocks(slot)])[0] for slot in (0, 1)]
    slot = newest(slots[0], slots[1])
    return (None, None) if slot is None else (slot, slots[slot])


def record_of(site_key: bytes, card: ClassicCard) -> CardRecord | None:
    """The record the pile would read from ``card``, None if it has none."""
    return newest_slot(site_key, card)[1]


def tampered_card(site_key: bytes, card: ClassicCard, balance_fen: int) -> ClassicCard:
    """``card`` with the balance of its newest slot rewritten, in valid value-block form, by someone who
    cracked the sector key but cannot make the MAC."""
    slot = newest_slot(site_key, card)[0]
    number = slot_blocks(0 if slot is None else slot)[0]
    forged = ClassicCard.from_dump(card.dump(), magic=card.magic)
    forged.write(number, value_block(balance_fen, number))
    return forged


def cloned_card(dump: bytes) -> ClassicCard:
    """A magic card written from ``dump`` (1024 bytes, UID included): an old dump replayed."""
    return ClassicCard.from_dump(dump, magic=True)


def full_card_book() -> bytes:
    """The file of a card book with every table full (500 blocked, 200 seen, 64 owed), as a pile of a big
    courtyard holds after months: what the memory bench boots with."""
    book = CardBook(defaults(), [None, 0])
    for n in range(book.blocked.most):
        book.block(["%08x" % (0x10000000 + n)], [])
    for n in range(book.seen.most):
        book.saw("%08x" % (0x20000000 + n), 1000 + n)
    for n in range(book.owed.most):
        book.owe("%08x" % (0x30000000 + n), 100000 + n, 1 + n % 10, 480)
    return b"".join(bytes(part) for part in book.record())
