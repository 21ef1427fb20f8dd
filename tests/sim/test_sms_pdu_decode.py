"""The SMS-SUBMIT decoder (boards/sim/world/sms_pdu_decode.py) on PDUs worked out by hand, then the
encoder (firmware/sms_pdu.py) read back through it for texts of every kind and length."""

import random

import pytest

from boards.sim.world.sms_pdu_decode import Concat, PduError, decode_submit, reassemble
from firmware.sms_pdu import submit_pdus

# The published example (dreamfabric.com/sms): "hellohello" to +46708251358, GSM 7-bit, valid 4 days.
HELLO = "0011000B916407281553F80000AA0AE8329BFD4697D9EC37"
# By hand: the last part (3 of 3, reference CC) of a concatenated message, to the same number:
# 51 (SMS-SUBMIT, UDHI, relative VP), UDL 9 septets = the 6 header octets and a fill bit (7 septet
# places) + "H" + "i"; header 05 00 03 CC 03 03; then the fill bit (bit 0) under "H" = 0x48 << 1 = 90,
# and "i" = 69.
HI_PART = "0051000B916407281553F80000AA09050003CC03039069"
# By hand: "你好" (U+4F60 U+597D) in UCS2 to the national number 10086 (01 80 F6: F pads the odd digit).
NIHAO = "00110005810180F60008AA044F60597D"
# By hand: "€" is ESC 1B then 65: 1B | (65 & 1) << 7 = 9B, 65 >> 1 = 32.
EURO = "0011000B916407281553F80000AA029B32"
# By hand: with a service centre (+8613800100500: 08 91 68 31 08 10 00 05 F0), then 41 (SMS-SUBMIT,
# UDHI, no validity period), MR 00, to 123 (03 81 21 F3), PID 00, DCS 08, UDL 9: a header with a
# 16-bit reference (06, IEI 08, length 04, ref 1234, 2 parts, part 1), then UCS2 "A" (00 41).
SMSC_16BIT = "0891683108100005F0" + "41" + "00" + "038121F3" + "00" + "08" + "09" + "06080412340201" + "0041"


def test_the_published_hellohello_example():
    submit = decode_submit(HELLO)
    assert (submit.number, submit.type_of_address, submit.text) == ("+46708251358", 0x91, "hellohello")
    assert (submit.dcs, submit.validity, submit.concat, submit.smsc, submit.message_reference) == (
        0,
        b"\xaa",
        None,
        b"",
        0,
    )


def test_hand_made_pdus():
    hi = decode_submit(HI_PART)
    assert (hi.text, hi.concat) == ("Hi", Concat(0xCC, 3, 3))
    nihao = decode_submit(NIHAO)
    assert (nihao.number, nihao.type_of_address, nihao.dcs, nihao.text) == ("10086", 0x81, 8, "你好")
    assert decode_submit(EURO).text == "€"
    other = decode_submit(SMSC_16BIT)
    assert (other.smsc, other.number, other.validity) == (bytes.fromhex("91683108100005F0"), "123", b"")
    assert (other.text, other.concat) == ("A", Concat(0x1234, 2, 1))


@pytest.mark.parametrize(
    ("pdu", "complaint"),
    [
        (HELLO[:-2], "UDL 10 means 9"),  # a septet short
        (HELLO + "00", "UDL 10 means 9"),
        ("0011000B916407281553F80000AA011B", "ends with an escape"),
        # ESC then 05, which the extension table does not have: 1B | (05 & 1) << 7 = 9B, 05 >> 1 = 02.
        ("0011000B916407281553F80000AA029B02", "not in the extension table"),
        ("00110005810180F60008AA04D83D0041", "bad UCS2"),  # a high surrogate without its low half
        ("00000005810180F60008AA044F60597D", "not an SMS-SUBMIT"),  # MTI 00 (a DELIVER's)
        ("0011000581018006" + "0008AA044F60597D", "padded with F"),  # 10086 with 6, not F, after it
        ("001100058101A0F60008AA044F60597D", "not all decimal"),
        ("0011000B916407281553F8", "PDU ends"),
        ("0011ZZ", "not hex"),
        ("00110005810180F60004AA0141", "8-bit data"),
    ],
)
def test_malformed_pdus_are_refused(pdu, complaint):
    with pytest.raises(PduError, match=complaint):
        decode_submit(pdu)


