"""SMS-SUBMIT PDUs for AT+CMGS in PDU mode (3GPP TS 23.040, alphabets from TS 23.038).

Pure, no I/O: the pile's SMS driver (drivers/modem_sms.py, MicroPython) and the cloud bridge's GSM
modem (cloud_bridge/sms/gsm_modem.py, CPython) send what this makes. A text goes in the GSM 7-bit
default alphabet when every character has a septet there or in its extension table (escape 0x1B and
a second septet), else in UCS2 (UTF-16 big-endian, surrogate pairs beyond the BMP). A text too long
for one message is cut into concatenated parts with the 8-bit-reference header (00 03 ref total
index); a cut never separates an escape from its character or a surrogate pair. The service centre
is left to the SIM (length 00), the modem sets the message reference (TP-MR 00).

Every module-level name but ``submit_pdus`` is a private const(): the pile's interned names are
counted (README, "Memory").
"""

from binascii import hexlify

from firmware.compat import const

# The default alphabet by septet value (TS 23.038 6.2.1); 0x1B is the escape, never a character here.
_GSM = const(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_ESCAPE = const(0x1B)
# The extension table's characters (form feed ^ { } \ [ ~ ] | €) and their septets after the escape.
_EXTENSION = const("\x0c^{}\\[~]|€")
_EXTENSION_SEPTETS = const(b"\x0a\x14\x28\x29\x2f\x3c\x3d\x3e\x40\x65")

_ONE_SEPTETS = const(160)  # a message alone: 140 octets of user data
_PART_SEPTETS = const(153)  # a part: 140 octets less the 6-octet header and its fill bit
_ONE_UCS2_OCTETS = const(140)  # 70 UTF-16 code units
_PART_UCS2_OCTETS = const(134)  # 67 code units after the header
_PARTS_MAX = const(255)
_ADDRESS_DIGITS_MAX = const(20)

_SUBMIT = const(0x11)  # TP-MTI SMS-SUBMIT, TP-VPF relative
_UDHI = const(0x40)  # the user data starts with a header
_INTERNATIONAL = const(0x91)  # type of number international, ISDN plan
_NATIONAL = const(0x81)  # type of number unknown (dialled as given), ISDN plan
_DCS_UCS2 = const(8)
_VALIDITY = const(0xAA)  # relative: 4 days
_PLUS = const(b"+")
_BAD_NUMBER = const("SMS: not a phone number")
_TOO_LONG = const("SMS: text needs more than 255 parts")


def submit_pdus(number, text, ref):
    """SMS-SUBMIT PDUs sending ``text`` (str) to ``number``, one ``(tpdu_octets, pdu_hex_bytes)`` per part.

    ``number`` is "+" and digits (international) or digits alone (national). ``ref`` (its low
    8 bits) identifies the parts of one concatenated message; give each long text its own.
    ``tpdu_octets`` is the length AT+CMGS takes (the PDU without its service centre octet);
    ``pdu_hex_bytes`` the whole PDU as uppercase hex, ``bytes``. ValueError for an empty or
    malformed number, or a text that needs more than 255 parts.
    """
    digits = number.encode()
    international = digits[:1] == _PLUS
    if international:
        digits = digits[1:]
    if not 0 < len(digits) <= _ADDRESS_DIGITS_MAX or not digits.isdigit():
        raise ValueError(_BAD_NUMBER)
    # The first octet (SMS-SUBMIT), TP-MR, then the address: digit count, type, digits as swapped
    # semi-octets (an odd count padded with F). The service centre octet (00) is added per part.
    head = bytearray((_SUBMIT, 0, len(digits), _INTERNATIONAL if international else _NATIONAL))
    for index in range(0, len(digits), 2):
        high = digits[index + 1] - 48 if index + 1 < len(digits) else 15
        head.append(high << 4 | digits[index] - 48)

    # The text's code units (septets, or UTF-16 octets) in one buffer, as many as any text of that
    # length can need (a surrogate pair is 4 octets), and where each part of a concatenated message
    # would start: a character's units never straddle two parts.
    units = bytearray(4 * len(text))
    for gsm in (True, False):
        count = 0
        starts = [0]
        room = _PART_SEPTETS if gsm else _PART_UCS2_OCTETS
        for char in text:
            if gsm:
                code = _GSM.find(char)
                size = 1
                if code < 0 or code == _ESCAPE:
                    code = _EXTENSION.find(char)
                    if code < 0:
                        break  # not in the GSM alphabet: the whole text goes in UCS2
                    code = _ESCAPE << 8 | _EXTENSION_SEPTETS[code]
                    size = 2
            else:
                code = ord(char)
                size = 4 if code > 0xFFFF else 2
            if count + size - starts[-1] > room:
                starts.append(count)
            if size == 4:
                code -= 0x10000
                units[count] = 0xD8 | code >> 18
                units[count + 1] = code >> 10 & 0xFF
                count += 2
                code = 0xDC00 | code & 0x3FF
                size = 2
            if size == 2:
                units[count] = code >> 8
                count += 1
            units[count] = code & 0xFF
            count += 1
        else:
            break  # every character encoded

    if count <= (_ONE_SEPTETS if gsm else _ONE_UCS2_OCTETS):
        starts = [0]
    total = len(starts)
    if total > _PARTS_MAX:
        raise ValueError(_TOO_LONG)
    starts.append(count)
    head.append(0)  # TP-PID
    head.append(0 if gsm else _DCS_UCS2)
    head.append(_VALIDITY)
    view = memoryview(units)  # parts are slices of it, not copies
    parts = []
    for index in range(total):
        chunk = view[starts[index] : starts[index + 1]]
        # UDL counts septets or octets; with the header, 6 octets more (7 septet places with its fill bit).
        length = len(chunk) + ((7 if gsm else 6) if total > 1 else 0)
        at = len(head) + 1
        pdu = bytearray(at + 1 + ((length * 7 + 7) // 8 if gsm else length))
        pdu[1:at] = head  # after the service centre's 00: the SIM's
        pdu[at] = length
        at += 1
        if total > 1:
            pdu[1] |= _UDHI
            pdu[at : at + 6] = bytes((5, 0, 3, ref & 0xFF, total, index + 1))
            at += 6
        if gsm:
            # Septets packed least significant bit first, from the first septet boundary after the header.
            acc = 0
            bits = 1 if total > 1 else 0
            for septet in chunk:
                acc |= septet << bits
                bits += 7
                if bits >= 8:
                    pdu[at] = acc & 0xFF
                    at += 1
                    acc >>= 8
                    bits -= 8
            if bits:
                pdu[at] = acc
        else:
            pdu[at:] = chunk
        parts.append((len(pdu) - 1, hexlify(pdu).upper()))  # type: ignore[arg-type]  # any buffer does
    return parts
