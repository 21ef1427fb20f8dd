"""The card record's layout, MAC and slots (docs/cards.md), on CPython and MicroPython.

The known blocks were computed outside the firmware (CPython's hmac and
struct) from the layout as documented, so a change to a byte's place fails
here before it reaches a card.
"""

from firmware.card import value_block
from firmware.card.record import (
    MONTHLY,
    PREPAID,
    CardRecord,
    card_key,
    newest,
    pack,
    sector_key,
    slot_blocks,
    unpack,
)

SITE_KEY = bytes(range(32))
UID = bytes.fromhex("a1b2c3d4")
OTHER_UID = bytes.fromhex("a1b2c3d5")


def sample():
    record = CardRecord(MONTHLY, 1234, 7, 9500, 9400, 2)
    record.session_pile = 0x01020304
    record.session_port = 3
    record.held_fen = 500
    return record


def packed(record, slot=1, uid=UID, site_key=SITE_KEY):
    blocks = (bytearray(16), bytearray(16), bytearray(16))
    pack(record, uid, card_key(site_key, uid), slot, blocks)
    return blocks


def test_the_slot_bytes_match_the_documented_layout():
    balance, header, session = packed(sample())
    assert balance.hex() == "d20400002dfbffffd204000008f708f7"
    assert header.hex() == "45420102070000001c25b82402000000"
    assert session.hex() == "0403020103f401005686836705821ddf"
    assert sector_key(SITE_KEY, UID).hex() == "99e7a5c82f53"


def test_slots_are_sectors_one_and_two():
    assert slot_blocks(0) == (4, 5, 6)
    assert slot_blocks(1) == (8, 9, 10)


def test_a_record_comes_back_whole():
    record, reason = unpack(UID, card_key(SITE_KEY, UID), 1, packed(sample()))
    assert reason is None
    assert (record.kind, record.balance_fen, record.counter) == (MONTHLY, 1234, 7)
    assert (record.valid_until, record.last_day, record.day_sessions) == (9500, 9400, 2)
    assert (record.session_pile, record.session_port, record.held_fen) == (0x01020304, 3, 500)
    assert record.open_session()


def test_a_balance_changed_by_hand_is_forged_even_in_valid_value_form():
    blocks = packed(sample())
    value_block.encode(99999, 8, blocks[0])
    assert unpack(UID, card_key(SITE_KEY, UID), 1, blocks) == (None, "forged")


def test_any_changed_byte_of_the_header_or_session_is_refused():
    key = card_key(SITE_KEY, UID)
    for block in (1, 2):
        for index in range(16):
            blocks = packed(sample())
            blocks[block][index] ^= 0x01
            record, reason = unpack(UID, key, 1, blocks)
            assert record is None and reason in ("forged", "not_ours"), (block, index, reason)


def test_a_slot_copied_to_another_card_or_made_under_another_site_key_is_forged():
    blocks = packed(sample())
    assert unpack(OTHER_UID, card_key(SITE_KEY, OTHER_UID), 1, blocks) == (None, "forged")
    other_site = bytes(32)
    assert unpack(UID, card_key(other_site, UID), 1, blocks) == (None, "forged")


def test_a_slot_copied_to_the_other_sector_is_refused_by_its_block_address():
    assert unpack(UID, card_key(SITE_KEY, UID), 0, packed(sample(), slot=1)) == (None, "torn")


def test_a_half_written_value_block_is_torn():
    blocks = packed(sample())
    blocks[0][4] ^= 0xFF
    assert unpack(UID, card_key(SITE_KEY, UID), 1, blocks) == (None, "torn")


def test_a_blank_card_and_someone_elses_format_are_told_apart():
    key = card_key(SITE_KEY, UID)
    assert unpack(UID, key, 0, (bytearray(16), bytearray(16), bytearray(16))) == (None, "blank")
    foreign = packed(sample())
    foreign[1][0] = ord("X")
    assert unpack(UID, key, 1, foreign) == (None, "not_ours")


def test_the_newest_slot_is_the_one_with_the_higher_counter():
    older, newer = CardRecord(PREPAID, 100, 4), CardRecord(PREPAID, 80, 5)
    assert newest(older, newer) == 1
    assert newest(newer, older) == 0
    assert newest(None, older) == 1
    assert newest(older, None) == 0
    assert newest(None, None) is None


def test_keys_differ_per_card_and_per_site():
    assert card_key(SITE_KEY, UID) != card_key(SITE_KEY, OTHER_UID)
    assert sector_key(SITE_KEY, UID) != sector_key(SITE_KEY, OTHER_UID)
    assert card_key(SITE_KEY, UID) != card_key(bytes(32), UID)
    assert len(sector_key(SITE_KEY, UID)) == 6


def test_a_record_out_of_range_is_not_packed():
    for change in (("kind", 9), ("held_fen", 1 << 24), ("balance_fen", 1 << 31)):
        record = sample()
        setattr(record, change[0], change[1])
        try:
            packed(record)
        except ValueError:
            continue
        raise AssertionError("packed %r" % (change,))