def test_reassembly_joins_parts_in_order_and_refuses_gaps_and_repeats():
    parts = [decode_submit(pdu.decode()) for _, pdu in submit_pdus("10086", "水" * 100 + "end", 9)]
    single = decode_submit(NIHAO)
    (whole,) = reassemble(reversed(parts))
    assert (whole.number, whole.text, whole.parts) == ("10086", "水" * 100 + "end", 2)
    assert [m.text for m in reassemble([parts[0], single, parts[1]])] == ["你好", "水" * 100 + "end"]
    with pytest.raises(PduError, match="incomplete"):
        reassemble(parts[:1])
    with pytest.raises(PduError, match="twice"):
        reassemble([parts[0], parts[0], parts[1]])


# Characters to build texts from: GSM basic, GSM extension (two septets each), BMP beyond GSM (Chinese,
# Cyrillic, the ESC control itself), beyond the BMP (a surrogate pair each).
GSM_BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./09:;<=>?¡AZÄÖÑÜ§¿azäöñüà"
GSM_EXTENSION = "\f^{}\\[~]|€"
UCS2_ONLY = "充电桩端口故障请检查你好水Жжç\x1b`"
ASTRAL = "\U0001f600\U0001f50b\U00020000"


def _random_texts():
    rng = random.Random(7)
    for length in (0, 1, 69, 70, 71, 80, 152, 153, 154, 159, 160, 161, 200, 306, 307, 500, 1000):
        for pool in (GSM_BASIC, GSM_BASIC + GSM_EXTENSION, GSM_BASIC + UCS2_ONLY, UCS2_ONLY + ASTRAL, ASTRAL):
            yield "".join(rng.choice(pool) for _ in range(length))


def _septets(char):
    return 2 if char in GSM_EXTENSION else 1


def _utf16_units(char):
    return 2 if ord(char) > 0xFFFF else 1


@pytest.mark.parametrize("number", ["+8613800138000", "10086", "1"])
def test_every_text_decodes_back_from_the_fewest_parts_the_limits_allow(number):
    for ref, text in enumerate(_random_texts()):
        pdus = submit_pdus(number, text, ref)
        submits = []
        for length, pdu in pdus:
            assert pdu == pdu.upper() and isinstance(pdu, bytes)
            submit = decode_submit(pdu.decode())
            # AT+CMGS's length is the TPDU: everything after the service centre's length octet (00).
            assert length == len(pdu) // 2 - 1 and submit.smsc == b""
            assert (submit.number, submit.validity, submit.protocol_id) == (number, b"\xaa", 0)
            submits.append(submit)
        (message,) = reassemble(submits)
        assert message.number == number and message.text == text, (number, text)
        gsm = all(char in GSM_BASIC + GSM_EXTENSION for char in text)
        assert {submit.dcs for submit in submits} == {0 if gsm else 8}
        weight = _septets if gsm else _utf16_units
        alone, per_part = (160, 153) if gsm else (70, 67)
        pieces = [submit.text for submit in submits]
        if len(pieces) == 1:
            assert sum(map(weight, text)) <= alone and submits[0].concat is None
            continue
        assert sum(map(weight, text)) > alone
        assert [submit.concat for submit in submits] == [
            Concat(ref & 0xFF, len(pieces), index) for index in range(1, len(pieces) + 1)
        ]
        for index, piece in enumerate(pieces):
            assert sum(map(weight, piece)) <= per_part
            if index + 1 < len(pieces):
                # Full: the next character would not have fitted.
                assert sum(map(weight, piece)) + weight(pieces[index + 1][0]) > per_part
