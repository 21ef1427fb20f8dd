"""The SMS-SUBMIT encoder (firmware/sms_pdu.py) against PDUs worked out by hand, on CPython and the VM.

The decoder written separately from the standard (tests/sim/test_sms_pdu_decode.py) reads the encoder's
output back for many more texts; here the octets themselves are checked.
"""

import sys

from firmware.sms_pdu import submit_pdus

HELLO_NUMBER = "+46708251358"


def _udl(pdu_hex):
    # The user data length octet: after 00, the first octet, TP-MR, the address (2 octets and its
    # digits' semi-octets), TP-PID, TP-DCS and a one-octet validity period.
    digits = int(pdu_hex[6:8], 16)
    at = 2 * (3 + 2 + (digits + 1) // 2 + 3)
    return int(pdu_hex[at : at + 2], 16)


def _header(pdu_hex):
    # The concatenation header's reference, total and index, from the user data's first six octets.
    digits = int(pdu_hex[6:8], 16)
    at = 2 * (3 + 2 + (digits + 1) // 2 + 3 + 1)
    assert pdu_hex[at : at + 6] == b"050003", pdu_hex
    return int(pdu_hex[at + 6 : at + 8], 16), int(pdu_hex[at + 8 : at + 10], 16), int(pdu_hex[at + 10 : at + 12], 16)


def _fails(number, text):
    try:
        submit_pdus(number, text, 0)
    except ValueError:
        return True
    return False


def test_the_published_hellohello_example():
    # The well-known example (dreamfabric.com/sms): 00 SMSC of the SIM, 11 SMS-SUBMIT with a relative
    # validity period, 00 TP-MR, 0B 91 eleven international digits 46708251358 as swapped semi-octets
    # (64 07 28 15 53 F8), 00 PID, 00 DCS GSM 7-bit, AA four days, 0A ten septets packed in 9 octets.
    assert submit_pdus(HELLO_NUMBER, "hellohello", 0) == [(23, b"0011000B916407281553F80000AA0AE8329BFD4697D9EC37")]


def test_a_national_number_and_ucs2():
    # 10086: five digits, type 81, 01 80 F6 (the odd digit padded with F). "你好" is not in the GSM
    # alphabet: DCS 08, UDL 4 octets, U+4F60 U+597D big-endian. TPDU: 15 octets after the 00.
    assert submit_pdus("10086", "你好", 0) == [(15, b"00110005810180F60008AA044F60597D")]


def test_an_extension_character_is_an_escape_and_a_septet():
    # "€" is ESC (0x1B) then 0x65: UDL 2. 0x1B in bits 0-6, 0x65 from bit 7: 0x1B | 0x80 = 9B,
    # then 0x65 >> 1 = 32.
    assert submit_pdus(HELLO_NUMBER, "€", 0) == [(16, b"0011000B916407281553F80000AA029B32")]


def test_concatenated_7bit_parts_start_after_the_header_and_a_fill_bit():
    parts = submit_pdus(HELLO_NUMBER, "a" * 306 + "Hi", 0xCC)
    # A full part: 2 octets, an 8-octet address, PID, DCS, VP, UDL and 140 octets of user data.
    assert [length for length, _ in parts] == [154, 154, 22]
    # The third part: 51 (UDHI set), UDL 9 (7 septet places for the header and its fill bit, then 2),
    # header 05 00 03 CC 03 03; the fill bit is bit 0 of the next octet, "H" (0x48) above it: 0x90,
    # then "i" (0x69) alone in the last octet.
    assert parts[2][1] == b"0051000B916407281553F80000AA09050003CC03039069"
    # The first part's user data after its header: a fill bit, then "a" (0x61, bits 1000011 from the
    # lowest): 0 1000011 1|000011 10|... = C2 E1 70.
    assert parts[0][1][:60] == b"0051000B916407281553F80000AAA0050003CC0301C2E170381C0E87C3E1"
    assert [_udl(pdu) for _, pdu in parts] == [160, 160, 9]


def test_one_part_up_to_160_septets_or_70_ucs2_characters():
    for text, parts in (("x" * 160, 1), ("x" * 161, 2), ("{" * 80, 1), ("{" * 81, 2), ("水" * 70, 1), ("水" * 71, 2)):
        assert len(submit_pdus(HELLO_NUMBER, text, 0)) == parts, (text, parts)
    (single,) = submit_pdus(HELLO_NUMBER, "x" * 160, 0)
    assert single[0] == 154 and _udl(single[1]) == 160 and single[1][2:4] == b"11"  # no header
    first, second = submit_pdus(HELLO_NUMBER, "水" * 71, 0)
    assert (_udl(first[1]), _udl(second[1])) == (6 + 2 * 67, 6 + 2 * 4)


def test_an_escape_pair_and_a_surrogate_pair_are_never_cut():
    # 152 septets, then "€" would take places 153 and 154: it opens the second part.
    first, second = submit_pdus(HELLO_NUMBER, "a" * 152 + "€" + "a" * 10, 7)
    assert (_udl(first[1]), _udl(second[1])) == (7 + 152, 7 + 2 + 10)
    # 66 UTF-16 units, then an emoji's two: the pair opens the second part.
    first, second = submit_pdus(HELLO_NUMBER, "a" * 66 + "\U0001f600" + "a" * 5, 7)
    assert (_udl(first[1]), _udl(second[1])) == (6 + 2 * 66, 6 + 4 + 2 * 5)
    assert second[1].endswith(b"070202D83DDE00" + b"0061" * 5)


def test_parts_carry_the_reference_count_and_index():
    parts = submit_pdus("13800138000", "充" * 200, 0x1A5)  # only the low 8 bits go in the header
    assert [_header(pdu) for _, pdu in parts] == [(0xA5, 3, 1), (0xA5, 3, 2), (0xA5, 3, 3)]
    for length, pdu in parts:
        assert isinstance(pdu, bytes) and pdu == pdu.upper() and len(pdu) == 2 * (length + 1)


def test_empty_or_malformed_numbers_and_texts_too_long_are_refused():
    for number in ("", "+", "+86 138", "138-0013", "12a", "1" * 21, "++86"):
        assert _fails(number, "hello"), number
    assert not _fails("1" * 20, "hello")


def test_a_text_needs_at_most_255_parts():
    # 255 parts of 67 UCS2 characters is the most a message can have. Such a text (50 KB, and four
    # octets a character while it is encoded) is the bridge's to send, not the pile's: its heap has no
    # room for it, so on the VM this test does nothing.
    if sys.implementation.name == "micropython":
        return
    assert len(submit_pdus("10086", "水" * (67 * 255), 0)) == 255
    assert _fails("10086", "水" * (67 * 255 + 1))
