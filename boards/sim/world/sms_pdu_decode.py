"""SMS-SUBMIT PDUs back to recipients and texts (3GPP TS 23.040 9.2.2.2, alphabets from TS 23.038).

For the modem emulators and tests: what a modem was asked to send, read the way the network would
read it. Written from the specifications and separately from the encoder (firmware/sms_pdu.py), so a
test that decodes the encoder's output checks it against the standard and not against itself. It is
strict: anything a conforming sender would not produce (a length that disagrees with the data, an escape with
nothing after it, a broken surrogate pair, an unknown alphabet) raises ``PduError``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# TS 23.038 6.2.1, the GSM 7-bit default alphabet by septet value, sixteen a row; 0x1B (ESC) as None.
_DEFAULT_ROWS: tuple[list[str | None], ...] = (
    ["@", "£", "$", "¥", "è", "é", "ù", "ì", "ò", "Ç", "\n", "Ø", "ø", "\r", "Å", "å"],
    ["Δ", "_", "Φ", "Γ", "Λ", "Ω", "Π", "Ψ", "Σ", "Θ", "Ξ", None, "Æ", "æ", "ß", "É"],
    [" ", "!", '"', "#", "¤", "%", "&", "'", "(", ")", "*", "+", ",", "-", ".", "/"],
    ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", ":", ";", "<", "=", ">", "?"],
    ["¡", "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O"],
    ["P", "Q", "R", "S", "T", "U", "V", "W", "X", "Y", "Z", "Ä", "Ö", "Ñ", "Ü", "§"],
    ["¿", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o"],
    ["p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z", "ä", "ö", "ñ", "ü", "à"],
)
DEFAULT_ALPHABET = {
    row * 16 + column: char for row, chars in enumerate(_DEFAULT_ROWS) for column, char in enumerate(chars) if char
}
ESC = 0x1B
# TS 23.038 6.2.1.1, the default extension table: the septet after ESC.
EXTENSION = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

MTI_SUBMIT = 0b01
UDHI = 0x40
VPF_SHIFT = 3
# TP-VPF: none, enhanced, relative, absolute; the octets each takes.
VP_OCTETS = {0b00: 0, 0b01: 7, 0b10: 1, 0b11: 7}
IEI_CONCAT_8BIT = 0x00
IEI_CONCAT_16BIT = 0x08
TON_INTERNATIONAL = 0b001
GSM_7BIT, DATA_8BIT, UCS2 = 0, 1, 2


class PduError(ValueError):
    """The PDU is not a well-formed SMS-SUBMIT."""


@dataclass(frozen=True)
class Concat:
    """The concatenation header: the message's reference, its number of parts, this part (from 1)."""

    ref: int
    total: int
    index: int


@dataclass(frozen=True)
class Submit:
    """One decoded SMS-SUBMIT. ``number`` has a leading "+" when its type of number is international."""

    number: str
    type_of_address: int
    message_reference: int
    protocol_id: int
    dcs: int
    validity: bytes
    text: str
    concat: Concat | None
    smsc: bytes  # the service centre address field as given (empty: the SIM's)


@dataclass(frozen=True)
class Message:
    """A whole text: every part of a concatenated message joined in order."""

    number: str
    text: str
    parts: int


