"""What an issued IC card's blocks hold (docs/cards.md, layout v1), for the issuing desk and the rig.

The pile never issues a card: it only rewrites a slot (firmware/card/record.py).
Issuing also sets the record sectors' trailers: both keys become the card's
sector key, and the access bits let either key read, write, increment and
decrement the data blocks while only key B may change the trailer, whose key B
cannot be read back.
"""

from __future__ import annotations

from firmware.card.record import CardRecord, card_key, pack, sector_key, slot_blocks

BLOCK_BYTES = 16
SLOT_COUNT = 2
# C1 C2 C3 = 000 for the data blocks, 011 for the trailer; general purpose byte 0x69.
ISSUED_ACCESS = bytes.fromhex("7f078869")


def trailer_block(slot: int) -> int:
    """The trailer block of ``slot``'s sector."""
    return slot_blocks(slot)[0] + 3


def trailer(site_key: bytes, uid: bytes) -> bytes:
    """The trailer of a record sector: key A, access bits, key B (both keys the card's sector key)."""
    key = sector_key(site_key, uid)
    return key + ISSUED_ACCESS + key


def slot_image(site_key: bytes, uid: bytes, record: CardRecord, slot: int) -> dict[int, bytes]:
    """The three blocks of ``slot`` holding ``record``, by block number."""
    blocks = [bytearray(BLOCK_BYTES) for _ in range(3)]
    pack(record, uid, card_key(site_key, uid), slot, blocks)
    return {number: bytes(block) for number, block in zip(slot_blocks(slot), blocks, strict=True)}


def issued_image(site_key: bytes, uid: bytes, record: CardRecord) -> dict[int, bytes]:
    """Every block issuing writes: ``record`` in slot 0, slot 1 blank, and both trailers."""
    image = slot_image(site_key, uid, record, 0)
    for number in slot_blocks(1):
        image[number] = bytes(BLOCK_BYTES)
    for slot in range(SLOT_COUNT):
        image[trailer_block(slot)] = trailer(site_key, uid)
    return image
