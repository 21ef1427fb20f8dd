"""A card's record read from, and written to, the card on the reader (drivers/mfrc522.py).

Used by the pile and by the issuing desk alike. ``blocks`` is six 16-byte
buffers the caller allocates once: slot 0's three blocks, then slot 1's.
A card pulled away at any point gives a failed read or write, never an
exception; only a reader that does not answer SPI raises OSError.
"""

from drivers.mfrc522 import WUPA
from firmware.card.record import card_key, newest, pack, sector_key, slot_blocks, unpack
from firmware.compat import const

# Why no record could be read, beyond the record's own reasons (firmware/card/record.py).
KEY = "key"  # the sector key was refused: another site's card, or not one of ours at all
GONE = "gone"  # the card stopped answering (pulled away)
# Of two slots' reasons the one that says most: a forged slot beside a blank one is a forgery.
_REASON_RANK = const(("blank", "not_ours", "torn", "forged"))


async def read_record(reader, uid, site_key, blocks):
    """(record, slot, None) for the newest valid record on the card ``uid``; (None, None, reason)."""
    key = sector_key(site_key, uid)
    for slot in (0, 1):
        numbers = slot_blocks(slot)
        if not await reader.authenticate(numbers[0], key, uid):
            # Refused, or pulled away: a card still in the field answers a wake-up.
            return None, None, KEY if await reader.request(WUPA) else GONE
        for index in range(3):
            if not await reader.read(numbers[index], blocks[3 * slot + index]):
                return None, None, GONE
    mac_key = card_key(site_key, uid)
    first, first_reason = unpack(uid, mac_key, 0, blocks[0:3])
    second, second_reason = unpack(uid, mac_key, 1, blocks[3:6])
    slot = newest(first, second)
    if slot is None:
        worse = max(_REASON_RANK.index(first_reason), _REASON_RANK.index(second_reason))
        return None, None, _REASON_RANK[worse]
    return (first, second)[slot], slot, None


async def write_record(reader, uid, site_key, record, slot, blocks):
    """Write ``record`` into ``slot`` of the card ``uid`` (MAC last) and read it back: True once the card
    holds it. A card pulled mid-write keeps its other slot whole."""
    buffers = blocks[3 * slot : 3 * slot + 3]
    mac_key = card_key(site_key, uid)
    pack(record, uid, mac_key, slot, buffers)
    numbers = slot_blocks(slot)
    if not await reader.authenticate(numbers[0], sector_key(site_key, uid), uid):
        return False
    for index in range(3):
        if not await reader.write(numbers[index], buffers[index]):
            return False
    for index in range(3):
        if not await reader.read(numbers[index], buffers[index]):
            return False
    written, _ = unpack(uid, mac_key, slot, buffers)
    return written is not None and written.counter == record.counter and written.balance_fen == record.balance_fen