def decode_submit(pdu_hex: str, with_smsc: bool = True) -> Submit:
    """Decode an SMS-SUBMIT given in hex, as typed after AT+CMGS (``with_smsc``: starts with the
    service centre's length octet, as PDU mode requires)."""
    try:
        pdu = bytes.fromhex(pdu_hex)
    except ValueError as error:
        raise PduError(f"not hex: {error}") from None
    reader = _Reader(pdu)
    smsc = b""
    if with_smsc:
        smsc = reader.take(reader.octet())
    first = reader.octet()
    if first & 0b11 != MTI_SUBMIT:
        raise PduError(f"first octet {first:#04x} is not an SMS-SUBMIT")
    message_reference = reader.octet()
    digit_count = reader.octet()
    type_of_address = reader.octet()
    number = _semi_octets(reader.take((digit_count + 1) // 2), digit_count)
    if (type_of_address >> 4) & 0b111 == TON_INTERNATIONAL:
        number = "+" + number
    protocol_id = reader.octet()
    dcs = reader.octet()
    validity = reader.take(VP_OCTETS[(first >> VPF_SHIFT) & 0b11])
    alphabet = _alphabet(dcs)
    udl = reader.octet()
    user_data = reader.rest()
    expected = (udl * 7 + 7) // 8 if alphabet == GSM_7BIT else udl
    if len(user_data) != expected:
        raise PduError(f"user data is {len(user_data)} octets, UDL {udl} means {expected}")
    header_octets = user_data[0] + 1 if first & UDHI else 0
    if header_octets > len(user_data):
        raise PduError("user data header longer than the user data")
    concat = _concat(user_data[1:header_octets]) if header_octets else None
    if alphabet == GSM_7BIT:
        # The text starts at the first septet boundary after the header (fill bits before it).
        skip = (header_octets * 8 + 6) // 7
        text = _gsm_text(_septets(user_data, udl)[skip:])
    elif alphabet == UCS2:
        body = user_data[header_octets:]
        try:
            text = body.decode("utf-16-be")
        except UnicodeDecodeError as error:
            raise PduError(f"bad UCS2: {error}") from None
    else:
        raise PduError("8-bit data is not a text")
    return Submit(number, type_of_address, message_reference, protocol_id, dcs, validity, text, concat, smsc)


def reassemble(submits: Iterable[Submit]) -> list[Message]:
    """Whole messages from single and concatenated parts, in the order each became complete.

    Parts belong together by recipient, reference and part count. A part given twice (the same
    index) is a PduError, and so are parts left incomplete at the end.
    """
    messages: list[Message] = []
    pending: dict[tuple[str, int, int], dict[int, str]] = {}
    for submit in submits:
        concat = submit.concat
        if concat is None:
            messages.append(Message(submit.number, submit.text, 1))
            continue
        if not 1 <= concat.index <= concat.total:
            raise PduError(f"part {concat.index} of {concat.total}")
        key = (submit.number, concat.ref, concat.total)
        parts = pending.setdefault(key, {})
        if concat.index in parts:
            raise PduError(f"part {concat.index} of reference {concat.ref} to {submit.number} twice")
        parts[concat.index] = submit.text
        if len(parts) == concat.total:
            del pending[key]
            text = "".join(parts[index] for index in range(1, concat.total + 1))
            messages.append(Message(submit.number, text, concat.total))
    if pending:
        raise PduError(f"incomplete messages: {sorted(pending)}")
    return messages


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, count: int) -> bytes:
        if self.at + count > len(self.data):
            raise PduError(f"PDU ends at octet {len(self.data)}, {count} more wanted at {self.at}")
        chunk = self.data[self.at : self.at + count]
        self.at += count
        return chunk

    def octet(self) -> int:
        return self.take(1)[0]

    def rest(self) -> bytes:
        chunk = self.data[self.at :]
        self.at = len(self.data)
        return chunk


def _semi_octets(data: bytes, count: int) -> str:
    # Each octet holds two digits, the first in its low nibble; F pads an odd count.
    nibbles = [nibble for octet in data for nibble in (octet & 0x0F, octet >> 4)]
    if len(nibbles) > count and nibbles[count] != 0x0F:
        raise PduError("odd address not padded with F")
    if any(nibble > 9 for nibble in nibbles[:count]):
        raise PduError(f"address digits {data.hex()} are not all decimal")
    return "".join(str(nibble) for nibble in nibbles[:count])


def _alphabet(dcs: int) -> int:
    # TS 23.038 4: coding groups 00xx (general) and 01xx (marked for deletion) carry the
    # alphabet in bits 3-2; bit 5 set means compressed. Group 1111 has it in bit 2.
    group = dcs >> 4
    if group <= 0b0111:
        if dcs & 0x20:
            raise PduError(f"DCS {dcs:#04x}: compressed text")
        alphabet = (dcs >> 2) & 0b11
        if alphabet == 0b11:
            raise PduError(f"DCS {dcs:#04x}: reserved alphabet")
        return alphabet
    if group == 0b1111:
        return DATA_8BIT if dcs & 0x04 else GSM_7BIT
    raise PduError(f"DCS {dcs:#04x} not handled")


def _concat(header: bytes) -> Concat | None:
    # Information elements: identifier, length, data. Concatenation is IEI 00 (8-bit reference) or
    # 08 (16-bit reference).
    found = None
    at = 0
    while at < len(header):
        if at + 2 > len(header) or at + 2 + header[at + 1] > len(header):
            raise PduError(f"user data header {header.hex()} is cut short")
        iei, length = header[at], header[at + 1]
        data = header[at + 2 : at + 2 + length]
        if iei == IEI_CONCAT_8BIT and length == 3:
            found = Concat(data[0], data[1], data[2])
        elif iei == IEI_CONCAT_16BIT and length == 4:
            found = Concat(int.from_bytes(data[:2], "big"), data[2], data[3])
        at += 2 + length
    return found


def _septets(user_data: bytes, count: int) -> list[int]:
    # Septet n is bits 7n..7n+6 of the user data read as one little-endian number.
    whole = int.from_bytes(user_data, "little")
    return [(whole >> (7 * n)) & 0x7F for n in range(count)]


def _gsm_text(septets: list[int]) -> str:
    chars = []
    escaped = False
    for septet in septets:
        if escaped:
            if septet not in EXTENSION:
                raise PduError(f"escape followed by {septet:#04x}, not in the extension table")
            chars.append(EXTENSION[septet])
            escaped = False
        elif septet == ESC:
            escaped = True
        else:
            chars.append(DEFAULT_ALPHABET[septet])
    if escaped:
        raise PduError("text ends with an escape")
    return "".join(chars)
